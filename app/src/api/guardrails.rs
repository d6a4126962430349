//! Guardrails: the rules with live headroom, the decision log, the replay, and changing rules.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::guardrail::{Logged, ReplayReport, RuleInput, RuleLine};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailsView {
    pub lines: Vec<RuleLine>,
    /// The decision log under the page's filter, newest first.
    pub log: Vec<Logged>,
    /// Whether the person may change rules (engineering, admins).
    pub can_edit: bool,
    /// Today (UTC), the form's default first day.
    pub today: String,
}

/// Rows of the decision log a page shows (the CSV export has them all).
pub const PAGE_LOG_ROWS: i64 = 200;

/// The rules with their live figures and the decision log (everyone signed in reads).
/// Filters: `rule` (id), `key` (API key prefix), `code`, `days` back (1–90, default 7).
#[server(endpoint = "guardrails_page")]
pub async fn guardrails_page(
    rule: Option<String>,
    key: Option<String>,
    code: Option<String>,
    days: Option<String>,
) -> Result<GuardrailsView, AppError> {
    use crate::domain::Right;
    use crate::server::services::guardrails;
    use crate::server::{auth, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    // decisions are taken on the wall clock (the authorize API's), so the page reads it too
    let now = chrono::Utc::now();
    let filter = state::with_status(guardrails::log_filter(
        rule.as_deref(),
        key.as_deref(),
        code.as_deref(),
        days.as_deref(),
        now,
        PAGE_LOG_ROWS,
    ))?;
    let lines = state::with_status(guardrails::lines(&st.db, st.org, now).await)?;
    let log = st.db.guardrail_decisions(st.org, &filter).await?;
    Ok(GuardrailsView {
        lines,
        log,
        can_edit: user.role.can(Right::ManageEngineering),
        today: now.date_naive().to_string(),
    })
}

/// Creates a rule, or changes the rule of that name (engineering, admins); errors name the
/// field.
#[server(endpoint = "create_guardrail")]
pub async fn create_guardrail(#[server(flatten)] input: RuleInput) -> Result<i64, AppError> {
    use crate::domain::guardrail::rule_from_input;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let rule = state::with_status(rule_from_input(&input).map_err(AppError::Invalid))?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(
        services::guardrails::save_rule(&st.db, st.org, &actor, rule, chrono::Utc::now()).await,
    )
}

/// Switches a rule to `shadow` or `enforce` (engineering, admins).
#[server(endpoint = "set_guardrail_mode")]
pub async fn set_guardrail_mode(id: i64, mode: String) -> Result<(), AppError> {
    use crate::domain::guardrail::Mode;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let mode = match mode.as_str() {
        "shadow" => Mode::Shadow,
        "enforce" => Mode::Enforce,
        m => return Err(AppError::invalid(format!("mode: '{m}' is not shadow or enforce"))),
    };
    let actor = Actor::person(user.id, &user.email);
    state::with_status(
        services::guardrails::set_mode(&st.db, st.org, &actor, id, mode, chrono::Utc::now()).await,
    )
}

/// Deletes a rule (engineering, admins).
#[server(endpoint = "delete_guardrail")]
pub async fn delete_guardrail(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::guardrails::delete_rule(&st.db, st.org, &actor, id).await)
}

/// What the current rules would have done to the last `days` (1–90, default 30) of stored
/// calls; everyone signed in may ask (it changes nothing).
#[server(endpoint = "replay_guardrails")]
pub async fn replay_guardrails(days: Option<String>) -> Result<ReplayReport, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let days = match days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => 30,
        Some(d) => d
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| AppError::invalid(format!("days: a whole number from 1 to 90 (got '{d}')")))?,
    };
    let to = st.clock.today();
    let from = to - chrono::Days::new(days - 1);
    let rules = st.db.guardrail_rules(st.org).await?;
    state::with_status(services::guardrails::replay(&st.db, st.org, &rules, from, to).await)
}
