//! Agent and workflow traces.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::traces::{TraceLimits, TraceSummary, TreeNode};
use crate::domain::{DateRange, Nanos};
use crate::error::AppError;

/// The traces list: costliest first, with the limits that flag them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracesPage {
    pub range: DateRange,
    pub limits: TraceLimits,
    pub traces: Vec<TraceSummary>,
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

#[server(endpoint = "list_traces")]
pub async fn list_traces(from: Option<String>, to: Option<String>) -> Result<TracesPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let (range, traces) = state::with_status(
        services::traces::list(&st.db, st.org, st.clock.today(), from.as_deref(), to.as_deref()).await,
    )?;
    let limits = services::traces::limits(&st.db, st.org).await?;
    Ok(TracesPage { range, limits, traces, can_edit: user.role.can(Right::ManageEngineering) })
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
