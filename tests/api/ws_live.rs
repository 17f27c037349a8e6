//! `/ws` under real conditions: fan-out to a user's other connections (and from
//! REST), bad frames, the frame size limit, rate limiting, slow consumers, the
//! database going away, graceful shutdown and heartbeats (design §6 and §9).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{
    app::{Options, TestApp, spawn_app, spawn_with},
    db::{Backend, TestDb},
    jwt::bearer,
    proxy::{Link, spawn_behind_proxy},
    ws::{Handshake, Incoming, RawWs, WAIT, WsClient, assert_ws_error, assert_ws_invalid, req},
};
use crate::on_both_backends;

on_both_backends!(
    events_reach_the_users_other_connections_only,
    rest_changes_are_delivered_live,
    bad_frames_are_answered_and_the_connection_lives_on,
    a_frame_over_the_size_limit_closes_with_1009,
    requests_over_the_rate_are_refused_then_allowed_again,
    a_flood_of_frames_closes_with_4429,
    a_client_that_keeps_ignoring_the_limit_is_closed_with_4429,
    a_slow_consumer_is_dropped_while_others_get_every_event,
    shutdown_closes_every_socket_with_1001_in_time,
    shutdown_answers_the_frame_in_flight_then_closes_with_1001,
    shutdown_closes_a_client_that_keeps_sending_with_1001,
    heartbeats_keep_answering_clients_and_drop_silent_ones,
);

/// `ws`'s next event is `name`, with the `seq` and `data` of the ack that caused it.
async fn assert_event(ws: &mut WsClient, name: &str, ack: &Value) {
    let event = ws.event().await;
    assert_eq!(event["event"], name, "{event}");
    assert_eq!(event["seq"], ack["seq"], "event {event}\nack {ack}");
    assert_eq!(event["data"], ack["data"], "event {event}\nack {ack}");
}

/// `answer` is an ack of `id` carrying `seq`.
fn assert_ack(answer: &Value, id: &str, seq: i64) {
    assert_eq!(answer["type"], "ack", "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["seq"], seq, "{answer}");
}

async fn events_reach_the_users_other_connections_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut tab1, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 0);
    let (mut tab2, _) = app.ws("alice").await;
    let (mut bob, _) = app.ws("bob").await;

    let created = tab1
        .request(req("task.create", "c1", json!({"title": "Buy milk"})))
        .await;
    assert_ack(&created, "c1", 1);
    assert_event(&mut tab2, "task.created", &created).await;
    let task_id = created["data"]["id"].clone();

    let updated = tab2
        .request(req(
            "task.update",
            "u1",
            json!({"task_id": task_id, "title": "Buy oat milk"}),
        ))
        .await;
    assert_ack(&updated, "u1", 2);
    assert_eq!(updated["data"]["title"], "Buy oat milk");
    assert_event(&mut tab1, "task.updated", &updated).await;

    // Reads take no seq.
    let list = tab1.request(req("task.list", "l1", json!({}))).await;
    assert_eq!(list["type"], "ack", "{list}");
    assert!(list.get("seq").is_none(), "a read has no seq: {list}");

    let completed = tab1
        .request(req(
            "task.complete",
            "k1",
            json!({"task_id": task_id, "completed": true}),
        ))
        .await;
    assert_ack(&completed, "k1", 3);
    assert_eq!(completed["data"]["completed"], true);
    assert_eq!(completed["data"]["title"], "Buy oat milk", "the whole task");
    assert_event(&mut tab2, "task.updated", &completed).await;

    let appended = tab2
        .request(req(
            "message.append",
            "m1",
            json!({"content": "add milk to my list"}),
        ))
        .await;
    assert_ack(&appended, "m1", 4);
    assert_eq!(
        appended["data"]["message"]["content"],
        "add milk to my list"
    );
    assert_event(&mut tab1, "message.appended", &appended).await;

    let deleted = tab1
        .request(req("task.delete", "d1", json!({"task_id": task_id})))
        .await;
    assert_ack(&deleted, "d1", 5);
    assert_eq!(deleted["data"], json!({"task_id": task_id}));
    assert_event(&mut tab2, "task.deleted", &deleted).await;

    let again = tab2
        .request(req("task.create", "c2", json!({"title": "Bread"})))
        .await;
    assert_ack(&again, "c2", 6);
    assert_event(&mut tab1, "task.created", &again).await;

    // A sender gets the ack, never its own event; bob gets nothing of alice's.
    tab1.assert_silent(Duration::from_millis(200)).await;
    tab2.assert_silent(Duration::from_millis(100)).await;
    bob.assert_silent(Duration::from_millis(100)).await;

    // Bob's seq is his own.
    let bobs = bob
        .request(req("task.create", "b1", json!({"title": "Bob's"})))
        .await;
    assert_ack(&bobs, "b1", 1);
    tab1.assert_silent(Duration::from_millis(200)).await;
}

