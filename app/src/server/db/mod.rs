//! Database access for both backends. One `Db` type; each query is written once where the
//! SQL dialects agree (sqlx binds `$n` on SQLite too) and as two explicit arms where they
//! differ. Queries are checked at run time by the contract tests on both backends.
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use std::collections::HashSet;

use crate::domain::ledger::SpendSource;
use crate::domain::rollup;
use crate::domain::{DailyCost, DateRange, Nanos, UsageEvent};
use tx::on_tx;

/// Rows per multi-row insert: 35 binds each stays below SQLite's 32,766 and PostgreSQL's
/// 65,535 parameter limits.
const INSERT_CHUNK: usize = 500;
/// Rollup rows per upsert (16 binds each).
const ROLLUP_CHUNK: usize = 1_000;

const EVENT_INSERT_HEAD: &str = "insert into usage_events (org_id, event_id, occurred_at, day, provider, \
    model, requested_model, operation, team, feature, initiative, customer, environment, api_key, tags, \
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, \
    reasoning_tokens, request_count, service_tier, latency_ms, status, trace_id, span_id, parent_span_id, \
    depth, retry, tool_name, cost_nanos, cost_source, price_entry_id, created_at) ";

pub(super) const ROLLUP_UPSERT_HEAD: &str = "insert into usage_rollups (org_id, grain, dim, bucket, value, source, \
    cost_nanos, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, \
    reasoning_tokens, requests, events, unpriced_events) ";

pub(super) const ROLLUP_UPSERT_TAIL: &str =
    " on conflict (org_id, grain, dim, bucket, value, source) do update set \
    cost_nanos = usage_rollups.cost_nanos + excluded.cost_nanos, \
    input_tokens = usage_rollups.input_tokens + excluded.input_tokens, \
    cache_read_tokens = usage_rollups.cache_read_tokens + excluded.cache_read_tokens, \
    cache_write_5m_tokens = usage_rollups.cache_write_5m_tokens + excluded.cache_write_5m_tokens, \
    cache_write_1h_tokens = usage_rollups.cache_write_1h_tokens + excluded.cache_write_1h_tokens, \
    output_tokens = usage_rollups.output_tokens + excluded.output_tokens, \
    reasoning_tokens = usage_rollups.reasoning_tokens + excluded.reasoning_tokens, \
    requests = usage_rollups.requests + excluded.requests, \
    events = usage_rollups.events + excluded.events, \
    unpriced_events = usage_rollups.unpriced_events + excluded.unpriced_events";

/// One chunk of events as the rows of a multi-row insert. A macro only because sqlx's
/// `QueryBuilder` is typed by its backend and the bind bounds of a generic function over both
/// are longer than the rows themselves.
macro_rules! push_event_rows {
    ($qb:ident, $org:expr, $chunk:expr, $now:expr) => {{
        let (org, chunk, now) = ($org, $chunk, $now);
        $qb.push_values(chunk, |mut b, e| {
            b.push_bind(org.0)
                .push_bind(&e.event_id)
                .push_bind(e.occurred_at)
                .push_bind(e.day())
                .push_bind(&e.provider)
                .push_bind(&e.model)
                .push_bind(&e.requested_model)
                .push_bind(&e.operation)
                .push_bind(&e.team)
                .push_bind(&e.feature)
                .push_bind(&e.initiative)
                .push_bind(&e.customer)
                .push_bind(&e.environment)
                .push_bind(&e.api_key)
                .push_bind(e.tags_json())
                .push_bind(e.tokens.input)
                .push_bind(e.tokens.cache_read)
                .push_bind(e.tokens.cache_write_5m)
                .push_bind(e.tokens.cache_write_1h)
                .push_bind(e.tokens.output)
                .push_bind(e.tokens.reasoning)
                .push_bind(e.request_count)
                .push_bind(e.service_tier.as_str())
                .push_bind(e.latency_ms)
                .push_bind(&e.status)
                .push_bind(&e.trace_id)
                .push_bind(&e.span_id)
                .push_bind(&e.parent_span_id)
                .push_bind(e.depth)
                .push_bind(e.retry)
                .push_bind(&e.tool_name)
                .push_bind(e.cost.0)
                .push_bind(e.cost_source.as_str())
                .push_bind(e.price_entry_id)
                .push_bind(now);
        });
    }};
}

