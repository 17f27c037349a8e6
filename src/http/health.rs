//! `/`, `/health` (always 200, says whether the database answers), `/ready` (200 or
//! 503, for load balancers) and `/metrics` (Prometheus).

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::{Value, json};

use crate::{state::AppState, telemetry};

/// Both probes answer within a second even when the database hangs.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

pub async fn root() -> Json<Value> {
    Json(json!({
        "message": "Todo Chatbot API is running",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn database_answers(state: &AppState) -> bool {
    let store = state.service.store();
    let ping = tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await;
    matches!(ping, Ok(Ok(()))) && store.is_migrated()
}

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let up = database_answers(&state).await;
    Json(json!({
        "status": if up { "healthy" } else { "degraded" },
        "service": "todo-chatbot-api",
        "database": if up { "connected" } else { "disconnected" },
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Prometheus text format: connections, frames and errors, latencies, commits, the
/// database pool and the event listener. No user data, so no token is asked for.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (open, idle) = state.service.store().pool_connections();
    metrics::gauge!("taskwire_db_pool_connections", "state" => "in_use")
        .set((open as usize).saturating_sub(idle) as f64);
    metrics::gauge!("taskwire_db_pool_connections", "state" => "idle").set(idle as f64);
    let handle = telemetry::metrics();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if database_answers(&state).await {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": "connected"})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "disconnected"})),
        )
    }
}
