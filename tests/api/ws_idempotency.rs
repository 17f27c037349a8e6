//! A request's `id` is its idempotency key: a retry returns the first ack and writes
//! nothing, on any connection and any instance; the same id for another request is
//! `conflict`; only a change that succeeded reserves its id.

use serde_json::{Value, json};

use crate::helpers::{
    app::{Options, another_instance, spawn_app},
    db::Backend,
    json::id,
    ws::{assert_ws_error, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    a_retry_returns_the_first_ack_and_writes_nothing,
    a_retry_on_another_connection_returns_the_first_ack,
    a_retry_on_another_instance_returns_the_first_ack,
    explicit_defaults_are_the_same_request,
    another_request_under_the_same_id_is_conflict,
    a_failed_change_does_not_reserve_its_id,
    concurrent_copies_write_once_and_get_one_ack,
    every_change_type_is_idempotent,
);

async fn a_retry_returns_the_first_ack_and_writes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let (mut other_tab, _) = app.ws("alice").await;

    let first = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    let (task, seq) = write_ack(&first, "c1");
    let retry = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    assert_eq!(retry, first, "the retry gets the original ack");

    assert_eq!(app.task_count("alice").await, 1, "written once");
    let event = other_tab.event().await;
    assert_eq!(event["seq"], seq);
    assert_eq!(event["data"], task);
    other_tab.assert_alive("one event, not two").await;

    // The next change takes the next seq: the retry took none.
    let next = ws.ask("task.create", "c2", json!({"title": "Eggs"})).await;
    assert_eq!(write_ack(&next, "c2").1, seq + 1);
}

async fn a_retry_on_another_connection_returns_the_first_ack(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = ws
        .ask("message.append", "m1", json!({"content": "hello"}))
        .await;
    let (appended, _) = write_ack(&first, "m1");
    ws.close().await;

    // The train left the tunnel: a new socket, the same request.
    let (mut again, _) = app.ws("alice").await;
    let retry = again
        .ask("message.append", "m1", json!({"content": "hello"}))
        .await;
    assert_eq!(retry, first);
    let conversation_id = id(&appended["conversation"]);
    assert_eq!(again.message_contents(conversation_id).await.len(), 1);
}

async fn a_retry_on_another_instance_returns_the_first_ack(backend: Backend) {
    let first_instance = spawn_app(backend.clone()).await;
    let second_instance = another_instance(&first_instance, backend, Options::default()).await;
    let (mut ws, _) = first_instance.ws("alice").await;
    let first = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;

    let (mut elsewhere, _) = second_instance.ws("alice").await;
    let retry = elsewhere
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    assert_eq!(retry, first);
    assert_eq!(second_instance.task_count("alice").await, 1);
}

async fn explicit_defaults_are_the_same_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    let explicit = json!({
        "title": "  Buy milk ",
        "completed": false,
        "priority": "normal",
        "description": null,
        "due_date": null,
    });
    assert_eq!(ws.ask("task.create", "c1", explicit).await, first);

    let first = ws
        .ask("message.append", "m1", json!({"content": "hi"}))
        .await;
    let explicit = json!({"content": "hi", "role": "user"});
    assert_eq!(ws.ask("message.append", "m1", explicit).await, first);
    assert_eq!(app.task_count("alice").await, 1);
}

async fn another_request_under_the_same_id_is_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let (task, _) = write_ack(
        &ws.ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );

    let other_content = ws.ask("task.create", "c1", json!({"title": "Eggs"})).await;
    assert_ws_error(&other_content, "conflict", "c1");
    let other_type = ws
        .ask("message.append", "c1", json!({"content": "Buy milk"}))
        .await;
    assert_ws_error(&other_type, "conflict", "c1");
    // task.complete and task.update setting the same field are different requests.
    let task_id = id(&task);
    let done = json!({"task_id": task_id, "completed": true});
    write_ack(&ws.ask("task.complete", "d1", done).await, "d1");
    let update = json!({"task_id": task_id, "completed": true});
    assert_ws_error(&ws.ask("task.update", "d1", update).await, "conflict", "d1");
    // Clearing a field is not leaving it alone.
    let rename = json!({"task_id": task_id, "title": "Oat milk"});
    write_ack(&ws.ask("task.update", "u1", rename).await, "u1");
    let rename_and_clear = json!({"task_id": task_id, "title": "Oat milk", "description": null});
    let answer = ws.ask("task.update", "u1", rename_and_clear).await;
    assert_ws_error(&answer, "conflict", "u1");

    assert_eq!(
        app.task_count("alice").await,
        1,
        "no conflict wrote anything"
    );
    // Reads never reserve an id, and are never refused for reusing one.
    let list = ws.ask("task.list", "c1", json!({})).await;
    assert_eq!(list["type"], "ack", "{list}");
}

async fn a_failed_change_does_not_reserve_its_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let invalid = ws.ask("task.create", "c1", json!({"title": "  "})).await;
    assert_ws_error(&invalid, "invalid", "c1");
    let created = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    let (task, _) = write_ack(&created, "c1");

    let missing = json!({"task_id": id(&task) + 1000, "title": "x"});
    assert_ws_error(
        &ws.ask("task.update", "u1", missing).await,
        "not_found",
        "u1",
    );
    let real = json!({"task_id": id(&task), "title": "Buy oat milk"});
    let (updated, _) = write_ack(&ws.ask("task.update", "u1", real).await, "u1");
    assert_eq!(updated["title"], "Buy oat milk");
}

async fn concurrent_copies_write_once_and_get_one_ack(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let second_instance = another_instance(&app, backend, Options::default()).await;
    for round in 0..5 {
        let mut sockets = Vec::new();
        for instance in [&app, &app, &second_instance, &second_instance] {
            sockets.push(instance.ws("alice").await.0);
        }
        let request_id = format!("m{round}");
        let frame = req("message.append", &request_id, json!({"content": "once"}));
        for ws in &mut sockets {
            ws.send(frame.clone()).await;
        }
        let mut acks: Vec<Value> = Vec::new();
        for ws in &mut sockets {
            acks.push(ws.answer_to(request_id.as_str()).await);
        }
        for ack in &acks[1..] {
            assert_eq!(ack, &acks[0], "round {round}: every copy gets the same ack");
        }
        let (appended, _) = write_ack(&acks[0], &request_id);
        let conversation_id = id(&appended["conversation"]);
        assert_eq!(
            sockets[0].message_contents(conversation_id).await.len(),
            1,
            "round {round}: written once"
        );
    }
}

async fn every_change_type_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let (task, _) = write_ack(
        &ws.ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );
    let task_id = id(&task);
    for (kind, request_id, fields) in [
        (
            "task.update",
            "u1",
            json!({"task_id": task_id, "title": "Oat milk"}),
        ),
        (
            "task.complete",
            "d1",
            json!({"task_id": task_id, "completed": true}),
        ),
        ("task.delete", "x1", json!({"task_id": task_id})),
    ] {
        let first = ws.ask(kind, request_id, fields.clone()).await;
        write_ack(&first, request_id);
        assert_eq!(ws.ask(kind, request_id, fields).await, first, "{kind}");
    }
    assert_eq!(app.task_count("alice").await, 0);
}
