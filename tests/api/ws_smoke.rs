//! First light of `/ws`: a create acked with a seq, seen live by a second socket.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use crate::ws_client::{assert_valid_request, req};

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
