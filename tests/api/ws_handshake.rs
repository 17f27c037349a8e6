//! `/ws` authentication, as a client sees it: the three ways to authenticate (the
//! `Authorization` header, `?token=`, an `auth` frame) and every refusal (HTTP before
//! the upgrade, an error frame and a close after it), `Origin`, the per-user
//! connection cap, and `auth.refresh`.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    app::{Options, TestApp, spawn_app, spawn_with},
    db::Backend,
    jwt::{bearer, now, sign, token_until},
    ws::{Handshake, WsClient, assert_valid_request, assert_ws_error, read_ack, req, write_ack},
};
use crate::on_both_backends;

on_both_backends!(
    bearer_header_authenticates_and_ready_describes_the_session,
    token_query_parameter_authenticates,
    auth_frame_authenticates_a_socket_opened_without_a_token,
    auth_frame_without_an_id_is_answered_by_ready,
    ready_seq_is_the_users_latest_event,
    failed_handshake_tokens_are_401_before_the_upgrade,
    header_token_wins_over_query_token,
    no_auth_frame_in_time_closes_with_4408,
    bad_token_in_auth_frame_is_an_error_then_4401,
    expired_token_in_auth_frame_is_an_error_then_4401,
    first_frame_other_than_auth_is_an_error_then_4401,
    disallowed_origins_are_403,
    allowed_same_and_absent_origins_connect,
    connection_over_the_cap_is_429_at_the_handshake,
    connection_over_the_cap_is_closed_4429_on_the_auth_frame_path,
    closing_a_connection_frees_a_slot,
    plain_get_without_upgrade_is_426,
    auth_frame_on_an_authenticated_socket_is_invalid,
    auth_refresh_extends_the_session,
    failed_auth_refresh_is_refused_and_keeps_the_connection,
);

/// The socket acts as `user`: the task it creates is `user`'s.
async fn assert_acts_as(ws: &mut WsClient, user: &str) {
    let (task, _) = write_ack(
        &ws.ask("task.create", "c1", json!({"title": "Buy milk"}))
            .await,
        "c1",
    );
    assert_eq!(task["user_id"], user, "the socket acts as {user}");
}

async fn bearer_header_authenticates_and_ready_describes_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 3600;
    let (mut ws, ready) = app.ws_with_token(&token_until("alice", exp)).await;

    assert_eq!(ready["user_id"], "alice");
    let connection_id = ready["connection_id"].as_str().expect("a string");
    assert!(!connection_id.is_empty());
    assert_eq!(ready["seq"], 0, "a new user has no events");
    assert!(ready["heartbeat_ms"].as_u64().is_some_and(|ms| ms > 0));
    assert_eq!(ready["expires_at"], exp, "the token's exp");
    assert_eq!(
        ready["server"],
        concat!("taskwire/", env!("CARGO_PKG_VERSION"))
    );

    let (_other, second) = app.ws("alice").await;
    assert_ne!(second["connection_id"], ready["connection_id"]);
    ws.assert_alive("a second connection of the same user")
        .await;
}

async fn token_query_parameter_authenticates(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 600;
    let query = format!("?token={}", token_until("alice", exp));
    let mut ws = app.ws_handshake(&query, &[]).await.open();

    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["user_id"], "alice");
    assert_eq!(ready["expires_at"], exp);
    ws.assert_alive("authenticating with ?token=").await;
}

async fn auth_frame_authenticates_a_socket_opened_without_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 600;
    let mut ws = app.ws_unauthenticated().await;

    let frame = json!({"type": "auth", "id": "a1", "token": token_until("alice", exp)});
    assert_valid_request(&frame);
    ws.send(frame).await;

    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "answered by ready: {ready}");
    assert_eq!(ready["user_id"], "alice");
    assert_eq!(ready["seq"], 0);
    assert_eq!(ready["expires_at"], exp);
    ws.assert_silent(Duration::from_millis(300)).await;

    assert_acts_as(&mut ws, "alice").await;
}