async fn rest_changes_are_delivered_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut tab1, _) = app.ws("alice").await;
    let (mut tab2, _) = app.ws("alice").await;
    let (mut bob, _) = app.ws("bob").await;

    let posted = app
        .post_task("alice", json!({"title": "From REST", "priority": "high"}))
        .await;
    assert_eq!(posted.status, 201, "{}", posted.text);
    let id = posted.body["id"].clone();
    let expected = json!({"seq": 1, "data": posted.body});
    assert_event(&mut tab1, "task.created", &expected).await;
    assert_event(&mut tab2, "task.created", &expected).await;

    let put = app
        .put_task("alice", &id, json!({"title": "Renamed over REST"}))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let expected = json!({"seq": 2, "data": put.body});
    assert_event(&mut tab1, "task.updated", &expected).await;
    assert_event(&mut tab2, "task.updated", &expected).await;

    // REST keeps its old short answer; the event carries the whole task.
    let patched = app
        .patch_complete("alice", &id, json!({"completed": true}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let task = app.get_task("alice", &id).await.body;
    assert_eq!(task["completed"], true);
    assert_eq!(task["updated_at"], patched.body["updated_at"]);
    let expected = json!({"seq": 3, "data": task});
    assert_event(&mut tab1, "task.updated", &expected).await;
    assert_event(&mut tab2, "task.updated", &expected).await;

    let deleted = app.delete_task("alice", &id).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let expected = json!({"seq": 4, "data": {"task_id": id}});
    assert_event(&mut tab1, "task.deleted", &expected).await;
    assert_event(&mut tab2, "task.deleted", &expected).await;

    // WebSocket changes continue the same sequence.
    let ack = tab1
        .request(req(
            "task.create",
            "c1",
            json!({"title": "Over the socket"}),
        ))
        .await;
    assert_ack(&ack, "c1", 5);
    assert_event(&mut tab2, "task.created", &ack).await;

    bob.assert_silent(Duration::from_millis(200)).await;
    tab1.assert_silent(Duration::from_millis(100)).await;
}

async fn bad_frames_are_answered_and_the_connection_lives_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let long_id = "x".repeat(65);
    let id_65 = json!({"type": "task.list", "id": long_id}).to_string();
    // The answer names the request when the frame has a usable id, else `null`.
    let cases = [
        ("not JSON", "hello", Value::Null),
        (
            "a JSON array",
            r#"[{"type": "ping", "id": "p1"}]"#,
            Value::Null,
        ),
        ("a JSON string", r#""ping""#, Value::Null),
        ("a JSON number", "42", Value::Null),
        ("no type", r#"{"id": "x1"}"#, json!("x1")),
        (
            "a type that is not a string",
            r#"{"type": 7, "id": "x2"}"#,
            json!("x2"),
        ),
        (
            "no id on a request",
            r#"{"type": "task.list"}"#,
            Value::Null,
        ),
        (
            "an id that is a number",
            r#"{"type": "task.list", "id": 5}"#,
            Value::Null,
        ),
        (
            "an id that is null",
            r#"{"type": "task.list", "id": null}"#,
            Value::Null,
        ),
        (
            "an empty id",
            r#"{"type": "task.list", "id": ""}"#,
            Value::Null,
        ),
        ("an id of 65 characters", id_65.as_str(), Value::Null),
    ];
    for (what, text, id) in cases {
        ws.send_text(text).await;
        let answer = ws.recv().await;
        assert_ws_error(&answer, "bad_frame", id);
        assert_eq!(answer["retryable"], false, "{what}: {answer}");
        ws.assert_alive(what).await;
    }

    ws.send_raw(Message::Binary(
        br#"{"type": "ping", "id": "b1"}"#.to_vec().into(),
    ))
    .await;
    let answer = ws.recv().await;
    assert_ws_error(&answer, "bad_frame", Value::Null);
    ws.assert_alive("a binary frame").await;

    // 64 characters is the longest id.
    let id_64 = "y".repeat(64);
    let answer = ws.request(req("task.list", &id_64, json!({}))).await;
    assert_eq!(answer["type"], "ack", "{answer}");

    let answer = ws.request(req("task.explode", "u1", json!({}))).await;
    assert_ws_error(&answer, "unknown_type", "u1");
    ws.assert_alive("an unknown type").await;

    let answer = ws
        .request(req("task.create", "w1", json!({"title": 5})))
        .await;
    assert_ws_invalid(&answer, "title", "w1");
    ws.assert_alive("a title that is a number").await;

    let answer = ws
        .request(req("task.get", "w2", json!({"task_id": "seven"})))
        .await;
    assert_ws_invalid(&answer, "task_id", "w2");
    ws.assert_alive("a task_id that is a string").await;

    // A ping without an id is fine: a pong without one.
    ws.send(json!({"type": "ping"})).await;
    let pong = ws.recv().await;
    assert_eq!(pong["type"], "pong", "{pong}");
    assert!(pong.get("id").is_none(), "{pong}");

    // None of it wrote anything.
    let list = ws.request(req("task.list", "l1", json!({}))).await;
    assert_eq!(list["data"]["total_count"], 0, "{list}");
}

/// A `task.create` frame of exactly `bytes` bytes (padded in its description).
fn create_frame_of(id: &str, bytes: usize) -> String {
    let frame = |pad: usize| {
        json!({"type": "task.create", "id": id, "title": "padded", "description": "d".repeat(pad)})
            .to_string()
    };
    let text = frame(bytes - frame(0).len());
    assert_eq!(text.len(), bytes);
    text
}

async fn a_frame_over_the_size_limit_closes_with_1009(backend: Backend) {
    let app = spawn_with(
        backend,
        Options::with_env(&[("WS_MAX_FRAME_BYTES", "1024")]),
    )
    .await;
    let (mut ws, _) = app.ws("alice").await;

    ws.send_text(&create_frame_of("fits", 1000)).await;
    let ack = ws.recv().await;
    assert_ack(&ack, "fits", 1);

    ws.send_text(&create_frame_of("too-big", 2000)).await;
    assert_eq!(ws.next_frame(WAIT).await, Err(Some(1009)));

    // The oversized frame was not handled.
    let (mut again, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1);
    let list = again.request(req("task.list", "l1", json!({}))).await;
    assert_eq!(list["data"]["total_count"], 1, "{list}");
}

/// A server where a connection may send 5 frames at once, then 5 per second.
async fn spawn_rate_limited(backend: Backend) -> TestApp {
    spawn_with(
        backend,
        Options::with_env(&[("WS_RATE_PER_SEC", "5"), ("WS_RATE_BURST", "5")]),
    )
    .await
}

async fn requests_over_the_rate_are_refused_then_allowed_again(backend: Backend) {
    let app = spawn_rate_limited(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    for i in 0..10 {
        ws.send(req("ping", &format!("p{i}"), json!({}))).await;
    }
    let mut refused = 0;
    for i in 0..10 {
        let answer = ws.next_frame(WAIT).await.unwrap_or_else(|code| {
            panic!("closed ({code:?}) after {i} answers: one burst of 10 is not sustained abuse")
        });
        assert_eq!(
            answer["id"],
            format!("p{i}"),
            "answers come in order: {answer}"
        );
        if i < 5 {
            assert_eq!(answer["type"], "pong", "within the burst: {answer}");
        } else if answer["type"] == "error" {
            assert_ws_error(&answer, "rate_limited", format!("p{i}"));
            assert_eq!(answer["retryable"], true, "{answer}");
            let wait = answer["retry_after_ms"].as_u64().unwrap_or_default();
            assert!((1..=1000).contains(&wait), "retry_after_ms: {answer}");
            refused += 1;
        } else {
            assert_eq!(answer["type"], "pong", "{answer}");
        }
    }
    assert!(
        refused >= 3,
        "10 pings at once, 5 allowed: {refused} refused"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..3 {
        let pong = ws
            .request(req("ping", &format!("later{i}"), json!({})))
            .await;
        assert_eq!(pong["type"], "pong", "after waiting: {pong}");
    }
    let ack = ws
        .request(req("task.create", "c1", json!({"title": "Still here"})))
        .await;
    assert_ack(&ack, "c1", 1);
}

async fn a_flood_of_frames_closes_with_4429(backend: Backend) {
    let app = spawn_rate_limited(backend).await;
    let (mut ws, _) = RawWs::connect(&app, "alice", None).await;

    // The server may close before all of them are sent: send errors are expected.
    for i in 0..30 {
        let _ = ws.send(req("ping", &format!("p{i}"), json!({}))).await;
    }
    let (mut pongs, mut refused) = (0, 0);
    let code = loop {
        match ws.next(WAIT).await {
            Some(Incoming::Text(frame)) if frame["type"] == "pong" => pongs += 1,
            Some(Incoming::Text(frame)) => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                refused += 1;
            }
            Some(Incoming::Ping) => {}
            Some(Incoming::Ended(code)) => break code,
            None => panic!("30 pings at once (5 allowed per second): still open after {WAIT:?}"),
        }
    };
    assert_eq!(code, Some(4429), "{pongs} pongs, {refused} refused");
    assert!(pongs >= 5, "the burst is answered first: {pongs} pongs");
    assert!(refused > 0, "refusals come before the close");

    // Only that connection: a new one works.
    let (mut fresh, _) = app.ws("alice").await;
    fresh.assert_alive("an abusive connection was closed").await;
}

async fn a_client_that_keeps_ignoring_the_limit_is_closed_with_4429(backend: Backend) {
    let app = spawn_rate_limited(backend).await;
    let (mut ws, _) = RawWs::connect(&app, "alice", None).await;

    // About 50 frames a second, ten times the rate, whatever the answers say.
    let deadline = Instant::now() + WAIT;
    let (mut sent, mut refused) = (0, 0);
    let code = 'abuse: loop {
        assert!(
            Instant::now() < deadline,
            "{sent} pings at ten times the rate, {refused} refused: still open after {WAIT:?}"
        );
        // The server may have closed already: then the send fails, as expected.
        let _ = ws.send(req("ping", &format!("p{sent}"), json!({}))).await;
        sent += 1;
        while let Some(incoming) = ws.next(Duration::from_millis(20)).await {
            match incoming {
                Incoming::Text(frame) if frame["type"] == "pong" => {}
                Incoming::Text(frame) => {
                    assert_eq!(frame["code"], "rate_limited", "{frame}");
                    refused += 1;
                }
                Incoming::Ping => {}
                Incoming::Ended(code) => break 'abuse code,
            }
        }
    };
    assert_eq!(code, Some(4429), "after {sent} pings, {refused} refused");
    assert!(refused > 0, "refusals come before the close");
}

/// Events come from a third connection's `message.append`s of 16,000 characters:
/// on loopback the server's socket send buffer grows to a few MiB before the
/// stalled socket pushes back, which tasks (≈1 KiB events, REST or not) fill only
/// after thousands of changes.
async fn a_slow_consumer_is_dropped_while_others_get_every_event(backend: Backend) {
    // Three connections per user: a fourth handshake succeeds only once the server
    // has dropped one of them.
    let app = spawn_with(
        backend,
        Options::with_env(&[
            ("WS_OUTBOUND_QUEUE", "8"),
            ("MAX_CONNECTIONS_PER_USER", "3"),
            ("WS_RATE_PER_SEC", "100000"),
            ("WS_RATE_BURST", "100000"),
        ]),
    )
    .await;
    let started = Instant::now();
    let (reader, _) = app.ws("alice").await;
    // A tiny receive buffer, and never read after `ready`.
    let (mut stalled, _) = RawWs::connect(&app, "alice", Some(4096)).await;
    let (mut writer, _) = app.ws("alice").await;
    let token = bearer(&app.token("alice"));
    let (status, _) = app
        .ws_handshake("", &[("authorization", &token)])
        .await
        .refused();
    assert_eq!(status, 429, "three connections are the cap");

    // The reader drains events as they come, until it has as many as were made.
    let (made_tx, mut made) = watch::channel(usize::MAX);
    let reader = tokio::spawn(async move {
        let mut reader = reader;
        let mut events = Vec::new();
        while events.len() < *made.borrow_and_update() {
            tokio::select! {
                event = reader.event() => events.push(event),
                _ = made.changed() => {}
            }
        }
        (reader, events)
    });

    // Appends, 20 at a time, until a fourth handshake is accepted: the server
    // dropped the stalled connection on its own (it still reads nothing).
    const CHUNK: usize = 20;
    const MAX_EVENTS: usize = 800;
    let content = "z".repeat(16_000);
    let mut acks = Vec::new();
    let _probe = loop {
        assert!(
            acks.len() < MAX_EVENTS,
            "{} events of 16 kB and the stalled connection still counts against the cap",
            acks.len()
        );
        for _ in 0..CHUNK {
            let id = format!("m{}", acks.len());
            let ack = writer
                .request(req("message.append", &id, json!({"content": content})))
                .await;
            assert_ack(&ack, &id, acks.len() as i64 + 1);
            acks.push(ack);
        }
        match app.ws_handshake("", &[("authorization", &token)]).await {
            Handshake::Open(probe) => break probe,
            Handshake::Refused(status, body) => assert_eq!(status, 429, "{body}"),
        }
    };
    made_tx.send_replace(acks.len());
    let (_reader, events) = tokio::time::timeout(WAIT, reader)
        .await
        .expect("the reader got every event in time")
        .expect("the reader saw only well-formed frames");
    assert_eq!(events.len(), acks.len());
    for (event, ack) in events.iter().zip(&acks) {
        assert_eq!(event["event"], "message.appended");
        assert_eq!(event["seq"], ack["seq"], "every event, in order, no gaps");
        assert_eq!(event["data"], ack["data"]);
    }

    // What it holds is a gapless prefix of the events, then the end of the socket:
    // a 1008 close, or a bare disconnect when the close frame could not get through.
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    let code = loop {
        match stalled
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Some(Incoming::Text(event)) => {
                assert_eq!(event["event"], "message.appended", "{event}");
                seen.push(event["seq"].as_i64().unwrap());
            }
            Some(Incoming::Ping) => {}
            Some(Incoming::Ended(code)) => break code,
            None => panic!("the stalled socket was not closed ({} events)", seen.len()),
        }
    };
    assert!(
        code.is_none() || code == Some(1008),
        "slow consumer close code: {code:?}"
    );
    assert!(
        seen.len() < acks.len(),
        "the stalled socket got every event: it was never dropped"
    );
    let prefix: Vec<i64> = (1..=seen.len() as i64).collect();
    assert_eq!(seen, prefix, "a slow consumer never sees a gap");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// The close code that ends `ws` (skipping events), within 3 s.
async fn close_code(ws: &mut WsClient, what: &str) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(3), ws.closed())
        .await
        .unwrap_or_else(|_| panic!("{what} was not closed within 3 s"))
}

