//! Extractors every machine API shares: the caller's API key holding a scope, and the
//! request body with gzip and size limits. Each refuses with an [`AppError`], answered by
//! `http::problem`.
use std::io::Read;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use chrono::Utc;

use crate::domain::api_key::Scope;
use crate::domain::ingest::MAX_BODY_BYTES;
use crate::error::AppError;
use crate::server::db::{ApiKeyRow, OrgId};
use crate::server::services;
use crate::server::state::AppState;

/// The request's API key, which holds scope `ingest`.
pub struct IngestKey(pub ApiKeyRow);

impl IngestKey {
    pub fn org(&self) -> OrgId {
        OrgId(self.0.org_id)
    }
}

impl FromRequestParts<AppState> for IngestKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, AppError> {
        scoped_key(st, &parts.headers, Scope::Ingest).await.map(IngestKey)
    }
}

/// The request's key if it holds `scope` (every kind of bad key is the same 401; a good key
/// without the scope is 403).
pub async fn scoped_key(st: &AppState, headers: &HeaderMap, scope: Scope) -> Result<ApiKeyRow, AppError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    services::keys::authenticate(&st.db, &st.keys, auth, Some(scope), Utc::now()).await
}

/// The body, gunzipped when `Content-Encoding: gzip`, at most [`MAX_BODY_BYTES`] either way
/// (a small gzip body may inflate to gigabytes), with the request's content type.
pub struct Payload {
    pub bytes: Vec<u8>,
    content_type: String,
}

impl Payload {
    /// True when the declared content type starts with `mime` (case and spaces ignored).
    pub fn is(&self, mime: &str) -> bool {
        self.content_type.trim_start().to_ascii_lowercase().starts_with(mime)
    }
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let content_type =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = read_body(&parts.headers, body).await?;
        Ok(Payload { bytes, content_type })
    }
}

fn too_large() -> AppError {
    AppError::TooLarge(format!(
        "body: larger than the limit of {MAX_BODY_BYTES} bytes (16 MiB, after decompression); split the batch"
    ))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, AppError> {
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
        return Err(AppError::Malformed(format!("body: not valid gzip ({e})")));
    }
    if out.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(out)
}
