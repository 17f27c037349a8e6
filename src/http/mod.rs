//! HTTP: the legacy REST routes, `/health`, `/ready`, and the middleware that wraps
//! every route. Handlers are thin adapters: extract domain values, call the service.

pub mod error;
pub mod extract;
mod health;
mod tasks;

use std::time::Duration;

use axum::{
    Router,
    http::{HeaderValue, Request, StatusCode, request::Parts},
    response::IntoResponse,
    routing::get,
};
use tower_http::{
    cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{error::ErrorCode, state::AppState};

/// Largest request body accepted by the REST routes.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The REST routes under `api_prefix`, `/`, `/health`, `/ready`, and the JSON
/// 404/405 bodies for everything else.
pub fn routes(api_prefix: &str) -> Router<AppState> {
    let tasks = tasks::routes();
    let api = if api_prefix.is_empty() {
        tasks
    } else {
        Router::new().nest(api_prefix, tasks)
    };
    Router::new()
        .route("/", get(health::root))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// What wraps every route, the WebSocket handshake included: the body limit, CORS,
/// and a span per request.
pub fn middleware(router: Router<AppState>, allowed_origins: &[String]) -> Router<AppState> {
    router
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(cors(allowed_origins))
        .layer(
            TraceLayer::new_for_http()
                // The path only: the query string may carry a token.
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}
fn cors(allowed: &[String]) -> CorsLayer {
    let allowed = allowed.to_vec();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(
            move |origin: &HeaderValue, _: &Parts| {
                let origin = origin.as_bytes();
                allowed.iter().any(|a| a == "*" || a.as_bytes() == origin)
            },
        ))
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

async fn not_found() -> impl IntoResponse {
    error::error_body(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not Found")
}

async fn method_not_allowed() -> impl IntoResponse {
    error::error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Invalid,
        "Method Not Allowed",
    )
}
