//! The ledger: billing imports and their progress, the Ledger page's figures, and its forms.
// the forms' server functions take one argument per form field (plain HTML forms post them)
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::prices::JobView;
use crate::domain::Nanos;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInfo {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub rows: i64,
    pub replaced: i64,
    pub billed: Nanos,
    pub effective: Nanos,
}

#[server(endpoint = "list_ledger_imports")]
pub async fn list_ledger_imports() -> Result<Vec<ImportInfo>, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    Ok(st
        .db
        .ledger_imports(st.org, 100)
        .await?
        .into_iter()
        .map(|r| ImportInfo {
            id: r.id,
            source: r.source,
            file_name: r.file_name,
            at: r.created_at,
            by: r.created_by,
            rows: r.rows_imported,
            replaced: r.rows_replaced,
            billed: Nanos(r.billed_nanos),
            effective: Nanos(r.effective_nanos),
        })
        .collect())
}

#[server(endpoint = "import_status")]
pub async fn import_status(job: u64) -> Result<JobView, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, state};
    state::with_status(auth::require_right(Right::ImportBilling).await)?;
    let st = state::app_state()?;
    state::with_status(
        st.jobs
            .get(&st.db, job, st.org)
            .await
            .and_then(|j| j.ok_or_else(|| AppError::NotFound(format!("job {job}")))),
    )
}

/// GPU usage of a cluster / pool / type / team over the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuRow {
    pub cluster: String,
    pub pool: String,
    pub gpu_type: String,
    pub team: String,
    pub allocated_hours: String,
    pub used_hours: String,
    pub utilization_pct: Option<f64>,
    pub cost: Nanos,
    pub idle_cost: Nanos,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRow {
    pub run_id: String,
    pub model: String,
    pub initiative: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub cost: Nanos,
    pub basis: String,
    pub metric: Option<String>,
    pub score: Option<f64>,
    /// Cost per point of the score (training cost efficiency).
    pub cost_per_point: Option<Nanos>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitmentInfo {
    pub provider: String,
    pub model: String,
    pub deployment: String,
    pub units: i64,
    pub tokens_per_minute: Option<i64>,
    pub term: String,
    pub price: Nanos,
    pub per_day: Nanos,
}

/// Everything the Ledger page shows for a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerView {
    pub range: crate::domain::DateRange,
    pub by_source: Vec<(crate::domain::ledger::SpendSource, Nanos)>,
    pub reconciliation: Vec<crate::domain::reconcile::ReconRow>,
    pub reconciliation_totals: Vec<crate::domain::reconcile::ReconTotal>,
    pub gpu: Vec<GpuRow>,
    pub training: Vec<TrainingRow>,
    pub commitments: Vec<CommitmentInfo>,
    pub can_write: bool,
}

/// The ledger of `from`..=`to` (default: the last 90 days), for anyone signed in.
#[server(endpoint = "get_ledger")]
pub async fn get_ledger(from: Option<String>, to: Option<String>) -> Result<LedgerView, AppError> {
    use crate::domain::ledger::{cost_per_score_point, idle_cost, milli_text, utilization_pct};
    use crate::domain::{DateRange, Right};
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let range = state::with_status(DateRange::parse(from.as_deref(), to.as_deref(), st.clock.today()))?;
    let rec = state::with_status(services::reconcile::reconciliation(&st.db, st.org, range).await)?;
    let gpu = st
        .db
        .gpu_usage_summary(st.org, range.from, range.to)
        .await?
        .into_iter()
        .map(|g| GpuRow {
            utilization_pct: utilization_pct(g.allocated_mhours, g.used_mhours),
            idle_cost: idle_cost(Nanos(g.cost_nanos), g.allocated_mhours, g.used_mhours),
            allocated_hours: milli_text(g.allocated_mhours),
            used_hours: milli_text(g.used_mhours),
            cost: Nanos(g.cost_nanos),
            cluster: g.cluster,
            pool: g.pool,
            gpu_type: g.gpu_type,
            team: g.team,
        })
        .collect();
    let training = st
        .db
        .training_runs(st.org)
        .await?
        .into_iter()
        .map(|r| TrainingRow {
            cost_per_point: cost_per_score_point(Nanos(r.cost_nanos), r.metric_score),
            run_id: r.run_id,
            model: r.model,
            initiative: r.initiative,
            started_at: r.started_at,
            ended_at: r.ended_at,
            cost: Nanos(r.cost_nanos),
            basis: r.cost_basis,
            metric: r.metric_name,
            score: r.metric_score,
        })
        .collect();
    let commitments = st
        .db
        .commitments(st.org)
        .await?
        .into_iter()
        .map(|c| {
            let days = (c.term_end - c.term_start).num_days() + 1;
            CommitmentInfo {
                provider: c.provider,
                model: c.model,
                deployment: c.deployment,
                units: c.units,
                tokens_per_minute: c.tokens_per_minute,
                term: format!("{} – {} ({days} days)", c.term_start, c.term_end),
                price: Nanos(c.price_nanos),
                per_day: Nanos(c.price_nanos / days.max(1)),
            }
        })
        .collect();
    Ok(LedgerView {
        range,
        by_source: st.db.cost_by_source(st.org, range).await?,
        reconciliation: rec.rows,
        reconciliation_totals: rec.totals,
        gpu,
        training,
        commitments,
        can_write: user.role.can(Right::ImportBilling),
    })
}

