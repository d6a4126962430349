//! Figures for the Overview page.
use leptos::prelude::*;

use crate::charts::Charted;
use crate::domain::Overview;
use crate::error::AppError;

/// Month-to-date spend and daily spend over `from`..=`to` (YYYY-MM-DD, both optional; the
/// default is the last 90 days), of every spend source or of `source`. Bad input comes back as
/// `Invalid` naming the field.
// A fixed endpoint: the default URL embeds a hash of the build directory, so a frontend and a
// server built in different checkouts (CI, packaging) would not find each other.
#[server(endpoint = "get_overview")]
pub async fn get_overview(
    from: Option<String>,
    to: Option<String>,
    source: Option<String>,
) -> Result<Charted<Overview>, AppError> {
    use crate::charts::{daily_spend, ChartSpec};
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let o = state::with_status(
        services::overview::overview(
            &st.db,
            st.org,
            today,
            from.as_deref(),
            to.as_deref(),
            source.as_deref(),
        )
        .await,
    )?;
    // the daily table under the chart already holds its figures
    let charts = vec![ChartSpec::new(&daily_spend(&o.daily), false)];
    Ok(Charted { data: o, charts })
}
