//! The gateway's upstreams: one per organisation and provider, its provider key sealed (see
//! `auth::sealer`); this module stores and reads the sealed form only.
use chrono::{DateTime, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar};
use super::{Db, NewAudit, OrgId};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UpstreamRow {
    pub id: i64,
    pub org_id: i64,
    pub provider: String,
    pub base_url: String,
    /// `v1.<key id>.<nonce+ciphertext>`: opens only with the server's key.
    pub key_sealed: String,
    /// The key's last four characters.
    pub key_hint: String,
    pub updated_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "g.id, g.org_id, g.provider, g.base_url, g.key_sealed, g.key_hint, u.email as updated_by, \
    g.updated_at from gateway_upstreams g left join users u on u.id = g.updated_by";

/// What to store: `key_sealed` is `None` to keep the stored key (changing only the address).
pub struct NewUpstream<'a> {
    pub provider: &'a str,
    pub base_url: &'a str,
    pub key: Option<(&'a str, &'a str)>,
}

impl Db {
    pub async fn upstreams(&self, org: OrgId) -> sqlx::Result<Vec<UpstreamRow>> {
        let sql = format!("select {COLUMNS} where g.org_id = $1 order by g.provider");
        query_as(&sql).bind(org.0).fetch_all(self).await
    }

    pub async fn upstream(&self, org: OrgId, provider: &str) -> sqlx::Result<Option<UpstreamRow>> {
        let sql = format!("select {COLUMNS} where g.org_id = $1 and g.provider = $2");
        query_as(&sql).bind(org.0).bind(provider).fetch_optional(self).await
    }

    /// Every organisation's upstreams (key rotation reseals them all).
    pub async fn all_upstreams(&self) -> sqlx::Result<Vec<UpstreamRow>> {
        let sql = format!("select {COLUMNS} order by g.id");
        query_as(&sql).fetch_all(self).await
    }

    /// Creates or replaces the organisation's upstream for the provider, with its audit
    /// record, in one transaction. A new upstream needs a key: `false` and nothing written
    /// when none is given and none is stored.
    pub async fn save_upstream(
        &self,
        org: OrgId,
        u: NewUpstream<'_>,
        by: Option<i64>,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const UPDATE_URL: &str =
            "update gateway_upstreams set base_url = $1, updated_by = $2, updated_at = $3 \
            where org_id = $4 and provider = $5";
        const UPSERT: &str = "insert into gateway_upstreams (org_id, provider, base_url, key_sealed, key_hint, \
            updated_by, updated_at) values ($1, $2, $3, $4, $5, $6, $7) on conflict (org_id, provider) do update \
            set base_url = excluded.base_url, key_sealed = excluded.key_sealed, key_hint = excluded.key_hint, \
            updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let done = match u.key {
            Some((sealed, hint)) => {
                query(UPSERT)
                    .bind(org.0)
                    .bind(u.provider)
                    .bind(u.base_url)
                    .bind(sealed)
                    .bind(hint)
                    .bind(by)
                    .bind(now)
                    .execute(&mut tx)
                    .await?;
                true
            }
            None => {
                let n = query(UPDATE_URL)
                    .bind(u.base_url)
                    .bind(by)
                    .bind(now)
                    .bind(org.0)
                    .bind(u.provider)
                    .execute(&mut tx)
                    .await?
                    .rows_affected();
                n == 1
            }
        };
        if done {
            insert_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Reseals one stored key (rotation); only if it is still the value read, so a key
    /// replaced meanwhile is left as its new owner saved it.
    pub async fn reseal_upstream(&self, id: i64, old: &str, new: &str) -> sqlx::Result<bool> {
        const SQL: &str = "update gateway_upstreams set key_sealed = $1 where id = $2 and key_sealed = $3";
        let _turn = self.write_lane().await?;
        Ok(query(SQL).bind(new).bind(id).bind(old).execute(self).await?.rows_affected() == 1)
    }

    /// Deletes the upstream (with its audit record); false when there was none.
    pub async fn delete_upstream(&self, org: OrgId, provider: &str, audit: &NewAudit) -> sqlx::Result<bool> {
        const SQL: &str = "delete from gateway_upstreams where org_id = $1 and provider = $2 returning id";
        let mut tx = self.begin().await?;
        let gone: Option<i64> = query_scalar(SQL).bind(org.0).bind(provider).fetch_optional(&mut tx).await?;
        if gone.is_some() {
            insert_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await?;
        Ok(gone.is_some())
    }
}
