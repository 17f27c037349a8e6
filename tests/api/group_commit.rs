//! Group commit: concurrent changes (of many users, and several of one user) share
//! one transaction, and an ack still means committed. A failing change fails alone; every user's `seq` stays
//! contiguous and in order on every connection; a request sent twice at once is
//! written once. Each test runs with coalescing on and off (`GROUP_COMMIT=off`).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::helpers::{
    app::{Options, TestApp, spawn_with},
    db::{Backend, pg_options},
    json::id,
    proxy::DbProxy,
    ws::{WsClient, assert_ws_error, read_ack, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    a_failing_change_fails_alone_in_its_batch,
    a_failing_change_fails_alone_with_coalescing_off,
    seq_is_contiguous_and_in_order_across_batches,
    seq_is_contiguous_and_in_order_with_coalescing_off,
    copies_of_one_request_in_a_batch_are_written_once,
    copies_of_one_request_are_written_once_with_coalescing_off,
    messages_of_one_batch_are_told_their_own_rows,
    one_connections_changes_share_a_batch_and_keep_their_order,
);

/// Coalescing on, batches closed only when `max` changes are queued (or after 1 s),
/// so that changes sent together share a transaction; or off.
#[derive(Clone, Copy)]
enum Mode {
    Batches { max: usize },
    Off,
}

async fn spawn(backend: Backend, mode: Mode, pg_port: Option<u16>) -> TestApp {
    let mut env = vec![
        ("WS_RATE_PER_SEC", "100000".to_owned()),
        ("WS_RATE_BURST", "100000".to_owned()),
    ];
    match mode {
        Mode::Batches { max } => env.extend([
            ("GROUP_COMMIT_MAX", max.to_string()),
            ("GROUP_COMMIT_WAIT_US", "1000000".to_owned()),
        ]),
        Mode::Off => env.push(("GROUP_COMMIT", "off".to_owned())),
    }
    spawn_with(
        backend,
        Options {
            env,
            pg_port,
            ..Default::default()
        },
    )
    .await
}

