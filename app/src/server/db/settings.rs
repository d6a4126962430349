//! Per-organisation settings (a JSON value per key).
use chrono::Utc;

use super::audit::insert_audit;
use super::ledger::LedgerTx;

use super::query::{query, query_scalar};
use super::{Db, NewAudit, OrgId};

impl Db {
    pub async fn setting(&self, org: OrgId, key: &str) -> sqlx::Result<Option<String>> {
        query_scalar(READ).bind(org.0).bind(key).fetch_optional(self).await
    }

    /// Stores the value with its audit record, in one transaction.
    pub async fn set_setting(
        &self,
        org: OrgId,
        key: &str,
        value: &str,
        audit: &NewAudit,
    ) -> sqlx::Result<()> {
        let now = Utc::now();
        {
            let mut tx = self.begin().await?;

            query(UPSERT).bind(org.0).bind(key).bind(value).bind(now).execute(&mut tx).await?;
            insert_audit(&mut tx, org, audit).await?;
            tx.commit().await?;
        };
        Ok(())
    }
}

/// One setting's value; the key's `$2`.
pub(super) const READ: &str = "select value from org_settings where org_id = $1 and key = $2";
pub(super) const UPSERT: &str =
    "insert into org_settings (org_id, key, value, updated_at) values ($1, $2, $3, $4) \
    on conflict (org_id, key) do update set value = excluded.value, updated_at = excluded.updated_at";

impl LedgerTx {
    /// [`Db::set_setting`] inside a ledger transaction, for settings that re-derive ledger
    /// lines in the same commit.
    pub async fn set_setting(
        &mut self,
        org: OrgId,
        key: &str,
        value: &str,
        audit: &NewAudit,
    ) -> sqlx::Result<()> {
        query(UPSERT).bind(org.0).bind(key).bind(value).bind(Utc::now()).execute(&mut self.tx).await?;
        insert_audit(&mut self.tx, org, audit).await?;
        Ok(())
    }

    /// An audit record written in the ledger transaction (committed with it).
    pub async fn audit(&mut self, org: OrgId, audit: &NewAudit) -> sqlx::Result<()> {
        insert_audit(&mut self.tx, org, audit).await?;
        Ok(())
    }
}
