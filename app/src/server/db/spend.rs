//! Reads for the spend explorer and the read API. A view that touches one attribution
//! dimension is answered from `usage_rollups` (a few hundred rows for 90 days); any other
//! view sums the raw events and counted ledger lines with one GROUP BY each. Both paths
//! return the same rows for the same view, which the contract tests check.
use sqlx::Row;

use super::{Db, OrgId};
use crate::domain::explore::{day_seconds, stored, Dim, Granularity, SpendQuery, SpendRow};
use crate::domain::rollup::Sums;

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

fn sums_at(r: &impl SumsRow, first: usize) -> sqlx::Result<Sums> {
    Ok(Sums {
        cost_nanos: r.int(first)?,
        input_tokens: r.int(first + 1)?,
        cache_read_tokens: r.int(first + 2)?,
        cache_write_5m_tokens: r.int(first + 3)?,
        cache_write_1h_tokens: r.int(first + 4)?,
        output_tokens: r.int(first + 5)?,
        reasoning_tokens: r.int(first + 6)?,
        requests: r.int(first + 7)?,
        events: r.int(first + 8)?,
        unpriced_events: r.int(first + 9)?,
    })
}

/// Column access shared by both backends' rows. Sums of no rows are NULL, read as 0.
trait SumsRow {
    fn int(&self, i: usize) -> sqlx::Result<i64>;
    fn text(&self, i: usize) -> sqlx::Result<String>;
}

macro_rules! sums_row {
    ($row:ty) => {
        impl SumsRow for $row {
            fn int(&self, i: usize) -> sqlx::Result<i64> {
                Ok(self.try_get::<Option<i64>, _>(i)?.unwrap_or(0))
            }
            fn text(&self, i: usize) -> sqlx::Result<String> {
                Ok(self.try_get::<Option<String>, _>(i)?.unwrap_or_default())
            }
        }
    };
}
sums_row!(sqlx::sqlite::SqliteRow);
sums_row!(sqlx::postgres::PgRow);

macro_rules! fetch {
    ($pool:expr, $sql:expr) => {{
        let mut query = sqlx::query(&$sql.text);
        for b in &$sql.binds {
            query = match b {
                Bind::Text(s) => query.bind(s.clone()),
                Bind::Int(i) => query.bind(*i),
                Bind::Day(d) => query.bind(*d),
            };
        }
        query.fetch_all($pool).await
    }};
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
    /// rollups answered.
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
                let rows = on_pool!(self, |p| {
                    fetch!(p, sql)?
                        .iter()
                        .map(|r| {
                            let group = group_of(r.text(1)?, r.text(2)?);
                            Ok(SpendRow { bucket: r.int(0)?, group, sums: sums_at(r, 3)? })
                        })
                        .collect::<sqlx::Result<Vec<_>>>()?
                });
                return Ok((rows, true));
            }
        }
        let d = self.dialect();
        let mut out = Vec::new();
        for sql in [raw_events_sql(d, org, q), raw_lines_sql(d, org, q)].into_iter().flatten() {
            on_pool!(self, |p| {
                for r in fetch!(p, sql)? {
                    out.push(SpendRow { bucket: r.int(0)?, group: r.text(1)?, sums: sums_at(&r, 2)? });
                }
            });
        }
        Ok((out, false))
    }

    /// The values each rollup dimension takes within the range, for the explorer's filters.
    pub async fn dim_values(
        &self,
        org: OrgId,
        range: crate::domain::DateRange,
    ) -> sqlx::Result<Vec<(String, String)>> {
        const SQL: &str = "select distinct dim, value from usage_rollups where org_id = $1 \
            and grain = 'day' and dim <> 'total' and bucket >= $2 and bucket <= $3 order by dim, value";
        on_pool!(self, |p| sqlx::query_as(SQL)
            .bind(org.0)
            .bind(day_seconds(range.from))
            .bind(day_seconds(range.to))
            .fetch_all(p)
            .await)
    }
}
