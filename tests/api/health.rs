//! `/`, `/health` and `/ready` with a working database, and a server that lives on
//! past its shutdown timeout.

use serde_json::json;

use crate::helpers::{
    app::{Options, spawn_app, spawn_with},
    db::Backend,
    ws::req,
};
use crate::on_both_backends;

on_both_backends!(
    root_names_the_service_and_version,
    health_reports_a_connected_database,
    ready_is_200_with_a_database
);

async fn root_names_the_service_and_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.root().await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.body,
        json!({"message": "Todo Chatbot API is running", "version": env!("CARGO_PKG_VERSION")})
    );
}

async fn health_reports_a_connected_database(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.health().await.body,
        json!({"status": "healthy", "service": "todo-chatbot-api", "database": "connected", "version": env!("CARGO_PKG_VERSION")})
    );
}

async fn ready_is_200_with_a_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.ready().await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.body,
        json!({"status": "ready", "database": "connected"})
    );
}

/// `SHUTDOWN_TIMEOUT_SECS` bounds a stop, not the server's life: past it, HTTP and
/// WebSocket still answer.
#[tokio::test]
async fn the_server_outlives_its_shutdown_timeout() {
    let app = spawn_with(
        Backend::Sqlite,
        Options::with_env(&[("SHUTDOWN_TIMEOUT_SECS", "1")]),
    )
    .await;
    let (mut ws, _) = app.ws("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(app.health().await.status, 200);
    let pong = ws.request(req("ping", "p", json!({}))).await;
    assert_eq!(pong["type"], "pong");
}