/// Sets a GPU type's hourly rate from a day on (re-pricing what it prices); answers how many
/// records were re-priced.
#[server(endpoint = "set_gpu_rate")]
pub async fn set_gpu_rate(
    gpu_type: String,
    effective_from: String,
    usd_per_hour: String,
) -> Result<u64, AppError> {
    use crate::domain::period::required_day;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ImportBilling).await)?;
    let st = state::app_state()?;
    let from = state::with_status(required_day("effective_from", &effective_from))?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(
        services::records::set_gpu_rate(&st.db, st.org, &actor, &gpu_type, from, &usd_per_hour).await,
    )
}

/// One record from a page form: the same fields, validation and errors as the API and CSV.
#[cfg(feature = "ssr")]
async fn add_record(kind: &str, fields: Vec<(&str, Option<String>)>) -> Result<String, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::services::records::{record, RecordKind};
    use crate::server::{auth, state};
    let user = state::with_status(auth::require_right(Right::ImportBilling).await)?;
    let st = state::app_state()?;
    let kind = if kind == "training" { RecordKind::TrainingRuns } else { RecordKind::Commitments };
    let actor = Actor::person(user.id, &user.email);
    let map = fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect();
    let report = state::with_status(record(&st.db, st.org, &actor, kind, "form", &[(1, map)]).await)?;
    match report.errors.first() {
        Some(e) => state::with_status(Err(AppError::Invalid(format!("{}: {}", e.field, e.reason)))),
        None => Ok(format!("Recorded, {}.", report.cost.usd())),
    }
}

/// A training run as typed on the Ledger page (the fields of the records API).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRunInput {
    pub run_id: Option<String>,
    pub model: Option<String>,
    pub initiative: Option<String>,
    pub team: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub gpu_type: Option<String>,
    pub gpu_hours: Option<String>,
    pub cost_usd: Option<String>,
    pub metric_name: Option<String>,
    pub metric_score: Option<String>,
}

impl TrainingRunInput {
    /// The fields by the names the record parser (and the CSV/JSON API) use.
    #[cfg(feature = "ssr")]
    fn fields(self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("run_id", self.run_id),
            ("model", self.model),
            ("initiative", self.initiative),
            ("team", self.team),
            ("started_at", self.started_at),
            ("ended_at", self.ended_at),
            ("gpu_type", self.gpu_type),
            ("gpu_hours", self.gpu_hours),
            ("cost_usd", self.cost_usd),
            ("metric_name", self.metric_name),
            ("metric_score", self.metric_score),
        ]
    }
}

/// A commitment as typed on the Ledger page (the fields of the records API).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitmentInput {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub deployment: Option<String>,
    pub units: Option<String>,
    pub tokens_per_minute: Option<String>,
    pub term_start: Option<String>,
    pub term_end: Option<String>,
    pub price_usd: Option<String>,
    pub team: Option<String>,
    pub initiative: Option<String>,
}

impl CommitmentInput {
    /// The fields by the names the record parser (and the CSV/JSON API) use.
    #[cfg(feature = "ssr")]
    fn fields(self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("provider", self.provider),
            ("model", self.model),
            ("deployment", self.deployment),
            ("units", self.units),
            ("tokens_per_minute", self.tokens_per_minute),
            ("term_start", self.term_start),
            ("term_end", self.term_end),
            ("price_usd", self.price_usd),
            ("team", self.team),
            ("initiative", self.initiative),
        ]
    }
}

#[server(endpoint = "add_training_run")]
pub async fn add_training_run(#[server(flatten)] input: TrainingRunInput) -> Result<String, AppError> {
    add_record("training", input.fields()).await
}

#[server(endpoint = "add_commitment")]
pub async fn add_commitment(#[server(flatten)] input: CommitmentInput) -> Result<String, AppError> {
    add_record("commitment", input.fields()).await
}

#[server(endpoint = "get_ledger_rules")]
pub async fn get_ledger_rules() -> Result<crate::domain::ledger::LedgerRules, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::settings::ledger_rules(&st.db, st.org).await)
}

/// Tag keys per dimension (comma-separated, first present wins) and the providers / services
/// already metered by token events (comma-separated), for finance, engineering and admins.
#[server(endpoint = "set_ledger_rules")]
pub async fn set_ledger_rules(
    team: String,
    feature: String,
    initiative: String,
    customer: String,
    environment: String,
    covered_by_events: String,
) -> Result<crate::domain::ledger::LedgerRules, AppError> {
    use crate::domain::ledger::LedgerRules;
    use crate::domain::otlp::AttributeMapping;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ImportBilling).await)?;
    let st = state::app_state()?;
    let run = async {
        let mapping = AttributeMapping::parse(&team, &feature, &initiative, &customer, &environment)
            .map_err(AppError::Invalid)?;
        let covered_by_events = covered_by_events
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let rules = LedgerRules { mapping, covered_by_events };
        services::settings::set_ledger_rules(&st.db, st.org, &Actor::person(me.id, &me.email), rules).await
    };
    state::with_status(run.await)
}
