//! `POST /api/v1/events`: usage events from machines (API key with scope `ingest`). The body
//! is a JSON array or NDJSON, optionally gzip-compressed (`Content-Encoding: gzip`).
//!
//! Answers: 200 with counts (`accepted`, `duplicates`, `rejected`, `unpriced`) and one error
//! per refused item (`index`, `field`, `reason`); 422 when every item was refused; 400 for a
//! body that is not JSON (with line and column); 413 naming the limit for a body over
//! 16 MiB (after decompression) or a batch over 10,000 items; 401/403 for keys.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{IngestKey, Payload};
use crate::domain::ingest::{parse_body, BodyError};
use crate::error::AppError;
use crate::server::services;
use crate::server::state::AppState;

pub async fn events_handler(
    State(st): State<AppState>,
    key: IngestKey,
    body: Payload,
) -> Result<Response, AppError> {
    let items = parse_body(&body.bytes).map_err(|e| match e {
        BodyError::TooManyItems { .. } => AppError::TooLarge(e.to_string()),
        e => AppError::Malformed(e.to_string()),
    })?;
    let report = services::ingest::ingest(&st.db, &st.prices, &key.0, &items).await?;
    let status = if !items.is_empty() && report.rejected == items.len() as u64 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(report)).into_response())
}
