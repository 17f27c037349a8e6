//! A database made by the old FastAPI backend is adopted, not replaced: its rows come
//! back through the REST routes unchanged and it keeps working.

use serde_json::json;

use crate::helpers::{
    app::{Options, TestApp, spawn_with},
    db::Backend,
    json::ids,
};
use crate::on_both_backends;

const SQLITE_DUMP: &str = include_str!("../fixtures/legacy_sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("../fixtures/legacy_postgres.sql");

on_both_backends!(
    legacy_rows_are_served_unchanged,
    legacy_database_keeps_working
);

async fn spawn_on_legacy(backend: Backend) -> TestApp {
    let dump = match backend {
        Backend::Sqlite => SQLITE_DUMP,
        Backend::Postgres { .. } => POSTGRES_DUMP,
    };
    spawn_with(
        backend,
        Options {
            preload: Some(dump),
            ..Default::default()
        },
    )
    .await
}

async fn legacy_rows_are_served_unchanged(backend: Backend) {
    let app = spawn_on_legacy(backend).await;

    let res = app.get_tasks("alice", "sort=created&order=asc").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.body,
        json!({
            "tasks": [
                {
                    "id": 1, "user_id": "alice", "title": "Buy milk", "description": "2 liters",
                    "completed": false, "priority": "high", "due_date": "2026-03-01T09:30:00Z",
                    "created_at": "2026-02-14T10:00:00.123456Z", "updated_at": "2026-02-14T10:00:00.123456Z"
                },
                {
                    "id": 2, "user_id": "alice", "title": "Write report", "description": null,
                    "completed": true, "priority": "normal", "due_date": null,
                    "created_at": "2026-02-15T08:00:00Z", "updated_at": "2026-02-16T08:00:00Z"
                }
            ],
            "total_count": 2,
            "filtered_count": 2
        })
    );

    let res = app.get_task("bob", 3).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["title"], "Bob's task");
    assert_eq!(res.body["priority"], "low");

    // Another user's legacy row stays hidden.
    app.get_task("bob", 1).await.assert_error(404, "not_found");

    let res = app.get_tasks("alice", "status=completed").await;
    assert_eq!(res.body["filtered_count"], 1);
    assert_eq!(res.body["tasks"][0]["id"], 2);
}

async fn legacy_database_keeps_working(backend: Backend) {
    let app = spawn_on_legacy(backend).await;

    // New rows continue the old id sequence.
    let created = app.create_titled("alice", "Call mom").await;
    assert_eq!(created["id"], 4);

    // Old rows can be changed and deleted.
    let res = app.put_task("alice", 1, json!({"completed": true})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["completed"], true);
    assert_eq!(res.body["description"], "2 liters");
    assert_eq!(res.body["due_date"], "2026-03-01T09:30:00Z");
    assert_eq!(res.body["created_at"], "2026-02-14T10:00:00.123456Z");

    let res = app.delete_task("alice", 2).await;
    assert_eq!(res.status, 204);

    let res = app.get_tasks("alice", "").await;
    assert_eq!(res.body["total_count"], 2);
    assert_eq!(ids(&res.body["tasks"]), [4, 1], "newest first by default");
}
