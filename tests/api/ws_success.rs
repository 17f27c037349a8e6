//! Each `/ws` request's success path: the ack's shape, its data and `seq`, and that
//! reads answer as the REST routes do. `resume` is not covered here.

use serde_json::{Value, json};

use crate::helpers::{
    app::{Options, spawn_app, spawn_with, tick},
    db::Backend,
    json::{CONVERSATION_KEYS, MESSAGE_KEYS, TASK_KEYS, id, ids, keys, timestamp, titles},
    ws::{assert_valid_request, read_ack, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    task_create_acks_the_stored_task_with_contiguous_seqs,
    task_list_filters_sorts_and_pages_as_rest,
    task_get_returns_the_task,
    task_update_changes_only_the_fields_sent,
    task_complete_acks_the_whole_task,
    task_delete_acks_the_task_id,
    message_append_without_conversation_starts_one,
    message_append_to_a_conversation_bumps_its_updated_at,
    conversation_list_is_newest_activity_first_and_pages,
    conversation_list_defaults_to_50,
    conversation_history_pages_backwards_with_before_id,
    ping_is_answered_with_pong,
);

async fn task_create_acks_the_stored_task_with_contiguous_seqs(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ws
        .ask("task.create", "c1", json!({"title": "Buy milk"}))
        .await;
    let (task, seq) = write_ack(&ack, "c1");
    assert_eq!(seq, 1);
    assert_eq!(keys(&task), TASK_KEYS);
    assert!(id(&task) > 0);
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], Value::Null);
    assert_eq!(task["completed"], false);
    assert_eq!(task["priority"], "normal");
    assert_eq!(task["due_date"], Value::Null);
    timestamp(&task["created_at"]);
    assert_eq!(task["created_at"], task["updated_at"]);

    let full = json!({
        "title": "Write report",
        "description": "2 pages",
        "completed": true,
        "priority": "high",
        "due_date": "2026-03-01T10:30:00+01:00",
    });
    let (report, seq) = write_ack(&ws.ask("task.create", "c2", full).await, "c2");
    assert_eq!(seq, 2);
    assert_eq!(report["description"], "2 pages");
    assert_eq!(report["completed"], true);
    assert_eq!(report["priority"], "high");
    assert_eq!(report["due_date"], "2026-03-01T09:30:00Z");

    let ack = ws
        .ask("task.create", "c3", json!({"title": "Call mom"}))
        .await;
    assert_eq!(write_ack(&ack, "c3").1, 3);

    for acked in [&task, &report] {
        let res = app.get_task("alice", id(acked)).await;
        assert_eq!(&res.body, acked, "the ack is the stored task");
    }

    let (mut bob, _) = app.ws("bob").await;
    let ack = bob
        .ask("task.create", "c1", json!({"title": "Bob's"}))
        .await;
    assert_eq!(write_ack(&ack, "c1").1, 1, "another user's seq starts at 1");
}

async fn task_list_filters_sorts_and_pages_as_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let tasks = [
        ("banana", false),
        ("Apple", true),
        ("cherry", false),
        ("date", true),
    ];
    for (n, (title, completed)) in tasks.into_iter().enumerate() {
        let id = format!("c{n}");
        let fields = json!({"title": title, "completed": completed});
        write_ack(&ws.ask("task.create", &id, fields).await, &id);
    }
    app.create_titled("bob", "not alice's").await;

    let all = read_ack(&ws.ask("task.list", "l1", json!({})).await, "l1");
    assert_eq!(keys(&all), ["filtered_count", "tasks", "total_count"]);
    assert_eq!(titles(&all), ["date", "cherry", "Apple", "banana"]);
    assert_eq!(all["total_count"], 4);
    assert_eq!(all["filtered_count"], 4);
    assert_eq!(all, app.list_tasks("alice", "").await);

    let pending = read_ack(
        &ws.ask("task.list", "l2", json!({"status": "pending"}))
            .await,
        "l2",
    );
    assert_eq!(titles(&pending), ["cherry", "banana"]);
    assert_eq!(pending["total_count"], 4);
    assert_eq!(pending["filtered_count"], 2);
    assert_eq!(pending, app.list_tasks("alice", "status=pending").await);

    let fields = json!({"status": "completed", "sort": "title", "order": "asc"});
    let done = read_ack(&ws.ask("task.list", "l3", fields).await, "l3");
    assert_eq!(titles(&done), ["Apple", "date"]);
    assert_eq!(
        done,
        app.list_tasks("alice", "status=completed&sort=title&order=asc")
            .await
    );

    let fields = json!({"sort": "title", "order": "asc", "limit": 2, "offset": 1});
    let page = read_ack(&ws.ask("task.list", "l4", fields).await, "l4");
    assert_eq!(titles(&page), ["banana", "cherry"]);
    assert_eq!(
        page["filtered_count"], 4,
        "counts every match, not the page"
    );
    assert_eq!(
        page,
        app.list_tasks("alice", "sort=title&order=asc&limit=2&offset=1")
            .await
    );
}

