//! Job leases (which server runs a background loop) and the progress of jobs people start
//! from a page, both in the database so that every server sees the same.
use super::query::{query, query_as, query_scalar};
use super::{Db, OrgId};
use crate::domain::job::JobView;

/// A page-started job untouched for this long while unfinished belongs to a server that
/// stopped: it is shown as failed.
pub const STALE_MS: i64 = 5 * 60 * 1000;

type JobRow = (i64, i64, String, i64, bool, bool, Option<String>, i64);

impl Db {
    /// Takes or renews the lease `name` for `holder` until `until_ms`; true when `holder` has
    /// it (it was free, expired, or already its own). One statement, so two servers asking
    /// at once cannot both win.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "insert into job_leases (name, holder, expires_at_ms) values ($1, $2, $3) \
            on conflict (name) do update set holder = excluded.holder, expires_at_ms = excluded.expires_at_ms \
            where job_leases.holder = excluded.holder or job_leases.expires_at_ms < $4";
        let _turn = self.write_lane().await?;
        let n = query(SQL)
            .bind(name)
            .bind(holder)
            .bind(until_ms)
            .bind(now_ms)
            .execute(self)
            .await
            .map(|r| r.rows_affected())?;
        Ok(n == 1)
    }

    /// Gives a lease up (a server stopping), so another can take it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> sqlx::Result<()> {
        const SQL: &str = "delete from job_leases where name = $1 and holder = $2";
        query(SQL).bind(name).bind(holder).execute(self).await.map(|_| ())
    }

    /// Who holds each lease now (for `/healthz`-style answers and tests).
    pub async fn leases(&self) -> sqlx::Result<Vec<(String, String, i64)>> {
        const SQL: &str = "select name, holder, expires_at_ms from job_leases order by name";
        query_as(SQL).fetch_all(self).await
    }

    pub async fn start_job(&self, org: OrgId, kind: &str, holder: &str, now_ms: i64) -> sqlx::Result<i64> {
        const SQL: &str =
            "insert into background_jobs (org_id, kind, done, finished, failed, outcome, holder, \
            started_at_ms, updated_at_ms) values ($1, $2, 0, false, false, null, $3, $4, $4) returning id";
        query_scalar(SQL).bind(org.0).bind(kind).bind(holder).bind(now_ms).fetch_one(self).await
    }

    pub async fn job_progress(&self, id: i64, done: i64, now_ms: i64) -> sqlx::Result<()> {
        const SQL: &str =
            "update background_jobs set done = $2, updated_at_ms = $3 where id = $1 and not finished";
        query(SQL).bind(id).bind(done).bind(now_ms).execute(self).await.map(|_| ())
    }

    pub async fn finish_job(
        &self,
        id: i64,
        done: Option<i64>,
        outcome: &Result<String, String>,
        now_ms: i64,
    ) -> sqlx::Result<()> {
        const SQL: &str =
            "update background_jobs set done = coalesce($2, done), finished = true, failed = $3, \
            outcome = $4, updated_at_ms = $5 where id = $1";
        let (failed, text) = match outcome {
            Ok(t) => (false, t),
            Err(e) => (true, e),
        };
        query(SQL).bind(id).bind(done).bind(failed).bind(text).bind(now_ms).execute(self).await.map(|_| ())
    }

    /// The job, if it exists and belongs to `org`.
    pub async fn job(&self, id: i64, org: OrgId, now_ms: i64) -> sqlx::Result<Option<JobView>> {
        const SQL: &str = "select id, org_id, kind, done, finished, failed, outcome, updated_at_ms \
            from background_jobs where id = $1 and org_id = $2";
        let row: Option<JobRow> = query_as(SQL).bind(id).bind(org.0).fetch_optional(self).await?;
        Ok(row.map(|(id, org, kind, done, finished, failed, outcome, updated)| {
            let stale = !finished && now_ms - updated > STALE_MS;
            JobView {
                id: id as u64,
                org,
                kind,
                done: done.max(0) as u64,
                finished: finished || stale,
                failed: failed || stale,
                outcome: if stale {
                    Some("the server running this job stopped before it finished; start it again".into())
                } else {
                    outcome
                },
            }
        }))
    }
}
