//! Several gateway instances on one PostgreSQL database (as behind Fly's load
//! balancer): each hears the others' changes through `NOTIFY`, with one contiguous
//! `seq` per user; a listener that loses its connection catches up; a commit whose
//! reply is lost is delivered and never written twice. PostgreSQL only: SQLite
//! serves one instance.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Executor;

use crate::helpers::{
    app::{Options, another_instance, spawn_app},
    db::Backend,
    json::id,
    proxy::{Link, spawn_behind_proxy},
    ws::{WsClient, assert_ws_error, write_ack},
};

async fn next_event(ws: &mut WsClient) -> (i64, Value) {
    let event = ws.event().await;
    (event["seq"].as_i64().unwrap(), event)
}

#[tokio::test]
async fn instances_deliver_each_others_changes_with_one_seq() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let a = spawn_app(backend.clone()).await;
    let b = another_instance(&a, backend, Options::default()).await;
    let (mut on_a, _) = a.ws("alice").await;
    let (mut on_b, _) = b.ws("alice").await;
    let (mut bob_on_b, _) = b.ws("bob").await;

    let (task, seq) = write_ack(
        &on_a
            .ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );
    assert_eq!(seq, 1);
    let (heard, event) = next_event(&mut on_b).await;
    assert_eq!(
        (heard, &event["event"], &event["data"]),
        (1, &json!("task.created"), &task)
    );

    let (appended, seq) = write_ack(
        &on_b
            .ask("message.append", "m1", json!({"content": "hi"}))
            .await,
        "m1",
    );
    assert_eq!(seq, 2, "one seq across instances");
    let (heard, event) = next_event(&mut on_a).await;
    assert_eq!((heard, &event["data"]), (2, &appended));

    let res = b.post_task("alice", json!({"title": "Eggs"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(next_event(&mut on_a).await.0, 3);
    assert_eq!(next_event(&mut on_b).await.0, 3);
    let res = a.delete_task("alice", id(&task)).await;
    assert_eq!(res.status, 204);
    assert_eq!(next_event(&mut on_a).await.0, 4);
    assert_eq!(next_event(&mut on_b).await.0, 4);

    on_a.assert_alive("no event twice").await;
    on_b.assert_alive("no event twice").await;
    bob_on_b.assert_silent(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_event_too_large_to_announce_travels_by_reference() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let a = spawn_app(backend.clone()).await;
    let b = another_instance(&a, backend, Options::default()).await;
    let (mut on_a, _) = a.ws("alice").await;
    let (mut on_b, _) = b.ws("alice").await;
    // 30,000 characters, 60 KB of UTF-8: far over NOTIFY's 8,000 bytes.
    let content = "é".repeat(30_000);
    let (appended, seq) = write_ack(
        &on_a
            .ask("message.append", "m1", json!({"content": content}))
            .await,
        "m1",
    );
    let (heard, event) = next_event(&mut on_b).await;
    assert_eq!((heard, &event["data"]), (seq, &appended));
}

#[tokio::test]
async fn a_killed_listener_connection_loses_nothing() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let a = spawn_app(backend.clone()).await;
    let name = format!("listener-{}", uuid::Uuid::new_v4().simple());
    let b = another_instance(
        &a,
        backend,
        Options {
            listen_url: Some(a.db.database_url_named(&name)),
            ..Default::default()
        },
    )
    .await;
    let (mut on_a, _) = a.ws("alice").await;
    let (mut on_b, _) = b.ws("alice").await;
    write_ack(
        &on_a
            .ask("task.create", "c0", json!({"title": "before"}))
            .await,
        "c0",
    );
    assert_eq!(next_event(&mut on_b).await.0, 1, "B listens");

    let mut admin = a.db.pg_connection().await;
    let listeners =
        |name: &str| format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{name}'");
    let killed = admin
        .fetch_all(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM ({}) AS l",
            listeners(&name)
        )))
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "one LISTEN connection per instance");
    // Changes while B's listener is away, and after.
    for i in 1..=5 {
        write_ack(
            &on_a
                .ask(
                    "task.create",
                    &format!("c{i}"),
                    json!({"title": format!("t{i}")}),
                )
                .await,
            &format!("c{i}"),
        );
    }
    let heard: Vec<i64> = {
        let mut heard = Vec::new();
        for _ in 1..=5 {
            heard.push(next_event(&mut on_b).await.0);
        }
        heard
    };
    assert_eq!(
        heard,
        [2, 3, 4, 5, 6],
        "nothing lost, nothing twice, in order"
    );
    on_b.assert_alive("no event twice").await;

    // The listener is back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while admin
        .fetch_all(sqlx::AssertSqlSafe(listeners(&name)))
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener reconnects"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    write_ack(
        &on_a
            .ask("task.create", "c6", json!({"title": "after"}))
            .await,
        "c6",
    );
    assert_eq!(next_event(&mut on_b).await.0, 7);
}

