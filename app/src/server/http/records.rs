//! `POST /api/v1/ledger/{gpu-usage,training-runs,commitments}`: spend records from machines
//! (API key with scope `ingest`). The body is CSV with a header row (`Content-Type: text/csv`)
//! or a JSON array / object / NDJSON, optionally gzip-compressed; the field names are the same
//! either way (see the OpenAPI document).
//!
//! Answers: 200 with `accepted`, `rejected`, `cost` and one error per refused record (`at`: its
//! 1-based number, or its CSV line; `field`; `reason`); 422 when every record was refused;
//! 400 for a body that cannot be read; 401/403 for keys.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{scoped_key, Payload};
use crate::domain::api_key::Scope;
use crate::error::AppError;
use crate::server::db::{Actor, ApiKeyRow, OrgId};
use crate::server::services::records::{parse_records, record, RawRecord, RecordKind};
use crate::server::state::AppState;

/// The records of a body: CSV with `Content-Type: text/csv`, else JSON.
fn records_of(body: &Payload) -> Result<Vec<RawRecord>, AppError> {
    parse_records(&body.bytes, body.is("text/csv")).map_err(AppError::Malformed)
}

/// 422 when every record of a non-empty body was refused, else 200.
fn answer<T: serde::Serialize>(records: &[RawRecord], none_taken: bool, report: T) -> Response {
    let status =
        if !records.is_empty() && none_taken { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, axum::Json(report)).into_response()
}

async fn handle(st: AppState, key: ApiKeyRow, body: Payload, kind: RecordKind) -> Result<Response, AppError> {
    let records = records_of(&body)?;
    let actor = Actor { user: None, label: format!("api key {}", key.prefix) };
    let label = format!("api key {}", key.name);
    let report = record(&st.db, OrgId(key.org_id), &actor, kind, &label, &records).await?;
    Ok(answer(&records, report.accepted == 0, report))
}

pub async fn gpu_usage_handler(
    State(st): State<AppState>,
    key: super::extract::IngestKey,
    body: Payload,
) -> Result<Response, AppError> {
    handle(st, key.0, body, RecordKind::GpuUsage).await
}

pub async fn training_runs_handler(
    State(st): State<AppState>,
    key: super::extract::IngestKey,
    body: Payload,
) -> Result<Response, AppError> {
    handle(st, key.0, body, RecordKind::TrainingRuns).await
}

pub async fn commitments_handler(
    State(st): State<AppState>,
    key: super::extract::IngestKey,
    body: Payload,
) -> Result<Response, AppError> {
    handle(st, key.0, body, RecordKind::Commitments).await
}

/// `POST /api/v1/outcomes`: outcomes from machines (a key with scope `outcomes`, bound to one
/// initiative, made by someone who manages it; `ingest` keys are refused). CSV or JSON, fields
/// as on the outcome form plus `initiative` (its key) and `external_id` (a resend with the same
/// id is skipped).
pub async fn outcomes_handler(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Payload,
) -> Result<Response, AppError> {
    use crate::server::services::initiatives::{import_outcomes, Importer};
    let key = scoped_key(&st, &headers, Scope::Outcomes).await?;
    let records = records_of(&body)?;
    let initiative =
        crate::server::services::keys::outcomes_grant(&st.db, &key).await.map_err(|e| {
            match e {
        AppError::Forbidden => AppError::Denied(
            "this key may not record outcomes: it needs scope outcomes, an initiative, and a creator who \
             still manages that initiative"
                .into(),
        ),
        other => other,
    }
        })?;
    let who = Importer::Key { label: format!("api key {}", key.prefix), initiative };
    let report = import_outcomes(&st.db, OrgId(key.org_id), &who, None, &records).await?;
    let none_taken = report.accepted == 0 && report.duplicates == 0;
    Ok(answer(&records, none_taken, report))
}