async fn task_get_returns_the_task(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({"title": "Buy milk", "description": "2 liters", "priority": "low"}),
        )
        .await;
    let (mut ws, _) = app.ws("alice").await;

    let answer = ws
        .ask("task.get", "g1", json!({"task_id": id(&task)}))
        .await;
    assert_eq!(read_ack(&answer, "g1"), task);
}

async fn task_update_changes_only_the_fields_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({
                "title": "Buy milk",
                "description": "2 liters",
                "due_date": "2026-03-01T09:30:00Z",
            }),
        )
        .await;
    let task_id = id(&task);
    let (mut ws, _) = app.ws("alice").await;
    tick().await;

    let fields = json!({"task_id": task_id, "priority": "high"});
    let (updated, seq) = write_ack(&ws.ask("task.update", "u1", fields).await, "u1");
    assert_eq!(seq, 2, "the REST create was 1");
    assert_eq!(keys(&updated), TASK_KEYS);
    assert_eq!(updated["priority"], "high");
    for unchanged in [
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "due_date",
        "created_at",
    ] {
        assert_eq!(updated[unchanged], task[unchanged], "{unchanged} changed");
    }
    assert!(timestamp(&updated["updated_at"]) > timestamp(&task["updated_at"]));

    let fields = json!({"task_id": task_id, "description": null});
    let (cleared, seq) = write_ack(&ws.ask("task.update", "u2", fields).await, "u2");
    assert_eq!(seq, 3);
    assert_eq!(cleared["description"], Value::Null, "null clears it");
    assert_eq!(cleared["priority"], "high", "earlier change kept");
    assert_eq!(cleared["due_date"], "2026-03-01T09:30:00Z");
    assert_eq!(cleared["title"], "Buy milk");

    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body, cleared, "the ack is what was stored");
}

async fn task_complete_acks_the_whole_task(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    let (mut ws, _) = app.ws("alice").await;

    let fields = json!({"task_id": task_id, "completed": true});
    let (done, seq) = write_ack(&ws.ask("task.complete", "k1", fields).await, "k1");
    assert_eq!(seq, 2);
    assert_eq!(keys(&done), TASK_KEYS, "the whole task, not REST's shape");
    assert_eq!(done["id"], task_id);
    assert_eq!(done["completed"], true);
    assert_eq!(done["title"], "Buy milk");
    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body, done);

    let fields = json!({"task_id": task_id, "completed": false});
    let (undone, seq) = write_ack(&ws.ask("task.complete", "k2", fields).await, "k2");
    assert_eq!(seq, 3);
    assert_eq!(undone["completed"], false);
    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body["completed"], false);
}

async fn task_delete_acks_the_task_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let keep = app.create_titled("alice", "keep").await;
    let gone = id(&app.create_titled("alice", "gone").await);
    let (mut ws, _) = app.ws("alice").await;

    let ack = ws.ask("task.delete", "d1", json!({"task_id": gone})).await;
    let (data, seq) = write_ack(&ack, "d1");
    assert_eq!(data, json!({"task_id": gone}));
    assert_eq!(seq, 3);

    let page = app.list_tasks("alice", "").await;
    assert_eq!(ids(&page["tasks"]), [id(&keep)]);
}

