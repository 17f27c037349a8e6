//! The one error type of the service layer.
//!
//! Every failure a client can see is one of these variants. It is mapped once to an
//! HTTP response (`http::error`) and once to a WebSocket `error` frame
//! (`protocol::ServerFrame::error`), so REST and
//! WebSocket clients always get the same code for the same problem.

use std::{borrow::Cow, fmt};

use schemars::JsonSchema;
use serde::Serialize;

/// The stable codes clients branch on (design §6), the same on REST and WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    UnknownType,
    Invalid,
    NotFound,
    Forbidden,
    Unauthorized,
    TokenExpired,
    RateLimited,
    Conflict,
    ResumeGap,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ResumeGap => "resume_gap",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::BadFrame(_) => ErrorCode::BadFrame,
            Error::UnknownType(_) => ErrorCode::UnknownType,
            Error::ResumeGap(_) => ErrorCode::ResumeGap,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::TokenExpired => ErrorCode::TokenExpired,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Invalid { .. } => ErrorCode::Invalid,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Unavailable => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether repeating the same request later can succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Unavailable | Error::RateLimited { .. })
    }
}
