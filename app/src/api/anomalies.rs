//! Cost anomalies: the inbox, one anomaly, its lifecycle, reports of missed ones, settings.
use leptos::prelude::*;

use crate::domain::anomaly::{AnomaliesPage, AnomalyDetail};
use crate::error::AppError;

/// The inbox, filtered by status (`open` also holds acknowledged ones; blank: all), scope
/// dimension and least severity; with the detection figures.
#[server(endpoint = "list_anomalies")]
pub async fn list_anomalies(
    status: String,
    scope: String,
    severity: String,
) -> Result<AnomaliesPage, AppError> {
    use crate::domain::anomaly::{Severity, Status};
    use crate::domain::{DateRange, Right};
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let status = match status.trim() {
        "" | "all" => None,
        s => Some(state::with_status(Status::parse(s))?),
    };
    let least = match severity.trim() {
        "" => Severity::Low,
        s => state::with_status(Severity::parse(s))?,
    };
    let since = crate::domain::explore::day_seconds(today) - 365 * 86_400;
    let anomalies = st
        .db
        .anomalies(st.org, since)
        .await?
        .into_iter()
        .filter(|a| match status {
            None => true,
            Some(Status::Open) => matches!(a.status, Status::Open | Status::Acknowledged),
            Some(s) => a.status == s,
        })
        .filter(|a| scope.trim().is_empty() || a.scope_dim == scope.trim())
        .filter(|a| a.severity >= least)
        .collect();
    let figures = state::with_status(
        services::anomalies::figures_in(&st.db, st.org, DateRange::last_days(today, 30)).await,
    )?;
    let trend = state::with_status(services::anomalies::trend(&st.db, st.org, today, 8).await)?;
    let settings = services::anomalies::settings(&st.db, st.org).await?;
    Ok(AnomaliesPage { anomalies, figures, trend, settings, can_act: user.role.can(Right::ManageAlerts) })
}

#[server(endpoint = "get_anomaly")]
pub async fn get_anomaly(id: i64) -> Result<crate::charts::Charted<AnomalyDetail>, AppError> {
    use crate::charts::{anomaly, ChartSpec, Charted};
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let d = state::with_status(services::anomalies::detail(&st.db, st.org, &user, id).await)?;
    let band = anomaly::series_with_band(&d.series, d.anomaly.grain == "hour");
    Ok(Charted { charts: vec![ChartSpec::new(&band, true)], data: d })
}

/// acknowledge, resolve, false_positive, reopen, or note (admins, finance, engineering).
#[server(endpoint = "act_on_anomaly")]
pub async fn act_on_anomaly(id: i64, action: String, assignee: String, note: String) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    state::with_status(services::anomalies::act(&st.db, st.org, &user, id, &action, &assignee, &note).await)
}

/// Reports an anomaly the detector missed; errors name the field.
#[server(endpoint = "report_anomaly")]
pub async fn report_anomaly(
    scope_dim: String,
    scope_value: String,
    start: String,
    note: String,
) -> Result<i64, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::anomalies::report(&st.db, st.org, &user, &scope_dim, &scope_value, &start, &note).await,
    )
}

/// The minimum impact (US$) and the least severity announced; re-runs detection.
#[server(endpoint = "set_anomaly_settings")]
pub async fn set_anomaly_settings(min_excess: String, alert_severity: String) -> Result<(), AppError> {
    use crate::domain::anomaly::{AnomalySettings, Severity};
    use crate::domain::initiative::parse_usd;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    let min = state::with_status(parse_usd("min_excess", &min_excess))?;
    if min.0 <= 0 {
        return state::with_status(Err(AppError::invalid("min_excess: the minimum impact must be above $0")));
    }
    let s = AnomalySettings {
        min_excess: min,
        alert_severity: state::with_status(Severity::parse(&alert_severity))?,
    };
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::anomalies::set_settings(&st.db, st.org, &actor, s).await)?;
    state::with_status(services::anomalies::detect_now(&st.db, st.org, st.clock.now_ts()).await)?;
    Ok(())
}
