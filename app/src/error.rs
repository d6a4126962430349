//! The one error type that crosses the wire. Every message is safe to show to users; causes
//! are logged on the server by [`internal`] and never sent.
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("please sign in")]
    Unauthorized,
    #[error("you don't have access to this")]
    Forbidden,
    /// Refused with a reason the caller can act on (403).
    #[error("{0}")]
    Denied(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Validation failure; the text names the field and what was wrong with it.
    #[error("{0}")]
    Invalid(String),
    /// Anything unexpected; the cause was logged server-side.
    #[error("something went wrong")]
    Internal,
    /// The database could not take the work in time (pool exhausted, SQLite writer busy):
    /// answered 503 with `Retry-After`, never 500, since trying again later will work.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// A body that cannot be read at all (not JSON, not gzip, not protobuf): 400.
    #[error("{0}")]
    Malformed(String),
    /// A body or batch past a documented size limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// server_fn plumbing (network, decoding).
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    /// A stable machine-readable name of the kind, the `code` of the JSON problem answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden | Self::Denied(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid",
            Self::Malformed(_) => "malformed",
            Self::TooLarge(_) => "too_large",
            Self::Internal => "internal",
            Self::Busy => "busy",
            Self::Transport(_) => "transport",
        }
    }

    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::Unauthorized => S::UNAUTHORIZED,
            Self::Forbidden | Self::Denied(_) => S::FORBIDDEN,
            Self::NotFound(_) => S::NOT_FOUND,
            Self::Invalid(_) => S::UNPROCESSABLE_ENTITY,
            Self::Malformed(_) => S::BAD_REQUEST,
            Self::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
            Self::Busy => S::SERVICE_UNAVAILABLE,
            Self::Internal | Self::Transport(_) => S::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        Self::Transport(e.to_string())
    }
}

impl From<ServerFnErrorErr> for AppError {
    fn from(e: ServerFnErrorErr) -> Self {
        Self::from_server_fn_error(e)
    }
}

/// Logs the cause and returns the opaque [`AppError::Internal`].
#[cfg(feature = "ssr")]
pub fn internal(e: impl std::fmt::Debug) -> AppError {
    tracing::error!(error = ?e, "internal error");
    AppError::Internal
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(over) = crate::server::db::OverLimit::of(&e) {
            return Self::Invalid(over.0.clone());
        }
        if is_busy(&e) {
            tracing::warn!(error = ?e, "database busy");
            return Self::Busy;
        }
        match e {
            sqlx::Error::RowNotFound => Self::NotFound("record".into()),
            other => internal(other),
        }
    }
}

/// Errors that say "not now" rather than "wrong": a pool with no free connection in time,
/// SQLite's busy/locked (another process held the file past `busy_timeout`), PostgreSQL out of
/// connections.
#[cfg(feature = "ssr")]
pub fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            let code = d.code();
            // SQLITE_BUSY 5, SQLITE_LOCKED 6 (extended codes keep them in the low byte);
            // PostgreSQL 53300 too_many_connections, 57P03 cannot_connect_now, and the
            // conflicts a retry resolves: 40001 serialization_failure, 40P01 deadlock_detected,
            // 55P03 lock_not_available
            let sqlite_busy = code
                .as_deref()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy
                || matches!(code.as_deref(), Some("53300" | "57P03" | "40001" | "40P01" | "55P03"))
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

#[cfg(all(test, feature = "ssr"))]
mod busy_tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_busy_not_internal() {
        let e: AppError = sqlx::Error::PoolTimedOut.into();
        assert_eq!(e, AppError::Busy);
        assert_eq!(e.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let e: AppError = sqlx::Error::RowNotFound.into();
        assert_eq!(e.status(), http::StatusCode::NOT_FOUND);
    }
}
