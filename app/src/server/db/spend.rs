//! Reads for the spend explorer and the read API. A view that touches one attribution
//! dimension is answered from `usage_rollups` (a few hundred rows for 90 days); a daily view
//! combining dimensions from a cube (a daily rollup per whole attribution tuple) and the
//! counted ledger lines; any other view (hourly and combined, or by tag) sums the raw events
//! and ledger lines with one GROUP BY each. Every path returns the same rows for the same
//! view, which the contract tests check.

use super::query::{query_as, BothRow};
use super::{Db, OrgId};
use crate::domain::explore::{day_seconds, stored, Dim, Granularity, SpendQuery, SpendRow};
use crate::domain::rollup::{Cube, Sums};

/// Which path answers a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendPath {
    /// Rollups when the view allows it, else raw rows.
    Auto,
    /// Always the raw rows (the bench's baseline and the tests' cross-check).
    Raw,
}

#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
    Day(chrono::NaiveDate),
}

/// SQL text with `$n` placeholders and the values they take, in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

/// The backend-specific spellings a raw query needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// Which table a column expression is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Events,
    Lines,
}

/// The expression giving `dim`'s stored value ('' when missing) for one row of `table`.
fn column(sql: &mut Sql, d: Dialect, table: Table, dim: Option<&Dim>) -> String {
    let plain = |c: &str| format!("coalesce({c}, '')");
    match (dim, table) {
        (None, _) => "''".into(),
        (Some(Dim::Source), Table::Events) => "'tokens'".into(),
        (Some(Dim::Source), Table::Lines) => "spend_source".into(),
        (Some(Dim::ApiKey | Dim::ServiceTier), Table::Lines) => "''".into(),
        (Some(Dim::ServiceTier), Table::Events) => "service_tier".into(),
        (Some(Dim::Tag(k)), _) => match d {
            Dialect::Sqlite => {
                let path = sql.bind(Bind::Text(format!("$.\"{k}\"")));
                format!("coalesce(cast(json_extract(tags, {path}) as text), '')")
            }
            Dialect::Postgres => {
                let key = sql.bind(Bind::Text(k.clone()));
                format!("coalesce(cast(tags as jsonb) ->> {key}, '')")
            }
        },
        (Some(d), _) => plain(d.rollup_dim().unwrap_or("''")),
    }
}

/// `and <expr> in (…)` for each filter, `not in` for each exclusion; `None` when a source filter rules the table out.
fn filters(sql: &mut Sql, d: Dialect, table: Table, q: &SpendQuery) -> Option<String> {
    let mut out = String::new();
    for f in &q.filters {
        if f.dim == Dim::Source && table == Table::Events {
            if !f.values.iter().any(|v| v == "tokens") {
                return None;
            }
            continue;
        }
        let expr = column(sql, d, table, Some(&f.dim));
        let ph: Vec<String> = f.values.iter().map(|v| sql.bind(Bind::Text(stored(v)))).collect();
        out.push_str(&format!(" and {expr} in ({})", ph.join(", ")));
    }
    for f in q.excluded.iter().filter(|f| !f.values.is_empty()) {
        if f.dim == Dim::Source && table == Table::Events {
            if f.values.iter().any(|v| v == "tokens") {
                return None;
            }
            continue;
        }
        let expr = column(sql, d, table, Some(&f.dim));
        let ph: Vec<String> = f.values.iter().map(|v| sql.bind(Bind::Text(stored(v)))).collect();
        out.push_str(&format!(" and {expr} not in ({})", ph.join(", ")));
    }
    Some(out)
}

const EVENT_SUMS: &str = "cast(sum(cost_nanos) as bigint), cast(sum(input_tokens) as bigint), \
    cast(sum(cache_read_tokens) as bigint), cast(sum(cache_write_5m_tokens) as bigint), \
    cast(sum(cache_write_1h_tokens) as bigint), cast(sum(output_tokens) as bigint), \
    cast(sum(reasoning_tokens) as bigint), cast(sum(request_count) as bigint), count(*), \
    cast(sum(case when cost_source = 'unpriced' then 1 else 0 end) as bigint)";
// ledger lines carry money only; counting them as "events" matches their rollups
const LINE_SUMS: &str = "cast(sum(effective_nanos) as bigint), cast(0 as bigint), cast(0 as bigint), \
    cast(0 as bigint), cast(0 as bigint), cast(0 as bigint), cast(0 as bigint), cast(0 as bigint), \
    count(*), cast(0 as bigint)";

