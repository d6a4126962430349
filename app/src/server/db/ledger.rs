//! The ledger: imported spend lines (FOCUS first), replaced per billing account and period.
use chrono::{DateTime, Utc};

use super::tx::Tx;
use super::{Db, OrgId, UserId};
use crate::domain::ledger::SpendSource;
use crate::domain::Nanos;
use crate::server::formats::focus::FocusRow;
use std::sync::LazyLock;

use super::query::{query, query_as, query_scalar, Conn, Executor, QueryBuilder};

/// A FOCUS row with the attribution its tags gave and the keys replacement works on. GPU
/// usage, training runs and commitments are projected into the ledger as such rows too, so
/// rollups, filters and the FOCUS export treat every source alike.
pub struct LedgerLine<'a> {
    pub row: &'a FocusRow,
    pub billing_account: &'a str,
    pub billing_period_start: DateTime<Utc>,
    pub spend_source: SpendSource,
    /// False for invoice lines of services metered by token events (kept, not counted).
    pub counted: bool,
    pub model: Option<String>,
    /// The GPU-usage row, training run or commitment the line was derived from.
    pub ref_id: Option<i64>,
    pub team: Option<String>,
    pub initiative: Option<String>,
    pub feature: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
}

/// A transaction on which an import deletes and inserts; finished with [`LedgerTx::commit`].
/// It counts the weight (Σ |line|) of the lines it adds and deletes, and raises the
/// organisation's totals by it before its rollups change, so that no import can take a sum
/// past `i64` (see `db::totals`).
pub struct LedgerTx {
    pub(super) tx: Tx,
    /// (organisation, Σ |added| − Σ |deleted|) not yet applied to the totals.
    pending: Option<(OrgId, i128)>,
}

impl<'c> Executor<'c> for &'c mut LedgerTx {
    fn conn(self) -> Conn<'c> {
        self.tx.conn()
    }
}

const INSERT_HEAD: &str = "insert into ledger_lines (org_id, import_id, source, line, billing_account, \
    billing_period_start, billing_period_end, charge_period_start, charge_period_end, day, charge_category, \
    billed_nanos, effective_nanos, list_nanos, contracted_nanos, charge_class, charge_description, charge_frequency, \
    currency, provider, publisher, service_name, service_category, service_subcategory, region_id, resource_id, \
    resource_name, sku_id, sku_price_id, pricing_category, consumed_quantity, consumed_unit, pricing_quantity, \
    pricing_unit, commitment_discount_id, commitment_discount_category, commitment_discount_status, \
    commitment_discount_type, commitment_discount_quantity, commitment_discount_unit, team, initiative, feature, \
    customer, environment, tags, spend_source, bucket, model, ref_id, counted, abs_nanos) ";

/// Clears the ledger sources' daily rollups over a bucket range (before a rebuild).
const ROLLUP_DELETE: &str = "delete from usage_rollups where org_id = $1 and grain = 'day' \
    and source <> 'tokens' and bucket between $2 and $3";
/// The daily rollup rows of a set of ledger lines, `sign` +/−: one projection shared by the
/// rebuild (after the counted lines change) and the subtraction (before lines are deleted).
fn ledger_rollup_rows(sign: &str) -> String {
    format!(
        "insert into usage_rollups (org_id, grain, dim, bucket, value, source, cost_nanos, \
        input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, \
        reasoning_tokens, requests, events, unpriced_events) \
        select org_id, 'day', d.dim, bucket, \
          case d.dim when 'total' then '' when 'team' then coalesce(team, '') \
            when 'initiative' then coalesce(initiative, '') when 'feature' then coalesce(feature, '') \
            when 'customer' then coalesce(customer, '') when 'environment' then coalesce(environment, '') \
            when 'model' then coalesce(model, '') when 'provider' then coalesce(provider, '') else '' end as v, \
          spend_source, {sign}sum(effective_nanos), 0, 0, 0, 0, 0, 0, 0, {sign}count(*), 0 \
        from ledger_lines cross join (select 'total' as dim union all select 'team' \
          union all select 'initiative' union all select 'feature' union all select 'customer' \
          union all select 'environment' union all select 'model' union all select 'provider' \
          union all select 'api_key') d \
        where org_id = $1 and counted and "
    )
}

