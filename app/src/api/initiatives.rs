//! Initiatives, their outcomes and zombie-flag decisions.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::initiative::{InitiativeDetail, InitiativeLine, ZombieRules};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitiativesPage {
    pub lines: Vec<InitiativeLine>,
    pub rules: ZombieRules,
    /// Whether the person may create initiatives (admins; product members for themselves).
    pub can_create: bool,
    /// Whether the person may change the zombie rules: the right `set_zombie_rules` checks.
    pub can_set_rules: bool,
    /// The period the metrics cover (`None`: each initiative's lifetime).
    pub period: Option<crate::domain::DateRange>,
}

/// A period from the page's `from`/`to` (both blank: none, the lifetime).
#[cfg(feature = "ssr")]
fn period(
    from: &str,
    to: &str,
    today: chrono::NaiveDate,
) -> Result<Option<crate::domain::DateRange>, AppError> {
    if from.trim().is_empty() && to.trim().is_empty() {
        return Ok(None);
    }
    crate::domain::DateRange::parse(Some(from), Some(to), today).map(Some)
}

/// The portfolio (flags brought up to date first).
#[server(endpoint = "list_initiatives")]
pub async fn list_initiatives(from: String, to: String) -> Result<InitiativesPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let period = state::with_status(period(&from, &to, today))?;
    let lines =
        state::with_status(services::initiatives::portfolio(&st.db, st.org, today, &user, period).await)?;
    let rules = services::initiatives::rules(&st.db, st.org).await?;
    Ok(InitiativesPage {
        lines,
        rules,
        can_create: user.role.can(Right::ManageInitiatives),
        can_set_rules: user.role.can(Right::ManagePeople),
        period,
    })
}

#[server(endpoint = "create_initiative")]
pub async fn create_initiative(
    #[server(flatten)] input: crate::domain::initiative::InitiativeInput,
) -> Result<i64, AppError> {
    use crate::domain::initiative::parse_initiative;
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    // product members own what they create: the owner field is theirs whatever was typed
    let mut input = input;
    if user.role != crate::domain::Role::Admin {
        input.owner = user.email.clone();
    }
    let i = state::with_status(parse_initiative(&input))?;
    state::with_status(services::initiatives::create(&st.db, st.org, &user, i).await)
}

#[server(endpoint = "get_initiative")]
pub async fn get_initiative(
    id: i64,
    from: String,
    to: String,
) -> Result<crate::charts::Charted<InitiativeDetail>, AppError> {
    use crate::charts::{initiative, ChartSpec, Charted};
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    let period = state::with_status(period(&from, &to, today))?;
    let d =
        state::with_status(services::initiatives::detail(&st.db, st.org, today, &user, id, period).await)?;
    let charts = vec![ChartSpec::new(&initiative::spend_vs_value(&d.cumulative), true)];
    Ok(Charted { data: d, charts })
}

/// Corrects a recorded outcome (owner or admin); the old figures stay in its history.
#[server(endpoint = "correct_outcome")]
pub async fn correct_outcome(
    initiative: i64,
    outcome: i64,
    #[server(flatten)] input: crate::domain::initiative::OutcomeInput,
) -> Result<(), AppError> {
    use crate::domain::initiative::parse_outcome;
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::initiatives::correct_outcome(&st.db, st.org, &user, initiative, outcome, |i| {
            parse_outcome(i, &input)
        })
        .await,
    )
}

/// Removes an outcome recorded in error (owner or admin), with the reason, kept in its history.
#[server(endpoint = "remove_outcome")]
pub async fn remove_outcome(initiative: i64, outcome: i64, reason: String) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::initiatives::remove_outcome(&st.db, st.org, &user, initiative, outcome, &reason).await,
    )
}

/// Records an outcome (the initiative's owner, or an admin); errors name the field.
#[server(endpoint = "record_outcome")]
pub async fn record_outcome(
    initiative: i64,
    #[server(flatten)] input: crate::domain::initiative::OutcomeInput,
) -> Result<i64, AppError> {
    use crate::domain::initiative::parse_outcome;
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::initiatives::record_outcome(&st.db, st.org, &user, initiative, |i| {
            parse_outcome(i, &input)
        })
        .await,
    )
}

/// Finance (or an admin) verifies an outcome that waited for it: from then on it counts.
#[server(endpoint = "verify_outcome")]
pub async fn verify_outcome(initiative: i64, outcome: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::initiatives::verify_outcome(&st.db, st.org, &user, initiative, outcome).await,
    )
}

/// A decision (keep, fix by a date, retire) on a zombie flag.
#[server(endpoint = "decide_flag")]
pub async fn decide_flag(
    flag: i64,
    #[server(flatten)] input: crate::domain::initiative::DecisionInput,
) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    state::with_status(services::initiatives::decide(&st.db, st.org, today, &user, flag, &input).await)
}

/// The zombie rules form as typed (every field text; the evidence share may be left out).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZombieRulesInput {
    pub spend_days: String,
    pub min_spend: String,
    pub outcome_days: String,
    pub roi_days: String,
    pub min_roi_pct: String,
    pub usage_days: String,
    pub usage_drop_pct: String,
    #[serde(default)]
    pub evidence_share_pct: String,
}

/// Changes the zombie rules (admins); errors name the field.
#[server(endpoint = "set_zombie_rules")]
pub async fn set_zombie_rules(#[server(flatten)] f: ZombieRulesInput) -> Result<(), AppError> {
    use crate::domain::initiative::{parse_evidence_share, parse_rules};
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let mut r = state::with_status(parse_rules(
        &f.spend_days,
        &f.min_spend,
        &f.outcome_days,
        &f.roi_days,
        &f.min_roi_pct,
        &f.usage_days,
        &f.usage_drop_pct,
    ))?;
    r.evidence_share_pct = state::with_status(parse_evidence_share(&f.evidence_share_pct))?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::initiatives::set_rules(&st.db, st.org, &actor, r).await)?;
    state::with_status(services::initiatives::evaluate_flags(&st.db, st.org, st.clock.today()).await)?;
    Ok(())
}

/// Changes an initiative (its owner or an admin); the same fields and errors as creating one.
#[server(endpoint = "update_initiative")]
pub async fn update_initiative(
    id: i64,
    #[server(flatten)] input: crate::domain::initiative::InitiativeInput,
) -> Result<(), AppError> {
    use crate::domain::initiative::parse_initiative;
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageInitiatives).await)?;
    let st = state::app_state()?;
    // the key is not on the edit form and never changes; any valid stand-in passes the check
    let input = crate::domain::initiative::InitiativeInput { key: "unchanged".into(), ..input };
    let i = state::with_status(parse_initiative(&input))?;
    state::with_status(services::initiatives::update(&st.db, st.org, &user, id, i).await)?;
    state::with_status(services::initiatives::evaluate_flags(&st.db, st.org, st.clock.today()).await)?;
    Ok(())
}