/// The plain GROUP BY over the raw events of the view (None when its filters exclude them).
fn raw_events_sql(d: Dialect, org: OrgId, q: &SpendQuery) -> Option<Sql> {
    let mut sql = Sql::default();
    let o = sql.bind(Bind::Int(org.0));
    let (from, to) = (sql.bind(Bind::Day(q.range.from)), sql.bind(Bind::Day(q.range.to)));
    let bucket = match (d, q.granularity) {
        (Dialect::Sqlite, Granularity::Hour) => "cast(strftime('%s', occurred_at) as bigint) / 3600 * 3600",
        (Dialect::Postgres, Granularity::Hour) => {
            "cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600"
        }
        (Dialect::Sqlite, _) => "cast(strftime('%s', day) as bigint)",
        (Dialect::Postgres, _) => "cast(extract(epoch from day) as bigint)",
    };
    let group = column(&mut sql, d, Table::Events, q.group.as_ref());
    let f = filters(&mut sql, d, Table::Events, q)?;
    sql.text = format!(
        "select {bucket} as b, {group} as g, {EVENT_SUMS} from usage_events \
         where org_id = {o} and day >= {from} and day <= {to}{f} group by 1, 2"
    );
    Some(sql)
}

fn raw_lines_sql(d: Dialect, org: OrgId, q: &SpendQuery) -> Option<Sql> {
    let mut sql = Sql::default();
    let o = sql.bind(Bind::Int(org.0));
    let lo = sql.bind(Bind::Int(day_seconds(q.range.from)));
    let hi = sql.bind(Bind::Int(day_seconds(q.range.to)));
    let group = column(&mut sql, d, Table::Lines, q.group.as_ref());
    let f = filters(&mut sql, d, Table::Lines, q)?;
    sql.text = format!(
        "select bucket as b, {group} as g, {LINE_SUMS} from ledger_lines \
         where org_id = {o} and counted and bucket >= {lo} and bucket <= {hi}{f} group by 1, 2"
    );
    Some(sql)
}

const CUBE_SUMS: &str = "cast(sum(cost_nanos) as bigint), cast(sum(input_tokens) as bigint), \
    cast(sum(cache_read_tokens) as bigint), cast(sum(cache_write_5m_tokens) as bigint), \
    cast(sum(cache_write_1h_tokens) as bigint), cast(sum(output_tokens) as bigint), \
    cast(sum(reasoning_tokens) as bigint), cast(sum(requests) as bigint), cast(sum(events) as bigint), \
    cast(sum(unpriced_events) as bigint)";

/// The token part of a view from a cube (None when its filters exclude token events). The
/// cube's columns are named as the events' are, so filters and groups are spelled alike.
fn cube_sql(d: Dialect, org: OrgId, q: &SpendQuery, cube: Cube) -> Option<Sql> {
    let mut sql = Sql::default();
    let o = sql.bind(Bind::Int(org.0));
    let lo = sql.bind(Bind::Int(day_seconds(q.range.from)));
    let hi = sql.bind(Bind::Int(day_seconds(q.range.to)));
    let group = column(&mut sql, d, Table::Events, q.group.as_ref());
    let f = filters(&mut sql, d, Table::Events, q)?;
    sql.text = format!(
        "select bucket as b, {group} as g, {CUBE_SUMS} from {} \
         where org_id = {o} and bucket >= {lo} and bucket <= {hi}{f} group by 1, 2",
        cube.table()
    );
    Some(sql)
}

/// The rollup rows of a view that one dimension answers; the group is picked in Rust.
fn rollup_sql(org: OrgId, q: &SpendQuery) -> Option<Sql> {
    let plan = q.rollup_plan()?;
    let mut sql = Sql::default();
    let o = sql.bind(Bind::Int(org.0));
    let dim = sql.bind(Bind::Text(plan.dim.into()));
    let lo = sql.bind(Bind::Int(day_seconds(q.range.from)));
    let hi = sql.bind(Bind::Int(day_seconds(q.range.to) + 86_399));
    // billing sources are daily: at hour grain they sit at their day's first hour
    let grain = if q.granularity == Granularity::Hour {
        "((grain = 'hour' and source = 'tokens') or (grain = 'day' and source <> 'tokens'))"
    } else {
        "grain = 'day'"
    };
    let mut text = format!(
        "select bucket, value, source, cost_nanos, input_tokens, cache_read_tokens, \
         cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, requests, events, \
         unpriced_events from usage_rollups where org_id = {o} and dim = {dim} and {grain} \
         and bucket >= {lo} and bucket <= {hi}"
    );
    for (col, values) in [("value", plan.values), ("source", plan.sources)] {
        if let Some(values) = values {
            let ph: Vec<String> = values.into_iter().map(|v| sql.bind(Bind::Text(v))).collect();
            text.push_str(&format!(" and {col} in ({})", ph.join(", ")));
        }
    }
    sql.text = text;
    Some(sql)
}