/// Unix seconds of a day's start (UTC), the `bucket` of daily rollups.
fn day_bucket(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OrgId(pub i64);

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool `$db` holds; each arm is monomorphic, so
/// `sqlx` infers the backend from the pool.
macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            Db::Sqlite(sqlite) => {
                let $p = &sqlite.pool;
                $body
            }
            Db::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` inside one write transaction ([`Db::begin`]: on SQLite in the writer lane),
/// committing when it succeeds (an early `?` drops the transaction, which rolls it back).
macro_rules! in_tx {
    ($db:expr, |$tx:ident| $body:expr) => {
        match $db.begin().await? {
            $crate::server::db::tx::Tx::Sqlite(mut $tx, turn) => {
                let out = $body;
                $tx.commit().await?;
                drop(turn);
                out
            }
            $crate::server::db::tx::Tx::Postgres(mut $tx) => {
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub mod anomalies;
pub mod audit;
pub mod budgets;
mod export;
pub mod initiatives;
pub mod jobs;
mod keys;
pub mod ledger;
pub mod prices;
pub mod records;
pub mod reports;
pub mod reviews;
mod settings;
pub mod spend;
mod throttle;
pub mod totals;
mod traces;
pub mod tx;
mod users;
pub mod webhooks;
pub use audit::{Actor, NewAudit, AUDIT_LIMIT};
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

/// The columns a re-price needs.
#[derive(sqlx::FromRow)]
struct RepriceRow {
    id: i64,
    event_id: String,
    occurred_at: DateTime<Utc>,
    provider: String,
    model: String,
    team: Option<String>,
    feature: Option<String>,
    initiative: Option<String>,
    customer: Option<String>,
    environment: Option<String>,
    api_key: Option<String>,
    input_tokens: i64,
    cache_read_tokens: i64,
    cache_write_5m_tokens: i64,
    cache_write_1h_tokens: i64,
    output_tokens: i64,
    reasoning_tokens: i64,
    request_count: i64,
    service_tier: String,
    cost_nanos: i64,
    cost_source: String,
    price_entry_id: Option<i64>,
}

impl RepriceRow {
    fn into_event(self) -> (i64, UsageEvent) {
        use crate::domain::pricing::{ServiceTier, Tokens};
        use crate::domain::usage::CostSource;
        let e = UsageEvent {
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            provider: self.provider,
            model: self.model,
            team: self.team,
            feature: self.feature,
            initiative: self.initiative,
            customer: self.customer,
            environment: self.environment,
            api_key: self.api_key,
            tokens: Tokens {
                input: self.input_tokens,
                cache_read: self.cache_read_tokens,
                cache_write_5m: self.cache_write_5m_tokens,
                cache_write_1h: self.cache_write_1h_tokens,
                output: self.output_tokens,
                reasoning: self.reasoning_tokens,
            },
            request_count: self.request_count,
            service_tier: ServiceTier::parse("service_tier", &self.service_tier).unwrap_or_default(),
            cost: Nanos(self.cost_nanos),
            cost_source: CostSource::parse(&self.cost_source).unwrap_or(CostSource::Unpriced),
            price_entry_id: self.price_entry_id,
            ..Default::default()
        };
        (self.id, e)
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
    pub api_key: Option<String>,
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub output_tokens: i64,
    pub request_count: i64,
    pub cost_nanos: i64,
    pub cost_source: String,
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
            api_key: e.api_key.clone(),
            input_tokens: e.tokens.input,
            cache_read_tokens: e.tokens.cache_read,
            output_tokens: e.tokens.output,
            request_count: e.request_count,
            cost_nanos: e.cost.0,
            cost_source: e.cost_source.as_str().to_string(),
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
            Ok(Self::Sqlite(SqliteDb::new(pool)))
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
        let one: i64 = on_pool!(self, |p| sqlx::query_scalar("select cast(1 as bigint)").fetch_one(p).await)?;
        debug_assert_eq!(one, 1);
        Ok(())
    }

    /// Refreshes the query planner's statistics, as after a bulk load (PostgreSQL's autovacuum
    /// and SQLite's `optimize` do it eventually; benches need it now).
    pub async fn analyze(&self) -> sqlx::Result<()> {
        on_pool!(self, |p| sqlx::query("analyze").execute(p).await.map(|_| ()))
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    /// Returns the organisation with this slug, creating it on first use.
    pub async fn ensure_org(&self, slug: &str, name: &str) -> sqlx::Result<OrgId> {
        const INSERT: &str = "insert into orgs (slug, name, created_at) values ($1, $2, $3)
                              on conflict (slug) do nothing";
        const SELECT: &str = "select id from orgs where slug = $1";
        const TOTALS: &str = "insert into org_totals (org_id, event_cost_nanos, tokens, requests, \
            ledger_abs_nanos) values ($1, 0, 0, 0, 0) on conflict (org_id) do nothing";
        let now = Utc::now();
        on_pool!(self, |p| {
            sqlx::query(INSERT).bind(slug).bind(name).bind(now).execute(p).await?;
            let org = sqlx::query_scalar(SELECT).bind(slug).fetch_one(p).await.map(OrgId)?;
            sqlx::query(TOTALS).bind(org.0).execute(p).await?;
            Ok(org)
        })
    }

    /// Inserts events and adds them to the rollups and the organisation's totals, in one
    /// transaction. Events whose `event_id` the organisation already has (or that repeat an id
    /// earlier in `events`) are skipped and not counted again. Returns how many were new. A
    /// batch that would take the organisation past a lifetime bound is refused whole (an
    /// error naming the bound).
    pub async fn insert_usage_events(&self, org: OrgId, events: &[UsageEvent]) -> sqlx::Result<u64> {
        Ok(self.insert_usage_events_returning(org, events).await?.len() as u64)
    }

    /// [`Db::insert_usage_events`], answering the ids of the events that were new. A batch that
    /// would pass a lifetime bound fails with [`OverLimit`] inside the error (nothing stored).
    pub async fn insert_usage_events_returning(
        &self,
        org: OrgId,
        events: &[UsageEvent],
    ) -> sqlx::Result<HashSet<String>> {
        self.insert_events(org, events, true).await
    }

    /// The same rows without rollups: only the baseline the ingest benchmark compares the real
    /// path against (dashboards would not see these events).
    pub async fn bulk_insert_events_only(&self, org: OrgId, events: &[UsageEvent]) -> sqlx::Result<u64> {
        Ok(self.insert_events(org, events, false).await?.len() as u64)
    }

    async fn insert_events(
        &self,
        org: OrgId,
        events: &[UsageEvent],
        with_rollups: bool,
    ) -> sqlx::Result<HashSet<String>> {
        // first occurrence of each id wins, as the unique index would decide
        let mut seen = HashSet::with_capacity(events.len());
        let events: Vec<&UsageEvent> = events.iter().filter(|e| seen.insert(e.event_id.as_str())).collect();
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let mut inserted: Vec<&UsageEvent> = Vec::with_capacity(events.len());
        for chunk in events.chunks(INSERT_CHUNK) {
            // full chunks repeat the same text and reuse one prepared statement; a batch's
            // shorter tail is a one-off, and caching every length seen (each a statement of
            // thousands of parameters) grew memory without bound
            let persistent = chunk.len() == INSERT_CHUNK;
            // the builder is typed by its backend, so each arm builds its own
            let new: HashSet<String> = on_tx!(&mut tx, |t| {
                let mut qb = sqlx::QueryBuilder::new(EVENT_INSERT_HEAD);
                push_event_rows!(qb, org, chunk, now);
                qb.push(" on conflict (org_id, event_id) do nothing returning event_id");
                qb.build_query_scalar::<String>().persistent(persistent).fetch_all(&mut **t).await?
            })
            .into_iter()
            .collect();
            inserted.extend(chunk.iter().filter(|e| new.contains(&e.event_id)));
        }
        if with_rollups {
            // the lifetime guard first (in i128), so that the rollup sums below cannot overflow
            tx.raise_totals(org, totals::TotalsDelta::of_events(&inserted)).await?;
            tx.upsert_rollups(org, rollup::increments(inserted.iter().copied())).await?;
        }
        tx.commit().await?;
        Ok(inserted.iter().map(|e| e.event_id.clone()).collect())
    }

    /// Up to `limit` events at or after `since` that the price book prices (not those with a
    /// provider-reported cost), with `id > after`, in id order: one page of a re-price.
    pub async fn events_for_repricing(
        &self,
        org: OrgId,
        since: DateTime<Utc>,
        after: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<(i64, UsageEvent)>> {
        const SQL: &str = "select id, event_id, occurred_at, provider, model, team, feature, initiative, customer, \
            environment, api_key, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, \
            output_tokens, reasoning_tokens, request_count, service_tier, cost_nanos, cost_source, price_entry_id \
            from usage_events where org_id = $1 and occurred_at >= $2 and id > $3 and cost_source <> 'provider' \
            order by id limit $4";
        let rows: Vec<RepriceRow> = on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(since)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(RepriceRow::into_event).collect())
    }

    /// Stores new costs for events (id, before, after) and moves the rollups by exactly the
    /// difference, in one transaction. An event whose stored cost is no longer `before` (a
    /// concurrent re-price got there first) is left alone and adds nothing to the rollups, so
    /// two overlapping re-prices never count a change twice. Returns how many were changed.
    pub async fn apply_repricing(
        &self,
        org: OrgId,
        changes: &[(i64, UsageEvent, UsageEvent)],
    ) -> sqlx::Result<u64> {
        const SQL: &str = "update usage_events set cost_nanos = $1, cost_source = $2, price_entry_id = $3 \
            where id = $4 and org_id = $5 and cost_nanos = $6 and cost_source = $7";
        let mut tx = self.begin().await?;
        let mut applied = Vec::with_capacity(changes.len());
        for c @ (id, old, new) in changes {
            let n = on_tx!(&mut tx, |t| sqlx::query(SQL)
                .bind(new.cost.0)
                .bind(new.cost_source.as_str())
                .bind(new.price_entry_id)
                .bind(id)
                .bind(org.0)
                .bind(old.cost.0)
                .bind(old.cost_source.as_str())
                .execute(&mut **t)
                .await?
                .rows_affected());
            if n == 1 {
                applied.push(c);
            }
        }
        let delta = totals::TotalsDelta {
            event_cost: applied.iter().map(|c| i128::from(c.2.cost.0) - i128::from(c.1.cost.0)).sum(),
            ..Default::default()
        };
        tx.raise_totals(org, delta).await?;
        let deltas = rollup::deltas(applied.iter().map(|c| &c.1), applied.iter().map(|c| &c.2));
        tx.upsert_rollups(org, deltas).await?;
        tx.commit().await?;
        Ok(applied.len() as u64)
    }

    pub async fn org_name(&self, org: OrgId) -> sqlx::Result<String> {
        const SQL: &str = "select name from orgs where id = $1";
        on_pool!(self, |p| sqlx::query_scalar(SQL).bind(org.0).fetch_one(p).await)
    }

    /// Removes every usage event of the organisation (demo `--reset`).
    pub async fn delete_usage_events(&self, org: OrgId) -> sqlx::Result<u64> {
        const EVENTS: &str = "delete from usage_events where org_id = $1";
        const ROLLUPS: &str = "delete from usage_rollups where org_id = $1 and source = 'tokens'";
        const TOTALS: &str =
            "update org_totals set event_cost_nanos = 0, tokens = 0, requests = 0 where org_id = $1";
        let n = in_tx!(self, |tx| {
            sqlx::query(ROLLUPS).bind(org.0).execute(&mut *tx).await?;
            sqlx::query(TOTALS).bind(org.0).execute(&mut *tx).await?;
            sqlx::query(EVENTS).bind(org.0).execute(&mut *tx).await?.rows_affected()
        });
        Ok(n)
    }

    /// Spend and requests per day within the range (from the daily rollups), of every source
    /// or of one; days without spend are absent.
    pub async fn daily_costs(
        &self,
        org: OrgId,
        range: DateRange,
        source: Option<SpendSource>,
    ) -> sqlx::Result<Vec<DailyCost>> {
        // cast: PostgreSQL's sum(bigint) is numeric, which does not decode into i64
        const SQL: &str = "select bucket, cast(sum(cost_nanos) as bigint), cast(sum(requests) as bigint) \
            from usage_rollups where org_id = $1 and grain = 'day' and dim = 'total' and value = '' \
            and bucket between $2 and $3 and ($4 is null or source = $4) group by bucket order by bucket";
        let rows: Vec<(i64, i64, i64)> = on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .bind(source.map(SpendSource::as_str))
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .filter_map(|(bucket, cost, requests)| {
                let day = DateTime::from_timestamp(bucket, 0)?.date_naive();
                Some(DailyCost { day, cost: Nanos(cost), requests })
            })
            .collect())
    }

    /// Spend per source over the range, every source present (zero when it has none).
    pub async fn cost_by_source(
        &self,
        org: OrgId,
        range: DateRange,
    ) -> sqlx::Result<Vec<(SpendSource, Nanos)>> {
        const SQL: &str = "select source, cast(sum(cost_nanos) as bigint) from usage_rollups \
            where org_id = $1 and grain = 'day' and dim = 'total' and value = '' \
            and bucket between $2 and $3 group by source";
        let rows: Vec<(String, i64)> = on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .fetch_all(p)
            .await)?;
        Ok(SpendSource::ALL
            .into_iter()
            .map(|s| {
                let v = rows.iter().find(|(n, _)| n == s.as_str()).map(|r| r.1).unwrap_or(0);
                (s, Nanos(v))
            })
            .collect())
    }

    /// Total spend over the range (zero when there is none), from the daily rollups, of every
    /// source or of one.
    pub async fn cost_between(
        &self,
        org: OrgId,
        range: DateRange,
        source: Option<SpendSource>,
    ) -> sqlx::Result<Nanos> {
        const SQL: &str = "select cast(coalesce(sum(cost_nanos), 0) as bigint) from usage_rollups \
            where org_id = $1 and grain = 'day' and dim = 'total' and value = '' \
            and bucket between $2 and $3 and ($4 is null or source = $4)";
        let total: i64 = on_pool!(self, |p| sqlx::query_scalar(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .bind(source.map(SpendSource::as_str))
            .fetch_one(p)
            .await)?;
        Ok(Nanos(total))
    }

    /// Every event of the organisation in `event_id` order (tests, reconciliation).
    pub async fn usage_events(&self, org: OrgId) -> sqlx::Result<Vec<UsageEventRow>> {
        const SQL: &str = "select event_id, occurred_at, day, provider, model, team, feature, \
            initiative, customer, environment, api_key, input_tokens, cache_read_tokens, output_tokens, \
            request_count, cost_nanos, cost_source from usage_events where org_id = $1 order by event_id";
        on_pool!(self, |p| sqlx::query_as(SQL).bind(org.0).fetch_all(p).await)
    }

    /// Every token-event rollup row of one grain and dimension: (bucket, value, sums), for
    /// reconciliation with the events.
    pub async fn rollups(
        &self,
        org: OrgId,
        grain: rollup::Grain,
        dim: &str,
    ) -> sqlx::Result<Vec<(i64, String, rollup::Sums)>> {
        const SQL: &str =
            "select bucket, value, cost_nanos, input_tokens, cache_read_tokens, cache_write_5m_tokens, \
            cache_write_1h_tokens, output_tokens, reasoning_tokens, requests, events, unpriced_events \
            from usage_rollups where org_id = $1 and grain = $2 and dim = $3 and source = 'tokens' \
            order by bucket, value";
        type Row = (i64, String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(grain.as_str())
            .bind(dim)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(b, v, cost, i, cr, cw5, cw1, o, r, req, ev, un)| {
                let s = rollup::Sums {
                    cost_nanos: cost,
                    input_tokens: i,
                    cache_read_tokens: cr,
                    cache_write_5m_tokens: cw5,
                    cache_write_1h_tokens: cw1,
                    output_tokens: o,
                    reasoning_tokens: r,
                    requests: req,
                    events: ev,
                    unpriced_events: un,
                };
                (b, v, s)
            })
            .collect())
    }

    /// Number of events and their total cost, for the CLI's summary and for tests.
    pub async fn usage_totals(&self, org: OrgId) -> sqlx::Result<(i64, Nanos)> {
        const SQL: &str = "select count(*), cast(coalesce(sum(cost_nanos), 0) as bigint) \
            from usage_events where org_id = $1";
        let (n, total): (i64, i64) = on_pool!(self, |p| sqlx::query_as(SQL).bind(org.0).fetch_one(p).await)?;
        Ok((n, Nanos(total)))
    }
}

impl Tx {
    /// Adds rollup increments (or a re-price's deltas) to the stored rollups, in key order.
    pub async fn upsert_rollups(
        &mut self,
        org: OrgId,
        increments: std::collections::BTreeMap<rollup::RollupKey, rollup::Sums>,
    ) -> sqlx::Result<()> {
        let rows: Vec<_> = increments.into_iter().collect();
        for chunk in rows.chunks(ROLLUP_CHUNK) {
            on_tx!(&mut *self, |t| {
                let mut qb = sqlx::QueryBuilder::new(ROLLUP_UPSERT_HEAD);
                qb.push_values(chunk, |mut b, ((grain, dim, bucket, value), s)| {
                    b.push_bind(org.0)
                        .push_bind(grain.as_str())
                        .push_bind(*dim)
                        .push_bind(*bucket)
                        .push_bind(value)
                        .push_bind("tokens")
                        .push_bind(s.cost_nanos)
                        .push_bind(s.input_tokens)
                        .push_bind(s.cache_read_tokens)
                        .push_bind(s.cache_write_5m_tokens)
                        .push_bind(s.cache_write_1h_tokens)
                        .push_bind(s.output_tokens)
                        .push_bind(s.reasoning_tokens)
                        .push_bind(s.requests)
                        .push_bind(s.events)
                        .push_bind(s.unpriced_events);
                });
                qb.push(ROLLUP_UPSERT_TAIL);
                // one-off text (its length varies with the batch): not worth a cached statement
                qb.build().persistent(false).execute(&mut **t).await.map(|_| ())?
            });
        }
        Ok(())
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