static ROLLUP_REBUILD: LazyLock<String> = LazyLock::new(|| {
    ledger_rollup_rows("") + "bucket between $2 and $3 group by org_id, d.dim, bucket, v, spend_source"
});

/// Takes the counted lines a replacement or re-derivation is about to delete out of the
/// rollups (the filter tail names them), so the rollups change by exactly what changes.
static ROLLUP_SUBTRACT: LazyLock<String> = LazyLock::new(|| ledger_rollup_rows("-") + "source = $2 and ");
const SUBTRACT_GROUP: &str = " group by org_id, d.dim, bucket, v, spend_source \
    on conflict (org_id, grain, dim, bucket, value, source) do update set \
    cost_nanos = usage_rollups.cost_nanos + excluded.cost_nanos, events = usage_rollups.events + excluded.events";

/// (dim, bucket, value, source) → (cost, lines): the rollup increments of new ledger lines,
/// summed in memory while an import streams (a few thousand keys however many lines).
#[derive(Default)]
/// Costs are summed in `i128`: a file's lines may pass `i64` before the totals refuse it.
pub struct LedgerRollups(std::collections::BTreeMap<(&'static str, i64, String, SpendSource), (i128, i64)>);

impl LedgerRollups {
    pub fn add(&mut self, l: &LedgerLine<'_>) {
        if !l.counted {
            return;
        }
        let r = l.row;
        let bucket = bucket_of(r.charge_period_start);
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let values = [
            ("total", String::new()),
            ("team", o(&l.team)),
            ("initiative", o(&l.initiative)),
            ("feature", o(&l.feature)),
            ("customer", o(&l.customer)),
            ("environment", o(&l.environment)),
            ("model", o(&l.model)),
            ("provider", o(&r.provider)),
            ("api_key", String::new()),
        ];
        for (dim, value) in values {
            let e = self.0.entry((dim, bucket, value, l.spend_source)).or_default();
            e.0 += i128::from(r.effective_cost.0);
            e.1 += 1;
        }
    }
}

/// Unix seconds of a day's start, the bucket of daily rollups.
pub fn bucket_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400) * 86_400
}

/// Rows per insert: 52 binds each stays under SQLite's 32,766 parameters.
pub const LEDGER_CHUNK: usize = 500;

impl Db {
    pub async fn begin_ledger(&self) -> sqlx::Result<LedgerTx> {
        Ok(LedgerTx { tx: self.begin().await?, pending: None })
    }
}

/// A line's weight in the organisation's totals: its largest amount, whatever its sign.
pub fn line_weight(r: &FocusRow) -> i128 {
    [Some(r.billed_cost), Some(r.effective_cost), r.list_cost, r.contracted_cost]
        .into_iter()
        .flatten()
        .map(|n| i128::from(n.0).abs())
        .max()
        .unwrap_or(0)
}

impl LedgerTx {
    fn weigh(&mut self, org: OrgId, w: i128) {
        let p = self.pending.get_or_insert((org, 0));
        debug_assert_eq!(p.0, org, "one organisation per ledger transaction");
        p.1 += w;
    }

    /// Σ weight of the lines a delete is about to remove (subtracted from the totals).
    async fn weigh_deleted(
        &mut self,
        org: OrgId,
        filter: &str,
        binds: (&str, Option<&str>, Option<DateTime<Utc>>, Option<i64>),
    ) -> sqlx::Result<()> {
        let sql = format!("select cast(coalesce(sum(abs_nanos), 0) as bigint) from ledger_lines where org_id = $1 and source = $2 and {filter}");
        let (source, account, start, ref_id) = binds;
        let w: i64 = {
            let mut q = query_scalar(&sql).bind(org.0).bind(source);
            if let Some(a) = account {
                q = q.bind(a);
            }
            if let Some(s) = start {
                q = q.bind(s);
            }
            if let Some(r) = ref_id {
                q = q.bind(r);
            }
            q.fetch_one(&mut *self).await?
        };
        self.weigh(org, -i128::from(w));
        Ok(())
    }