/// A rollup row: bucket, value, source, then the ten sums (sums of no rows are NULL, read
/// as 0).
type RollupRow = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);
/// A raw-events or ledger row: bucket, group, then the ten sums.
type RawRow = (
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn sums_of(c: [Option<i64>; 10]) -> Sums {
    let [cost, input, cache_read, cw5, cw1, output, reasoning, requests, events, unpriced] =
        c.map(|v| v.unwrap_or(0));
    Sums {
        cost_nanos: cost,
        input_tokens: input,
        cache_read_tokens: cache_read,
        cache_write_5m_tokens: cw5,
        cache_write_1h_tokens: cw1,
        output_tokens: output,
        reasoning_tokens: reasoning,
        requests,
        events,
        unpriced_events: unpriced,
    }
}

/// Runs a statement built at request time with its values.
async fn fetch<T: BothRow>(db: &Db, sql: &Sql) -> sqlx::Result<Vec<T>> {
    let mut q = query_as::<T>(&sql.text);
    for b in &sql.binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Day(d) => q.bind(*d),
        };
    }
    q.fetch_all(db).await
}

impl Db {
    fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The summed rows of a view (hour or day buckets; rows of one bucket and group may
    /// repeat, and [`crate::domain::explore::SpendView::build`] adds them up), and whether
    /// pre-aggregated sums (rollups or a cube) answered instead of the raw events.
    #[tracing::instrument(skip(self, q), fields(org_id = org.0), err)]
    pub async fn spend_rows(
        &self,
        org: OrgId,
        q: &SpendQuery,
        path: SpendPath,
    ) -> sqlx::Result<(Vec<SpendRow>, bool)> {
        if path == SpendPath::Auto {
            if let Some(sql) = rollup_sql(org, q) {
                let group_of = |value: String, source: String| match &q.group {
                    None => String::new(),
                    Some(Dim::Source) => source,
                    Some(_) => value,
                };
                let rows: Vec<RollupRow> = fetch(self, &sql).await?;
                let rows = rows
                    .into_iter()
                    .map(|(bucket, value, source, a, b, c, d, e, f, g, h, i, j)| SpendRow {
                        bucket: bucket.unwrap_or(0),
                        group: group_of(value.unwrap_or_default(), source.unwrap_or_default()),
                        sums: sums_of([a, b, c, d, e, f, g, h, i, j]),
                    })
                    .collect();
                return Ok((rows, true));
            }
        }
        let d = self.dialect();
        let cube = if path == SpendPath::Auto { q.cube() } else { None };
        let events = match cube {
            Some(c) => cube_sql(d, org, q, c),
            None => raw_events_sql(d, org, q),
        };
        if cube.is_none() && events.is_some() {
            let what = "a view summed from the raw events (hourly with a filter or group, or by tag)";
            self.require_raw_from(org, q.range.from, what, "from").await?;
        }
        let mut out = Vec::new();
        for sql in [events, raw_lines_sql(d, org, q)].into_iter().flatten() {
            let rows: Vec<RawRow> = fetch(self, &sql).await?;
            out.extend(rows.into_iter().map(|(bucket, group, a, b, c, d, e, f, g, h, i, j)| SpendRow {
                bucket: bucket.unwrap_or(0),
                group: group.unwrap_or_default(),
                sums: sums_of([a, b, c, d, e, f, g, h, i, j]),
            }));
        }
        Ok((out, cube.is_some()))
    }

    /// The values each rollup dimension takes within the range, for the explorer's filters.
    pub async fn dim_values(
        &self,
        org: OrgId,
        range: crate::domain::DateRange,
    ) -> sqlx::Result<Vec<(String, String)>> {
        const SQL: &str = "select distinct dim, value from usage_rollups where org_id = $1 \
            and grain = 'day' and dim <> 'total' and bucket >= $2 and bucket <= $3 order by dim, value";
        query_as(SQL)
            .bind(org.0)
            .bind(day_seconds(range.from))
            .bind(day_seconds(range.to))
            .fetch_all(self)
            .await
    }
}
