//! Budgets and their alerts.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::budget::{BudgetAlert, BudgetLine};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetsPage {
    pub lines: Vec<BudgetLine>,
    pub alerts: Vec<BudgetAlert>,
    /// Whether the person may create budgets (finance, admins).
    pub can_edit: bool,
    /// The values each scope dimension can name (dimension key, values), for the form's search.
    pub known: Vec<(String, Vec<String>)>,
}

/// Every budget evaluated today (raising any alert that is due) and the latest alerts.
#[server(endpoint = "list_budgets")]
pub async fn list_budgets() -> Result<BudgetsPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let (lines, _) =
        state::with_status(services::budgets::evaluate_all(&st.db, st.org, st.clock.today()).await)?;
    let alerts = st.db.budget_alerts(st.org, 50).await?;
    let can_edit = user.role.can(Right::ManageBudgets);
    let known = if can_edit {
        state::with_status(services::spend::known_scopes(&st.db, st.org, st.clock.today()).await)?
    } else {
        Vec::new()
    };
    Ok(BudgetsPage { lines, alerts, can_edit, known })
}

/// Creates a budget (finance, admins); errors name the field.
#[server(endpoint = "create_budget")]
pub async fn create_budget(
    #[server(flatten)] input: crate::domain::budget::BudgetInput,
) -> Result<i64, AppError> {
    use crate::domain::budget::parse_budget;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    let b = state::with_status(parse_budget(&input))?;
    let today = st.clock.today();
    let confirmed = input.save_unmatched.is_some();
    state::with_status(services::budgets::check_scope(&st.db, st.org, today, &b, None, confirmed).await)?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::budgets::create(&st.db, st.org, &actor, today, b).await)
}

/// One budget's page with its charts (the burn-up, then one forecast chart per period of
/// `history`, in its order), and whether the person may change it.
#[server(endpoint = "get_budget")]
pub async fn get_budget(
    id: i64,
) -> Result<(crate::charts::Charted<crate::domain::budget::BudgetDetail>, bool), AppError> {
    use crate::charts::{budget, ChartSpec, Charted};
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let d = state::with_status(services::budgets::detail(&st.db, st.org, st.clock.today(), id).await)?;
    // every chart here has its figures in a table beside it
    let amount = d.line.budget.amount;
    let charts = std::iter::once(ChartSpec::new(&budget::burn_up(&d), false))
        .chain(d.history.iter().map(|h| ChartSpec::new(&budget::forecast_vs_actual(h, amount), false)))
        .collect();
    Ok((Charted { data: d, charts }, user.role.can(Right::ManageBudgets)))
}

/// Changes a budget (finance, admins); the same fields and errors as creating one.
#[server(endpoint = "update_budget")]
pub async fn update_budget(
    id: i64,
    #[server(flatten)] input: crate::domain::budget::BudgetInput,
) -> Result<(), AppError> {
    use crate::domain::budget::parse_budget;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    let b = state::with_status(parse_budget(&input))?;
    let today = st.clock.today();
    let confirmed = input.save_unmatched.is_some();
    state::with_status(services::budgets::check_scope(&st.db, st.org, today, &b, Some(id), confirmed).await)?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::budgets::update(&st.db, st.org, &actor, today, id, b).await)
}

/// Deletes a budget and its alerts (finance, admins).
#[server(endpoint = "delete_budget")]
pub async fn delete_budget(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::budgets::delete(&st.db, st.org, &actor, id).await)?;
    leptos_axum::redirect("/budgets");
    Ok(())
}

/// Budgets' completed periods ranked by forecast error, worst first.
#[server(endpoint = "forecast_accuracy")]
pub async fn forecast_accuracy() -> Result<Vec<crate::domain::budget::AccuracyRow>, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::budgets::accuracy_ranking(&st.db, st.org, st.clock.today()).await)
}
