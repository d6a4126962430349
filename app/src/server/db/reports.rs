//! Provider usage and cost reports, and the event figures they are reconciled with.
use chrono::{NaiveDate, Utc};

use super::query::{query, query_as};
use super::{Db, OrgId};
use crate::domain::reconcile::Figure;
use crate::domain::{DateRange, Nanos};

/// One (provider, day, model, kind, description) line of a report, summed over the report's
/// projects, keys and tiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub provider: String,
    pub day: NaiveDate,
    pub model: String,
    pub kind: &'static str,
    pub description: String,
    pub cost: Nanos,
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub output_tokens: i64,
    pub requests: i64,
}

/// (provider, day, model, cost, tokens)
type FigureRow = (String, NaiveDate, String, i64, i64);

fn figures(rows: Vec<FigureRow>) -> Vec<Figure> {
    rows.into_iter()
        .map(|(provider, day, model, cost, tokens)| Figure {
            provider,
            day,
            model,
            cost: Nanos(cost),
            tokens,
        })
        .collect()
}

impl Db {
    /// Stores report lines; a line already stored for the same key is replaced (re-importing
    /// a report, or a later report of the same days, never adds twice). The organisation's
    /// totals take what the report adds (new lines less the lines they replace), so the sums
    /// the reconciliation makes stay within `i64`.
    pub async fn upsert_report_rows(&self, org: OrgId, rows: &[ReportRow]) -> sqlx::Result<()> {
        const OLD: &str = "select cost_nanos, input_tokens + output_tokens, requests from provider_report_lines \
            where org_id = $1 and provider = $2 and day = $3 and model = $4 and kind = $5 and description = $6";
        const SQL: &str =
            "insert into provider_report_lines (org_id, provider, day, model, kind, description, \
            cost_nanos, input_tokens, cache_read_tokens, output_tokens, requests, imported_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
            on conflict (org_id, provider, day, model, kind, description) do update set \
            cost_nanos = excluded.cost_nanos, input_tokens = excluded.input_tokens, \
            cache_read_tokens = excluded.cache_read_tokens, output_tokens = excluded.output_tokens, \
            requests = excluded.requests, imported_at = excluded.imported_at";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let mut delta = super::totals::TotalsDelta::default();
        for r in rows {
            let old: Option<(i64, i64, i64)> = query_as(OLD)
                .bind(org.0)
                .bind(&r.provider)
                .bind(r.day)
                .bind(&r.model)
                .bind(r.kind)
                .bind(&r.description)
                .fetch_optional(&mut tx)
                .await?;
            let (c, k, q) = old.unwrap_or_default();
            delta.ledger_abs += i128::from(r.cost.0).abs() - i128::from(c).abs();
            delta.tokens += i128::from(r.input_tokens) + i128::from(r.output_tokens) - i128::from(k);
            delta.requests += i128::from(r.requests) - i128::from(q);
        }
        tx.raise_totals(org, delta).await?;
        {
            for r in rows {
                query(SQL)
                    .bind(org.0)
                    .bind(&r.provider)
                    .bind(r.day)
                    .bind(&r.model)
                    .bind(r.kind)
                    .bind(&r.description)
                    .bind(r.cost.0)
                    .bind(r.input_tokens)
                    .bind(r.cache_read_tokens)
                    .bind(r.output_tokens)
                    .bind(r.requests)
                    .bind(now)
                    .execute(&mut tx)
                    .await?;
            }
        };
        tx.commit().await
    }

    /// Report figures of one kind (`cost` or `usage`) over the range; tokens are input + output.
    pub async fn report_figures(
        &self,
        org: OrgId,
        range: DateRange,
        kind: &str,
    ) -> sqlx::Result<Vec<Figure>> {
        const SQL: &str = "select provider, day, model, cast(sum(cost_nanos) as bigint), \
            cast(sum(input_tokens + output_tokens) as bigint) from provider_report_lines \
            where org_id = $1 and kind = $2 and day between $3 and $4 group by provider, day, model";
        let rows: Vec<FigureRow> =
            query_as(SQL).bind(org.0).bind(kind).bind(range.from).bind(range.to).fetch_all(self).await?;
        Ok(figures(rows))
    }

    /// What Costroom computed from token events per provider, day and model: read from the
    /// narrow cube, which keeps them whole after retention drops the raw events (and is a few
    /// rows per day instead of every event).
    pub async fn event_figures(&self, org: OrgId, range: DateRange) -> sqlx::Result<Vec<Figure>> {
        const SQL: &str = "select provider, bucket, model, cast(sum(cost_nanos) as bigint), \
            cast(sum(input_tokens + output_tokens) as bigint) from usage_cube \
            where org_id = $1 and bucket between $2 and $3 group by provider, bucket, model";
        let secs = |d: NaiveDate| crate::domain::explore::day_seconds(d);
        let rows: Vec<(String, i64, String, i64, i64)> =
            query_as(SQL).bind(org.0).bind(secs(range.from)).bind(secs(range.to)).fetch_all(self).await?;
        let rows = rows
            .into_iter()
            .filter_map(|(p, b, m, c, t)| {
                Some((p, chrono::DateTime::from_timestamp(b, 0)?.date_naive(), m, c, t))
            })
            .collect();
        Ok(figures(rows))
    }
}