/// The commit goes through, its reply comes after `DATABASE_TIMEOUT_SECS`: the
/// client is told `unavailable`, every connection of the user still gets the event,
/// and the retry with the same id gets the committed ack, not a second message.
#[tokio::test]
async fn a_commit_whose_reply_is_lost_is_delivered_and_not_written_twice() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Up, 1).await else {
        return;
    };
    let (mut tab, _) = app.ws("alice").await;
    let (mut other_tab, _) = app.ws("alice").await;
    let (first, _) = write_ack(
        &tab.ask("message.append", "m0", json!({"content": "warm up"}))
            .await,
        "m0",
    );
    assert_eq!(next_event(&mut other_tab).await.0, 1);
    let conversation_id = id(&first["conversation"]);

    proxy.hold_next_commit_reply(Duration::from_secs(3));
    let fields = json!({"content": "once", "conversation_id": conversation_id});
    let answer = tab.ask("message.append", "m1", fields.clone()).await;
    assert_ws_error(&answer, "unavailable", "m1");

    // When the reply lands, the change is delivered: no seq skipped anywhere, the
    // tab that was told `unavailable` included.
    let (seq, event) = next_event(&mut other_tab).await;
    assert_eq!(seq, 2);
    assert_eq!(event["data"]["message"]["content"], "once");
    assert_eq!(next_event(&mut tab).await, (seq, event.clone()));

    // The retry the client was told to make returns the committed ack.
    let ack = loop {
        let answer = tab.ask("message.append", "m1", fields.clone()).await;
        if answer["type"] == "ack" {
            break answer;
        }
        assert_ws_error(&answer, "unavailable", "m1");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(write_ack(&ack, "m1"), (event["data"].clone(), seq));
    assert_eq!(
        tab.message_contents(conversation_id).await,
        ["warm up", "once"],
        "written once"
    );
    other_tab.assert_alive("no event twice").await;
}

/// PostgreSQL unreachable for a while from one instance, with clients connected:
/// its frames get `unavailable` and nothing is acked, its sockets stay open, and
/// `/health` says degraded; when the database is back its frames succeed without a
/// restart, and its listener catches up on what the other instance committed.
#[tokio::test]
async fn an_outage_keeps_sockets_open_and_the_listener_catches_up() {
    let Some((b, proxy)) = spawn_behind_proxy(Link::Up, 1).await else {
        return;
    };
    let backend = Backend::postgres_or_skip().unwrap();
    let a = another_instance(&b, backend, Options::default()).await;
    let (mut on_a, _) = a.ws("alice").await;
    let (mut on_b, _) = b.ws("alice").await;
    write_ack(
        &on_a
            .ask("task.create", "a0", json!({"title": "before"}))
            .await,
        "a0",
    );
    assert_eq!(next_event(&mut on_b).await.0, 1);

    proxy.set(Link::Down);
    let fields = json!({"content": "sent during the outage"});
    let answer = on_b.ask("message.append", "b1", fields.clone()).await;
    assert_ws_error(&answer, "unavailable", "b1");
    on_b.assert_alive("the outage").await;
    assert_eq!(b.health().await.body["status"], "degraded");
    for i in 1..=3 {
        let id = format!("a{i}");
        write_ack(
            &on_a.ask("task.create", &id, json!({"title": id})).await,
            &id,
        );
    }

    proxy.set(Link::Up);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ack = loop {
        let answer = on_b.ask("message.append", "b1", fields.clone()).await;
        if answer["type"] == "ack" {
            break answer;
        }
        assert_ws_error(&answer, "unavailable", "b1");
        assert!(
            tokio::time::Instant::now() < deadline,
            "database never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, seq) = write_ack(&ack, "b1");
    assert_eq!(seq, 5, "one seq: after the other instance's three");
    let caught_up: Vec<i64> = std::mem::take(&mut on_b.events)
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        caught_up,
        [2, 3, 4],
        "what the other instance committed meanwhile, in order"
    );
    assert_eq!(next_event(&mut on_a).await.0, 5);
    assert_eq!(b.health().await.body["status"], "healthy");
    on_b.assert_alive("no event twice").await;
}
