//! `POST /api/v1/authorize` and `POST /api/v1/authorize/{id}/settle`: guardrails before a
//! model call (API key with scope `authorize`). The caller states who and what (model,
//! provider, estimated input tokens, `max_tokens`); the answer is `allow` with a reservation
//! holding the worst case against every spend cap, or `deny` naming every rule that denied:
//! 402 for a budget, 429 for a rate limit, 403 for the others. Settle with the exact cost or
//! the usage; an unsettled reservation is released when it expires.
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::extract::{scoped_key, Payload};
use crate::domain::api_key::Scope;
use crate::domain::guardrail::parse_call;
use crate::error::AppError;
use crate::server::db::OrgId;
use crate::server::services::guardrails::{authorize_bearer, parse_settlement, settle};
use crate::server::services::keys;
use crate::server::state::AppState;

fn json_body(body: &Payload) -> Result<serde_json::Value, AppError> {
    serde_json::from_slice(&body.bytes)
        .map_err(|e| AppError::Malformed(format!("line {}, column {}: {e}", e.line(), e.column())))
}

pub async fn authorize_handler(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, AppError> {
    // the key is checked in the guard's lane with the batch's other keys (one read for all),
    // and before the body's errors are answered
    let auth = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (prefix, secret) = keys::bearer(auth)?;
    let call = json_body(&body)
        .and_then(|v| parse_call(&v).map_err(|(f, r)| AppError::Invalid(format!("{f}: {r}"))));
    let (db, prices, guard) = (&st.db, &st.prices, &st.guard);
    let decision = authorize_bearer(db, prices, guard, &st.keys, prefix, secret, call, Utc::now()).await?;
    let status = StatusCode::from_u16(decision.status()).expect("a status");
    let mut res = (status, axum::Json(&decision)).into_response();
    if let (429 | 503, Some(secs)) = (decision.status(), decision.retry_after_secs) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    // a gateway that reads only headers still sees the warnings (soft caps, thresholds,
    // shadow rules): their codes, each once
    let mut codes: Vec<&str> = decision.warnings.iter().map(|w| w.code.as_str()).collect();
    codes.dedup();
    if !codes.is_empty() {
        let value = axum::http::HeaderValue::from_str(&codes.join(",")).expect("codes are ASCII");
        res.headers_mut().insert("x-costroom-warnings", value);
    }
    Ok(res)
}

pub async fn settle_handler(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, AppError> {
    let key = scoped_key(&st, &headers, Scope::Authorize).await?;
    let how = parse_settlement(&json_body(&body)?)?;
    let closed = settle(&st.db, &st.prices, OrgId(key.org_id), &id, how, Utc::now()).await?;
    Ok(axum::Json(serde_json::json!({
        "reservation_id": id,
        "status": closed.status,
        "held_nanos": closed.amount.0,
        "cost_nanos": closed.actual.map(|a| a.0),
    }))
    .into_response())
}
