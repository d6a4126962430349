//! Who is calling: server-side sessions (tower-sessions in the database) and the guards every
//! server function calls. Hiding a button is never the check. The sign-in, set-up and
//! sign-out form posts are in `http::auth`; password hashing in `password`.
//!
//! CSRF: the session cookie is `SameSite=Lax` (so a link from chat or e-mail into Costroom
//! keeps the person signed in) and the router refuses state-changing requests whose `Origin`
//! names another site (see `server::router`).
use chrono::Utc;
use tower_sessions::Session;

use super::db::{UserId, UserRecord};
use super::state::AppState;
use crate::domain::Right;
use crate::error::{internal, AppError};

const USER_ID: &str = "uid";
const SIGNED_IN_AT: &str = "signed_in_at";
/// Idle expiry is the cookie's (`SESSION_IDLE_HOURS`); this caps a session however active.
pub const SESSION_ABSOLUTE_HOURS: i64 = 7 * 24;
pub const SESSION_IDLE_HOURS: i64 = 8;
pub const SESSION_COOKIE: &str = "costroom_session";

/// The signed-in person of this request, re-read from the database each time (a role change
/// or a disabled account takes effect at once). `None` for anonymous callers and for sessions
/// past their absolute lifetime, which are deleted.
pub async fn user_of(session: &Session, st: &AppState) -> Result<Option<UserRecord>, AppError> {
    let Some(id) = session.get::<i64>(USER_ID).await.map_err(internal)? else { return Ok(None) };
    let since = session.get::<i64>(SIGNED_IN_AT).await.map_err(internal)?.unwrap_or(0);
    if Utc::now().timestamp() - since > SESSION_ABSOLUTE_HOURS * 3600 {
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    let user = st.db.user_by_id(UserId(id)).await?.filter(|u| !u.disabled);
    if user.as_ref().is_some_and(|u| since < u.sessions_valid_after) {
        // started before the password changed: void
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    Ok(user)
}

/// Keeps the current session valid across a password change (new id, new start time), since
/// the change voids every session that started earlier.
pub async fn renew_current_session(user: UserId, now: i64) -> Result<(), AppError> {
    let session: Session = leptos_axum::extract().await.map_err(internal)?;
    session.cycle_id().await.map_err(internal)?;
    session.insert(USER_ID, user.0).await.map_err(internal)?;
    session.insert(SIGNED_IN_AT, now).await.map_err(internal)
}

/// The signed-in person of the current server function or render.
pub async fn current_user() -> Result<Option<UserRecord>, AppError> {
    let session: Session = leptos_axum::extract().await.map_err(internal)?;
    user_of(&session, &super::state::app_state()?).await
}

/// Any signed-in person (every role reads every dashboard).
pub async fn require_user() -> Result<UserRecord, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

/// A signed-in person whose role holds `right`.
pub async fn require_right(right: Right) -> Result<UserRecord, AppError> {
    let user = require_user().await?;
    if user.role.can(right) {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// A fresh session id for `user`: an id planted before sign-in (fixation) is worthless.
pub async fn start_session(session: &Session, user: UserId) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.0).await?;
    session.insert(SIGNED_IN_AT, Utc::now().timestamp()).await
}

pub mod password;
pub mod sealer;