/// The value of a counter or histogram line in `/metrics` (one recorder per test
/// process: other tests count too); 0 before it is first recorded.
async fn metric(app: &TestApp, line: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{line} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// How many commits so far carried more than `size` changes.
async fn batches_larger_than(app: &TestApp, size: u32) -> u64 {
    let bucket = |le: String| format!("taskwire_commit_batch_size_bucket{{le=\"{le}\"}}");
    metric(app, &bucket("+Inf".into())).await - metric(app, &bucket(size.to_string())).await
}

const RETRIES: &str = "taskwire_commit_batch_retries_total";

async fn a_failing_change_fails_alone_in_its_batch(backend: Backend) {
    a_failing_change_fails_alone(backend, Mode::Batches { max: 6 }).await;
}

async fn a_failing_change_fails_alone_with_coalescing_off(backend: Backend) {
    a_failing_change_fails_alone(backend, Mode::Off).await;
}

/// Six users change data at once, three of them in ways that fail (a task that is
/// not there, a conversation that is not theirs, an id used for another request):
/// the other three are committed and acked, the three get their own errors, and no
/// failure takes a `seq`.
async fn a_failing_change_fails_alone(backend: Backend, mode: Mode) {
    let app = spawn(backend, mode, None).await;
    let mut users = Vec::new();
    for n in 0..6 {
        users.push(app.ws(&format!("user{n}")).await.0);
    }
    // user2's conversation, which user3 will try to append to; user4's request id c1.
    let conversation = users[2]
        .append_message("m0", json!({"content": "mine"}))
        .await;
    let theirs = id(&conversation["conversation"]);
    write_ack(
        &users[4]
            .ask("task.create", "c1", json!({"title": "first"}))
            .await,
        "c1",
    );

    let retries_before = metric(&app, RETRIES).await;
    let frames = [
        req("task.create", "a", json!({"title": "one"})),
        req(
            "task.update",
            "b",
            json!({"task_id": 999_999, "title": "x"}),
        ),
        req("message.append", "c", json!({"content": "two"})),
        req(
            "message.append",
            "d",
            json!({"content": "x", "conversation_id": theirs}),
        ),
        req("task.create", "c1", json!({"title": "another"})),
        req("task.create", "f", json!({"title": "three"})),
    ];
    for (ws, frame) in users.iter_mut().zip(&frames) {
        ws.send(frame.clone()).await;
    }
    let mut answers = Vec::new();
    for (ws, frame) in users.iter_mut().zip(&frames) {
        answers.push(ws.answer_to(frame["id"].clone()).await);
    }

    assert_eq!(write_ack(&answers[0], "a").1, 1);
    assert_ws_error(&answers[1], "not_found", "b");
    assert_eq!(write_ack(&answers[2], "c").1, 2, "after m0");
    assert_ws_error(&answers[3], "not_found", "d");
    assert_ws_error(&answers[4], "conflict", "c1");
    assert_eq!(write_ack(&answers[5], "f").1, 1);
    assert_eq!(app.task_count("user0").await, 1);
    assert_eq!(app.task_count("user4").await, 1, "c1 written once");
    assert_eq!(app.task_count("user5").await, 1);
    if let Mode::Batches { .. } = mode {
        assert!(
            batches_larger_than(&app, 4).await > 0,
            "the six changes shared a transaction"
        );
        assert!(
            metric(&app, RETRIES).await > retries_before,
            "the batch was written again change by change"
        );
    }

    // The failures took no seq: each user's next change takes the next one.
    for (n, expected) in [(1, 1), (3, 1), (4, 2)] {
        let ack = users[n]
            .ask("task.create", "next", json!({"title": "next"}))
            .await;
        assert_eq!(write_ack(&ack, "next").1, expected, "user{n}");
    }
}

async fn seq_is_contiguous_and_in_order_across_batches(backend: Backend) {
    seq_is_contiguous_and_in_order(backend, Mode::Batches { max: 4 }).await;
}

async fn seq_is_contiguous_and_in_order_with_coalescing_off(backend: Backend) {
    seq_is_contiguous_and_in_order(backend, Mode::Off).await;
}

/// Five users, two connections each, every connection with 15 changes in flight:
/// each user's acks take `seq` 1..=30, each once, and every connection sees its
/// user's 30 changes (its own acks and the other tab's events) once each, in `seq`
/// order.
async fn seq_is_contiguous_and_in_order(backend: Backend, mode: Mode) {
    const USERS: usize = 5;
    const PER_CONNECTION: usize = 15;
    let app = spawn(backend, mode, None).await;
    let mut tabs: Vec<(usize, WsClient)> = Vec::new();
    for user in 0..USERS {
        for _ in 0..2 {
            tabs.push((user, app.ws(&format!("user{user}")).await.0));
        }
    }
    for (tab, (_, ws)) in tabs.iter_mut().enumerate() {
        for n in 0..PER_CONNECTION {
            let frame = req(
                "message.append",
                &format!("t{tab}m{n}"),
                json!({"content": "x"}),
            );
            ws.send(frame).await;
        }
    }

    let total = 2 * PER_CONNECTION as i64;
    let mut acked: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (tab, (user, ws)) in tabs.iter_mut().enumerate() {
        let mut seen = Vec::new();
        while seen.len() < total as usize {
            let frame = ws.recv().await;
            let seq = frame["seq"].as_i64().unwrap_or_else(|| panic!("{frame}"));
            if frame["type"] == "ack" {
                acked.entry(*user).or_default().push(seq);
            } else {
                assert_eq!(frame["type"], "event", "{frame}");
            }
            seen.push(seq);
        }
        assert_eq!(
            seen,
            (1..=total).collect::<Vec<_>>(),
            "tab {tab} of user{user}: every seq once, in order"
        );
        ws.assert_alive("no frame more").await;
    }
    for (user, mut seqs) in acked {
        seqs.sort();
        assert_eq!(seqs, (1..=total).collect::<Vec<_>>(), "user{user}'s acks");
    }
}

async fn copies_of_one_request_in_a_batch_are_written_once(backend: Backend) {
    copies_of_one_request_are_written_once(backend, Mode::Batches { max: 4 }).await;
}

async fn copies_of_one_request_are_written_once_with_coalescing_off(backend: Backend) {
    copies_of_one_request_are_written_once(backend, Mode::Off).await;
}

/// Two tabs send the same request at once, among other users' changes: one
/// message is written, and both tabs get the same ack.
async fn copies_of_one_request_are_written_once(backend: Backend, mode: Mode) {
    let app = spawn(backend, mode, None).await;
    let (mut tab, _) = app.ws("alice").await;
    let (mut other_tab, _) = app.ws("alice").await;
    let (mut bob, _) = app.ws("bob").await;
    let (mut carol, _) = app.ws("carol").await;
    for round in 0..3 {
        let id = format!("m{round}");
        let frame = req("message.append", &id, json!({"content": "once"}));
        tab.send(frame.clone()).await;
        other_tab.send(frame).await;
        for ws in [&mut bob, &mut carol] {
            ws.send(req("task.create", &id, json!({"title": "t"})))
                .await;
        }
        let first = tab.answer_to(id.as_str()).await;
        let second = other_tab.answer_to(id.as_str()).await;
        assert_eq!(first, second, "round {round}: both copies get one ack");
        assert_eq!(write_ack(&first, &id).1, round + 1, "round {round}");
        for ws in [&mut bob, &mut carol] {
            assert_eq!(
                write_ack(&ws.answer_to(id.as_str()).await, &id).1,
                round + 1
            );
        }
        let conversation_id = id_of_conversation(&first);
        assert_eq!(
            tab.message_contents(conversation_id).await.len(),
            1,
            "round {round}: written once"
        );
    }
}

/// Eight users append at once, half to a conversation they have, half starting
/// one: the batch writes them together, and each ack names the row its own message
/// was written to, in its own user's conversation, as history reads it back.
async fn messages_of_one_batch_are_told_their_own_rows(backend: Backend) {
    const USERS: usize = 8;
    let app = spawn(backend, Mode::Batches { max: USERS }, None).await;
    let mut users = Vec::new();
    for n in 0..USERS {
        let (mut ws, _) = app.ws(&format!("user{n}")).await;
        ws.send(req("message.append", "first", json!({"content": "first"})))
            .await;
        users.push(ws);
    }
    let mut conversations = Vec::new();
    for ws in &mut users {
        let (first, _) = write_ack(&ws.answer_to("first").await, "first");
        conversations.push(id(&first["conversation"]));
    }
    let before = batches_larger_than(&app, 4).await;
    for (n, ws) in users.iter_mut().enumerate() {
        let content = format!("from user{n}");
        let fields = if n % 2 == 0 {
            json!({"content": content, "conversation_id": conversations[n]})
        } else {
            json!({"content": content})
        };
        ws.send(req("message.append", "second", fields)).await;
    }
    for (n, ws) in users.iter_mut().enumerate() {
        let (appended, seq) = write_ack(&ws.answer_to("second").await, "second");
        assert_eq!(seq, 2, "user{n}");
        let (conversation, message) = (&appended["conversation"], &appended["message"]);
        assert_eq!(message["content"], format!("from user{n}"));
        assert_eq!(conversation["user_id"], format!("user{n}"));
        assert_eq!(message["conversation_id"], conversation["id"]);
        assert_eq!(conversation["updated_at"], message["created_at"]);
        if n % 2 == 0 {
            assert_eq!(id(conversation), conversations[n], "user{n} appended");
        } else {
            assert_ne!(id(conversation), conversations[n], "user{n} started one");
        }
        let history = read_ack(
            &ws.ask(
                "conversation.history",
                "history",
                json!({"conversation_id": id(conversation)}),
            )
            .await,
            "history",
        );
        let stored = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message["id"])
            .unwrap_or_else(|| panic!("user{n}'s message {} is not stored", message["id"]));
        assert_eq!(stored, message, "user{n}: the ack is the stored row");
    }
    assert!(
        batches_larger_than(&app, 4).await > before,
        "the eight changes shared a transaction"
    );
}