    /// Applies the weight counted so far to the organisation's totals, or fails naming the
    /// bound (the transaction is then dropped: nothing of the import is kept).
    async fn settle_totals(&mut self) -> sqlx::Result<()> {
        if let Some((org, w)) = self.pending.take() {
            let d = super::totals::TotalsDelta { ledger_abs: w, ..Default::default() };
            self.tx.raise_totals(org, d).await?;
        }
        Ok(())
    }

    /// Starts an import record (its totals are filled in by [`LedgerTx::finish_import`]).
    pub async fn start_import(
        &mut self,
        org: OrgId,
        source: &str,
        file: &str,
        by: Option<UserId>,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "insert into ledger_imports (org_id, source, file_name, rows_imported, rows_replaced, \
            billed_nanos, effective_nanos, created_at, created_by) values ($1, $2, $3, 0, 0, 0, 0, $4, $5) returning id";
        let now = Utc::now();
        query_scalar(SQL)
            .bind(org.0)
            .bind(source)
            .bind(file)
            .bind(now)
            .bind(by.map(|u| u.0))
            .fetch_one(&mut *self)
            .await
    }

    /// Deletes the lines an earlier import brought for this account and billing period.
    pub async fn replace_period(
        &mut self,
        org: OrgId,
        source: &str,
        account: &str,
        period_start: DateTime<Utc>,
    ) -> sqlx::Result<u64> {
        const SQL: &str =
            "delete from ledger_lines where org_id = $1 and source = $2 and billing_account = $3 \
            and billing_period_start = $4";
        self.weigh_deleted(
            org,
            "billing_account = $3 and billing_period_start = $4",
            (source, Some(account), Some(period_start), None),
        )
        .await?;
        Ok(query(SQL)
            .bind(org.0)
            .bind(source)
            .bind(account)
            .bind(period_start)
            .execute(&mut *self)
            .await?
            .rows_affected())
    }