/// A server whose graceful shutdown may take 3 s at most.
async fn spawn_for_shutdown(backend: Backend, db: Option<&TestDb>) -> TestApp {
    spawn_with(
        backend,
        Options {
            database_url: db.map(|db| db.database_url(None)),
            ..Options::with_env(&[("SHUTDOWN_TIMEOUT_SECS", "3")])
        },
    )
    .await
}

/// Stops `app`, failing unless it is done well within `SHUTDOWN_TIMEOUT_SECS=3`
/// (plus the 2 s a closing socket may take).
async fn stop_in_time(app: &mut TestApp) {
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), app.stop())
        .await
        .expect("stop did not return within 8 s (SHUTDOWN_TIMEOUT_SECS=3)");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "stop took {took:?}");
}

async fn shutdown_closes_every_socket_with_1001_in_time(backend: Backend) {
    let mut app = spawn_for_shutdown(backend, None).await;
    let (mut idle, _) = app.ws("alice").await;
    // Never reads (so never answers the close) until the server has stopped.
    let (mut deaf, _) = RawWs::connect(&app, "bob", None).await;

    stop_in_time(&mut app).await;
    assert_eq!(close_code(&mut idle, "the idle socket").await, Some(1001));
    let code = match deaf.next(WAIT).await {
        Some(Incoming::Ended(code)) => code,
        other => panic!("expected the close of a stopped server, got {other:?}"),
    };
    assert_eq!(code, Some(1001), "the socket that did not read");
}