async fn message_append_without_conversation_starts_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ws
        .ask(
            "message.append",
            "m1",
            json!({"content": "  What is on my list?\n"}),
        )
        .await;
    let (data, seq) = write_ack(&ack, "m1");
    assert_eq!(seq, 1);
    assert_eq!(keys(&data), ["conversation", "message"]);
    let (conversation, message) = (&data["conversation"], &data["message"]);
    assert_eq!(keys(conversation), CONVERSATION_KEYS);
    assert_eq!(conversation["user_id"], "alice");
    timestamp(&conversation["created_at"]);
    timestamp(&conversation["updated_at"]);
    assert_eq!(keys(message), MESSAGE_KEYS);
    assert_eq!(message["user_id"], "alice");
    assert_eq!(message["conversation_id"], conversation["id"]);
    assert_eq!(message["role"], "user", "the default role");
    assert_eq!(
        message["content"], "  What is on my list?\n",
        "stored as sent"
    );
    timestamp(&message["created_at"]);

    let other = ws
        .append_message("m2", json!({"content": "Another chat"}))
        .await;
    assert_ne!(
        other["conversation"]["id"], conversation["id"],
        "no conversation_id: a new conversation"
    );
}

async fn message_append_to_a_conversation_bumps_its_updated_at(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = ws
        .append_message("m1", json!({"content": "What is on my list?"}))
        .await;
    let conversation_id = id(&first["conversation"]);
    tick().await;

    let fields = json!({
        "conversation_id": conversation_id,
        "role": "assistant",
        "content": "You have 3 tasks.",
    });
    let (reply, seq) = write_ack(&ws.ask("message.append", "m2", fields).await, "m2");
    assert_eq!(seq, 2);
    let conversation = &reply["conversation"];
    assert_eq!(conversation["id"], conversation_id, "the same conversation");
    assert_eq!(
        conversation["created_at"],
        first["conversation"]["created_at"]
    );
    assert_eq!(conversation["updated_at"], reply["message"]["created_at"]);
    assert!(
        timestamp(&conversation["updated_at"]) > timestamp(&first["conversation"]["updated_at"])
    );
    assert_eq!(reply["message"]["role"], "assistant");
    assert_eq!(reply["message"]["content"], "You have 3 tasks.");
    assert_eq!(reply["message"]["conversation_id"], conversation_id);

    let fields = json!({"conversation_id": conversation_id});
    let history = read_ack(&ws.ask("conversation.history", "h1", fields).await, "h1");
    assert_eq!(history["conversation"], reply["conversation"]);
    assert_eq!(
        history["messages"],
        json!([first["message"], reply["message"]])
    );
}

