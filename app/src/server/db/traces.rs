//! Agent and workflow traces: events grouped by `trace_id`.
use chrono::{DateTime, Utc};

use super::query::{query_as, query_scalar, Arg};
use super::{Db, OrgId};
use crate::domain::explore::{day_seconds, Dim};
use crate::domain::rollup::TRACE_DIMS;
use crate::domain::traces::{TraceFilter, TraceStep, TraceSummary};
use crate::domain::{DateRange, Nanos};

type SummaryRow =
    (String, DateTime<Utc>, DateTime<Utc>, i64, i64, i64, i64, i64, i64, Option<String>, Option<String>);

type StepRow = (
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    i64,
    Option<i64>,
    String,
);

/// Longer ranges are listed with one ORDER BY over the range.
const MAX_DAY_WALKS: i64 = 400;

fn summary(r: SummaryRow) -> TraceSummary {
    let (trace_id, first_at, last_at, steps, depth, retries, tool_calls, cost, tokens, team, feature) = r;
    TraceSummary {
        trace_id,
        first_at,
        last_at,
        steps,
        depth,
        retries,
        tool_calls,
        cost: Nanos(cost),
        tokens,
        team,
        feature,
    }
}

impl Db {
    /// The most expensive traces that started in the range, costliest first; with `scope`,
    /// summed over only the steps whose attribution column has that stored value ('' = not
    /// set). Read from the trace rollups.
    pub async fn traces(
        &self,
        org: OrgId,
        range: DateRange,
        limit: i64,
        scope: Option<(&Dim, &str)>,
    ) -> sqlx::Result<Vec<TraceSummary>> {
        let all = TraceFilter { page: 1, ..Default::default() };
        Ok(self.trace_list(org, range, &all, limit, scope, false).await?.0)
    }

    /// One page of the traces that started in the range and pass `filter` (costliest first),
    /// and how many pass in all. A trace belongs to the day of its first step, so a trace
    /// running over midnight is listed whole under the day it began.
    pub async fn trace_page(
        &self,
        org: OrgId,
        range: DateRange,
        filter: &TraceFilter,
        limit: i64,
        scope: Option<(&Dim, &str)>,
    ) -> sqlx::Result<(Vec<TraceSummary>, i64)> {
        self.trace_list(org, range, filter, limit, scope, true).await
    }

    async fn trace_list(
        &self,
        org: OrgId,
        range: DateRange,
        filter: &TraceFilter,
        limit: i64,
        scope: Option<(&Dim, &str)>,
        count: bool,
    ) -> sqlx::Result<(Vec<TraceSummary>, i64)> {
        let (dim, value) = match scope {
            None => ("", ""),
            Some((d, v)) => match d.rollup_dim().filter(|c| TRACE_DIMS.contains(c)) {
                Some(c) => (c, v),
                // a dimension trace rollups do not hold: the raw steps
                None => return self.trace_page_raw(org, range, filter, limit, scope).await,
            },
        };
        const HEAD: &str =
            "select trace_id, first_at, last_at, steps, depth, retries, tool_calls, cost_nanos, \
            tokens, team, feature";
        const WHERE: &str = " from trace_rollups t where org_id = $1 and dim = $2 and value = $3 \
            and first_day >= $4 and first_day <= $5 and cost_nanos >= $6 and depth >= $7 and retries >= $8 \
            and ($9 = '' or exists (select 1 from trace_rollups f where f.org_id = $1 \
              and f.trace_id = t.trace_id and f.dim = 'feature' and f.value = $9)) \
            and ($10 = '' or exists (select 1 from trace_rollups m where m.org_id = $1 \
              and m.trace_id = t.trace_id and m.dim = 'model' and m.value = $10))";
        let offset = filter.offset().max(0);
        let (from, to) = (day_seconds(range.from), day_seconds(range.to));
        let args = |lo: i64, hi: i64| -> Vec<Arg> {
            vec![
                org.0.into(),
                dim.into(),
                value.into(),
                lo.into(),
                hi.into(),
                filter.min_cost.0.into(),
                filter.min_depth.into(),
                filter.min_retries.into(),
                filter.feature.as_str().into(),
                filter.model.as_str().into(),
            ]
        };
        // One walk of the index per day, from that day's costliest down, then the best of all
        // days: a single ORDER BY over the range would sort every trace in it. The index is
        // keyed by day so that ingest, which adds to recent days, writes to a few of its pages.
        let days = (to - from) / 86_400 + 1;
        let mut rows: Vec<SummaryRow> = Vec::new();
        if days <= MAX_DAY_WALKS {
            // `first_day = $4`: an equality lets SQLite read the index in cost order (a range,
            // even of one day, sorts the whole day: 30x slower on a busy feature's page)
            let one_day = WHERE.replace("first_day >= $4", "first_day = $4");
            let per_day =
                format!("{HEAD}{one_day} order by cost_nanos desc, trace_id limit {}", offset + limit);
            for day in (0..days).map(|i| from + i * 86_400) {
                let q = args(day, day).into_iter().fold(query_as(&per_day), |q, a| q.bind(a));
                rows.extend(q.fetch_all(self).await?);
            }
            rows.sort_by(|a, b| b.7.cmp(&a.7).then_with(|| a.0.cmp(&b.0)));
            rows = rows.into_iter().skip(offset as usize).take(limit as usize).collect();
        } else {
            let list =
                format!("{HEAD}{WHERE} order by cost_nanos desc, trace_id limit {limit} offset {offset}");
            rows = args(from, to).into_iter().fold(query_as(&list), |q, a| q.bind(a)).fetch_all(self).await?;
        }
        let total = if count {
            let sql = format!("select count(*){WHERE}");
            args(from, to).into_iter().fold(query_scalar(&sql), |q, a| q.bind(a)).fetch_one(self).await?
        } else {
            rows.len() as i64
        };
        Ok((rows.into_iter().map(summary).collect(), total))
    }