async fn auth_frame_without_an_id_is_answered_by_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = app.ws_unauthenticated().await;

    let frame = json!({"type": "auth", "token": app.token("alice")});
    assert_valid_request(&frame);
    ws.send(frame).await;

    // Design §9: the auth frame *may* carry an id, so it may also come without one.
    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "auth without an id: {ready}");
    assert_eq!(ready["user_id"], "alice");
    ws.assert_silent(Duration::from_millis(300)).await;
    ws.assert_alive("an auth frame without an id").await;
}

async fn ready_seq_is_the_users_latest_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 0);

    app.create_titled("alice", "Buy milk").await;
    let (mut ws, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1, "after a REST create");

    let ack = ws.ask("task.create", "c1", json!({"title": "Bread"})).await;
    assert_eq!(write_ack(&ack, "c1").1, 2);
    let (_, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 2);

    let (_, bob) = app.ws("bob").await;
    assert_eq!(bob["seq"], 0, "seq is per user");
}

async fn failed_handshake_tokens_are_401_before_the_upgrade(backend: Backend) {
    let app = spawn_app(backend).await;
    let expired = token_until("alice", now() - 60);
    let wrong_secret = sign(
        Algorithm::HS256,
        "not-the-server-secret",
        json!({"sub": "alice", "exp": now() + 3600}),
    );

    let headers = [
        "Bearer not-a-jwt".to_owned(),
        bearer(&wrong_secret),
        bearer(&expired),
        "Bearer".to_owned(),
        "Basic YWxpY2U6c2VjcmV0".to_owned(),
    ];
    for header in &headers {
        let handshake = app.ws_handshake("", &[("authorization", header)]).await;
        handshake.assert_refused(401, "unauthorized");
    }

    let queries = [
        "?token=not-a-jwt".to_owned(),
        format!("?token={wrong_secret}"),
        format!("?token={expired}"),
        "?token=".to_owned(),
    ];
    for query in &queries {
        app.ws_handshake(query, &[])
            .await
            .assert_refused(401, "unauthorized");
    }
}

async fn header_token_wins_over_query_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = bearer(&app.token("alice"));

    let handshake = app
        .ws_handshake("?token=not-a-jwt", &[("authorization", &alice)])
        .await;
    let mut ws = handshake.open();
    let ready = ws.recv().await;
    assert_eq!(ready["user_id"], "alice", "good header, bad query: {ready}");

    let query = format!("?token={}", app.token("bob"));
    let mut ws = app
        .ws_handshake(&query, &[("authorization", &alice)])
        .await
        .open();
    let ready = ws.recv().await;
    assert_eq!(ready["user_id"], "alice", "both good: the header's user");

    let handshake = app
        .ws_handshake(&query, &[("authorization", "Bearer not-a-jwt")])
        .await;
    handshake.assert_refused(401, "unauthorized");
}

async fn no_auth_frame_in_time_closes_with_4408(backend: Backend) {
    let options = Options::with_env(&[("WS_AUTH_TIMEOUT_MS", "300")]);
    let app = spawn_with(backend, options).await;

    let mut idle = app.ws_unauthenticated().await;
    let started = Instant::now();
    assert_eq!(idle.closed().await, Some(4408));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );

    // A socket that authenticated in time outlives the timeout.
    let mut ws = app.ws_unauthenticated().await;
    ws.send(json!({"type": "auth", "id": "a1", "token": app.token("alice")}))
        .await;
    assert_eq!(ws.recv().await["type"], "ready");
    tokio::time::sleep(Duration::from_millis(500)).await;
    ws.assert_alive("the auth timeout").await;
}

