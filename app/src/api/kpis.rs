//! The KPIs page and the tag-coverage page.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::coverage::CoverageView;
use crate::domain::kpis::Kpi;
use crate::domain::DateRange;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpisPage {
    pub range: DateRange,
    pub previous: DateRange,
    pub kpis: Vec<Kpi>,
}

#[server(endpoint = "get_kpis")]
pub async fn get_kpis(from: Option<String>, to: Option<String>) -> Result<KpisPage, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let (range, previous, kpis) = state::with_status(
        services::kpis::page(&st.db, st.org, st.clock.today(), from.as_deref(), to.as_deref()).await,
    )?;
    Ok(KpisPage { range, previous, kpis })
}

#[server(endpoint = "get_coverage")]
pub async fn get_coverage(
    from: Option<String>,
    to: Option<String>,
    attribute: Option<String>,
) -> Result<CoverageView, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(
        services::kpis::coverage(
            &st.db,
            st.org,
            st.clock.today(),
            from.as_deref(),
            to.as_deref(),
            attribute.as_deref(),
        )
        .await,
    )
}
