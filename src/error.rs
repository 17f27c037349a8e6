//! The one error type of the service layer.
//!
//! Every failure a client can see is one of these variants. It is mapped once to an
//! HTTP response (`http::error`) and once to a WebSocket `error` frame, so REST and
//! WebSocket clients always get the same code for the same problem.

use std::borrow::Cow;

/// A failure the client is told about, with the stable code it can branch on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A WebSocket frame that is not a request at all (not JSON, no `type`/`id`, binary).
    #[error("{0}")]
    BadFrame(Cow<'static, str>),
    #[error("Unknown request type {0:?}")]
    UnknownType(String),
    #[error("{0}")]
    ResumeGap(Cow<'static, str>),
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    #[error("Token has expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// Input that does not parse into a domain value; `field` names the culprit when known.
    #[error("{message}")]
    Invalid {
        field: Option<Cow<'static, str>>,
        message: Cow<'static, str>,
    },
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    #[error("Too many requests, slow down")]
    RateLimited { retry_after_ms: u64 },
    /// The database cannot be reached right now; the same request may succeed later.
    #[error("Database temporarily unavailable")]
    Unavailable,
    /// A bug or an unexpected database answer. The cause is logged, never sent.
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Error::Unauthorized(message.into())
    }

    /// The machine-readable code shared by REST bodies and WebSocket error frames.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadFrame(_) => "bad_frame",
            Error::UnknownType(_) => "unknown_type",
            Error::ResumeGap(_) => "resume_gap",
            Error::Unauthorized(_) => "unauthorized",
            Error::TokenExpired => "token_expired",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Invalid { .. } => "invalid",
            Error::Conflict(_) => "conflict",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// Whether repeating the same request later can succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Unavailable | Error::RateLimited { .. })
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Error::Unavailable
        } else {
            Error::Internal(err.into())
        }
    }
}