async fn conversation_list_is_newest_activity_first_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let mut made = Vec::new();
    for n in 1..=3 {
        let id = format!("m{n}");
        let data = ws
            .append_message(&id, json!({"content": format!("chat {n}")}))
            .await;
        made.push(self::id(&data["conversation"]));
        tick().await;
    }
    let [a, b, c] = made[..] else { unreachable!() };

    let page = read_ack(&ws.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(keys(&page), ["conversations"]);
    assert_eq!(ids(&page["conversations"]), [c, b, a]);

    let touched = ws
        .append_message(
            "m4",
            json!({"conversation_id": a, "content": "back to the first"}),
        )
        .await;
    let page = read_ack(&ws.ask("conversation.list", "l2", json!({})).await, "l2");
    assert_eq!(ids(&page["conversations"]), [a, c, b]);
    assert_eq!(page["conversations"][0], touched["conversation"]);
    for conversation in page["conversations"].as_array().unwrap() {
        assert_eq!(keys(conversation), CONVERSATION_KEYS);
    }

    let pages = [
        ("l3", json!({"limit": 2}), vec![a, c]),
        ("l4", json!({"limit": 2, "offset": 2}), vec![b]),
        ("l5", json!({"offset": 1}), vec![c, b]),
        ("l6", json!({"offset": 3}), vec![]),
    ];
    for (id, fields, expected) in pages {
        let page = read_ack(&ws.ask("conversation.list", id, fields).await, id);
        assert_eq!(ids(&page["conversations"]), expected, "{id}");
    }

    let (mut bob, _) = app.ws("bob").await;
    let page = read_ack(&bob.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(page, json!({"conversations": []}), "per user");
}

async fn conversation_list_defaults_to_50(backend: Backend) {
    // 51 appends in a row: lift the per-connection rate limit for this test.
    let options = Options::with_env(&[("WS_RATE_BURST", "200")]);
    let app = spawn_with(backend, options).await;
    let (mut ws, _) = app.ws("alice").await;
    for n in 1..=51 {
        let id = format!("m{n}");
        ws.append_message(&id, json!({"content": format!("chat {n}")}))
            .await;
    }

    let page = read_ack(&ws.ask("conversation.list", "l1", json!({})).await, "l1");
    assert_eq!(page["conversations"].as_array().unwrap().len(), 50);
    let rest = read_ack(
        &ws.ask("conversation.list", "l2", json!({"offset": 50}))
            .await,
        "l2",
    );
    assert_eq!(rest["conversations"].as_array().unwrap().len(), 1);
    let all = read_ack(
        &ws.ask("conversation.list", "l3", json!({"limit": 100}))
            .await,
        "l3",
    );
    assert_eq!(all["conversations"].as_array().unwrap().len(), 51);
}

async fn conversation_history_pages_backwards_with_before_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = ws
        .append_message("m1", json!({"content": "message 1"}))
        .await;
    let conversation_id = id(&first["conversation"]);
    let mut messages = vec![id(&first["message"])];
    let mut last = first;
    for n in 2..=5 {
        let fields = json!({"conversation_id": conversation_id, "content": format!("message {n}")});
        last = ws.append_message(&format!("m{n}"), fields).await;
        messages.push(id(&last["message"]));
    }
    let [m1, m2, m3, m4, m5] = messages[..] else {
        unreachable!()
    };

    let history = |id: &str, fields: Value| {
        let mut fields = fields;
        fields["conversation_id"] = json!(conversation_id);
        req("conversation.history", id, fields)
    };

    let frame = history("h1", json!({}));
    assert_valid_request(&frame);
    let all = read_ack(&ws.request(frame).await, "h1");
    assert_eq!(keys(&all), ["conversation", "has_more", "messages"]);
    assert_eq!(all["conversation"], last["conversation"]);
    assert_eq!(ids(&all["messages"]), [m1, m2, m3, m4, m5], "oldest first");
    assert_eq!(all["messages"][4], last["message"]);
    assert_eq!(all["has_more"], false);

    let windows = [
        ("h2", json!({"limit": 2}), vec![m4, m5], true),
        (
            "h3",
            json!({"limit": 2, "before_id": m4}),
            vec![m2, m3],
            true,
        ),
        (
            "h4",
            json!({"limit": 2, "before_id": m3}),
            vec![m1, m2],
            false,
        ),
        ("h5", json!({"limit": 2, "before_id": m2}), vec![m1], false),
        ("h6", json!({"before_id": m1}), vec![], false),
    ];
    for (id, fields, expected, has_more) in windows {
        let frame = history(id, fields);
        assert_valid_request(&frame);
        let page = read_ack(&ws.request(frame).await, id);
        assert_eq!(ids(&page["messages"]), expected, "{id}");
        assert_eq!(page["has_more"], has_more, "{id}");
    }
}

async fn ping_is_answered_with_pong(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ping = json!({"type": "ping", "id": "p1"});
    assert_valid_request(&ping);
    assert_eq!(ws.request(ping).await, json!({"type": "pong", "id": "p1"}));

    let ping = json!({"type": "ping"});
    assert_valid_request(&ping);
    ws.send(ping).await;
    assert_eq!(ws.recv().await, json!({"type": "pong"}));
}
