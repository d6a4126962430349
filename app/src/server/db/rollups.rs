//! The rollups every dashboard reads: daily and hourly sums per dimension value and source.
use chrono::{DateTime, NaiveDate};

use super::query::{query_as, query_scalar, QueryBuilder, Separated};
use super::{Db, OrgId, Tx};
use crate::domain::ledger::SpendSource;
use crate::domain::rollup::{self, Cube};
use crate::domain::{DailyCost, DateRange, Nanos};

/// Rollup rows per upsert (16 binds each, 21 in the wide cube: under SQLite's 32,766).
const ROLLUP_CHUNK: usize = 1_000;

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

/// Unix seconds of a day's start (UTC), the `bucket` of daily rollups.
fn day_bucket(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp()
}

impl Db {
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
        let rows: Vec<(i64, i64, i64)> = query_as(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .bind(source.map(SpendSource::as_str))
            .fetch_all(self)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(bucket, cost, requests)| {
                let day = DateTime::from_timestamp(bucket, 0)?.date_naive();
                Some(DailyCost { day, cost: Nanos(cost), requests })
            })
            .collect())
    }

    /// Days of the range holding any spend or events (of every source or of one).
    pub async fn days_with_spend(
        &self,
        org: OrgId,
        range: DateRange,
        source: Option<SpendSource>,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "select count(distinct bucket) from usage_rollups \
            where org_id = $1 and grain = 'day' and dim = 'total' and value = '' \
            and bucket between $2 and $3 and ($4 is null or source = $4) and (cost_nanos <> 0 or events <> 0)";
        query_scalar(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .bind(source.map(SpendSource::as_str))
            .fetch_one(self)
            .await
    }

    /// Each source's newest day with spend (sources never seen are absent), for the stale-import
    /// banner.
    pub async fn last_spend_day_by_source(&self, org: OrgId) -> sqlx::Result<Vec<(SpendSource, NaiveDate)>> {
        const SQL: &str = "select source, max(bucket) from usage_rollups \
            where org_id = $1 and grain = 'day' and dim = 'total' and value = '' \
            and (cost_nanos <> 0 or events <> 0) group by source";
        let rows: Vec<(String, i64)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, b)| {
                let source = SpendSource::parse(&s).ok()?;
                Some((source, DateTime::from_timestamp(b, 0)?.date_naive()))
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
        let rows: Vec<(String, i64)> = query_as(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .fetch_all(self)
            .await?;
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
        let total: i64 = query_scalar(SQL)
            .bind(org.0)
            .bind(day_bucket(range.from))
            .bind(day_bucket(range.to))
            .bind(source.map(SpendSource::as_str))
            .fetch_one(self)
            .await?;
        Ok(Nanos(total))
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
        let rows: Vec<Row> = query_as(SQL).bind(org.0).bind(grain.as_str()).bind(dim).fetch_all(self).await?;
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
}

/// The ten sums' columns, in [`rollup::Sums`] order.
const SUM_COLUMNS: [&str; 10] = [
    "cost_nanos",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "requests",
    "events",
    "unpriced_events",
];

/// The upsert adding rows to a cube: its head (up to `values`) and its conflict clause.
fn cube_upsert(cube: Cube) -> (String, String) {
    let table = cube.table();
    let key = ["org_id", "bucket"].iter().chain(cube.dims()).copied().collect::<Vec<_>>().join(", ");
    let sums = SUM_COLUMNS.join(", ");
    let set: Vec<String> = SUM_COLUMNS.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    (
        format!("insert into {table} ({key}, {sums}) "),
        format!(" on conflict ({key}) do update set {}", set.join(", ")),
    )
}

fn push_sums(b: &mut Separated<'_, '_>, s: &rollup::Sums) {
    b.push_bind(s.cost_nanos)
        .push_bind(s.input_tokens)
        .push_bind(s.cache_read_tokens)
        .push_bind(s.cache_write_5m_tokens)
        .push_bind(s.cache_write_1h_tokens)
        .push_bind(s.output_tokens)
        .push_bind(s.reasoning_tokens)
        .push_bind(s.requests)
        .push_bind(s.events)
        .push_bind(s.unpriced_events);
}

/// The token-event sums of a GROUP BY over `usage_events`, in [`SUM_COLUMNS`] order.
const EVENT_SUMS: &str =
    "sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), \
    sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), \
    sum(case when cost_source = 'unpriced' then 1 else 0 end)";

/// The stored form of an event's value for a rollup or cube column ('' when missing).
fn event_column(dim: &str) -> String {
    match dim {
        "total" => "''".into(),
        "model" | "provider" | "service_tier" => dim.into(),
        d => format!("coalesce({d}, '')"),
    }
}

impl Db {
    /// Recomputes an organisation's token rollups, cubes and trace rollups from its raw events, in one
    /// transaction (readers see the old sums until it commits). The sums are kept exact at
    /// every write, so this is for an operator: after restoring events from a backup, or to
    /// measure how long a rebuild takes. When retention has dropped raw events, only the days
    /// from the boundary on are rebuilt: the sums of earlier days have no rows left to be
    /// rebuilt from and are kept as they are (and a trace that began before it keeps its sums).
    pub async fn rebuild_event_rollups(&self, org: OrgId) -> sqlx::Result<()> {
        let kept_from = self.raw_events_kept_from(org).await?;
        // literals, not binds: both come from a date, and every statement here binds only $1
        let (day_from, bucket_from) = match kept_from {
            Some(d) => (
                format!(" and day >= '{d}'"),
                format!(" and bucket >= {}", crate::domain::explore::day_seconds(d)),
            ),
            None => (String::new(), String::new()),
        };
        let first_day_from = bucket_from.replace("bucket", "first_day");
        let bucket = |at: &str, grain: rollup::Grain| match self {
            Db::Sqlite(_) => format!("cast(strftime('%s', {at}) as bigint) / {0} * {0}", grain.seconds()),
            Db::Postgres(_) => {
                format!("cast(floor(extract(epoch from {at})) as bigint) / {0} * {0}", grain.seconds())
            }
        };
        let seconds = |grain| bucket("occurred_at", grain);
        let sums = SUM_COLUMNS.join(", ");
        let mut statements =
            vec![format!("delete from usage_rollups where org_id = $1 and source = 'tokens'{bucket_from}")];
        for grain in [rollup::Grain::Hour, rollup::Grain::Day] {
            for dim in rollup::DIMS {
                statements.push(format!(
                    "insert into usage_rollups (org_id, grain, dim, bucket, value, source, {sums}) \
                     select org_id, '{}', '{dim}', {}, {}, 'tokens', {EVENT_SUMS} from usage_events \
                     where org_id = $1{day_from} group by 1, 2, 3, 4, 5",
                    grain.as_str(),
                    seconds(grain),
                    event_column(dim),
                ));
            }
        }
        for cube in Cube::ALL {
            let dims = cube.dims();
            statements.push(format!("delete from {} where org_id = $1{bucket_from}", cube.table()));
            statements.push(format!(
                "insert into {} (org_id, bucket, {}, {sums}) select org_id, {}, {}, {EVENT_SUMS} \
                 from usage_events where org_id = $1{day_from} group by {}",
                cube.table(),
                dims.join(", "),
                seconds(rollup::Grain::Day),
                dims.iter().map(|d| event_column(d)).collect::<Vec<_>>().join(", "),
                (1..=dims.len() + 2).map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
            ));
        }
        statements.push(format!("delete from trace_rollups where org_id = $1{first_day_from}"));
        // a trace that began before the boundary keeps its sums; its later steps are in them
        let kept_traces = match kept_from {
            Some(_) => format!(
                " and trace_id not in (select trace_id from trace_rollups where org_id = $1 and dim = ''{})",
                bucket_from.replace("bucket >=", "first_day <")
            ),
            None => String::new(),
        };
        for dim in rollup::TRACE_DIMS {
            let (value, group) = match dim {
                "" => ("''".to_string(), String::new()),
                d => (event_column(d), format!(", {}", event_column(d))),
            };
            statements.push(format!(
                "insert into trace_rollups (org_id, trace_id, dim, value, first_day, first_at, last_at, steps, \
                 depth, retries, tool_calls, cost_nanos, tokens, team, feature) \
                 select org_id, trace_id, '{dim}', {value}, {}, min(occurred_at), max(occurred_at), count(*), \
                 max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), \
                 sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), \
                 sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events \
                 where org_id = $1 and trace_id is not null{day_from}{kept_traces} group by org_id, trace_id{group}",
                bucket("min(occurred_at)", rollup::Grain::Day),
            ));
        }
        let mut tx = self.begin().await?;
        for sql in &statements {
            super::query::query(sql).bind(org.0).execute(&mut tx).await?;
        }
        tx.commit().await
    }

    /// Every trace rollup row: (trace, dim, value, first day, steps, depth, retries, cost, team),
    /// for reconciliation with the events.
    #[allow(clippy::type_complexity)]
    pub async fn trace_rollup_rows(
        &self,
        org: OrgId,
    ) -> sqlx::Result<Vec<(String, String, String, i64, i64, i64, i64, i64, Option<String>)>> {
        const SQL: &str = "select trace_id, dim, value, first_day, steps, depth, retries, cost_nanos, team \
            from trace_rollups where org_id = $1 order by 1, 2, 3";
        query_as(SQL).bind(org.0).fetch_all(self).await
    }

    /// Every row of a cube: (bucket, its key values joined by '|', cost, requests, events), for
    /// reconciliation with the events.
    pub async fn cube_rows(&self, org: OrgId, cube: Cube) -> sqlx::Result<Vec<(i64, String, i64, i64, i64)>> {
        let key = cube.dims().join(" || '|' || ");
        let sql = format!(
            "select bucket, {key}, cost_nanos, requests, events from {} where org_id = $1 order by 1, 2",
            cube.table()
        );
        query_as(&sql).bind(org.0).fetch_all(self).await
    }

    /// Bytes a table takes with its indexes (for the benchmark's size per million events).
    pub async fn table_bytes(&self, table: &str) -> sqlx::Result<i64> {
        let sql = match self {
            Db::Sqlite(_) => {
                "select cast(coalesce(sum(pgsize), 0) as bigint) from dbstat \
                 where name in (select name from sqlite_master where tbl_name = $1)"
            }
            Db::Postgres(_) => "select cast(pg_total_relation_size(cast($1 as regclass)) as bigint)",
        };
        query_scalar(sql).bind(table).fetch_one(self).await
    }
}

/// Adds trace rows, or folds them into the stored ones: sums add, times and depth keep their
/// extremes, team and feature their smallest value (NULL only when no step has one).
const TRACE_UPSERT_HEAD: &str =
    "insert into trace_rollups (org_id, trace_id, dim, value, first_day, first_at, \
    last_at, steps, depth, retries, tool_calls, cost_nanos, tokens, team, feature) ";
const TRACE_UPSERT_TAIL: &str = " on conflict (org_id, trace_id, dim, value) do update set \
    first_day = case when excluded.first_at < trace_rollups.first_at then excluded.first_day else trace_rollups.first_day end, \
    first_at = case when excluded.first_at < trace_rollups.first_at then excluded.first_at else trace_rollups.first_at end, \
    last_at = case when excluded.last_at > trace_rollups.last_at then excluded.last_at else trace_rollups.last_at end, \
    steps = trace_rollups.steps + excluded.steps, \
    depth = case when excluded.depth > trace_rollups.depth then excluded.depth else trace_rollups.depth end, \
    retries = trace_rollups.retries + excluded.retries, \
    tool_calls = trace_rollups.tool_calls + excluded.tool_calls, \
    cost_nanos = trace_rollups.cost_nanos + excluded.cost_nanos, \
    tokens = trace_rollups.tokens + excluded.tokens, \
    team = case when trace_rollups.team is null or excluded.team < trace_rollups.team then excluded.team \
      else trace_rollups.team end, \
    feature = case when trace_rollups.feature is null or excluded.feature < trace_rollups.feature \
      then excluded.feature else trace_rollups.feature end";

impl Tx {
    /// Adds rollup and cube increments (or a re-price's deltas) to the stored sums, in key order.
    pub async fn upsert_rollups(&mut self, org: OrgId, increments: rollup::Increments) -> sqlx::Result<()> {
        let rows: Vec<_> = increments.rollups.into_iter().collect();
        for chunk in rows.chunks(ROLLUP_CHUNK) {
            let mut qb = QueryBuilder::new(ROLLUP_UPSERT_HEAD);
            qb.push_values(chunk, |mut b, ((grain, dim, bucket, value), s)| {
                b.push_bind(org.0)
                    .push_bind(grain.as_str())
                    .push_bind(*dim)
                    .push_bind(*bucket)
                    .push_bind(value)
                    .push_bind("tokens");
                push_sums(&mut b, s);
            });
            qb.push(ROLLUP_UPSERT_TAIL);
            // one-off text (its length varies with the batch): not worth a cached statement
            qb.build().persistent(false).execute(&mut *self).await?;
        }
        let cubes: Vec<_> = increments.cubes.into_iter().collect();
        for cube in Cube::ALL {
            let (head, tail) = cube_upsert(cube);
            let rows: Vec<_> = cubes.iter().filter(|(k, _)| k.0 == cube).collect();
            for chunk in rows.chunks(ROLLUP_CHUNK) {
                let mut qb = QueryBuilder::new(head.as_str());
                qb.push_values(chunk, |mut b, ((_, bucket, values), s)| {
                    b.push_bind(org.0).push_bind(*bucket);
                    for v in values {
                        b.push_bind(v.as_str());
                    }
                    push_sums(&mut b, s);
                });
                qb.push(tail.as_str());
                qb.build().persistent(false).execute(&mut *self).await?;
            }
        }
        let traces: Vec<_> = increments.traces.into_iter().collect();
        for chunk in traces.chunks(ROLLUP_CHUNK) {
            let mut qb = QueryBuilder::new(TRACE_UPSERT_HEAD);
            qb.push_values(chunk, |mut b, ((trace, dim, value), t)| {
                b.push_bind(org.0)
                    .push_bind(trace.as_str())
                    .push_bind(*dim)
                    .push_bind(value.as_str())
                    .push_bind(t.first_day())
                    .push_bind(t.first_at)
                    .push_bind(t.last_at)
                    .push_bind(t.steps)
                    .push_bind(t.depth)
                    .push_bind(t.retries)
                    .push_bind(t.tool_calls)
                    .push_bind(t.cost_nanos)
                    .push_bind(t.tokens)
                    .push_bind(t.team.as_deref())
                    .push_bind(t.feature.as_deref());
            });
            qb.push(TRACE_UPSERT_TAIL);
            qb.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }
}