async fn shutdown_answers_the_frame_in_flight_then_closes_with_1001(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let mut app = spawn_for_shutdown(backend.clone(), Some(&db)).await;
    let (mut busy, _) = app.ws("alice").await;
    let (mut other, _) = app.ws("alice").await;

    busy.send(req(
        "task.create",
        "c1",
        json!({"title": "Saved before stop"}),
    ))
    .await;
    let (answer, ()) = tokio::join!(busy.recv(), stop_in_time(&mut app));
    assert_ack(&answer, "c1", 1);
    assert_eq!(answer["data"]["title"], "Saved before stop");
    assert_eq!(close_code(&mut busy, "the busy socket").await, Some(1001));
    // The user's other connection gets the event before the close.
    assert_event(&mut other, "task.created", &answer).await;
    assert_eq!(close_code(&mut other, "the other socket").await, Some(1001));

    // What was acked is saved: a new server on the same database has it.
    let app = spawn_for_shutdown(backend, Some(&db)).await;
    let (mut ws, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1);
    let list = ws.request(req("task.list", "l1", json!({}))).await;
    assert_eq!(list["data"]["total_count"], 1, "{list}");
    assert_eq!(list["data"]["tasks"][0]["title"], "Saved before stop");
}

/// A client that never stops sending (a ping every 50 ms, under the rate limit) is
/// still closed with 1001, well within the shutdown timeout.
async fn shutdown_closes_a_client_that_keeps_sending_with_1001(backend: Backend) {
    let mut app = spawn_for_shutdown(backend, None).await;
    let (mut chatty, _) = RawWs::connect(&app, "alice", None).await;
    let keeps_sending = async {
        let mut n = 0;
        loop {
            n += 1;
            if chatty
                .send(req("ping", &format!("p{n}"), json!({})))
                .await
                .is_err()
            {
                return None;
            }
            match chatty.next(Duration::from_millis(50)).await {
                Some(Incoming::Ended(code)) => return code,
                _ => continue,
            }
        }
    };
    let (code, ()) = tokio::join!(keeps_sending, stop_in_time(&mut app));
    assert_eq!(code, Some(1001));
}