async fn bad_token_in_auth_frame_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong_secret = sign(
        Algorithm::HS256,
        "not-the-server-secret",
        json!({"sub": "alice", "exp": now() + 60}),
    );

    for token in ["not-a-jwt", "", &wrong_secret] {
        let mut ws = app.ws_unauthenticated().await;
        ws.send(json!({"type": "auth", "id": "a1", "token": token}))
            .await;
        assert_ws_error(&ws.recv().await, "unauthorized", "a1");
        assert_eq!(ws.closed().await, Some(4401), "token {token:?}");
    }
}

async fn expired_token_in_auth_frame_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = app.ws_unauthenticated().await;

    let expired = token_until("alice", now() - 60);
    ws.send(json!({"type": "auth", "id": "a1", "token": expired}))
        .await;
    assert_ws_error(&ws.recv().await, "token_expired", "a1");
    assert_eq!(ws.closed().await, Some(4401));
}

async fn first_frame_other_than_auth_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut ws = app.ws_unauthenticated().await;
    ws.send(json!({"type": "ping"})).await;
    assert_ws_error(&ws.recv().await, "unauthorized", Value::Null);
    assert_eq!(ws.closed().await, Some(4401));

    let mut ws = app.ws_unauthenticated().await;
    ws.send(req("task.list", "l1", json!({}))).await;
    assert_ws_error(&ws.recv().await, "unauthorized", "l1");
    assert_eq!(ws.closed().await, Some(4401));

    // Whatever else comes first, malformed or not, is the same refusal.
    for (text, id) in [
        ("hello".to_owned(), Value::Null),
        (json!({"type": "nope", "id": "n1"}).to_string(), json!("n1")),
        (
            json!({"type": "task.get", "id": "g1"}).to_string(),
            json!("g1"),
        ),
        (json!({"type": "auth", "id": "a1"}).to_string(), json!("a1")),
    ] {
        let mut ws = app.ws_unauthenticated().await;
        ws.send_text(&text).await;
        assert_ws_error(&ws.recv().await, "unauthorized", id);
        assert_eq!(ws.closed().await, Some(4401), "{text}");
    }
}

async fn disallowed_origins_are_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = bearer(&app.token("alice"));

    for origin in [
        "https://evil.example",
        "http://localhost:3001",
        "http://127.0.0.1:1",
    ] {
        let handshake = app
            .ws_handshake("", &[("authorization", &alice), ("origin", origin)])
            .await;
        handshake.assert_refused(403, "forbidden");
    }
    // Without a token too: the origin is checked first.
    let handshake = app
        .ws_handshake("", &[("origin", "https://evil.example")])
        .await;
    handshake.assert_refused(403, "forbidden");
}

async fn allowed_same_and_absent_origins_connect(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = bearer(&app.token("alice"));
    let same_origin = format!("http://{}", app.addr);

    for origin in [Some("http://localhost:3000"), Some(&same_origin), None] {
        let mut headers = vec![("authorization", alice.as_str())];
        headers.extend(origin.map(|o| ("origin", o)));
        let mut ws = app.ws_handshake("", &headers).await.open();
        let ready = ws.recv().await;
        assert_eq!(ready["user_id"], "alice", "origin {origin:?}: {ready}");
    }
}

/// A server that allows two connections per user, and alice's two, open.
async fn alice_at_the_cap(backend: Backend) -> (TestApp, WsClient, WsClient) {
    let app = spawn_with(
        backend,
        Options::with_env(&[("MAX_CONNECTIONS_PER_USER", "2")]),
    )
    .await;
    let (first, _) = app.ws("alice").await;
    let (second, _) = app.ws("alice").await;
    (app, first, second)
}

async fn connection_over_the_cap_is_429_at_the_handshake(backend: Backend) {
    let (app, mut first, _second) = alice_at_the_cap(backend).await;

    let header = bearer(&app.token("alice"));
    let handshake = app.ws_handshake("", &[("authorization", &header)]).await;
    handshake.assert_refused(429, "rate_limited");
    let query = format!("?token={}", app.token("alice"));
    app.ws_handshake(&query, &[])
        .await
        .assert_refused(429, "rate_limited");

    let (_, bob) = app.ws("bob").await;
    assert_eq!(bob["user_id"], "bob", "another user is not affected");
    first.assert_alive("a third connection was refused").await;
}

