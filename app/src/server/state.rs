//! Shared server state, provided as context to SSR renders and server functions alike.
use axum::extract::FromRef;
use leptos::prelude::*;

pub use super::clock::Clock;
use super::db::{Db, OrgId};
use crate::error::{internal, AppError};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// Until accounts exist (issue 3) every page shows this organisation.
    pub org: OrgId,
    pub clock: Clock,
    /// Whether the session cookie carries `Secure` (on by default unless serving on loopback).
    pub cookie_secure: bool,
    /// Hashes API-key secrets with this installation's secret.
    pub keys: super::services::keys::KeyHasher,
    /// Each organisation's price book, cached for ingest.
    pub prices: super::services::prices::PriceCache,
    /// Jobs started from pages (re-pricing, billing imports), tracked in the database.
    pub jobs: super::services::jobs::tracked::Tracked,
    /// Where webhooks may point (see [`super::services::webhooks::Egress`]).
    pub egress: super::services::webhooks::Egress,
    /// The authorize API's wait for the database and its last-known rules (failure modes).
    pub guard: super::services::guardrails::Guard,
    /// The gateway's client to the upstreams and the key that opens their provider keys.
    pub gateway: super::services::gateway::Gateway,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos_options.clone()
    }
}

/// The state of the current request (render or server function).
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| internal("no AppState in context"))
}

/// Gives a server function's HTTP response the status its error deserves (422 for invalid
/// input, 401, 403, 404, 500); server_fn 0.8 would answer 500 for every error. Only for
/// calls over HTTP: during SSR the same function runs inside a page render, whose status is
/// the page's own.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        let is_server_fn_call =
            use_context::<http::request::Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"));
        if is_server_fn_call {
            if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                resp.set_status(e.status());
            }
        }
    }
    result
}
