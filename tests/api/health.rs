use serde_json::json;

use crate::helpers::{Backend, Options, spawn_app, spawn_with};
use crate::on_both_backends;
use crate::ws_client::req;

on_both_backends!(
    root_names_the_service_and_version,
    health_reports_a_connected_database,
    ready_is_200_with_a_database
);

async fn root_names_the_service_and_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"message": "Todo Chatbot API is running", "version": env!("CARGO_PKG_VERSION")})
    );
}

async fn health_reports_a_connected_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: serde_json::Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"status": "healthy", "service": "todo-chatbot-api", "database": "connected", "version": env!("CARGO_PKG_VERSION")})
    );
}

async fn ready_is_200_with_a_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, json!({"status": "ready", "database": "connected"}));
}

/// `SHUTDOWN_TIMEOUT_SECS` bounds a stop, not the server's life: past it, HTTP and
/// WebSocket still answer.
#[tokio::test]
async fn the_server_outlives_its_shutdown_timeout() {
    let app = spawn_with(
        Backend::Sqlite,
        Options {
            env: vec![("SHUTDOWN_TIMEOUT_SECS", "1".into())],
            ..Default::default()
        },
    )
    .await;
    let (mut ws, _) = app.ws("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let res = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let pong = ws.request(req("ping", "p", json!({}))).await;
    assert_eq!(pong["type"], "pong");
}