async fn connection_over_the_cap_is_closed_4429_on_the_auth_frame_path(backend: Backend) {
    let (app, mut first, _second) = alice_at_the_cap(backend).await;

    let mut third = app.ws_unauthenticated().await;
    third
        .send(json!({"type": "auth", "id": "a1", "token": app.token("alice")}))
        .await;
    // An error frame may precede the close; a ready frame may not.
    let code = match third.next_frame(Duration::from_secs(5)).await {
        Ok(frame) => {
            assert_eq!(frame["type"], "error", "over the cap: {frame}");
            third.closed().await
        }
        Err(code) => code,
    };
    assert_eq!(code, Some(4429));

    let mut bob = app.ws_unauthenticated().await;
    bob.send(json!({"type": "auth", "id": "a1", "token": app.token("bob")}))
        .await;
    assert_eq!(bob.recv().await["user_id"], "bob");
    first.assert_alive("a third connection was closed").await;
}

async fn closing_a_connection_frees_a_slot(backend: Backend) {
    let (app, mut first, _second) = alice_at_the_cap(backend).await;
    let header = bearer(&app.token("alice"));
    app.ws_handshake("", &[("authorization", &header)])
        .await
        .assert_refused(429, "rate_limited");

    first.close().await;
    let mut reopened = None;
    for _ in 0..50 {
        match app.ws_handshake("", &[("authorization", &header)]).await {
            Handshake::Open(ws) => {
                reopened = Some(*ws);
                break;
            }
            Handshake::Refused(429, _) => tokio::time::sleep(Duration::from_millis(20)).await,
            Handshake::Refused(status, body) => panic!("refused with {status}: {body}"),
        }
    }
    let mut ws = reopened.expect("a slot frees up within a second of a close");
    assert_eq!(ws.recv().await["type"], "ready");

    // Back at the cap.
    app.ws_handshake("", &[("authorization", &header)])
        .await
        .assert_refused(429, "rate_limited");
}

async fn plain_get_without_upgrade_is_426(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.send(Method::GET, &app.url("/ws"), None, None).await;

    res.assert_error(426, "invalid");
}

async fn auth_frame_on_an_authenticated_socket_is_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let answer = ws
        .ask("auth", "a1", json!({"token": app.token("bob")}))
        .await;
    assert_ws_error(&answer, "invalid", "a1");
    ws.assert_alive("an auth frame on an authenticated socket")
        .await;

    // Still alice's socket.
    assert_acts_as(&mut ws, "alice").await;
}

async fn auth_refresh_extends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, ready) = app.ws_with_token(&token_until("alice", now() + 3)).await;
    assert_eq!(ready["user_id"], "alice");

    let exp = now() + 3600;
    let fresh = json!({"token": token_until("alice", exp)});
    let data = read_ack(&ws.ask("auth.refresh", "r1", fresh).await, "r1");
    assert_eq!(data, json!({"expires_at": exp}));

    // Past the first token's expiry, the socket still works.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    ws.assert_alive("the first token's expiry").await;
}

async fn failed_auth_refresh_is_refused_and_keeps_the_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 3600;
    let (mut ws, _) = app.ws_with_token(&token_until("alice", exp)).await;

    let refused = [
        // A valid token of another user: the connection may not change hands.
        ("r1", app.token("bob"), "forbidden"),
        ("r2", "not-a-jwt".to_owned(), "unauthorized"),
        ("r3", token_until("alice", now() - 60), "unauthorized"),
    ];
    for (id, token, code) in refused {
        let answer = ws.ask("auth.refresh", id, json!({"token": token})).await;
        assert_ws_error(&answer, code, id);
        ws.assert_alive("a refused auth.refresh").await;
    }

    assert_acts_as(&mut ws, "alice").await;
}