    /// [`Db::trace_page`] summed from the raw steps, each counted when it happened in the range
    /// (the baseline the tests and the benchmark compare the trace rollups with).
    pub async fn trace_page_raw(
        &self,
        org: OrgId,
        range: DateRange,
        filter: &TraceFilter,
        limit: i64,
        scope: Option<(&Dim, &str)>,
    ) -> sqlx::Result<(Vec<TraceSummary>, i64)> {
        // the column comes from a closed list, never from the request
        let scoped = match scope.and_then(|(d, _)| d.rollup_dim()) {
            Some(col) => format!(" and coalesce({col}, '') = $9"),
            None => String::new(),
        };
        const HEAD: &str = "select trace_id, min(occurred_at), max(occurred_at), count(*), \
            cast(max(coalesce(depth, 0)) as bigint), \
            cast(sum(case when coalesce(retry, 0) > 0 then 1 else 0 end) as bigint), \
            cast(sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end) as bigint), \
            cast(sum(cost_nanos) as bigint), cast(sum(input_tokens + output_tokens) as bigint), \
            min(team), min(feature)";
        const FROM: &str =
            " from usage_events where org_id = $1 and trace_id is not null and day >= $2 and day <= $3";
        // a trace passes on its whole: its total, deepest step, retries; and any step of the
        // feature or model (the sums stay the trace's)
        const HAVING: &str = " group by trace_id having sum(cost_nanos) >= $4 \
            and max(coalesce(depth, 0)) >= $5 \
            and sum(case when coalesce(retry, 0) > 0 then 1 else 0 end) >= $6 \
            and ($7 = '' or sum(case when feature = $7 then 1 else 0 end) > 0) \
            and ($8 = '' or sum(case when model = $8 then 1 else 0 end) > 0)";
        let offset = filter.offset().max(0);
        let list =
            format!("{HEAD}{FROM}{scoped}{HAVING} order by 8 desc, trace_id limit {limit} offset {offset}");
        let count = format!("select count(*) from (select trace_id{FROM}{scoped}{HAVING}) passing");
        let value = scope.map(|(_, v)| v.to_string()).unwrap_or_default();
        let mut args: Vec<Arg> = vec![
            org.0.into(),
            range.from.into(),
            range.to.into(),
            filter.min_cost.0.into(),
            filter.min_depth.into(),
            filter.min_retries.into(),
            filter.feature.as_str().into(),
            filter.model.as_str().into(),
        ];
        if !scoped.is_empty() {
            args.push(value.as_str().into());
        }
        let rows: Vec<SummaryRow> =
            args.iter().cloned().fold(query_as(&list), |q, a| q.bind(a)).fetch_all(self).await?;
        let total: i64 =
            args.into_iter().fold(query_scalar(&count), |q, a| q.bind(a)).fetch_one(self).await?;
        Ok((rows.into_iter().map(summary).collect(), total))
    }

    /// Every step of one trace, in time order.
    pub async fn trace_steps(&self, org: OrgId, trace_id: &str) -> sqlx::Result<Vec<TraceStep>> {
        const SQL: &str = "select event_id, span_id, parent_span_id, occurred_at, operation, model, \
            tool_name, depth, retry, input_tokens, output_tokens, cost_nanos, latency_ms, status \
            from usage_events where org_id = $1 and trace_id = $2 order by occurred_at, event_id";
        let rows: Vec<StepRow> = query_as(SQL).bind(org.0).bind(trace_id).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| TraceStep {
                event_id: r.0,
                span_id: r.1,
                parent_span_id: r.2,
                occurred_at: r.3,
                operation: r.4,
                model: r.5,
                tool_name: r.6,
                depth: r.7,
                retry: r.8,
                input_tokens: r.9,
                output_tokens: r.10,
                cost: Nanos(r.11),
                latency_ms: r.12,
                status: r.13,
            })
            .collect())
    }
}
