//! `/`, `/health`, `/ready` and `/metrics` with a working database, and a server that
//! lives on past its shutdown timeout.

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
    ready_is_200_with_a_database,
    metrics_are_prometheus_text_with_what_happened,
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

/// Operators scrape `/metrics`: Prometheus text that counts what clients did.
/// (The recorder is shared by every server of this test process: the counts are at
/// least what this test did.)
async fn metrics_are_prometheus_text_with_what_happened(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    ws.ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    ws.ask("task.get", "g1", json!({"task_id": 999_999})).await;
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();
    for needle in [
        "taskwire_connections ",
        r#"taskwire_frames_total{type="task.create",outcome="ok"}"#,
        r#"taskwire_frames_total{type="task.get",outcome="not_found"}"#,
        r#"taskwire_errors_total{code="not_found",transport="ws"}"#,
        "taskwire_request_seconds_bucket",
        "taskwire_commit_seconds_bucket",
        "taskwire_commit_batch_size_bucket",
        r#"taskwire_db_pool_connections{state="in_use"}"#,
    ] {
        assert!(text.contains(needle), "no {needle} in:\n{text}");
    }
    // Every sample line is `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
}
