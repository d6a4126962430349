//! Database access for both backends. One `Db` type; each query is written once where the
//! SQL dialects agree (sqlx binds `$n` on SQLite too) and as two explicit arms where they
//! differ. Queries are checked at run time by the contract tests on both backends.
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::domain::{DailyCost, DateRange, Nanos, UsageEvent};

/// Rows per multi-row insert: 14 binds each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameter limits.
const INSERT_CHUNK: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OrgId(pub i64);

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool `$db` holds; each arm is monomorphic, so
/// `sqlx` infers the backend from the pool.
macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` inside one transaction of whichever pool `$db` holds, committing when it
/// succeeds (an early `?` drops the transaction, which rolls it back).
macro_rules! in_tx {
    ($db:expr, |$tx:ident| $body:expr) => {
        match $db {
            Db::Sqlite(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Db::Postgres(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub mod audit;
mod keys;
mod throttle;
mod users;
pub use audit::{Actor, NewAudit, AUDIT_LIMIT};
pub use keys::{ApiKeyRow, NewApiKey};
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

/// A stored usage event as read back (tests and exports).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageEventRow {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub day: NaiveDate,
    pub provider: String,
    pub model: String,
    pub team: Option<String>,
    pub feature: Option<String>,
    pub initiative: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub request_count: i64,
    pub cost_nanos: i64,
}

impl From<&UsageEvent> for UsageEventRow {
    fn from(e: &UsageEvent) -> Self {
        UsageEventRow {
            event_id: e.event_id.clone(),
            occurred_at: e.occurred_at,
            day: e.day(),
            provider: e.provider.clone(),
            model: e.model.clone(),
            team: e.team.clone(),
            feature: e.feature.clone(),
            initiative: e.initiative.clone(),
            customer: e.customer.clone(),
            environment: e.environment.clone(),
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            request_count: e.request_count,
            cost_nanos: e.cost.0,
        }
    }
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
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
            Ok(Self::Sqlite(pool))
        }
    }

    /// Applies `migrations/sqlite` or `migrations/postgres` (the same steps).
    /// Then lets the session store create its own table (tower-sessions-sqlx-store's schema).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        use sqlx::migrate::MigrateError;
        match self {
            Db::Sqlite(p) => {
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
        let one: i64 = on_pool!(self, |p| sqlx::query_scalar("select cast(1 as bigint)").fetch_one(p).await)?;
        debug_assert_eq!(one, 1);
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    /// Returns the organisation with this slug, creating it on first use.
    pub async fn ensure_org(&self, slug: &str, name: &str) -> sqlx::Result<OrgId> {
        const INSERT: &str = "insert into orgs (slug, name, created_at) values ($1, $2, $3)
                              on conflict (slug) do nothing";
        const SELECT: &str = "select id from orgs where slug = $1";
        let now = Utc::now();
        on_pool!(self, |p| {
            sqlx::query(INSERT).bind(slug).bind(name).bind(now).execute(p).await?;
            sqlx::query_scalar(SELECT).bind(slug).fetch_one(p).await.map(OrgId)
        })
    }

    /// Inserts events in chunks inside one transaction; events whose `event_id` the
    /// organisation already has are skipped. Returns how many were new.
    pub async fn insert_usage_events(&self, org: OrgId, events: &[UsageEvent]) -> sqlx::Result<u64> {
        const HEAD: &str = "insert into usage_events (org_id, event_id, occurred_at, day, provider, model, \
            team, feature, initiative, customer, environment, input_tokens, output_tokens, \
            request_count, cost_nanos, created_at) ";
        const TAIL: &str = " on conflict (org_id, event_id) do nothing";
        let now = Utc::now();
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let mut inserted = 0;
            for chunk in events.chunks(INSERT_CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(HEAD);
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(org.0)
                        .push_bind(&e.event_id)
                        .push_bind(e.occurred_at)
                        .push_bind(e.day())
                        .push_bind(&e.provider)
                        .push_bind(&e.model)
                        .push_bind(&e.team)
                        .push_bind(&e.feature)
                        .push_bind(&e.initiative)
                        .push_bind(&e.customer)
                        .push_bind(&e.environment)
                        .push_bind(e.input_tokens)
                        .push_bind(e.output_tokens)
                        .push_bind(e.request_count)
                        .push_bind(e.cost.0)
                        .push_bind(now);
                });
                qb.push(TAIL);
                inserted += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Removes every usage event of the organisation (demo `--reset`).
    pub async fn delete_usage_events(&self, org: OrgId) -> sqlx::Result<u64> {
        const SQL: &str = "delete from usage_events where org_id = $1";
        on_pool!(self, |p| Ok(sqlx::query(SQL).bind(org.0).execute(p).await?.rows_affected()))
    }

    /// Spend and requests per day within the range; days without spend are absent.
    pub async fn daily_costs(&self, org: OrgId, range: DateRange) -> sqlx::Result<Vec<DailyCost>> {
        // cast: PostgreSQL's sum(bigint) is numeric, which does not decode into i64
        const SQL: &str = "select day, cast(sum(cost_nanos) as bigint) as cost, \
            cast(sum(request_count) as bigint) as requests \
            from usage_events where org_id = $1 and day between $2 and $3 \
            group by day order by day";
        let rows: Vec<(NaiveDate, i64, i64)> = on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(range.from)
            .bind(range.to)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(day, cost, requests)| DailyCost { day, cost: Nanos(cost), requests })
            .collect())
    }

    /// Total spend over the range (zero when there is none).
    pub async fn cost_between(&self, org: OrgId, range: DateRange) -> sqlx::Result<Nanos> {
        const SQL: &str = "select cast(coalesce(sum(cost_nanos), 0) as bigint) from usage_events \
            where org_id = $1 and day between $2 and $3";
        let total: i64 = on_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(org.0)
            .bind(range.from)
            .bind(range.to)
            .fetch_one(p)
            .await)?;
        Ok(Nanos(total))
    }

    /// Every event of the organisation in `event_id` order (tests, reconciliation).
    pub async fn usage_events(&self, org: OrgId) -> sqlx::Result<Vec<UsageEventRow>> {
        const SQL: &str = "select event_id, occurred_at, day, provider, model, team, feature, \
            initiative, customer, environment, input_tokens, output_tokens, request_count, \
            cost_nanos from usage_events where org_id = $1 order by event_id";
        on_pool!(self, |p| sqlx::query_as(SQL).bind(org.0).fetch_all(p).await)
    }

    /// Number of events and their total cost, for the CLI's summary and for tests.
    pub async fn usage_totals(&self, org: OrgId) -> sqlx::Result<(i64, Nanos)> {
        const SQL: &str = "select count(*), cast(coalesce(sum(cost_nanos), 0) as bigint) \
            from usage_events where org_id = $1";
        let (n, total): (i64, i64) = on_pool!(self, |p| sqlx::query_as(SQL).bind(org.0).fetch_one(p).await)?;
        Ok((n, Nanos(total)))
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
