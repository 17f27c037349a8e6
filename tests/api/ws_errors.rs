//! Each `/ws` request's errors: missing and other users' tasks and conversations are
//! `not_found`, bad fields are `invalid` naming the field, bounds are enforced, and a
//! refused request writes nothing.

use serde_json::{Value, json};

use crate::helpers::{
    app::{TestApp, spawn_app},
    db::Backend,
    json::id,
    ws::{WsClient, assert_ws_error, assert_ws_invalid, read_ack, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    missing_task_is_not_found_on_every_request,
    another_users_task_is_not_found_and_untouched,
    task_create_rejects_bad_fields_naming_them,
    wrong_types_and_missing_fields_name_the_field,
    message_append_rejects_bad_content_and_role,
    message_append_to_another_users_conversation_is_not_found,
    conversation_history_of_another_users_conversation_is_not_found,
    list_and_history_bounds_are_enforced,
);

/// One request of each kind that names a task: `(type, id, fields)` for `task_id`,
/// the update renaming it to `title`.
fn every_request_naming_a_task(
    task_id: i64,
    title: &str,
) -> [(&'static str, &'static str, Value); 4] {
    [
        ("task.get", "g1", json!({"task_id": task_id})),
        (
            "task.update",
            "u1",
            json!({"task_id": task_id, "title": title}),
        ),
        (
            "task.complete",
            "k1",
            json!({"task_id": task_id, "completed": true}),
        ),
        ("task.delete", "d1", json!({"task_id": task_id})),
    ]
}

async fn missing_task_is_not_found_on_every_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let missing = id(&task) + 1000;
    let (mut ws, _) = app.ws("alice").await;

    for (kind, id, fields) in every_request_naming_a_task(missing, "x") {
        assert_ws_error(&ws.ask(kind, id, fields).await, "not_found", id);
    }

    let page = app.list_tasks("alice", "").await;
    assert_eq!(page["tasks"], json!([task]), "nothing created or changed");
    let (_, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1, "no event was recorded");
}

async fn another_users_task_is_not_found_and_untouched(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({"title": "Alice's secret", "description": "do not touch"}),
        )
        .await;
    let task_id = id(&task);
    let (mut bob, _) = app.ws("bob").await;

    for (kind, id, fields) in every_request_naming_a_task(task_id, "hijacked") {
        assert_ws_error(&bob.ask(kind, id, fields).await, "not_found", id);
    }

    // The same answer as for an id that does not exist.
    let foreign = bob.ask("task.get", "g2", json!({"task_id": task_id})).await;
    let missing = bob
        .ask("task.get", "g2", json!({"task_id": task_id + 1000}))
        .await;
    assert_eq!(foreign, missing);

    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body, task, "Alice's task is unchanged");
    let ack = bob
        .ask("task.create", "c1", json!({"title": "Bob's own"}))
        .await;
    assert_eq!(write_ack(&ack, "c1").1, 1, "bob's failures wrote no event");
}

async fn task_create_rejects_bad_fields_naming_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let bad = [
        ("c1", json!({"title": "   "}), "title"),
        ("c2", json!({}), "title"),
        ("c3", json!({"title": 5}), "title"),
        ("c4", json!({"title": "x".repeat(256)}), "title"),
        (
            "c5",
            json!({"title": "ok", "priority": "urgent"}),
            "priority",
        ),
        (
            "c6",
            json!({"title": "ok", "completed": "yes"}),
            "completed",
        ),
        (
            "c7",
            json!({"title": "ok", "due_date": "tomorrow"}),
            "due_date",
        ),
    ];
    for (id, fields, field) in bad {
        let answer = ws.request(req("task.create", id, fields)).await;
        assert_ws_invalid(&answer, field, id);
    }

    let page = app.list_tasks("alice", "").await;
    assert_eq!(page["total_count"], 0, "nothing was created");
    ws.assert_alive("invalid requests").await;
}

async fn wrong_types_and_missing_fields_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    let (mut ws, _) = app.ws("alice").await;

    let bad = [
        ("task.get", "g1", json!({"task_id": "x"}), "task_id"),
        ("task.get", "g2", json!({}), "task_id"),
        ("task.delete", "d1", json!({"task_id": 1.5}), "task_id"),
        (
            "task.update",
            "u1",
            json!({"task_id": task_id, "completed": "yes"}),
            "completed",
        ),
        (
            "task.complete",
            "k1",
            json!({"task_id": task_id}),
            "completed",
        ),
        ("message.append", "m1", json!({}), "content"),
        ("message.append", "m2", json!({"content": 5}), "content"),
        ("conversation.history", "h1", json!({}), "conversation_id"),
        ("task.list", "l1", json!({"limit": "ten"}), "limit"),
    ];
    for (kind, id, fields, field) in bad {
        let answer = ws.request(req(kind, id, fields)).await;
        assert_ws_invalid(&answer, field, id);
    }

    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body, task, "unchanged");
}

