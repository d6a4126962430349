//! `POST /v1/traces`: OTLP/HTTP trace export (protobuf or JSON, optionally gzip), so an
//! OpenTelemetry SDK or collector can send GenAI spans straight to Costroom with an API key
//! (scope `ingest`) in its `Authorization` header. Spans become usage events (see
//! `domain::otlp`); the answer is an `ExportTraceServiceResponse` in the request's encoding,
//! with `partialSuccess` counting spans that could not be read.
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use prost::Message;

use super::extract::{IngestKey, Payload};
use crate::domain::otlp;
use crate::error::AppError;
use crate::server::formats::otlp::{proto, spans_from_protobuf};
use crate::server::services;
use crate::server::state::AppState;

pub async fn traces_handler(
    State(st): State<AppState>,
    key: IngestKey,
    body: Payload,
) -> Result<Response, AppError> {
    let json = body.is("application/json");
    let spans = if json { otlp::parse_json(&body.bytes) } else { spans_from_protobuf(&body.bytes) };
    let spans = spans.map_err(|e| {
        // the same status and words as the JSON API's batch limit
        if e == otlp::too_many_spans() {
            AppError::TooLarge(e)
        } else {
            AppError::Malformed(e)
        }
    })?;
    let mapping = services::settings::attribute_mapping(&st.db, key.org()).await?;
    let mapped = otlp::spans_to_events(&spans, &mapping);
    let report =
        services::ingest::store(&st.db, &st.prices, key.org(), Some(&key.0), mapped.events, mapped.errors)
            .await?;
    let message = report
        .errors
        .iter()
        .map(|e| format!("span {}: {}: {}", e.index, e.field, e.reason))
        .collect::<Vec<_>>()
        .join("; ");
    let partial = (report.rejected > 0).then(|| proto::ExportTracePartialSuccess {
        rejected_spans: report.rejected as i64,
        error_message: message.clone(),
    });
    Ok(if json {
        let body = match &partial {
            Some(p) => {
                serde_json::json!({ "partialSuccess": { "rejectedSpans": p.rejected_spans, "errorMessage": p.error_message } })
            }
            None => serde_json::json!({}),
        };
        axum::Json(body).into_response()
    } else {
        let body = proto::ExportTraceServiceResponse { partial_success: partial }.encode_to_vec();
        let mut res = body.into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        res
    })
}
