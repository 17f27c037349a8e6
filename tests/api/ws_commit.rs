//! An ack means committed: what a `/ws` request acked is there at once for REST and
//! for a fresh socket.

use serde_json::json;

use crate::helpers::{
    app::spawn_app,
    db::Backend,
    json::id,
    ws::{read_ack, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    acked_task_changes_are_visible_over_rest_at_once,
    acked_message_is_in_history_on_a_fresh_socket,
);

async fn acked_task_changes_are_visible_over_rest_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    let (task, _) = write_ack(&ack, "c1");
    let task_id = id(&task);
    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.status, 200, "created: {}", res.text);
    assert_eq!(res.body, task);
    assert_eq!(app.list_tasks("alice", "").await["tasks"], json!([task]));

    let fields = json!({"task_id": task_id, "title": "Buy oat milk"});
    let (updated, _) = write_ack(&ws.ask("task.update", "u1", fields).await, "u1");
    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body, updated);

    let ack = ws
        .ask("task.delete", "d1", json!({"task_id": task_id}))
        .await;
    write_ack(&ack, "d1");
    app.get_task("alice", task_id)
        .await
        .assert_error(404, "not_found");
    assert_eq!(app.list_tasks("alice", "").await["total_count"], 0);
}

async fn acked_message_is_in_history_on_a_fresh_socket(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let data = ws
        .append_message("m1", json!({"content": "Remember the milk"}))
        .await;
    let conversation_id = id(&data["conversation"]);

    let (mut fresh, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1);
    let fields = json!({"conversation_id": conversation_id});
    let history = read_ack(&fresh.ask("conversation.history", "h1", fields).await, "h1");
    assert_eq!(history["messages"], json!([data["message"]]));
    let page = read_ack(&fresh.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(page["conversations"], json!([data["conversation"]]));
}
