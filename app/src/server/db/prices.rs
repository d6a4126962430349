//! The price book's entries.
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar, QueryBuilder};
use super::{Db, NewAudit, OrgId, UserId};
use crate::domain::price_book::PriceEntry;
use crate::domain::pricing::ModelPrice;

/// `org_id` of the public list shared by every organisation.
pub const PUBLIC_LIST: i64 = 0;

pub struct NewPriceEntry<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    pub effective_from: NaiveDate,
    pub price: &'a ModelPrice,
    /// See [`PriceEntry::rule`].
    pub rule: Option<&'a str>,
}

/// Rows per insert (9 binds each).
const CHUNK: usize = 1_000;

impl Db {
    /// Inserts entries for `org_id` (or [`PUBLIC_LIST`]); an entry for the same model and
    /// date replaces the earlier one (a re-import of the same list changes nothing). With
    /// `audit`, the change is recorded in the same transaction.
    pub async fn upsert_price_entries(
        &self,
        org_id: i64,
        entries: &[NewPriceEntry<'_>],
        source: &str,
        created_by: Option<UserId>,
        audit: Option<&NewAudit>,
    ) -> sqlx::Result<()> {
        const HEAD: &str =
            "insert into price_entries (org_id, model, provider, effective_from, rates, source, \
            created_at, created_by, match_rule) ";
        const TAIL: &str =
            " on conflict (org_id, model, effective_from) do update set provider = excluded.provider, \
            rates = excluded.rates, source = excluded.source, created_at = excluded.created_at, \
            created_by = excluded.created_by, match_rule = excluded.match_rule";
        let now = Utc::now();
        let rates: Vec<String> = entries
            .iter()
            .map(|e| serde_json::to_string(&e.price.rates).expect("a map of integers"))
            .collect();
        let rows: Vec<(&NewPriceEntry<'_>, &String)> = entries.iter().zip(&rates).collect();
        let mut tx = self.begin().await?;
        {
            for chunk in rows.chunks(CHUNK) {
                let mut qb = QueryBuilder::new(HEAD);
                qb.push_values(chunk, |mut b, (e, r)| {
                    b.push_bind(org_id)
                        .push_bind(e.model)
                        .push_bind(e.provider)
                        .push_bind(e.effective_from)
                        .push_bind(*r)
                        .push_bind(source)
                        .push_bind(now)
                        .push_bind(created_by.map(|u| u.0))
                        .push_bind(e.rule);
                });
                qb.push(TAIL);
                qb.build().persistent(false).execute(&mut tx).await?;
            }
            if let Some(a) = audit {
                insert_audit(&mut tx, OrgId(org_id), a).await?;
            }
            bump_price_book_version(&mut tx, OrgId(org_id)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The organisation's price book version (see migration 0023): one primary-key read.
    pub async fn price_book_version(&self, org: OrgId) -> sqlx::Result<i64> {
        const SQL: &str = "select version from price_book_versions where org_id = $1";
        Ok(query_scalar(SQL).bind(org.0).fetch_optional(self).await?.unwrap_or(0))
    }

    /// Versions whose stored unpriced events have not been re-priced yet: (version, swept).
    pub async fn price_book_sweep(&self, org: OrgId) -> sqlx::Result<(i64, i64)> {
        const SQL: &str = "select version, swept_version from price_book_versions where org_id = $1";
        Ok(query_as(SQL).bind(org.0).fetch_optional(self).await?.unwrap_or((0, 0)))
    }

    /// Records that unpriced events were re-priced with `version` (never moves backwards).
    pub async fn mark_price_book_swept(&self, org: OrgId, version: i64) -> sqlx::Result<()> {
        const SQL: &str = "update price_book_versions set swept_version = $2 \
            where org_id = $1 and swept_version < $2";
        query(SQL).bind(org.0).bind(version).execute(self).await.map(|_| ())
    }

    /// The public list and the organisation's own entries.
    pub async fn price_entries(&self, org: OrgId) -> sqlx::Result<Vec<PriceEntry>> {
        const SQL: &str =
            "select id, org_id, model, provider, effective_from, rates, source, match_rule from price_entries \
            where org_id = $1 or org_id = 0";
        type Row = (i64, i64, String, String, NaiveDate, String, String, Option<String>);
        let rows: Vec<Row> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        rows.into_iter()
            .map(|(id, org_id, model, provider, effective_from, rates, source, rule)| {
                let rates = serde_json::from_str(&rates).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok(PriceEntry {
                    id,
                    model,
                    provider,
                    effective_from,
                    own: org_id != PUBLIC_LIST,
                    source,
                    price: ModelPrice { rates },
                    rule,
                })
            })
            .collect()
    }

    /// Models whose events have no price yet: (model, provider, events, input tokens, output
    /// tokens), most events first.
    pub async fn unpriced_models(&self, org: OrgId) -> sqlx::Result<Vec<(String, String, i64, i64, i64)>> {
        const SQL: &str = "select model, provider, count(*), cast(sum(input_tokens) as bigint), \
            cast(sum(output_tokens) as bigint) from usage_events where org_id = $1 and cost_source = 'unpriced' \
            group by model, provider order by count(*) desc, model";
        query_as(SQL).bind(org.0).fetch_all(self).await
    }

    /// How the calls since `since` were priced: (provider, model as sent, the entry that priced
    /// them, events), most events first, at most `limit` rows. Provider-reported and unpriced
    /// calls are left out (no entry priced them).
    pub async fn priced_by(
        &self,
        org: OrgId,
        since: DateTime<Utc>,
        limit: i64,
    ) -> sqlx::Result<Vec<(String, String, i64, i64)>> {
        const SQL: &str = "select provider, model, price_entry_id, count(*) from usage_events \
            where org_id = $1 and occurred_at >= $2 and price_entry_id is not null \
            group by provider, model, price_entry_id order by count(*) desc, provider, model limit $3";
        query_as(SQL).bind(org.0).bind(since).bind(limit).fetch_all(self).await
    }

    /// Entries of `org_id` whose source starts with `prefix` (a list and any version of it;
    /// the prefix holds no `%` or `_`).
    pub async fn count_price_entries_from(&self, org_id: i64, prefix: &str) -> sqlx::Result<i64> {
        const SQL: &str = "select count(*) from price_entries where org_id = $1 and source like $2";
        query_scalar(SQL).bind(org_id).bind(format!("{prefix}%")).fetch_one(self).await
    }

    pub async fn count_price_entries(&self, org_id: i64) -> sqlx::Result<i64> {
        const SQL: &str = "select count(*) from price_entries where org_id = $1";
        query_scalar(SQL).bind(org_id).fetch_one(self).await
    }
}

/// Moves the organisation's price book to its next version -- every organisation's, for the
/// shared public list -- inside the transaction that changes the entries (each row exists from
/// `ensure_org`; the upsert also covers an organisation made before migration 0023 ran).
pub(crate) async fn bump_price_book_version(tx: &mut super::Tx, org: OrgId) -> sqlx::Result<()> {
    const ONE: &str = "insert into price_book_versions (org_id, version, swept_version) values ($1, 1, 0) \
        on conflict (org_id) do update set version = price_book_versions.version + 1";
    const ALL: &str = "update price_book_versions set version = version + 1";
    if org.0 == PUBLIC_LIST {
        query(ALL).execute(tx).await.map(|_| ())
    } else {
        query(ONE).bind(org.0).execute(tx).await.map(|_| ())
    }
}
