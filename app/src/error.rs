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
    #[error("{0} not found")]
    NotFound(String),
    /// Validation failure; the text names the field and what was wrong with it.
    #[error("{0}")]
    Invalid(String),
    /// Anything unexpected; the cause was logged server-side.
    #[error("something went wrong")]
    Internal,
    /// server_fn plumbing (network, decoding).
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::Unauthorized => S::UNAUTHORIZED,
            Self::Forbidden => S::FORBIDDEN,
            Self::NotFound(_) => S::NOT_FOUND,
            Self::Invalid(_) => S::UNPROCESSABLE_ENTITY,
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
        match e {
            sqlx::Error::RowNotFound => Self::NotFound("record".into()),
            other => internal(other),
        }
    }
}
