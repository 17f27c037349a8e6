//! Limits on a request's head, checked before any handler runs or any body byte is
//! read, so that each is refused with the JSON error body (design §9, Hardening).
//!
//! hyper has limits of its own, set above these (`server.rs`), so a request over
//! ours still reaches this check. Past hyper's, hyper answers a bare 431 (no body)
//! and closes the connection: it never builds such a request, so nothing of ours
//! can run.

use axum::{
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::Response,
};

use super::error::error_body;
use crate::error::ErrorCode;

/// Largest request body (design §9).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// Longest request target (path and query).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest sum of the header lines (`name: value\r\n`).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header lines. hyper's own cap is 100.
pub const MAX_HEADERS: usize = 64;
/// hyper's cap on the whole head (request line and headers).
pub const HYPER_MAX_HEAD_BYTES: usize = 64 * 1024;

/// 414 for a URI over `MAX_URI_BYTES`, 431 for headers over `MAX_HEADERS` or
/// `MAX_HEADER_BYTES`, and 413 for a `Content-Length` over `BODY_LIMIT_BYTES`: at
/// once, without waiting for a body the server would refuse anyway.
pub async fn check_head(request: Request, next: Next) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return error_body(
            StatusCode::URI_TOO_LONG,
            ErrorCode::Invalid,
            "The request URI is too long (at most 8 KiB)",
        );
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return error_body(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::Invalid,
            "The request headers are too large (at most 64 lines, 32 KiB in all)",
        );
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT_BYTES as u64) {
        return error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Invalid,
            "The request body is too large (at most 1 MiB)",
        );
    }
    next.run(request).await
}
