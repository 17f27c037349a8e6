//! First light of `/ws`: a create acked with a seq, seen live by a second socket.

use serde_json::json;

use crate::helpers::{
    app::spawn_app,
    db::Backend,
    ws::{assert_valid_request, req},
};
use crate::on_both_backends;

on_both_backends!(create_is_acked_and_fanned_out);

async fn create_is_acked_and_fanned_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut tab1, ready) = app.ws("alice").await;
    assert_eq!(ready["user_id"], "alice");
    assert_eq!(ready["seq"], 0);
    let (mut tab2, _) = app.ws("alice").await;
    let (mut bob, _) = app.ws("bob").await;

    let frame = req("task.create", "c1", json!({"title": "Buy milk"}));
    assert_valid_request(&frame);
    let ack = tab1.request(frame).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["seq"], 1);
    assert_eq!(ack["data"]["title"], "Buy milk");

    let event = tab2.event().await;
    assert_eq!(event["event"], "task.created");
    assert_eq!(event["seq"], 1);
    assert_eq!(event["data"], ack["data"]);

    bob.assert_silent(std::time::Duration::from_millis(300))
        .await;
    tab1.assert_silent(std::time::Duration::from_millis(100))
        .await;
}

on_both_backends!(a_large_ack_is_delivered_whole);

/// An answer far larger than the frame limit on requests (here ~600 KB of history)
/// still reaches the client: the limit is on what clients send, not on what they read.
async fn a_large_ack_is_delivered_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let content = "x".repeat(20_000);
    let first = ws
        .request(req("message.append", "m0", json!({"content": content})))
        .await;
    let conversation_id = first["data"]["conversation"]["id"].clone();
    for i in 1..30 {
        let ack = ws
            .request(req(
                "message.append",
                &format!("m{i}"),
                json!({"content": content, "conversation_id": conversation_id}),
            ))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let history = ws
        .request(req(
            "conversation.history",
            "h",
            json!({"conversation_id": conversation_id, "limit": 50}),
        ))
        .await;
    assert_eq!(history["type"], "ack", "{history}");
    assert_eq!(history["data"]["messages"].as_array().unwrap().len(), 30);
    assert_eq!(history["data"]["has_more"], false);
    let pong = ws.request(req("ping", "p", json!({}))).await;
    assert_eq!(pong["type"], "pong");
}

on_both_backends!(acks_and_events_arrive_in_seq_order_on_every_connection);

/// Two tabs of one user change data at the same time, as fast as they can: each sees
/// its acks and the other's events interleaved in `seq` order, 1 to N with no gap.
async fn acks_and_events_arrive_in_seq_order_on_every_connection(backend: Backend) {
    const EACH: usize = 30;
    let app = spawn_app(backend).await;
    let (mut a, _) = app.ws("alice").await;
    let (mut b, _) = app.ws("alice").await;
    for i in 0..EACH {
        a.send(req(
            "task.create",
            &format!("a{i}"),
            json!({"title": format!("a{i}")}),
        ))
        .await;
        b.send(req(
            "task.create",
            &format!("b{i}"),
            json!({"title": format!("b{i}")}),
        ))
        .await;
    }
    for ws in [&mut a, &mut b] {
        let mut seqs = Vec::new();
        while seqs.len() < 2 * EACH {
            let frame = ws.recv().await;
            assert!(
                matches!(frame["type"].as_str(), Some("ack" | "event")),
                "{frame}"
            );
            seqs.push(frame["seq"].as_i64().unwrap());
        }
        let expected: Vec<i64> = (1..=(2 * EACH) as i64).collect();
        assert_eq!(seqs, expected, "frames out of seq order");
    }
}
