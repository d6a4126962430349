//! Axum handlers of the machine APIs (API keys) and of the file endpoints (sessions), one
//! file per resource. Shared extractors live in `extract`; every error answer is built by
//! `impl IntoResponse for AppError` (`crate::error`), never by hand.
pub mod auth;
pub mod authorize;
pub mod exports;
pub mod extract;
pub mod gateway;
pub mod ingest;
pub mod otlp;
pub mod problem;
pub mod records;
pub mod spend;
pub mod uploads;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub const CSV: &str = "text/csv; charset=utf-8";

/// A download: the body with its content type, saved by the browser as `file`.
pub fn attachment(body: impl IntoResponse, content_type: &'static str, file: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