async fn heartbeats_keep_answering_clients_and_drop_silent_ones(backend: Backend) {
    let app = spawn_with(backend, Options::with_env(&[("WS_HEARTBEAT_MS", "200")])).await;

    // A client that reads answers each ping (tungstenite does) and stays.
    let (mut live, ready) = RawWs::connect(&app, "alice", None).await;
    assert_eq!(ready["heartbeat_ms"], 200);
    let (mut silent, _) = RawWs::connect(&app, "alice", None).await;
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(1200);
    while let Some(incoming) = live
        .next(until.saturating_duration_since(Instant::now()))
        .await
    {
        match incoming {
            Incoming::Ping => pings += 1,
            other => panic!("only pings while idle, got {other:?}"),
        }
    }
    assert!(pings >= 3, "{pings} pings in 1.2 s at 200 ms");
    live.send(req("ping", "still-there", json!({})))
        .await
        .expect("the answering client is still connected");
    loop {
        match live.next(WAIT).await {
            Some(Incoming::Ping) => {}
            Some(Incoming::Text(pong)) => {
                assert_eq!(pong, json!({"type": "pong", "id": "still-there"}));
                break;
            }
            other => panic!("expected a pong, got {other:?}"),
        }
    }

    // The other one did not read for as long (so answered no ping): it was dropped.
    let deadline = Instant::now() + WAIT;
    let mut frames = 0;
    loop {
        match silent
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Some(Incoming::Ping) => frames += 1,
            Some(Incoming::Ended(_)) => break,
            Some(Incoming::Text(frame)) => panic!("unexpected frame {frame}"),
            None => panic!("a client silent for 1.2 s (heartbeat 200 ms) is still connected"),
        }
    }
    assert!(
        frames >= 1,
        "the silent client was pinged before being dropped"
    );
}

