//! Agent and workflow traces.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::traces::{TraceFilter, TraceLimits, TraceSummary, TreeNode};
use crate::domain::{DateRange, Nanos};
use crate::error::AppError;

/// The traces list: costliest first, with the limits that flag them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracesPage {
    pub range: DateRange,
    pub limits: TraceLimits,
    pub filter: TraceFilter,
    /// This page of the traces that pass the filter.
    pub traces: Vec<TraceSummary>,
    /// How many traces pass the filter (all pages).
    pub total: i64,
    /// Whether the person may change the limits.
    pub can_edit: bool,
}

/// One trace: its steps as a tree and its total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceView {
    pub trace_id: String,
    pub nodes: Vec<TreeNode>,
    pub total: Nanos,
    pub limits: TraceLimits,
}

/// The list's URL values as typed (each optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub min_cost: Option<String>,
    pub min_depth: Option<String>,
    pub min_retries: Option<String>,
    pub feature: Option<String>,
    pub model: Option<String>,
    pub page: Option<String>,
}

#[server(endpoint = "list_traces")]
pub async fn list_traces(#[server(flatten)] q: TraceQuery) -> Result<TracesPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let filter = state::with_status(TraceFilter::parse(
        &v(&q.min_cost),
        &v(&q.min_depth),
        &v(&q.min_retries),
        &v(&q.feature),
        &v(&q.model),
        &v(&q.page),
    ))?;
    let (range, traces, total) = state::with_status(
        services::traces::list(&st.db, st.org, st.clock.today(), q.from.as_deref(), q.to.as_deref(), &filter)
            .await,
    )?;
    let limits = services::traces::limits(&st.db, st.org).await?;
    Ok(TracesPage { range, limits, filter, traces, total, can_edit: user.role.can(Right::ManageEngineering) })
}

#[server(endpoint = "get_trace")]
pub async fn get_trace(trace_id: String) -> Result<TraceView, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let (nodes, total) = state::with_status(services::traces::detail(&st.db, st.org, &trace_id).await)?;
    let limits = services::traces::limits(&st.db, st.org).await?;
    Ok(TraceView { trace_id, nodes, total, limits })
}

/// Engineering and admins set the depth and retry limits that flag traces.
#[server(endpoint = "set_trace_limits")]
pub async fn set_trace_limits(max_depth: String, max_retries: String) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let limits = state::with_status(TraceLimits::parse(&max_depth, &max_retries))?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::traces::set_limits(&st.db, st.org, &actor, limits).await)
}
