//! API keys and the installation secret that keys their hashes.
use chrono::{DateTime, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar, QueryBuilder};
use super::{Db, NewAudit, OrgId, TeamId, UserId};

/// A stored key (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub scopes: String,
    pub team: String,
    pub initiative: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// E-mail of the person who created it (`None`: the command line).
    pub created_by: Option<String>,
    /// Who created it (`None`: the command line).
    pub created_by_id: Option<i64>,
}

pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub team: TeamId,
    pub initiative: Option<&'a str>,
    pub created_by: Option<UserId>,
    pub expires_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "k.id, k.org_id, k.name, k.prefix, k.secret_hash, k.scopes, t.slug as team, \
    k.initiative, k.created_at, k.expires_at, k.last_used_at, k.revoked_at, u.email as created_by, k.created_by as created_by_id \
    from api_keys k join teams t on t.id = k.team_id left join users u on u.id = k.created_by";

impl Db {
    /// The named installation secret, created from `fresh` on first use (first writer wins).
    pub async fn installation_secret(&self, name: &str, fresh: &str) -> sqlx::Result<String> {
        const INSERT: &str =
            "insert into installation_secrets (name, value) values ($1, $2) on conflict (name) do nothing";
        const SELECT: &str = "select value from installation_secrets where name = $1";
        {
            query(INSERT).bind(name).bind(fresh).execute(self).await?;
            query_scalar(SELECT).bind(name).fetch_one(self).await
        }
    }

    /// Inserts the key with its audit record (one transaction).
    pub async fn insert_api_key(&self, org: OrgId, k: NewApiKey<'_>, audit: &NewAudit) -> sqlx::Result<i64> {
        const SQL: &str = "insert into api_keys (org_id, name, prefix, secret_hash, scopes, team_id, initiative, \
            created_by, created_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let id: i64 = query_scalar(SQL)
            .bind(org.0)
            .bind(k.name)
            .bind(k.prefix)
            .bind(k.secret_hash)
            .bind(k.scopes)
            .bind(k.team.0)
            .bind(k.initiative)
            .bind(k.created_by.map(|u| u.0))
            .bind(now)
            .bind(k.expires_at)
            .fetch_one(&mut tx)
            .await?;
        insert_audit(&mut tx, org, audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn api_key_by_prefix(&self, prefix: &str) -> sqlx::Result<Option<ApiKeyRow>> {
        let sql = format!("select {KEY_COLUMNS} where k.prefix = $1");
        query_as(&sql).bind(prefix).fetch_optional(self).await
    }

    /// The keys with these prefixes (one statement for a batch of calls); unknown ones are
    /// left out.
    pub async fn api_keys_by_prefixes(&self, prefixes: &[&str]) -> sqlx::Result<Vec<ApiKeyRow>> {
        if prefixes.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::new(format!("select {KEY_COLUMNS} where k.prefix in ("));
        let mut list = qb.separated(", ");
        for p in prefixes {
            list.push_bind(*p);
        }
        qb.push(")");
        qb.build_query_as().fetch_all(self).await
    }

    pub async fn list_api_keys(&self, org: OrgId) -> sqlx::Result<Vec<ApiKeyRow>> {
        let sql = format!("select {KEY_COLUMNS} where k.org_id = $1 order by k.created_at, k.id");
        query_as(&sql).bind(org.0).fetch_all(self).await
    }

    pub async fn touch_api_key(&self, id: i64, at: DateTime<Utc>) -> sqlx::Result<()> {
        const SQL: &str = "update api_keys set last_used_at = $1 where id = $2";
        // in the writer lane: otherwise each waits for SQLite's file lock holding a pooled connection
        let _turn = self.write_lane().await?;
        query(SQL).bind(at).bind(id).execute(self).await.map(|_| ())
    }

    /// Marks the key revoked (with its audit record); false, and nothing written, when no
    /// such unrevoked key exists in the organisation.
    pub async fn revoke_api_key(
        &self,
        org: OrgId,
        prefix: &str,
        at: DateTime<Utc>,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str =
            "update api_keys set revoked_at = $1 where org_id = $2 and prefix = $3 and revoked_at is null";
        let mut tx = self.begin().await?;
        let out = {
            let n = query(SQL).bind(at).bind(org.0).bind(prefix).execute(&mut tx).await?.rows_affected();
            if n == 1 {
                insert_audit(&mut tx, org, audit).await?;
            }
            n == 1
        };
        tx.commit().await?;
        Ok(out)
    }

    pub async fn api_key_in_org(&self, org: OrgId, prefix: &str) -> sqlx::Result<Option<ApiKeyRow>> {
        let sql = format!("select {KEY_COLUMNS} where k.org_id = $1 and k.prefix = $2");
        query_as(&sql).bind(org.0).bind(prefix).fetch_optional(self).await
    }
}
