//! `resume`: a reconnecting client gets exactly the events it missed, in order, then
//! the ack `{"replayed", "seq"}`; live events go on after it, none twice.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    app::{Options, spawn_app, spawn_with},
    db::Backend,
    ws::{WsClient, assert_ws_error, assert_ws_invalid, read_ack, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    resume_replays_missed_websocket_and_rest_changes,
    resume_with_nothing_missed_replays_nothing,
    resume_from_zero_replays_everything,
    resume_under_concurrent_writes_loses_and_repeats_nothing,
    resume_ahead_of_the_latest_seq_is_a_gap,
    resume_past_the_retained_log_is_a_gap,
    resume_needs_a_whole_non_negative_after_seq,
    resume_after_a_retried_change_replays_what_was_missed,
);

/// Sends `resume` and returns the events replayed before the ack, and the ack's data.
async fn resume(ws: &mut WsClient, id: &str, after_seq: i64) -> (Vec<Value>, Value) {
    ws.send(req("resume", id, json!({"after_seq": after_seq})))
        .await;
    let ack = ws.answer_to(id).await;
    let data = read_ack(&ack, id);
    (std::mem::take(&mut ws.events), data)
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

async fn resume_replays_missed_websocket_and_rest_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut phone, _) = app.ws("alice").await;
    let (mut laptop, _) = app.ws("alice").await;
    let (task, seen) = write_ack(
        &phone
            .ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );
    assert_eq!(laptop.event().await["seq"], seen);
    // The phone goes into a tunnel.
    phone.close().await;

    let (appended, _) = write_ack(
        &laptop
            .ask("message.append", "m1", json!({"content": "hi"}))
            .await,
        "m1",
    );
    let task_id = task["id"].as_i64().unwrap();
    let res = app
        .put_task("alice", task_id, json!({"title": "Buy oat milk"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app.delete_task("alice", task_id).await;
    assert_eq!(res.status, 204);

    let (mut phone, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], seen + 3);
    let (events, ack) = resume(&mut phone, "s1", seen).await;
    assert_eq!(seqs(&events), [seen + 1, seen + 2, seen + 3]);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["message.appended", "task.updated", "task.deleted"]);
    assert_eq!(
        events[0]["data"], appended,
        "an event carries its ack's data"
    );
    assert_eq!(events[1]["data"]["title"], "Buy oat milk");
    assert_eq!(events[2]["data"], json!({"task_id": task_id}));
    assert_eq!(ack, json!({"replayed": 3, "seq": seen + 3}));

    // Live events continue after the ack's seq.
    laptop
        .ask("task.create", "c2", json!({"title": "Eggs"}))
        .await;
    assert_eq!(phone.event().await["seq"], seen + 4);
}

async fn resume_with_nothing_missed_replays_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let (_, seq) = write_ack(
        &ws.ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );
    let (events, ack) = resume(&mut ws, "s1", seq).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(ack, json!({"replayed": 0, "seq": seq}));
    // A user without any change yet.
    let (mut new_user, ready) = app.ws("bob").await;
    assert_eq!(ready["seq"], 0);
    let (events, ack) = resume(&mut new_user, "s1", 0).await;
    assert!(events.is_empty());
    assert_eq!(ack, json!({"replayed": 0, "seq": 0}));
}

async fn resume_from_zero_replays_everything(backend: Backend) {
    let app = spawn_app(backend).await;
    for title in ["a", "b", "c"] {
        app.create_titled("alice", title).await;
    }
    app.create_titled("bob", "not alice's").await;
    let (mut ws, _) = app.ws("alice").await;
    let (events, ack) = resume(&mut ws, "s1", 0).await;
    assert_eq!(seqs(&events), [1, 2, 3]);
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["a", "b", "c"], "only alice's, in order");
    assert_eq!(ack, json!({"replayed": 3, "seq": 3}));
}

