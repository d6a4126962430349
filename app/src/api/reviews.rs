//! Cost reviews and the maturity checklist.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::maturity::MaturityPage;
use crate::domain::review::{ActionItem, Review, ReviewPage, Schedule};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewsPage {
    pub schedules: Vec<Schedule>,
    /// (schedule, next meeting day) for each schedule.
    pub upcoming: Vec<(String, chrono::NaiveDate)>,
    pub reviews: Vec<Review>,
    /// Open action items of every review, oldest first, with their review's title.
    pub open_actions: Vec<(ActionItem, String)>,
    pub can_schedule: bool,
}

/// Past and upcoming reviews (due ones are created first) and the open action items.
#[server(endpoint = "list_reviews")]
pub async fn list_reviews() -> Result<ReviewsPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let today = st.clock.today();
    state::with_status(services::reviews::ensure_due(&st.db, st.org, today).await)?;
    let schedules = st.db.schedules(st.org).await?;
    let reviews = st.db.reviews(st.org).await?;
    let upcoming = schedules.iter().map(|s| (s.label(), s.cadence.next_meeting(today))).collect();
    let open_actions = st
        .db
        .actions(st.org)
        .await?
        .into_iter()
        .filter(|a| !a.done)
        .map(|a| {
            let title =
                reviews.iter().find(|r| r.id == a.review_id).map(|r| r.title.clone()).unwrap_or_default();
            (a, title)
        })
        .collect();
    Ok(ReviewsPage {
        schedules,
        upcoming,
        reviews,
        open_actions,
        can_schedule: user.role.can(Right::ManageBudgets),
    })
}

/// Adds a schedule (finance and admins): `weekly` with a weekday 1–7, `monthly` with a day 1–28.
#[server(endpoint = "create_review_schedule")]
pub async fn create_review_schedule(team: String, cadence: String, day: String) -> Result<i64, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::reviews::create_schedule(&st.db, st.org, &user, &team, &cadence, &day, st.clock.today())
            .await,
    )
}

#[server(endpoint = "get_review")]
pub async fn get_review(id: i64) -> Result<ReviewPage, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::page(&st.db, st.org, &user, st.clock.today(), id).await)
}

#[server(endpoint = "add_review_decision")]
pub async fn add_review_decision(review: i64, text: String) -> Result<i64, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(crate::domain::Right::TakePartInReviews).await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::add_decision(&st.db, st.org, &user, review, &text).await)
}

#[server(endpoint = "add_action_item")]
pub async fn add_action_item(
    review: i64,
    title: String,
    owner: String,
    due: String,
) -> Result<i64, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(crate::domain::Right::TakePartInReviews).await)?;
    let st = state::app_state()?;
    state::with_status(
        services::reviews::add_action(&st.db, st.org, &user, review, &title, &owner, &due).await,
    )
}

#[server(endpoint = "set_action_done")]
pub async fn set_action_done(id: i64, done: bool) -> Result<(), AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(crate::domain::Right::TakePartInReviews).await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::set_action_done(&st.db, st.org, &user, id, done).await)
}

/// Closes a review (finance and admins): its figures are frozen from now on.
#[server(endpoint = "close_review")]
pub async fn close_review(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageBudgets).await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::close(&st.db, st.org, &user, st.clock.today(), id).await)
}

#[server(endpoint = "get_maturity")]
pub async fn get_maturity() -> Result<MaturityPage, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::maturity(&st.db, st.org, &user, st.clock.today()).await)
}

/// Ticks (or unticks) an item scored by hand (admins), with owner, evidence and date.
#[server(endpoint = "set_maturity_item")]
pub async fn set_maturity_item(
    #[server(flatten)] input: crate::domain::maturity::ManualInput,
) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    state::with_status(services::reviews::set_manual(&st.db, st.org, &user, &input).await)
}
