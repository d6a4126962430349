//! `POST /api/v1/ledger/{gpu-usage,training-runs,commitments}`: spend records from machines
//! (API key with scope `ingest`). The body is CSV with a header row (`Content-Type: text/csv`)
//! or a JSON array / object / NDJSON, optionally gzip-compressed; the field names are the same
//! either way (see the OpenAPI document).
//!
//! Answers: 200 with `accepted`, `rejected`, `cost` and one error per refused record (`at`: its
//! 1-based number, or its CSV line; `field`; `reason`); 422 when every record was refused;
//! 400 for a body that cannot be read; 401/403 for keys.
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::db::{Actor, ApiKeyRow, OrgId};
use super::ingest_api::{problem, read_body, scoped_key};
use super::services::records::{parse_records, record, RecordKind};
use super::state::AppState;
use crate::domain::api_key::Scope;

/// The ingest key of the request and its records (CSV with `Content-Type: text/csv`, else
/// JSON), or the response refusing it.
async fn keyed_records(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
    scope: Scope,
) -> Result<(ApiKeyRow, Vec<super::services::records::RawRecord>), Response> {
    let key = scoped_key(st, headers, scope).await?;
    let bytes = read_body(headers, body).await?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
    let records = parse_records(&bytes, csv).map_err(|e| problem(StatusCode::BAD_REQUEST, e))?;
    Ok((key, records))
}

async fn handle(st: AppState, headers: HeaderMap, body: Body, kind: RecordKind) -> Response {
    let (key, records) = match keyed_records(&st, &headers, body, Scope::Ingest).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let actor = Actor { user: None, label: format!("api key {}", key.prefix) };
    let label = format!("api key {}", key.name);
    match record(&st.db, OrgId(key.org_id), &actor, kind, &label, &records).await {
        Ok(report) => {
            let status = if !records.is_empty() && report.accepted == 0 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(report)).into_response()
        }
        Err(e) => problem(e.status(), e.to_string()),
    }
}

pub async fn gpu_usage_handler(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(st, headers, body, RecordKind::GpuUsage).await
}

pub async fn training_runs_handler(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(st, headers, body, RecordKind::TrainingRuns).await
}

pub async fn commitments_handler(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(st, headers, body, RecordKind::Commitments).await
}

/// `POST /api/v1/outcomes`: outcomes from machines (a key with scope `outcomes`, bound to one
/// initiative, made by someone who manages it; `ingest` keys are refused). CSV or JSON, fields as on the outcome form plus
/// `initiative` (its key) and `external_id` (a resend with the same id is skipped).
pub async fn outcomes_handler(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    use super::services::initiatives::{import_outcomes, Importer};
    let (key, records) = match keyed_records(&st, &headers, body, Scope::Outcomes).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let initiative = match super::services::keys::outcomes_grant(&st.db, &key).await {
        Ok(i) => i,
        Err(e) => return problem(e.status(), "this key may not record outcomes: it needs scope outcomes, an initiative, and a creator who still manages that initiative".into()),
    };
    let who = Importer::Key { label: format!("api key {}", key.prefix), initiative };
    match import_outcomes(&st.db, OrgId(key.org_id), &who, None, &records).await {
        Ok(report) => {
            let status = if !records.is_empty() && report.accepted == 0 && report.duplicates == 0 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(report)).into_response()
        }
        Err(e) => problem(e.status(), e.to_string()),
    }
}
