//! `/`, `/health` (always 200, says whether the database answers) and `/ready`
//! (200 or 503, for load balancers).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::{Value, json};

use crate::state::AppState;

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
