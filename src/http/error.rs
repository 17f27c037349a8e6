//! How an `Error` looks on HTTP: the old backend's error body, on every 4xx/5xx.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::error::{Error, ErrorCode};

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized(_) | Error::TokenExpired => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadFrame(_) | Error::UnknownType(_) => StatusCode::BAD_REQUEST,
            Error::ResumeGap(_) => StatusCode::GONE,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"success": false, "error": code, "message": …, "detail": …}`; clients read `detail` or `message`.
pub fn error_body(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(body(code, message))).into_response()
}

fn body(code: ErrorCode, message: &str) -> serde_json::Value {
    json!({ "success": false, "error": code, "message": message, "detail": message })
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error");
        }
        // REST keeps the old contract: an expired token is a plain `unauthorized`.
        let code = match self {
            Error::TokenExpired => ErrorCode::Unauthorized,
            ref other => other.code(),
        };
        metrics::counter!("taskwire_errors_total", "code" => code.as_str(), "transport" => "http")
            .increment(1);
        let message = self.to_string();
        let mut body = body(code, &message);
        if let Error::Invalid {
            field: Some(field), ..
        } = &self
        {
            body["field"] = json!(field);
        }
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Error::Unauthorized(_) | Error::TokenExpired => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited { retry_after_ms } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_ms.div_ceil(1000)),
                );
            }
            _ => {}
        }
        response
    }
}
