//! Importing provider usage and cost reports, and reconciling them with token events.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::reconcile::{reconcile, ReconRow, ReconTotal};
use crate::domain::{DateRange, Nanos};
use crate::error::AppError;
use crate::server::db::reports::ReportRow;
use crate::server::db::{Actor, Db, NewAudit, OrgId};
use crate::server::formats::provider_reports::{self, Report};

/// The report formats Costroom reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportKind {
    OpenAiCosts,
    OpenAiUsage,
    AnthropicCosts,
    AnthropicUsage,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] = [
        ReportKind::OpenAiCosts,
        ReportKind::OpenAiUsage,
        ReportKind::AnthropicCosts,
        ReportKind::AnthropicUsage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::OpenAiCosts => "openai-costs",
            ReportKind::OpenAiUsage => "openai-usage",
            ReportKind::AnthropicCosts => "anthropic-costs",
            ReportKind::AnthropicUsage => "anthropic-usage",
        }
    }

    pub fn parse(s: &str) -> Result<ReportKind, AppError> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| {
            AppError::Invalid(format!(
                "kind: '{s}' is not one of openai-costs, openai-usage, anthropic-costs, anthropic-usage"
            ))
        })
    }

    fn read(self, body: &str) -> Result<Report, String> {
        match self {
            ReportKind::OpenAiCosts => provider_reports::openai_costs(body),
            ReportKind::OpenAiUsage => provider_reports::openai_completions_usage(body),
            ReportKind::AnthropicCosts => provider_reports::anthropic_costs(body),
            ReportKind::AnthropicUsage => provider_reports::anthropic_messages_usage(body),
        }
    }

    fn is_cost(self) -> bool {
        matches!(self, ReportKind::OpenAiCosts | ReportKind::AnthropicCosts)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportImport {
    pub lines: u64,
    pub rows: u64,
    pub cost: Nanos,
    pub tokens: i64,
    pub next_page: Option<String>,
}

/// Reads one page of a report and stores it, summed per provider, day, model and line.
pub async fn import_report(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    kind: ReportKind,
    body: &str,
) -> Result<ReportImport, AppError> {
    let report = kind
        .read(body)
        .and_then(|r| provider_reports::check_lines(&r).map(|_| r))
        .map_err(|e| AppError::Invalid(format!("{}: {e}", kind.as_str())))?;
    let mut rows: BTreeMap<(String, chrono::NaiveDate, String, String), ReportRow> = BTreeMap::new();
    let mut out =
        ReportImport { lines: report.lines.len() as u64, next_page: report.next_page, ..Default::default() };
    for l in &report.lines {
        let day = l.start.date_naive();
        let model = l
            .model
            .clone()
            .or_else(|| l.description.as_ref().filter(|_| kind == ReportKind::OpenAiCosts).cloned())
            .unwrap_or_default();
        let description =
            if kind.is_cost() { l.description.clone().unwrap_or_default() } else { String::new() };
        let r = rows.entry((l.provider.to_string(), day, model.clone(), description.clone())).or_insert(
            ReportRow {
                provider: l.provider.to_string(),
                day,
                model,
                kind: if kind.is_cost() { "cost" } else { "usage" },
                description,
                cost: Nanos(0),
                input_tokens: 0,
                cache_read_tokens: 0,
                output_tokens: 0,
                requests: 0,
            },
        );
        // checked: a report's lines may add up past i64 (the totals guard would refuse it)
        let add = |a: i64, b: i64| {
            a.checked_add(b).ok_or_else(|| {
                AppError::Invalid(format!(
                    "{}: the report's lines add up beyond what can be stored",
                    kind.as_str()
                ))
            })
        };
        r.cost = Nanos(add(r.cost.0, l.cost.unwrap_or_default().0)?);
        if let Some(t) = &l.tokens {
            r.input_tokens = add(r.input_tokens, t.input)?;
            r.cache_read_tokens = add(r.cache_read_tokens, t.cache_read)?;
            r.output_tokens = add(r.output_tokens, t.output)?;
        }
        r.requests = add(r.requests, l.requests.unwrap_or(0))?;
    }
    let rows: Vec<ReportRow> = rows.into_values().collect();
    out.rows = rows.len() as u64;
    // the rows were stored under the totals guard (upsert_report_rows), so these sums fit
    db.upsert_report_rows(org, &rows).await?;
    out.cost = Nanos(rows.iter().map(|r| i128::from(r.cost.0)).sum::<i128>() as i64);
    out.tokens =
        rows.iter().map(|r| i128::from(r.input_tokens) + i128::from(r.output_tokens)).sum::<i128>() as i64;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "ledger.provider_report",
        entity: "ledger",
        entity_id: kind.as_str().into(),
        summary: format!("{} report: {} lines, {}", kind.as_str(), out.lines, out.cost.usd()),
        before: None,
        after: Some(serde_json::json!({ "kind": kind.as_str(), "lines": out.lines, "cost": out.cost.usd() })),
    };
    db.record_audit(org, &entry).await?;
    Ok(out)
}

/// The reconciliation of the range: rows per provider, day and model, and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub range: DateRange,
    pub rows: Vec<ReconRow>,
    pub totals: Vec<ReconTotal>,
}

pub async fn reconciliation(db: &Db, org: OrgId, range: DateRange) -> Result<Reconciliation, AppError> {
    let costs = db.report_figures(org, range, "cost").await?;
    let usage = db.report_figures(org, range, "usage").await?;
    let events = db.event_figures(org, range).await?;
    let (rows, totals) = reconcile(&costs, &usage, &events);
    Ok(Reconciliation { range, rows, totals })
}