async fn message_append_rejects_bad_content_and_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let bad = [
        ("m1", json!({"content": ""}), "content"),
        ("m2", json!({"content": " \n\t "}), "content"),
        ("m3", json!({"content": "x".repeat(32_769)}), "content"),
        ("m4", json!({"content": "hi", "role": "system"}), "role"),
    ];
    for (id, fields, field) in bad {
        let answer = ws.request(req("message.append", id, fields)).await;
        assert_ws_invalid(&answer, field, id);
    }
    let page = read_ack(&ws.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(page, json!({"conversations": []}), "nothing was stored");

    let longest = "x".repeat(32_768);
    let data = ws.append_message("m5", json!({"content": longest})).await;
    assert_eq!(data["message"]["content"], longest, "32,768 is allowed");
}

/// Alice's socket and her private conversation (the ack's `{conversation, message}`
/// of its one message), and a socket of bob's, who must not reach it.
async fn alices_conversation_and_bob(app: &TestApp) -> (WsClient, Value, WsClient) {
    let (mut alice, _) = app.ws("alice").await;
    let data = alice
        .append_message("m1", json!({"content": "private"}))
        .await;
    let (bob, _) = app.ws("bob").await;
    (alice, data, bob)
}

async fn message_append_to_another_users_conversation_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut alice, data, mut bob) = alices_conversation_and_bob(&app).await;
    let conversation_id = id(&data["conversation"]);

    let fields = json!({"conversation_id": conversation_id, "content": "intrusion"});
    let answer = bob.ask("message.append", "m1", fields).await;
    assert_ws_error(&answer, "not_found", "m1");

    let fields = json!({"conversation_id": conversation_id});
    let history = read_ack(&alice.ask("conversation.history", "h1", fields).await, "h1");
    assert_eq!(
        history["messages"],
        json!([data["message"]]),
        "nothing appended"
    );
    assert_eq!(history["conversation"], data["conversation"], "not touched");
    let page = read_ack(&bob.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(page, json!({"conversations": []}));
    let ack = bob
        .ask("message.append", "m2", json!({"content": "mine"}))
        .await;
    assert_eq!(write_ack(&ack, "m2").1, 1, "bob's failure wrote no event");
}

async fn conversation_history_of_another_users_conversation_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_alice, data, mut bob) = alices_conversation_and_bob(&app).await;
    let conversation_id = id(&data["conversation"]);

    let fields = json!({"conversation_id": conversation_id});
    let foreign = bob.ask("conversation.history", "h1", fields).await;
    assert_ws_error(&foreign, "not_found", "h1");
    let fields = json!({"conversation_id": conversation_id + 1000});
    let missing = bob.ask("conversation.history", "h1", fields).await;
    assert_eq!(foreign, missing, "the same answer as for a missing one");
}

async fn list_and_history_bounds_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let data = ws.append_message("m1", json!({"content": "hello"})).await;
    let conversation_id = id(&data["conversation"]);

    let history = |limit: i64| json!({"conversation_id": conversation_id, "limit": limit});
    for (id, limit) in [("h1", 201), ("h2", 0)] {
        let answer = ws.ask("conversation.history", id, history(limit)).await;
        assert_ws_invalid(&answer, "limit", id);
    }
    let page = read_ack(
        &ws.ask("conversation.history", "h3", history(200)).await,
        "h3",
    );
    assert_eq!(page["messages"], json!([data["message"]]));

    for (id, limit) in [("l1", 0), ("l2", 101)] {
        let answer = ws
            .ask("conversation.list", id, json!({"limit": limit}))
            .await;
        assert_ws_invalid(&answer, "limit", id);
    }
    for (id, limit) in [("l3", 1), ("l4", 100)] {
        let answer = ws
            .ask("conversation.list", id, json!({"limit": limit}))
            .await;
        assert_eq!(
            read_ack(&answer, id)["conversations"],
            json!([data["conversation"]])
        );
    }
    let answer = ws
        .ask("conversation.list", "l5", json!({"offset": -1}))
        .await;
    assert_ws_invalid(&answer, "offset", "l5");

    let bad_lists = [
        ("t1", json!({"status": "done"}), "status"),
        ("t2", json!({"sort": "colour"}), "sort"),
        ("t3", json!({"limit": 0}), "limit"),
        ("t4", json!({"limit": 101}), "limit"),
    ];
    for (id, fields, field) in bad_lists {
        let answer = ws.request(req("task.list", id, fields)).await;
        assert_ws_invalid(&answer, field, id);
    }
}
