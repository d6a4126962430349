//! Agent and workflow traces: events grouped by `trace_id`.
use chrono::{DateTime, Utc};

use super::query::query_as;
use super::{Db, OrgId};
use crate::domain::explore::Dim;
use crate::domain::traces::{TraceStep, TraceSummary};
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

impl Db {
    /// The most expensive traces with a step in the range, costliest first; with `scope`,
    /// only steps whose attribution column has that stored value ('' = not set).
    pub async fn traces(
        &self,
        org: OrgId,
        range: DateRange,
        limit: i64,
        scope: Option<(&Dim, &str)>,
    ) -> sqlx::Result<Vec<TraceSummary>> {
        // the column comes from a closed list, never from the request
        let filter = match scope.and_then(|(d, _)| d.rollup_dim()) {
            Some(col) => format!(" and coalesce({col}, '') = $5"),
            None => String::new(),
        };
        let sql = format!("{HEAD}{filter}{TAIL}");
        const HEAD: &str = "select trace_id, min(occurred_at), max(occurred_at), count(*), \
            cast(max(coalesce(depth, 0)) as bigint), \
            cast(sum(case when coalesce(retry, 0) > 0 then 1 else 0 end) as bigint), \
            cast(sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end) as bigint), \
            cast(sum(cost_nanos) as bigint), cast(sum(input_tokens + output_tokens) as bigint), \
            min(team), min(feature) \
            from usage_events where org_id = $1 and trace_id is not null and day >= $2 and day <= $3";
        const TAIL: &str = " group by trace_id order by 8 desc, trace_id limit $4";
        let value = scope.map(|(_, v)| v.to_string()).unwrap_or_default();
        let rows: Vec<SummaryRow> = {
            let q = query_as(&sql).bind(org.0).bind(range.from).bind(range.to).bind(limit);
            let q = if filter.is_empty() { q } else { q.bind(&value) };
            q.fetch_all(self).await
        }?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    trace_id,
                    first_at,
                    last_at,
                    steps,
                    depth,
                    retries,
                    tool_calls,
                    cost,
                    tokens,
                    team,
                    feature,
                )| {
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
                },
            )
            .collect())
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
