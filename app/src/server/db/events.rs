//! Usage events: inserted with their rollups and the organisation's totals in one
//! transaction, re-priced in place, read back.
use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::query::{query, query_as, query_scalar, QueryBuilder};
use super::{totals, Db, OrgId, Tx};
use crate::domain::rollup;
use crate::domain::{Nanos, UsageEvent};

/// Rows per multi-row insert: 41 binds each stays below SQLite's 32,766 and PostgreSQL's
/// 65,535 parameter limits.
const INSERT_CHUNK: usize = 500;
const EVENT_INSERT_HEAD: &str = "insert into usage_events (org_id, event_id, occurred_at, day, provider, \
    model, requested_model, operation, team, feature, initiative, customer, environment, api_key, tags, \
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, \
    reasoning_tokens, input_audio_tokens, cache_read_audio_tokens, input_image_tokens, output_audio_tokens, \
    output_image_tokens, web_search_calls, request_count, service_tier, latency_ms, status, trace_id, span_id, \
    parent_span_id, depth, retry, tool_name, cost_nanos, cost_source, price_entry_id, created_at) ";

/// One chunk of events as the rows of a multi-row insert.
fn push_event_rows<'a>(qb: &mut QueryBuilder<'a>, org: OrgId, chunk: &[&'a UsageEvent], now: DateTime<Utc>) {
    qb.push_values(chunk.iter().copied(), |mut b, e| {
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
            .push_bind(e.tokens.input_audio)
            .push_bind(e.tokens.cache_read_audio)
            .push_bind(e.tokens.input_image)
            .push_bind(e.tokens.output_audio)
            .push_bind(e.tokens.output_image)
            .push_bind(e.tokens.web_search_calls)
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
    input_audio_tokens: i64,
    cache_read_audio_tokens: i64,
    input_image_tokens: i64,
    output_audio_tokens: i64,
    output_image_tokens: i64,
    web_search_calls: i64,
    request_count: i64,
    service_tier: String,
    cost_nanos: i64,
    cost_source: String,
    price_entry_id: Option<i64>,
    /// Read so that a re-price moves the trace rollups too.
    trace_id: Option<String>,
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
                input_audio: self.input_audio_tokens,
                cache_read_audio: self.cache_read_audio_tokens,
                input_image: self.input_image_tokens,
                output_audio: self.output_audio_tokens,
                output_image: self.output_image_tokens,
                web_search_calls: self.web_search_calls,
            },
            request_count: self.request_count,
            service_tier: ServiceTier::parse("service_tier", &self.service_tier).unwrap_or_default(),
            cost: Nanos(self.cost_nanos),
            cost_source: CostSource::parse(&self.cost_source).unwrap_or(CostSource::Unpriced),
            price_entry_id: self.price_entry_id,
            trace_id: self.trace_id,
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
        Ok(self.insert_events(org, events, true, None).await?.unwrap_or_default())
    }

    /// [`Db::insert_usage_events_returning`] for events priced with version `version` of the
    /// price book: `None`, with nothing stored, when the book moved on before this write took
    /// its turn. The version is read inside the write transaction (on PostgreSQL under a share
    /// lock, which a price change's own transaction waits for), so a price change either lands
    /// first and is seen here, or lands after and its re-price finds these events stored.
    pub async fn insert_priced_events(
        &self,
        org: OrgId,
        events: &[UsageEvent],
        version: i64,
    ) -> sqlx::Result<Option<HashSet<String>>> {
        self.insert_events(org, events, true, Some(version)).await
    }

    /// The same rows without rollups: only the baseline the ingest benchmark compares the real
    /// path against (dashboards would not see these events).
    pub async fn bulk_insert_events_only(&self, org: OrgId, events: &[UsageEvent]) -> sqlx::Result<u64> {
        Ok(self.insert_events(org, events, false, None).await?.unwrap_or_default().len() as u64)
    }

    async fn insert_events(
        &self,
        org: OrgId,
        events: &[UsageEvent],
        with_rollups: bool,
        priced_with: Option<i64>,
    ) -> sqlx::Result<Option<HashSet<String>>> {
        // first occurrence of each id wins, as the unique index would decide
        let mut seen = HashSet::with_capacity(events.len());
        let events: Vec<&UsageEvent> = events.iter().filter(|e| seen.insert(e.event_id.as_str())).collect();
        let now = Utc::now();
        let mut tx = self.begin().await?;
        if let Some(version) = priced_with {
            let sql = match tx {
                Tx::Sqlite(..) => "select version from price_book_versions where org_id = $1",
                Tx::Postgres(_) => "select version from price_book_versions where org_id = $1 for share",
            };
            let now: Option<i64> = query_scalar(sql).bind(org.0).fetch_optional(&mut tx).await?;
            if now.unwrap_or(0) != version {
                return Ok(None);
            }
        }
        super::retention::check_kept_from(&mut tx, org, events.iter().map(|e| e.day()).min()).await?;
        let mut inserted: Vec<&UsageEvent> = Vec::with_capacity(events.len());
        for chunk in events.chunks(INSERT_CHUNK) {
            // full chunks repeat the same text and reuse one prepared statement; a batch's
            // shorter tail is a one-off, and caching every length seen (each a statement of
            // thousands of parameters) grew memory without bound
            let persistent = chunk.len() == INSERT_CHUNK;
            let mut qb = QueryBuilder::new(EVENT_INSERT_HEAD);
            push_event_rows(&mut qb, org, chunk, now);
            qb.push(" on conflict (org_id, event_id) do nothing returning event_id");
            let new: HashSet<String> = qb
                .build_query_scalar::<String>()
                .persistent(persistent)
                .fetch_all(&mut tx)
                .await?
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
        Ok(Some(inserted.iter().map(|e| e.event_id.clone()).collect()))
    }

    /// Up to `limit` events at or after `since` that the price book prices (not those with a
    /// provider-reported cost; with `only_unpriced`, only those stored without a price), with
    /// `id > after`, in id order: one page of a re-price.
    pub async fn events_for_repricing(
        &self,
        org: OrgId,
        since: DateTime<Utc>,
        after: i64,
        limit: i64,
        only_unpriced: bool,
    ) -> sqlx::Result<Vec<(i64, UsageEvent)>> {
        const SQL: &str = "select id, event_id, occurred_at, provider, model, team, feature, initiative, customer, \
            environment, api_key, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, \
            output_tokens, reasoning_tokens, input_audio_tokens, cache_read_audio_tokens, input_image_tokens, \
            output_audio_tokens, output_image_tokens, web_search_calls, request_count, service_tier, cost_nanos, \
            cost_source, price_entry_id, trace_id \
            from usage_events where org_id = $1 and occurred_at >= $2 and id > $3 and cost_source <> 'provider' \
            and ($5 = 0 or cost_source = 'unpriced') order by id limit $4";
        let rows: Vec<RepriceRow> = query_as(SQL)
            .bind(org.0)
            .bind(since)
            .bind(after)
            .bind(limit)
            .bind(i64::from(only_unpriced))
            .fetch_all(self)
            .await?;
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
            let n = query(SQL)
                .bind(new.cost.0)
                .bind(new.cost_source.as_str())
                .bind(new.price_entry_id)
                .bind(id)
                .bind(org.0)
                .bind(old.cost.0)
                .bind(old.cost_source.as_str())
                .execute(&mut tx)
                .await?
                .rows_affected();
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

    /// Removes every usage event of the organisation (demo `--reset`).
    pub async fn delete_usage_events(&self, org: OrgId) -> sqlx::Result<u64> {
        const EVENTS: &str = "delete from usage_events where org_id = $1";
        const ROLLUPS: &str = "delete from usage_rollups where org_id = $1 and source = 'tokens'";
        const TOTALS: &str =
            "update org_totals set event_cost_nanos = 0, tokens = 0, requests = 0 where org_id = $1";
        let mut tx = self.begin().await?;
        let n = {
            query(ROLLUPS).bind(org.0).execute(&mut tx).await?;
            let tables = crate::domain::rollup::Cube::ALL.map(|c| c.table());
            for table in tables.into_iter().chain(["trace_rollups"]) {
                let sql = format!("delete from {table} where org_id = $1");
                query(&sql).bind(org.0).execute(&mut tx).await?;
            }
            query(TOTALS).bind(org.0).execute(&mut tx).await?;
            query(EVENTS).bind(org.0).execute(&mut tx).await?.rows_affected()
        };
        tx.commit().await?;
        Ok(n)
    }

    /// Every event of the organisation in `event_id` order (tests, reconciliation).
    pub async fn usage_events(&self, org: OrgId) -> sqlx::Result<Vec<UsageEventRow>> {
        const SQL: &str = "select event_id, occurred_at, day, provider, model, team, feature, \
            initiative, customer, environment, api_key, input_tokens, cache_read_tokens, output_tokens, \
            request_count, cost_nanos, cost_source from usage_events where org_id = $1 order by event_id";
        query_as(SQL).bind(org.0).fetch_all(self).await
    }

    /// Number of events and their total cost, for the CLI's summary and for tests.
    pub async fn usage_totals(&self, org: OrgId) -> sqlx::Result<(i64, Nanos)> {
        const SQL: &str = "select count(*), cast(coalesce(sum(cost_nanos), 0) as bigint) \
            from usage_events where org_id = $1";
        let (n, total): (i64, i64) = query_as(SQL).bind(org.0).fetch_one(self).await?;
        Ok((n, Nanos(total)))
    }
}
