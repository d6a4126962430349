//! `/gateway/openai/v1/*` and `/gateway/anthropic/v1/*`: the provider APIs, passed through
//! `services::gateway` (authorized, forwarded, priced, recorded). Every answer, the gateway's
//! own refusals included, is in the provider's shape so its SDKs read it.
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use super::extract::Payload;
use crate::domain::gateway::Provider;
use crate::server::services::gateway::{forward, Deps};
use crate::server::state::AppState;

pub async fn openai_handler(
    State(st): State<AppState>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Payload, crate::error::AppError>,
) -> Response {
    handle(st, Provider::OpenAi, method, path, query, headers, body).await
}

pub async fn anthropic_handler(
    State(st): State<AppState>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Payload, crate::error::AppError>,
) -> Response {
    handle(st, Provider::Anthropic, method, path, query, headers, body).await
}

async fn handle(
    st: AppState,
    provider: Provider,
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Result<Payload, crate::error::AppError>,
) -> Response {
    let body = match body {
        Ok(b) => b.bytes,
        Err(e) => {
            return crate::server::services::gateway::provider_error(
                provider,
                e.status(),
                e.code(),
                &e.to_string(),
                None,
            )
        }
    };
    let deps =
        Deps { db: &st.db, prices: &st.prices, guard: &st.guard, keys: &st.keys, gateway: &st.gateway };
    forward(deps, provider, method, &path, query.as_deref(), headers, body).await
}
