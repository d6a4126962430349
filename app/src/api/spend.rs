//! The spend explorer's data.
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::explore::SpendView;
use crate::error::AppError;

/// What the explorer page needs: the view, and the values each filter offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendPage {
    pub view: SpendView,
    /// (dimension key, values seen in the range)
    pub options: Vec<(String, Vec<String>)>,
    pub today: NaiveDate,
    pub stale: Vec<crate::domain::ledger::StaleSource>,
}

/// The explorer view for a URL query string (without `?`). Bad parameters come back as
/// `Invalid` naming the parameter.
#[server(endpoint = "get_spend")]
pub async fn get_spend(query: String) -> Result<crate::charts::Charted<SpendPage>, AppError> {
    use crate::charts::{spend, ChartSpec, Charted};
    use crate::domain::explore::decode_pairs;
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let pairs = decode_pairs(query.trim_start_matches('?'));
    let view = state::with_status(services::spend::explore(&st.db, st.org, today, &pairs).await)?;
    let options =
        state::with_status(services::spend::filter_options(&st.db, st.org, view.query.range).await)?;
    let stale = state::with_status(services::overview::stale_sources(&st.db, st.org, today).await)?;
    // the ring's shares are the table's rows; the bars' figures are folded under them
    let charts =
        vec![ChartSpec::new(&spend::spend(&view), true), ChartSpec::new(&spend::breakdown(&view), false)];
    Ok(Charted { data: SpendPage { view, options, today, stale }, charts })
}

/// A team's, initiative's, feature's, model's or customer's page (`/spend/:dim/:value`).
#[server(endpoint = "get_scope")]
pub async fn get_scope(
    dim: String,
    value: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<crate::charts::Charted<crate::domain::explore::ScopeView>, AppError> {
    use crate::charts::{spend, ChartSpec, Charted};
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let s = state::with_status(
        services::spend::scope(&st.db, st.org, today, &dim, &value, from.as_deref(), to.as_deref()).await,
    )?;
    let charts = vec![ChartSpec::new(&spend::spend(&s.trend), true)];
    Ok(Charted { data: s, charts })
}
