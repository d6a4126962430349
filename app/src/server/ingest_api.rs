//! `POST /api/v1/events`: usage events from machines (API key with scope `ingest`). The body
//! is a JSON array or NDJSON, optionally gzip-compressed (`Content-Encoding: gzip`).
//!
//! Answers: 200 with counts (`accepted`, `duplicates`, `rejected`, `unpriced`) and one error
//! per refused item (`index`, `field`, `reason`); 422 when every item was refused; 400 for a
//! body that is not JSON (with line and column); 413 naming the limit for a body over
//! 16 MiB (after decompression) or a batch over 10,000 items; 401/403 for keys.
use std::io::Read;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::db::{ApiKeyRow, OrgId};
use super::services;
use super::state::AppState;
use crate::domain::api_key::Scope;
use crate::domain::ingest::{parse_body, BodyError, MAX_BODY_BYTES};
use crate::error::AppError;

pub(crate) fn problem(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn too_large() -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body: larger than the limit of {MAX_BODY_BYTES} bytes (16 MiB, after decompression); split the batch"),
    )
}

fn key_error(e: AppError) -> Response {
    let mut res = problem(e.status(), e.to_string());
    if e.status() == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// The `ingest`-scoped key of the request, or the answer refusing it.
pub(crate) async fn ingest_key(st: &AppState, headers: &HeaderMap) -> Result<ApiKeyRow, Response> {
    scoped_key(st, headers, Scope::Ingest).await
}

/// The request's key if it holds `scope`, or the answer refusing it.
pub(crate) async fn scoped_key(
    st: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<ApiKeyRow, Response> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    services::keys::authenticate(&st.db, &st.keys, auth, Some(scope), Utc::now()).await.map_err(key_error)
}

/// The body, gunzipped when `Content-Encoding: gzip`, at most [`MAX_BODY_BYTES`] either way
/// (a small gzip body may inflate to gigabytes).
pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    let Ok(raw) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else { return Err(too_large()) };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    // one byte past the limit tells "exactly at" from "over"
    let decoder = flate2::read::GzDecoder::new(&raw[..]);
    if let Err(e) = decoder.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut out) {
        return Err(problem(StatusCode::BAD_REQUEST, format!("body: not valid gzip ({e})")));
    }
    if out.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(out)
}

pub async fn events_handler(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let key = match ingest_key(&st, &headers).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let items = match parse_body(&bytes) {
        Ok(items) => items,
        Err(e @ BodyError::TooManyItems { .. }) => {
            return problem(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let book = match st.prices.book(&st.db, OrgId(key.org_id)).await {
        Ok(b) => b,
        Err(e) => return problem(e.status(), e.to_string()),
    };
    match services::ingest::ingest(&st.db, &book, &key, &items).await {
        Ok(report) => {
            let status = if !items.is_empty() && report.rejected == items.len() as u64 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(report)).into_response()
        }
        Err(e) => problem(e.status(), e.to_string()),
    }
}