/// One connection sends eight changes without waiting, then a read: the changes
/// are worked on together (one batch, not eight transactions one after another),
/// acked in the order sent with `seq` 1..=8, and the read, answered last, sees them
/// all.
async fn one_connections_changes_share_a_batch_and_keep_their_order(backend: Backend) {
    const CHANGES: usize = 8;
    let app = spawn(backend, Mode::Batches { max: CHANGES }, None).await;
    let (mut ws, _) = app.ws("alice").await;
    let before = batches_larger_than(&app, 4).await;
    for n in 0..CHANGES {
        let fields = json!({"content": format!("message {n}")});
        ws.send(req("message.append", &format!("m{n}"), fields))
            .await;
    }
    ws.send(req("conversation.list", "list", json!({"limit": 100})))
        .await;
    for n in 0..CHANGES {
        let ack = ws.recv().await;
        let (appended, seq) = write_ack(&ack, &format!("m{n}"));
        assert_eq!(seq, n as i64 + 1, "acks come in the order sent");
        assert_eq!(appended["message"]["content"], format!("message {n}"));
    }
    let listed = read_ack(&ws.recv().await, "list");
    assert_eq!(
        listed["conversations"].as_array().unwrap().len(),
        CHANGES,
        "the read sees every change sent before it"
    );
    assert!(
        batches_larger_than(&app, 4).await > before,
        "the connection's changes shared a transaction"
    );
}

fn id_of_conversation(ack: &Value) -> i64 {
    id(&ack["data"]["conversation"])
}

/// PostgreSQL: four users' changes share a transaction whose `COMMIT` reply the
/// proxy holds; none is acked until it lands, then every one is.
#[tokio::test]
async fn no_change_of_a_batch_is_acked_before_its_commit() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let Backend::Postgres { url } = &backend else {
        unreachable!()
    };
    let options = pg_options(url);
    let proxy = DbProxy::start((options.get_host().to_owned(), options.get_port())).await;
    let app = spawn(backend, Mode::Batches { max: 4 }, Some(proxy.port)).await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(app.ws(&format!("user{n}")).await.0);
    }

    let hold = Duration::from_millis(1500);
    proxy.hold_next_commit_reply(hold);
    let sent = Instant::now();
    let mut answers = Vec::new();
    for mut ws in users {
        ws.send(req("task.create", "c", json!({"title": "t"})))
            .await;
        answers.push(tokio::spawn(async move {
            let ack = ws.answer_to("c").await;
            (ack, sent.elapsed())
        }));
    }
    for answer in answers {
        let (ack, after) = answer.await.unwrap();
        assert_eq!(write_ack(&ack, "c").1, 1);
        assert!(
            after >= hold,
            "acked {after:?} after sending, before the commit's reply"
        );
    }
    for n in 0..4 {
        assert_eq!(app.task_count(&format!("user{n}")).await, 1);
    }
}
