//! HTTP: the legacy REST routes, `/health`, `/ready`, and the middleware that wraps
//! every route. Handlers are thin adapters: extract domain values, call the service.

pub mod error;
pub mod extract;
mod health;
pub mod limits;
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
    timeout::RequestBodyDeadlineLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{config::Settings, error::ErrorCode, state::AppState};

/// How much longer than `DATABASE_TIMEOUT_SECS` a request body may take to arrive.
const BODY_GRACE: Duration = Duration::from_secs(10);

/// The REST routes under `api_prefix`, `/`, `/health` and `/ready`.
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
        .route("/metrics", get(health::metrics))
        .merge(api)
}

/// What wraps every route, the WebSocket handshake included: the JSON 404/405 for
/// everything else (after the last route is added: axum's 405 fallback covers only
/// the routes it already has), the limits on a request's size and on how long its
/// body may take, CORS, and a span per request.
pub fn middleware(router: Router<AppState>, settings: &Settings) -> Router<AppState> {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(limits::BODY_LIMIT_BYTES))
        .layer(RequestBodyDeadlineLayer::new(
            settings.database.acquire_timeout + BODY_GRACE,
        ))
        .layer(axum::middleware::from_fn(limits::check_head))
        .layer(cors(&settings.allowed_origins))
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
