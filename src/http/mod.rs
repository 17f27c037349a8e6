//! HTTP: the legacy REST routes, `/health`, `/ready`, and the shared middleware.

pub mod error;
pub mod extract;
mod health;
mod tasks;

use std::{sync::Arc, time::Duration};

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

use crate::{
    auth::Authenticator,
    config::Settings,
    service::Service,
    ws::{self, Shutdown},
};

/// What every handler can reach.
pub struct State {
    pub service: Service,
    pub auth: Authenticator,
    pub settings: Settings,
    pub shutdown: Shutdown,
}

pub type AppState = Arc<State>;

/// Largest request body accepted by the REST routes.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let tasks = tasks::routes();
    let api = if state.settings.api_prefix.is_empty() {
        tasks
    } else {
        Router::new().nest(&state.settings.api_prefix, tasks)
    };
    Router::new()
        .route("/", get(health::root))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/ws", get(ws::upgrade))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(cors(&state.settings.allowed_origins))
        .layer(
            TraceLayer::new_for_http()
                // The path only: the query string may carry a token.
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
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
    error::error_body(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

async fn method_not_allowed() -> impl IntoResponse {
    error::error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid",
        "Method Not Allowed",
    )
}
