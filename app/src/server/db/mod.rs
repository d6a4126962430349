//! Database access for both backends. One `Db` type; each query is written once where the
//! SQL dialects agree (sqlx binds `$n` on SQLite too) and as two explicit arms where they
//! differ. Queries are checked at run time by the contract tests on both backends.
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgPool, PgPoolOptions, PgTransactionManager};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous, SqliteTransactionManager,
};
use sqlx::{Connection, TransactionManager};

use query::{query, query_scalar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OrgId(pub i64);

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

pub mod alerts;
pub mod anomalies;
pub mod audit;
pub mod budgets;
mod events;
mod export;
pub mod gateway;
pub mod guardrails;
pub mod initiatives;
pub mod jobs;
mod keys;
pub mod ledger;
pub mod prices;
pub mod query;
pub mod records;
pub mod reports;
pub mod retention;
pub mod reviews;
mod rollups;
mod settings;
pub mod spend;
mod throttle;
pub mod totals;
mod traces;
pub mod tx;
mod users;
pub mod webhooks;
pub use audit::{Actor, NewAudit, AUDIT_LIMIT};
pub use events::UsageEventRow;
pub use keys::{ApiKeyRow, NewApiKey};
pub use prices::{NewPriceEntry, PUBLIC_LIST};
pub use totals::OverLimit;
pub use tx::{SqliteDb, Tx};
pub use users::{Credentials, NewUser, TeamId, TeamRecord, UserId, UserRecord};

/// True when the error is a unique-constraint violation (same meaning on both backends), so
/// that services can answer "already taken" naming the field instead of a 500.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Which backend a URL selects. Anything that is not `postgres://` or `postgresql://` is
/// SQLite: a `sqlite:` URL or a plain file path.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Writes the URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A SQLite pool of `max` connections for single statements. No ping before handing a
/// connection out: a file has no other end that can hang up, and the ping was a round trip to
/// the connection's worker thread on every statement (the authorize lane makes three
/// acquires per batch).
fn sqlite_reads(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new().max_connections(max).test_before_acquire(false)
}

/// A SQLite pool of `max` connections for transactions.
fn sqlite_pool(max: u32) -> SqlitePoolOptions {
    sqlite_reads(max)
        // A future dropped after SQLite ran `BEGIN` but before it read the reply leaves
        // the connection inside a transaction nobody owns (sqlx 0.8.6 does not roll it
        // back); back in the pool it would keep the file's write lock for good and every
        // writer would answer "database is locked". The ping goes through the
        // connection's worker after any rollback already queued, so the depth read
        // after it is settled; such a connection is closed, which rolls it back.
        .after_release(|conn, _| {
            Box::pin(async move {
                conn.ping().await?;
                Ok(SqliteTransactionManager::get_transaction_depth(conn) == 0)
            })
        })
}

impl Db {
    /// Opens the database the URL names and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let db = Self::open(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    async fn open(url: &str) -> Result<Self, sqlx::Error> {
        if is_postgres_url(url) {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(5))
                // sqlx queues the rollback of a dropped transaction and lowers the depth at
                // once, so a connection still deeper than zero here lost track of one.
                .after_release(|conn, _| {
                    Box::pin(async move { Ok(PgTransactionManager::get_transaction_depth(conn) == 0) })
                })
                .connect(url)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
            let opts = match path {
                Some(_) => SqliteConnectOptions::from_str(url)?,
                None => SqliteConnectOptions::new().filename(url),
            }
            .create_if_missing(true)
            // WAL: readers (pages) never wait for the writer (ingest, jobs).
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
            let pool = sqlite_pool(8).connect_with(opts.clone()).await?;
            let reads = sqlite_reads(8).connect_lazy_with(opts.clone());
            // Authorize holds commit on a connection of their own that does not wait for the
            // disk (see `Db::begin_hold`); opened on first use.
            let holds = sqlite_pool(1).connect_lazy_with(opts.synchronous(SqliteSynchronous::Normal));
            Ok(Self::Sqlite(SqliteDb::new(pool, reads, holds)))
        }
    }

    /// Applies `migrations/sqlite` or `migrations/postgres` (the same steps).
    /// Then lets the session store create its own table (tower-sessions-sqlx-store's schema).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        use sqlx::migrate::MigrateError;
        match self {
            Db::Sqlite(s) => {
                let p = &s.pool;
                sqlx::migrate!("../migrations/sqlite").run(p).await?;
                tower_sessions_sqlx_store::SqliteStore::new(p.clone())
                    .migrate()
                    .await
                    .map_err(MigrateError::Execute)
            }
            Db::Postgres(p) => {
                sqlx::migrate!("../migrations/postgres").run(p).await?;
                tower_sessions_sqlx_store::PostgresStore::new(p.clone())
                    .migrate()
                    .await
                    .map_err(MigrateError::Execute)
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Cheap liveness check for `/healthz`.
    pub async fn ping(&self) -> sqlx::Result<()> {
        let one: i64 = query_scalar("select cast(1 as bigint)").fetch_one(self).await?;
        debug_assert_eq!(one, 1);
        Ok(())
    }

    /// Refreshes the query planner's statistics, as after a bulk load (PostgreSQL's autovacuum
    /// and SQLite's `optimize` do it eventually; benches need it now).
    pub async fn analyze(&self) -> sqlx::Result<()> {
        query("analyze").execute(self).await.map(|_| ())
    }

    /// SQLite: copies the write-ahead log into the database file now, without blocking writers
    /// (a passive checkpoint); answers (frames in the log, frames copied), or (-1, -1) when
    /// another connection's checkpoint was running at that moment. PostgreSQL: (0, 0).
    pub async fn checkpoint(&self) -> sqlx::Result<(i64, i64)> {
        match self {
            Db::Sqlite(s) => {
                let (_busy, log, copied): (i64, i64, i64) =
                    sqlx::query_as("pragma wal_checkpoint(passive)").fetch_one(&s.reads).await?;
                Ok((log, copied))
            }
            Db::Postgres(_) => Ok((0, 0)),
        }
    }

    /// SQLite: checkpoints every `every` in the background. Otherwise the commit that takes the
    /// log past SQLite's 1,000 pages copies them itself, and every call waiting on that commit
    /// waits for the copy and its fsync (the authorize bench's slowest answers).
    pub fn spawn_checkpointer(&self, every: Duration) {
        if !matches!(self, Db::Sqlite(_)) {
            return;
        }
        let db = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = db.checkpoint().await {
                    if matches!(&db, Db::Sqlite(s) if s.reads.is_closed()) {
                        return;
                    }
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        });
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(s) => s.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Returns the organisation with this slug, creating it on first use.
    pub async fn ensure_org(&self, slug: &str, name: &str) -> sqlx::Result<OrgId> {
        const INSERT: &str = "insert into orgs (slug, name, created_at) values ($1, $2, $3)
                              on conflict (slug) do nothing";
        const SELECT: &str = "select id from orgs where slug = $1";
        const TOTALS: &str = "insert into org_totals (org_id, event_cost_nanos, tokens, requests, \
            ledger_abs_nanos) values ($1, 0, 0, 0, 0) on conflict (org_id) do nothing";
        const VERSION: &str = "insert into price_book_versions (org_id, version, swept_version) \
            values ($1, 0, 0) on conflict (org_id) do nothing";
        let now = Utc::now();
        {
            query(INSERT).bind(slug).bind(name).bind(now).execute(self).await?;
            let org = query_scalar(SELECT).bind(slug).fetch_one(self).await.map(OrgId)?;
            query(TOTALS).bind(org.0).execute(self).await?;
            query(VERSION).bind(org.0).execute(self).await?;
            Ok(org)
        }
    }

    pub async fn org_name(&self, org: OrgId) -> sqlx::Result<String> {
        const SQL: &str = "select name from orgs where id = $1";
        query_scalar(SQL).bind(org.0).fetch_one(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_selects_backend_and_redacts_password() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("sqlite:costroom.db"));
        assert!(!is_postgres_url("data/costroom.db"));
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}
