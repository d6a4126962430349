//! Sign-in failure counters (see `domain::throttle`).
use super::Db;
use crate::domain::throttle::Failures;

impl Db {
    pub async fn sign_in_failures(&self, key: &str) -> sqlx::Result<Option<Failures>> {
        const SQL: &str =
            "select failures, last_failure_at, locked_until from sign_in_failures where key = $1";
        let row: Option<(i64, i64, i64)> =
            on_pool!(self, |p| sqlx::query_as(SQL).bind(key).fetch_optional(p).await)?;
        Ok(row.map(|(count, last_at, locked_until)| Failures { count, last_at, locked_until }))
    }

    pub async fn put_sign_in_failures(&self, key: &str, f: Failures) -> sqlx::Result<()> {
        const SQL: &str = "insert into sign_in_failures (key, failures, last_failure_at, locked_until) \
            values ($1, $2, $3, $4) on conflict (key) do update set failures = excluded.failures, \
            last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until";
        on_pool!(self, |p| sqlx::query(SQL)
            .bind(key)
            .bind(f.count)
            .bind(f.last_at)
            .bind(f.locked_until)
            .execute(p)
            .await
            .map(|_| ()))
    }

    pub async fn clear_sign_in_failures(&self, key: &str) -> sqlx::Result<()> {
        const SQL: &str = "delete from sign_in_failures where key = $1";
        on_pool!(self, |p| sqlx::query(SQL).bind(key).execute(p).await.map(|_| ()))
    }
}