async fn resume_under_concurrent_writes_loses_and_repeats_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..20 {
        app.create_titled("alice", &format!("before {i}")).await;
    }
    let (mut writer, _) = app.ws("alice").await;
    let (mut reader, _) = app.ws("alice").await;
    // Another tab writes while the replay runs.
    for i in 0..30 {
        writer
            .send(req(
                "task.create",
                &format!("w{i}"),
                json!({"title": format!("during {i}")}),
            ))
            .await;
    }
    let (replayed, ack) = resume(&mut reader, "s1", 0).await;
    let latest = ack["seq"].as_i64().unwrap();
    assert_eq!(seqs(&replayed), (1..=latest).collect::<Vec<_>>());
    assert_eq!(ack["replayed"], replayed.len());
    // The last seq written (a change the database was too slow for is answered
    // `unavailable` and makes no event).
    let mut last = 20;
    for i in 0..30 {
        let answer = writer.answer_to(format!("w{i}")).await;
        if answer["type"] == "ack" {
            last = last.max(answer["seq"].as_i64().unwrap());
        } else {
            assert_ws_error(&answer, "unavailable", format!("w{i}"));
        }
    }
    // Every event after the ack arrives live, once, in order.
    let mut live = Vec::new();
    while live.last().copied().unwrap_or(latest) < last {
        live.push(reader.event().await["seq"].as_i64().unwrap());
    }
    assert_eq!(live, ((latest + 1)..=last).collect::<Vec<_>>());
    reader.assert_alive("no duplicate after the replay").await;
}

async fn resume_ahead_of_the_latest_seq_is_a_gap(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_titled("alice", "a").await;
    let (mut ws, _) = app.ws("alice").await;
    let answer = ws.ask("resume", "s1", json!({"after_seq": 2})).await;
    assert_ws_error(&answer, "resume_gap", "s1");
    ws.assert_alive("a resume_gap").await;
}

async fn resume_past_the_retained_log_is_a_gap(backend: Backend) {
    let app = spawn_with(backend, Options::with_env(&[("EVENT_RETENTION_SECS", "1")])).await;
    app.create_titled("alice", "old").await;
    // Pruning runs every second with a one-second retention.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.create_titled("alice", "new").await;
    let (mut ws, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 2);
    let answer = ws.ask("resume", "s1", json!({"after_seq": 0})).await;
    assert_ws_error(&answer, "resume_gap", "s1");
    // What is still kept can be resumed.
    let (events, ack) = resume(&mut ws, "s2", 1).await;
    assert_eq!(seqs(&events), [2]);
    assert_eq!(ack, json!({"replayed": 1, "seq": 2}));
}

async fn resume_needs_a_whole_non_negative_after_seq(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    for (id, fields) in [
        ("s1", json!({})),
        ("s2", json!({"after_seq": "3"})),
        ("s3", json!({"after_seq": 1.5})),
        ("s4", json!({"after_seq": null})),
        ("s5", json!({"after_seq": -1})),
    ] {
        ws.send(req("resume", id, fields)).await;
        let answer = ws.answer_to(id).await;
        assert_ws_invalid(&answer, "after_seq", id);
    }
}

/// The ack of a retried change carries its old `seq`: that must not count the events
/// after it as received on this connection.
async fn resume_after_a_retried_change_replays_what_was_missed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut phone, _) = app.ws("alice").await;
    let fields = json!({"title": "Buy milk"});
    let (_, first_seq) = write_ack(&phone.ask("task.create", "x", fields.clone()).await, "x");
    phone.close().await;
    let (mut laptop, _) = app.ws("alice").await;
    for i in 0..5 {
        let id = format!("l{i}");
        write_ack(
            &laptop.ask("task.create", &id, json!({"title": id})).await,
            &id,
        );
    }

    let (mut phone, _) = app.ws("alice").await;
    write_ack(
        &phone
            .ask("task.create", "y", json!({"title": "Eggs"}))
            .await,
        "y",
    );
    // The answer to the retry was lost in the tunnel: the same request again.
    let (_, seq) = write_ack(&phone.ask("task.create", "x", fields).await, "x");
    assert_eq!(seq, first_seq);
    let (events, ack) = resume(&mut phone, "s1", first_seq).await;
    assert_eq!(seqs(&events), [2, 3, 4, 5, 6]);
    assert_eq!(ack, json!({"replayed": 5, "seq": 7}));
}
