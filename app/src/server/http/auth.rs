//! The form posts of signing in and out (`/auth/signin`, `/auth/setup`, `/auth/signout`), plain
//! HTML forms that work with and without JavaScript, and `GET /api/v1/key` (a machine checks
//! its own key).
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use crate::domain::text::encode_query_value;
use crate::error::{internal, AppError};
use crate::server::auth::start_session;
use crate::server::services;
use crate::server::services::auth::Refused;
use crate::server::state::AppState;

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
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref());
    // the peer address; behind a reverse proxy this is the proxy (a shared, larger budget)
    let client =
        client.map(|Extension(ConnectInfo(a))| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let now = Utc::now().timestamp();
    let to = match services::auth::sign_in(&st.db, &form.email, form.password, &client, now).await? {
        Ok(user) => {
            start_session(&session, user).await.map_err(internal)?;
            next
        }
        Err(Refused::Credentials) => format!("/signin?error=credentials&next={}", encode_query_value(&next)),
        Err(Refused::Throttled { wait_secs }) => {
            format!("/signin?error=throttled&wait={wait_secs}&next={}", encode_query_value(&next))
        }
    };
    Ok(Redirect::to(&to).into_response())
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
) -> Result<Response, AppError> {
    let to = match services::users::create_first_admin(&st.db, st.org, &form.email, &form.name, form.password)
        .await
    {
        Ok(user) => {
            start_session(&session, user.id).await.map_err(internal)?;
            "/".to_string()
        }
        Err(AppError::Invalid(msg)) => {
            let field =
                ["email", "name", "password"].into_iter().find(|f| msg.starts_with(f)).unwrap_or("form");
            format!("/setup?error={field}")
        }
        Err(AppError::Forbidden) => "/setup?error=done".to_string(),
        Err(e) => return Err(e),
    };
    Ok(Redirect::to(&to).into_response())
}

/// `POST /auth/signout`: deletes the session from the store, so a copied cookie is worthless.
pub async fn sign_out_handler(session: Session) -> Result<Response, AppError> {
    session.flush().await.map_err(internal)?;
    Ok(Redirect::to("/signin?signed_out=1").into_response())
}

/// `GET /api/v1/key`: a machine checks its own key (any scope). 401 with `WWW-Authenticate`
/// for every kind of bad key; the secret is never echoed.
pub async fn key_info_handler(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let auth = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let k = services::keys::authenticate(&st.db, &st.keys, auth, None, Utc::now()).await?;
    Ok(axum::Json(serde_json::json!({
        "name": k.name,
        "prefix": k.prefix,
        "scopes": k.scopes.split(',').collect::<Vec<_>>(),
        "team": k.team,
        "initiative": k.initiative,
        "expires_at": k.expires_at,
    }))
    .into_response())
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
