//! Who is calling: server-side sessions (tower-sessions in the database), sign-in and
//! sign-out, and the guards every server function calls. Hiding a button is never the check.
//!
//! CSRF: the session cookie is `SameSite=Lax` (so a link from chat or e-mail into Costroom
//! keeps the person signed in) and the router refuses state-changing requests whose `Origin`
//! names another site (see `server::router`).
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{UserId, UserRecord};
use super::services;
use super::services::auth::Refused;
use super::state::AppState;
use crate::domain::text::encode_query_value;
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

#[derive(Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub next: Option<String>,
}

/// Only a path on this site, else `/` (no open redirect). Browsers drop tabs and newlines
/// from URLs and read `\\` as `/`, so `/\t/evil.example` would become `//evil.example`: every
/// character must be visible ASCII other than `\\`, and the path must not start `//`.
/// Visible ASCII is also all a `Location` header may carry.
pub fn safe_next(next: Option<&str>) -> String {
    const MAX_NEXT: usize = 2048;
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= MAX_NEXT
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `POST /auth/signin` (a plain form post: works with and without JavaScript). Unknown e-mail,
/// malformed e-mail, wrong password and disabled account all answer the same redirect.
pub async fn sign_in_handler(
    State(st): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    // the peer address; behind a reverse proxy this is the proxy (a shared, larger budget)
    let client =
        client.map(|Extension(ConnectInfo(a))| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let now = Utc::now().timestamp();
    match services::auth::sign_in(&st.db, &form.email, form.password, &client, now).await {
        Ok(Ok(user)) => match start_session(&session, user).await {
            Ok(()) => Redirect::to(&next).into_response(),
            Err(e) => internal(e).status().into_response(),
        },
        Ok(Err(Refused::Credentials)) => {
            Redirect::to(&format!("/signin?error=credentials&next={}", encode_query_value(&next)))
                .into_response()
        }
        Ok(Err(Refused::Throttled { wait_secs })) => {
            let to = format!("/signin?error=throttled&wait={wait_secs}&next={}", encode_query_value(&next));
            Redirect::to(&to).into_response()
        }
        Err(e) => e.status().into_response(),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    pub email: String,
    pub name: String,
    pub password: String,
}

/// `POST /auth/setup`: while nobody has an account, creates the first admin and signs them in.
/// Errors come back as a field code (`/setup?error=password`), never as reflected text.
pub async fn setup_handler(
    State(st): State<AppState>,
    session: Session,
    Form(form): Form<SetupForm>,
) -> Response {
    match services::users::create_first_admin(&st.db, st.org, &form.email, &form.name, form.password).await {
        Ok(user) => match start_session(&session, user.id).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(e) => internal(e).status().into_response(),
        },
        Err(AppError::Invalid(msg)) => {
            let field =
                ["email", "name", "password"].into_iter().find(|f| msg.starts_with(f)).unwrap_or("form");
            Redirect::to(&format!("/setup?error={field}")).into_response()
        }
        Err(AppError::Forbidden) => Redirect::to("/setup?error=done").into_response(),
        Err(e) => e.status().into_response(),
    }
}

/// A fresh session id for `user`: an id planted before sign-in (fixation) is worthless.
async fn start_session(session: &Session, user: UserId) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.0).await?;
    session.insert(SIGNED_IN_AT, Utc::now().timestamp()).await
}

/// `POST /auth/signout`: deletes the session from the store, so a copied cookie is worthless.
pub async fn sign_out_handler(session: Session) -> Response {
    match session.flush().await {
        Ok(()) => Redirect::to("/signin?signed_out=1").into_response(),
        Err(e) => internal(e).status().into_response(),
    }
}

/// `GET /api/v1/key`: a machine checks its own key (any scope). 401 with `WWW-Authenticate`
/// for every kind of bad key; the secret is never echoed.
pub async fn key_info_handler(State(st): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    use axum::http::{header, StatusCode};
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match services::keys::authenticate(&st.db, &st.keys, auth, None, Utc::now()).await {
        Ok(k) => axum::Json(serde_json::json!({
            "name": k.name,
            "prefix": k.prefix,
            "scopes": k.scopes.split(',').collect::<Vec<_>>(),
            "team": k.team,
            "initiative": k.initiative,
            "expires_at": k.expires_at,
        }))
        .into_response(),
        Err(e) => {
            let mut res =
                (e.status(), axum::Json(serde_json::json!({ "error": e.to_string() }))).into_response();
            if e.status() == StatusCode::UNAUTHORIZED {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_kept_on_this_site() {
        for kept in ["/", "/?from=2026-01-01", "/budgets/3?tab=alerts#top", "/a/%2F/b", "/x?next=//y"] {
            assert_eq!(safe_next(Some(kept)), kept);
        }
    }

    #[test]
    fn hostile_next_values_go_home() {
        for h in crate::server::testing::HOSTILE_NEXT {
            assert_eq!(safe_next(Some(h)), "/", "{h:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(5000)))), "/");
        assert_eq!(safe_next(None), "/");
    }
}
