//! The one error answer of every machine API and file endpoint: `impl IntoResponse for
//! AppError`. Handlers return `Result<_, AppError>` and never build an error response by hand.
//!
//! Shape (JSON): `{"status": 422, "code": "invalid", "error": "…", "field": "…", "line": 3}`.
//! `error` is the message safe to show (kept under that name for existing clients); `field`
//! and `line` are present when the message names them, which every validation message does
//! by its `field: …` or `line N: …` prefix. A 401 carries `WWW-Authenticate: Bearer`, a 503
//! `Retry-After`.
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::error::AppError;

/// Seconds a client is asked to wait before retrying a 503.
pub const RETRY_AFTER_SECS: &str = "2";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        answer(self, status)
    }
}

/// The problem answer of `err` with another status than its own (the load gate answers
/// [`AppError::Busy`] as 429 on ingest routes): the body's `status` is always the answer's.
pub fn answer(err: AppError, status: axum::http::StatusCode) -> Response {
    let message = err.to_string();
    let mut body = Map::new();
    body.insert("status".into(), json!(status.as_u16()));
    body.insert("code".into(), json!(err.code()));
    if let Some((key, value)) = location(&message) {
        body.insert(key.into(), value);
    }
    body.insert("error".into(), json!(message));
    let mut res = (status, axum::Json(Value::Object(body))).into_response();
    match err {
        AppError::Unauthorized => {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        AppError::Busy => {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        _ => {}
    }
    res
}

/// Where a message says the problem is: `line N: …` / `row N: …` → (`line`, N), and
/// `name: …` where `name` looks like a field (letters, digits, `_`, `.`, `[`, `]`, `-`) →
/// (`field`, name). Free text ("the server is busy; …") names nothing.
fn location(message: &str) -> Option<(&'static str, Value)> {
    let (head, _) = message.split_once(": ")?;
    for prefix in ["line ", "row "] {
        if let Some(n) = head.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok()) {
            return Some(("line", json!(n)));
        }
    }
    let is_field = !head.is_empty()
        && head.len() <= 64
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.[]-".contains(&b));
    is_field.then(|| ("field", json!(head)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    async fn body(res: Response) -> Value {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn one_shape_for_every_kind() {
        let cases = [
            (
                AppError::invalid("amount: '1,5' is ambiguous"),
                422,
                "invalid",
                Some(("field", json!("amount"))),
            ),
            (
                AppError::Malformed("line 3: unterminated quote".into()),
                400,
                "malformed",
                Some(("line", json!(3))),
            ),
            (
                AppError::TooLarge("body: larger than 16 MiB".into()),
                413,
                "too_large",
                Some(("field", json!("body"))),
            ),
            (AppError::Forbidden, 403, "forbidden", None),
            (AppError::NotFound("budget".into()), 404, "not_found", None),
            (AppError::Internal, 500, "internal", None),
        ];
        for (e, status, code, loc) in cases {
            let message = e.to_string();
            let res = e.into_response();
            assert_eq!(res.status().as_u16(), status);
            let v = body(res).await;
            assert_eq!(v["status"], json!(status));
            assert_eq!(v["code"], json!(code));
            assert_eq!(v["error"], json!(message));
            match loc {
                Some((k, want)) => assert_eq!(v[k], want, "{message}"),
                None => assert!(v.get("field").is_none() && v.get("line").is_none(), "{message}"),
            }
        }
    }

    #[tokio::test]
    async fn unauthorized_asks_for_a_bearer_and_busy_says_when_to_retry() {
        let res = AppError::Unauthorized.into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let res = AppError::Busy.into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
        let v = body(res).await;
        assert!(v.get("field").is_none(), "free text names no field: {v}");
    }
}