/// PostgreSQL only: SQLite is a file in the server's process, and there is no way
/// to take it away from a running server the way a network database goes away.
#[tokio::test]
async fn database_down_is_unavailable_and_the_socket_recovers() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Up, 1).await else {
        return;
    };
    let (mut ws, _) = app.ws("alice").await;
    let ack = ws
        .request(req("task.create", "c1", json!({"title": "before"})))
        .await;
    assert_ack(&ack, "c1", 1);

    proxy.set(Link::Down);
    let answer = ws
        .request(req("task.create", "c2", json!({"title": "during"})))
        .await;
    assert_ws_error(&answer, "unavailable", "c2");
    assert_eq!(answer["retryable"], true, "{answer}");
    // No ack follows, and the socket is still open.
    ws.assert_alive("unavailable").await;

    proxy.set(Link::Up);
    let deadline = Instant::now() + Duration::from_secs(20);
    let ack = loop {
        // A retry after `unavailable` is processed afresh, even with the same id.
        let answer = ws
            .request(req("task.create", "c2", json!({"title": "during"})))
            .await;
        if answer["type"] == "ack" {
            break answer;
        }
        assert_ws_error(&answer, "unavailable", "c2");
        assert!(Instant::now() < deadline, "the database never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ack(&ack, "c2", 2);
    let list = ws.request(req("task.list", "l1", json!({}))).await;
    assert_eq!(list["data"]["total_count"], 2, "{list}");
}