    pub async fn insert_lines(
        &mut self,
        org: OrgId,
        import: i64,
        source: &str,
        lines: &[LedgerLine<'_>],
    ) -> sqlx::Result<()> {
        for l in lines {
            self.weigh(org, line_weight(l.row));
        }
        for chunk in lines.chunks(LEDGER_CHUNK) {
            {
                let mut qb = QueryBuilder::new(INSERT_HEAD);
                qb.push_values(chunk, |mut b, l| {
                    let r = l.row;
                    let tags = serde_json::Value::Object(
                        r.tags
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                    .to_string();
                    b.push_bind(org.0)
                        .push_bind(import)
                        .push_bind(source.to_string())
                        .push_bind(r.line as i64)
                        .push_bind(l.billing_account.to_string())
                        .push_bind(l.billing_period_start)
                        .push_bind(r.billing_period_end)
                        .push_bind(r.charge_period_start)
                        .push_bind(r.charge_period_end)
                        .push_bind(r.charge_period_start.date_naive())
                        .push_bind(r.charge_category.as_str())
                        .push_bind(r.billed_cost.0)
                        .push_bind(r.effective_cost.0)
                        .push_bind(r.list_cost.map(|c| c.0))
                        .push_bind(r.contracted_cost.map(|c| c.0))
                        .push_bind(r.charge_class.clone())
                        .push_bind(r.charge_description.clone())
                        .push_bind(r.charge_frequency.clone())
                        .push_bind(r.billing_currency.clone())
                        .push_bind(r.provider.clone())
                        .push_bind(r.publisher.clone())
                        .push_bind(r.service_name.clone())
                        .push_bind(r.service_category.clone())
                        .push_bind(r.service_subcategory.clone())
                        .push_bind(r.region_id.clone())
                        .push_bind(r.resource_id.clone())
                        .push_bind(r.resource_name.clone())
                        .push_bind(r.sku_id.clone())
                        .push_bind(r.sku_price_id.clone())
                        .push_bind(r.pricing_category.clone())
                        .push_bind(r.consumed_quantity.clone())
                        .push_bind(r.consumed_unit.clone())
                        .push_bind(r.pricing_quantity.clone())
                        .push_bind(r.pricing_unit.clone())
                        .push_bind(r.commitment_discount_id.clone())
                        .push_bind(r.commitment_discount_category.clone())
                        .push_bind(r.commitment_discount_status.clone())
                        .push_bind(r.commitment_discount_type.clone())
                        .push_bind(r.commitment_discount_quantity.clone())
                        .push_bind(r.commitment_discount_unit.clone())
                        .push_bind(l.team.clone())
                        .push_bind(l.initiative.clone())
                        .push_bind(l.feature.clone())
                        .push_bind(l.customer.clone())
                        .push_bind(l.environment.clone())
                        .push_bind(tags)
                        .push_bind(l.spend_source.as_str())
                        .push_bind(bucket_of(r.charge_period_start))
                        .push_bind(l.model.clone())
                        .push_bind(l.ref_id)
                        .push_bind(l.counted)
                        // ≤ MAX_LINE_COST (checked when the row was read), so it fits an i64
                        .push_bind(line_weight(r) as i64);
                });
                qb.build().persistent(chunk.len() == LEDGER_CHUNK).execute(&mut *self).await?;
            };
        }
        Ok(())
    }

    /// Deletes the lines derived from one record (before re-deriving them).
    pub async fn delete_derived(&mut self, org: OrgId, source: &str, ref_id: i64) -> sqlx::Result<()> {
        const DELETE: &str = "delete from ledger_lines where org_id = $1 and source = $2 and ref_id = $3";
        self.weigh_deleted(org, "ref_id = $3", (source, None, None, Some(ref_id))).await?;
        query(DELETE).bind(org.0).bind(source).bind(ref_id).execute(&mut *self).await.map(|_| ())
    }

    /// Subtracts from the rollups the counted lines of an account's billing period.
    pub async fn subtract_period(
        &mut self,
        org: OrgId,
        source: &str,
        account: &str,
        period_start: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let sql =
            format!("{}billing_account = $3 and billing_period_start = $4{SUBTRACT_GROUP}", *ROLLUP_SUBTRACT);
        query(&sql)
            .bind(org.0)
            .bind(source)
            .bind(account)
            .bind(period_start)
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    /// Subtracts from the rollups the counted lines derived from one record.
    pub async fn subtract_derived(&mut self, org: OrgId, source: &str, ref_id: i64) -> sqlx::Result<()> {
        let sql = format!("{}ref_id = $3{SUBTRACT_GROUP}", *ROLLUP_SUBTRACT);
        query(&sql).bind(org.0).bind(source).bind(ref_id).execute(&mut *self).await.map(|_| ())
    }

    /// Adds new lines' increments to the rollups (after the organisation's totals took the
    /// lines' weight, which bounds every increment).
    pub async fn add_rollups(&mut self, org: OrgId, inc: LedgerRollups) -> sqlx::Result<()> {
        self.settle_totals().await?;
        let rows: Vec<_> = inc.0.into_iter().collect();
        for chunk in rows.chunks(1_000) {
            {
                let mut qb = QueryBuilder::new(super::rollups::ROLLUP_UPSERT_HEAD);
                qb.push_values(chunk, |mut b, ((dim, bucket, value, source), (cost, n))| {
                    // within ± the organisation's ledger weight, settled above
                    let cost = *cost as i64;
                    b.push_bind(org.0)
                        .push_bind("day")
                        .push_bind(*dim)
                        .push_bind(*bucket)
                        .push_bind(value.clone())
                        .push_bind(source.as_str())
                        .push_bind(cost)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(0i64)
                        .push_bind(*n)
                        .push_bind(0i64);
                });
                qb.push(super::rollups::ROLLUP_UPSERT_TAIL);
                qb.build().persistent(false).execute(&mut *self).await?;
            };
        }
        Ok(())
    }

    /// Recomputes the ledger's daily rollups for buckets `lo..=hi` (after the organisation
    /// changes which lines count).
    pub async fn rebuild_rollups(&mut self, org: OrgId, lo: i64, hi: i64) -> sqlx::Result<()> {
        {
            query(ROLLUP_DELETE).bind(org.0).bind(lo).bind(hi).execute(&mut *self).await?;
            query(&ROLLUP_REBUILD).bind(org.0).bind(lo).bind(hi).execute(&mut *self).await?;
            Ok(())
        }
    }

    /// Marks the organisation's invoice lines counted or not by the services the organisation
    /// meters by token events (matched on provider, publisher or service name, any case).
    pub async fn set_covered(&mut self, org: OrgId, covered: &[String]) -> sqlx::Result<()> {
        let lower: Vec<String> = covered.iter().map(|c| c.trim().to_lowercase()).collect();
        {
            query("update ledger_lines set counted = true where org_id = $1 and source = 'focus'")
                .bind(org.0)
                .execute(&mut *self)
                .await?;
            if !lower.is_empty() {
                let mut qb = QueryBuilder::new(
                    "update ledger_lines set counted = false where source = 'focus' and org_id = ",
                );
                qb.push_bind(org.0);
                for col in ["provider", "publisher", "service_name"] {
                    qb.push(if col == "provider" { " and (lower(" } else { " or lower(" });
                    qb.push(col).push(") in (");
                    let mut sep = qb.separated(", ");
                    for c in &lower {
                        sep.push_bind(c.clone());
                    }
                    qb.push(")");
                }
                qb.push(")");
                qb.build().persistent(false).execute(&mut *self).await?;
            }
            Ok::<(), sqlx::Error>(())
        }
    }

    pub async fn finish_import(
        &mut self,
        import: i64,
        rows: u64,
        replaced: u64,
        billed: Nanos,
        effective: Nanos,
    ) -> sqlx::Result<()> {
        const SQL: &str =
            "update ledger_imports set rows_imported = $1, rows_replaced = $2, billed_nanos = $3, \
            effective_nanos = $4 where id = $5";
        query(SQL)
            .bind(rows as i64)
            .bind(replaced as i64)
            .bind(billed.0)
            .bind(effective.0)
            .bind(import)
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    pub async fn commit(mut self) -> sqlx::Result<()> {
        self.settle_totals().await?;
        self.tx.commit().await
    }
}

/// One import as the billing-imports page lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerImportRow {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub rows_imported: i64,
    pub rows_replaced: i64,
    pub billed_nanos: i64,
    pub effective_nanos: i64,
}

impl Db {
    /// The newest billing (FOCUS) imports first (at most `limit`).
    pub async fn ledger_imports(&self, org: OrgId, limit: i64) -> sqlx::Result<Vec<LedgerImportRow>> {
        const SQL: &str = "select i.id, i.source, i.file_name, i.created_at, u.email as created_by, i.rows_imported, \
            i.rows_replaced, i.billed_nanos, i.effective_nanos from ledger_imports i \
            left join users u on u.id = i.created_by where i.org_id = $1 and i.source = 'focus' order by i.created_at desc, i.id desc limit $2";
        query_as(SQL).bind(org.0).bind(limit).fetch_all(self).await
    }

    /// Lines, Σ BilledCost and Σ EffectiveCost of the organisation's ledger for one source.
    pub async fn ledger_totals(&self, org: OrgId, source: &str) -> sqlx::Result<(i64, Nanos, Nanos)> {
        const SQL: &str = "select count(*), cast(coalesce(sum(billed_nanos), 0) as bigint), \
            cast(coalesce(sum(effective_nanos), 0) as bigint) from ledger_lines where org_id = $1 and source = $2";
        let (n, b, e): (i64, i64, i64) = query_as(SQL).bind(org.0).bind(source).fetch_one(self).await?;
        Ok((n, Nanos(b), Nanos(e)))
    }

    /// Σ EffectiveCost per team over the ledger (attribution from tags), for tests and views.
    pub async fn ledger_by_team(&self, org: OrgId) -> sqlx::Result<Vec<(Option<String>, Nanos)>> {
        const SQL: &str =
            "select team, cast(sum(effective_nanos) as bigint) from ledger_lines where org_id = $1 \
            group by team order by team";
        let rows: Vec<(Option<String>, i64)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().map(|(t, c)| (t, Nanos(c))).collect())
    }
}
