//! `/ws` as a client sees it, request by request: the three ways to authenticate and
//! every refusal (HTTP before the upgrade, error + close after it), the per-user
//! connection cap, then each request type's ack (shape, data, `seq`), its errors, and
//! that an ack means committed (REST and a fresh socket see the change at once).
//! `resume` is not covered here.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, Response, SECRET, TestApp, spawn_app, spawn_with};
use crate::on_both_backends;
use crate::ws_client::{Handshake, WsClient, assert_valid_request, req};

on_both_backends!(
    // Handshake and authentication.
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
    failed_auth_refresh_is_unauthorized_and_keeps_the_connection,
    // Each request's success path.
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
    // Each request's errors.
    missing_task_is_not_found_on_every_request,
    another_users_task_is_not_found_and_untouched,
    task_create_rejects_bad_fields_naming_them,
    wrong_types_and_missing_fields_name_the_field,
    message_append_rejects_bad_content_and_role,
    message_append_to_another_users_conversation_is_not_found,
    conversation_history_of_another_users_conversation_is_not_found,
    list_and_history_bounds_are_enforced,
    // Acks only after commit.
    acked_task_changes_are_visible_over_rest_at_once,
    acked_message_is_in_history_on_a_fresh_socket,
);

const TASK_KEYS: [&str; 9] = [
    "completed",
    "created_at",
    "description",
    "due_date",
    "id",
    "priority",
    "title",
    "updated_at",
    "user_id",
];
const CONVERSATION_KEYS: [&str; 4] = ["created_at", "id", "updated_at", "user_id"];
const MESSAGE_KEYS: [&str; 6] = [
    "content",
    "conversation_id",
    "created_at",
    "id",
    "role",
    "user_id",
];

fn now() -> i64 {
    Utc::now().timestamp()
}

/// An HS256 token for `user` signed with the server's secret, valid until `exp`.
fn token_until(user: &str, exp: i64) -> String {
    sign(SECRET, json!({ "sub": user, "exp": exp }))
}

fn sign(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A socket authenticated with `token` in the `Authorization` header, and its `ready`.
async fn connect_with(app: &TestApp, token: &str) -> (WsClient, Value) {
    let mut ws = app
        .ws_handshake("", &[("authorization", &bearer(token))])
        .await
        .open();
    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    (ws, ready)
}

/// A socket opened without a token: it must send `auth` first.
async fn unauthenticated(app: &TestApp) -> WsClient {
    app.ws_handshake("", &[]).await.open()
}

/// Sends a request that must match the client schema, and returns its answer.
async fn ask(ws: &mut WsClient, kind: &str, id: &str, fields: Value) -> Value {
    let frame = req(kind, id, fields);
    assert_valid_request(&frame);
    ws.request(frame).await
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The `data` of the ack of a read: `{"type": "ack", "id", "data"}`, no `seq`.
fn read_ack(frame: &Value, id: &str) -> Value {
    assert_eq!(frame["type"], "ack", "{frame}");
    assert_eq!(frame["id"], id, "{frame}");
    assert_eq!(keys(frame), ["data", "id", "type"], "a read has no seq");
    frame["data"].clone()
}

/// The `data` and `seq` of the ack of a mutation.
fn write_ack(frame: &Value, id: &str) -> (Value, i64) {
    assert_eq!(frame["type"], "ack", "{frame}");
    assert_eq!(frame["id"], id, "{frame}");
    assert_eq!(keys(frame), ["data", "id", "seq", "type"], "{frame}");
    let seq = frame["seq"].as_i64().expect("seq is an integer");
    (frame["data"].clone(), seq)
}

/// An error frame answering `id` (null when the frame had none) with `code`, a
/// human message, and `retryable: false`.
fn assert_error(frame: &Value, id: impl Into<Value>, code: &str) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["id"], id.into(), "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    let message = frame["message"].as_str().unwrap_or_default();
    assert!(!message.trim().is_empty(), "no message: {frame}");
    assert_eq!(frame["retryable"], false, "{frame}");
}

fn assert_invalid(frame: &Value, id: &str, field: &str) {
    assert_error(frame, id, "invalid");
    assert_eq!(frame["field"], field, "{frame}");
}

/// A handshake refused with `status` and the JSON error body of the REST routes.
fn assert_refused(handshake: Handshake, status: u16, code: &str) {
    let (got, body) = handshake.refused();
    assert_eq!(got, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {body}");
    assert_eq!(body["detail"], message, "{body}");
}

/// The socket still answers requests.
async fn assert_alive(ws: &mut WsClient) {
    let pong = ws.request(json!({"type": "ping", "id": "alive"})).await;
    assert_eq!(pong, json!({"type": "pong", "id": "alive"}));
}

fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {value}"))
}

fn ids(items: &Value) -> Vec<i64> {
    items.as_array().expect("an array").iter().map(id).collect()
}

fn titles(page: &Value) -> Vec<&str> {
    page["tasks"]
        .as_array()
        .expect("tasks is an array")
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect()
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    let raw = value.as_str().expect("timestamp is a string");
    assert!(raw.ends_with('Z'), "{raw} is not UTC with Z");
    DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("{raw} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Lets the clock move on, so that a later write has a later timestamp.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// `user`'s task list over REST with a query string; panics unless 200.
async fn rest_list(app: &TestApp, user: &str, query: &str) -> Value {
    let res = app
        .get(&format!("{}{query}", app.tasks_url(user)), user)
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

/// Appends a message and returns the ack's `{conversation, message}`.
async fn append(ws: &mut WsClient, id: &str, fields: Value) -> Value {
    write_ack(&ask(ws, "message.append", id, fields).await, id).0
}

fn with_limit(limit: u32) -> Options {
    Options {
        env: vec![("MAX_CONNECTIONS_PER_USER", limit.to_string())],
        ..Default::default()
    }
}

// ---------------------------------------------------------------- handshake, auth

async fn bearer_header_authenticates_and_ready_describes_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 3600;
    let (mut ws, ready) = connect_with(&app, &token_until("alice", exp)).await;

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
    assert_alive(&mut ws).await;
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
    assert_alive(&mut ws).await;
}

async fn auth_frame_authenticates_a_socket_opened_without_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 600;
    let mut ws = unauthenticated(&app).await;

    let frame = json!({"type": "auth", "id": "a1", "token": token_until("alice", exp)});
    assert_valid_request(&frame);
    ws.send(frame).await;

    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "answered by ready: {ready}");
    assert_eq!(ready["user_id"], "alice");
    assert_eq!(ready["seq"], 0);
    assert_eq!(ready["expires_at"], exp);
    ws.assert_silent(Duration::from_millis(300)).await;

    let (task, _) = write_ack(
        &ask(&mut ws, "task.create", "c1", json!({"title": "Buy milk"})).await,
        "c1",
    );
    assert_eq!(task["user_id"], "alice");
}

async fn auth_frame_without_an_id_is_answered_by_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = unauthenticated(&app).await;

    let frame = json!({"type": "auth", "token": app.token("alice")});
    assert_valid_request(&frame);
    ws.send(frame).await;

    // Design §9: the auth frame *may* carry an id, so it may also come without one.
    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "auth without an id: {ready}");
    assert_eq!(ready["user_id"], "alice");
    ws.assert_silent(Duration::from_millis(300)).await;
    assert_alive(&mut ws).await;
}

async fn ready_seq_is_the_users_latest_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 0);

    app.create_titled("alice", "Buy milk").await;
    let (mut ws, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1, "after a REST create");

    let ack = ask(&mut ws, "task.create", "c1", json!({"title": "Bread"})).await;
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
        assert_refused(handshake, 401, "unauthorized");
    }

    let queries = [
        "?token=not-a-jwt".to_owned(),
        format!("?token={wrong_secret}"),
        format!("?token={expired}"),
        "?token=".to_owned(),
    ];
    for query in &queries {
        assert_refused(app.ws_handshake(query, &[]).await, 401, "unauthorized");
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
    assert_refused(handshake, 401, "unauthorized");
}

async fn no_auth_frame_in_time_closes_with_4408(backend: Backend) {
    let options = Options {
        env: vec![("WS_AUTH_TIMEOUT_MS", "300".into())],
        ..Default::default()
    };
    let app = spawn_with(backend, options).await;

    let mut idle = unauthenticated(&app).await;
    let started = Instant::now();
    assert_eq!(idle.closed().await, Some(4408));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );

    // A socket that authenticated in time outlives the timeout.
    let mut ws = unauthenticated(&app).await;
    ws.send(json!({"type": "auth", "id": "a1", "token": app.token("alice")}))
        .await;
    assert_eq!(ws.recv().await["type"], "ready");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_alive(&mut ws).await;
}

async fn bad_token_in_auth_frame_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong_secret = sign(
        "not-the-server-secret",
        json!({"sub": "alice", "exp": now() + 60}),
    );

    for token in ["not-a-jwt", "", &wrong_secret] {
        let mut ws = unauthenticated(&app).await;
        ws.send(json!({"type": "auth", "id": "a1", "token": token}))
            .await;
        assert_error(&ws.recv().await, "a1", "unauthorized");
        assert_eq!(ws.closed().await, Some(4401), "token {token:?}");
    }
}

async fn expired_token_in_auth_frame_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = unauthenticated(&app).await;

    let expired = token_until("alice", now() - 60);
    ws.send(json!({"type": "auth", "id": "a1", "token": expired}))
        .await;
    assert_error(&ws.recv().await, "a1", "token_expired");
    assert_eq!(ws.closed().await, Some(4401));
}

async fn first_frame_other_than_auth_is_an_error_then_4401(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut ws = unauthenticated(&app).await;
    ws.send(json!({"type": "ping"})).await;
    assert_error(&ws.recv().await, Value::Null, "unauthorized");
    assert_eq!(ws.closed().await, Some(4401));

    let mut ws = unauthenticated(&app).await;
    ws.send(req("task.list", "l1", json!({}))).await;
    assert_error(&ws.recv().await, "l1", "unauthorized");
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
        let mut ws = unauthenticated(&app).await;
        ws.send_text(&text).await;
        assert_error(&ws.recv().await, id, "unauthorized");
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
        assert_refused(handshake, 403, "forbidden");
    }
    // Without a token too: the origin is checked first.
    let handshake = app
        .ws_handshake("", &[("origin", "https://evil.example")])
        .await;
    assert_refused(handshake, 403, "forbidden");
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

async fn connection_over_the_cap_is_429_at_the_handshake(backend: Backend) {
    let app = spawn_with(backend, with_limit(2)).await;
    let (mut first, _) = app.ws("alice").await;
    let (_second, _) = app.ws("alice").await;

    let header = bearer(&app.token("alice"));
    let handshake = app.ws_handshake("", &[("authorization", &header)]).await;
    assert_refused(handshake, 429, "rate_limited");
    let query = format!("?token={}", app.token("alice"));
    assert_refused(app.ws_handshake(&query, &[]).await, 429, "rate_limited");

    let (_, bob) = app.ws("bob").await;
    assert_eq!(bob["user_id"], "bob", "another user is not affected");
    assert_alive(&mut first).await;
}

async fn connection_over_the_cap_is_closed_4429_on_the_auth_frame_path(backend: Backend) {
    let app = spawn_with(backend, with_limit(2)).await;
    let (mut first, _) = app.ws("alice").await;
    let (_second, _) = app.ws("alice").await;

    let mut third = unauthenticated(&app).await;
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

    let mut bob = unauthenticated(&app).await;
    bob.send(json!({"type": "auth", "id": "a1", "token": app.token("bob")}))
        .await;
    assert_eq!(bob.recv().await["user_id"], "bob");
    assert_alive(&mut first).await;
}

async fn closing_a_connection_frees_a_slot(backend: Backend) {
    let app = spawn_with(backend, with_limit(2)).await;
    let (mut first, _) = app.ws("alice").await;
    let (_second, _) = app.ws("alice").await;
    let header = bearer(&app.token("alice"));
    assert_refused(
        app.ws_handshake("", &[("authorization", &header)]).await,
        429,
        "rate_limited",
    );

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
    assert_refused(
        app.ws_handshake("", &[("authorization", &header)]).await,
        429,
        "rate_limited",
    );
}

async fn plain_get_without_upgrade_is_426(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/ws")).send().await.unwrap();
    let res = Response::from(res).await;

    res.assert_error(426, "invalid");
}

async fn auth_frame_on_an_authenticated_socket_is_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let answer = ask(&mut ws, "auth", "a1", json!({"token": app.token("bob")})).await;
    assert_error(&answer, "a1", "invalid");
    assert_alive(&mut ws).await;

    // Still alice's socket.
    let (task, _) = write_ack(
        &ask(&mut ws, "task.create", "c1", json!({"title": "Buy milk"})).await,
        "c1",
    );
    assert_eq!(task["user_id"], "alice");
}

async fn auth_refresh_extends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, ready) = connect_with(&app, &token_until("alice", now() + 3)).await;
    assert_eq!(ready["user_id"], "alice");

    let exp = now() + 3600;
    let fresh = json!({"token": token_until("alice", exp)});
    let data = read_ack(&ask(&mut ws, "auth.refresh", "r1", fresh).await, "r1");
    assert_eq!(data, json!({"expires_at": exp}));

    // Past the first token's expiry, the socket still works.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_alive(&mut ws).await;
}

async fn failed_auth_refresh_is_unauthorized_and_keeps_the_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let exp = now() + 3600;
    let (mut ws, _) = connect_with(&app, &token_until("alice", exp)).await;

    let refused = [
        ("r1", app.token("bob")),
        ("r2", "not-a-jwt".to_owned()),
        ("r3", token_until("alice", now() - 60)),
    ];
    for (id, token) in refused {
        let answer = ask(&mut ws, "auth.refresh", id, json!({"token": token})).await;
        assert_error(&answer, id, "unauthorized");
        assert_alive(&mut ws).await;
    }

    let (task, _) = write_ack(
        &ask(&mut ws, "task.create", "c1", json!({"title": "Buy milk"})).await,
        "c1",
    );
    assert_eq!(task["user_id"], "alice", "still alice's socket");
}

// ---------------------------------------------------------------- success paths

async fn task_create_acks_the_stored_task_with_contiguous_seqs(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ask(&mut ws, "task.create", "c1", json!({"title": "Buy milk"})).await;
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
    let (report, seq) = write_ack(&ask(&mut ws, "task.create", "c2", full).await, "c2");
    assert_eq!(seq, 2);
    assert_eq!(report["description"], "2 pages");
    assert_eq!(report["completed"], true);
    assert_eq!(report["priority"], "high");
    assert_eq!(report["due_date"], "2026-03-01T09:30:00Z");

    let ack = ask(&mut ws, "task.create", "c3", json!({"title": "Call mom"})).await;
    assert_eq!(write_ack(&ack, "c3").1, 3);

    for acked in [&task, &report] {
        let res = app.get(&app.task_url("alice", id(acked)), "alice").await;
        assert_eq!(&res.body, acked, "the ack is the stored task");
    }

    let (mut bob, _) = app.ws("bob").await;
    let ack = ask(&mut bob, "task.create", "c1", json!({"title": "Bob's"})).await;
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
        write_ack(&ask(&mut ws, "task.create", &id, fields).await, &id);
    }
    app.create_titled("bob", "not alice's").await;

    let all = read_ack(&ask(&mut ws, "task.list", "l1", json!({})).await, "l1");
    assert_eq!(keys(&all), ["filtered_count", "tasks", "total_count"]);
    assert_eq!(titles(&all), ["date", "cherry", "Apple", "banana"]);
    assert_eq!(all["total_count"], 4);
    assert_eq!(all["filtered_count"], 4);
    assert_eq!(all, rest_list(&app, "alice", "").await);

    let pending = read_ack(
        &ask(&mut ws, "task.list", "l2", json!({"status": "pending"})).await,
        "l2",
    );
    assert_eq!(titles(&pending), ["cherry", "banana"]);
    assert_eq!(pending["total_count"], 4);
    assert_eq!(pending["filtered_count"], 2);
    assert_eq!(pending, rest_list(&app, "alice", "?status=pending").await);

    let fields = json!({"status": "completed", "sort": "title", "order": "asc"});
    let done = read_ack(&ask(&mut ws, "task.list", "l3", fields).await, "l3");
    assert_eq!(titles(&done), ["Apple", "date"]);
    assert_eq!(
        done,
        rest_list(&app, "alice", "?status=completed&sort=title&order=asc").await
    );

    let fields = json!({"sort": "title", "order": "asc", "limit": 2, "offset": 1});
    let page = read_ack(&ask(&mut ws, "task.list", "l4", fields).await, "l4");
    assert_eq!(titles(&page), ["banana", "cherry"]);
    assert_eq!(
        page["filtered_count"], 4,
        "counts every match, not the page"
    );
    assert_eq!(
        page,
        rest_list(&app, "alice", "?sort=title&order=asc&limit=2&offset=1").await
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

    let answer = ask(&mut ws, "task.get", "g1", json!({"task_id": id(&task)})).await;
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
    let (updated, seq) = write_ack(&ask(&mut ws, "task.update", "u1", fields).await, "u1");
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
    let (cleared, seq) = write_ack(&ask(&mut ws, "task.update", "u2", fields).await, "u2");
    assert_eq!(seq, 3);
    assert_eq!(cleared["description"], Value::Null, "null clears it");
    assert_eq!(cleared["priority"], "high", "earlier change kept");
    assert_eq!(cleared["due_date"], "2026-03-01T09:30:00Z");
    assert_eq!(cleared["title"], "Buy milk");

    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.body, cleared, "the ack is what was stored");
}

async fn task_complete_acks_the_whole_task(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    let (mut ws, _) = app.ws("alice").await;

    let fields = json!({"task_id": task_id, "completed": true});
    let (done, seq) = write_ack(&ask(&mut ws, "task.complete", "k1", fields).await, "k1");
    assert_eq!(seq, 2);
    assert_eq!(keys(&done), TASK_KEYS, "the whole task, not REST's shape");
    assert_eq!(done["id"], task_id);
    assert_eq!(done["completed"], true);
    assert_eq!(done["title"], "Buy milk");
    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.body, done);

    let fields = json!({"task_id": task_id, "completed": false});
    let (undone, seq) = write_ack(&ask(&mut ws, "task.complete", "k2", fields).await, "k2");
    assert_eq!(seq, 3);
    assert_eq!(undone["completed"], false);
    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.body["completed"], false);
}

async fn task_delete_acks_the_task_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let keep = app.create_titled("alice", "keep").await;
    let gone = id(&app.create_titled("alice", "gone").await);
    let (mut ws, _) = app.ws("alice").await;

    let ack = ask(&mut ws, "task.delete", "d1", json!({"task_id": gone})).await;
    let (data, seq) = write_ack(&ack, "d1");
    assert_eq!(data, json!({"task_id": gone}));
    assert_eq!(seq, 3);

    let page = rest_list(&app, "alice", "").await;
    assert_eq!(ids(&page["tasks"]), [id(&keep)]);
}

async fn message_append_without_conversation_starts_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ask(
        &mut ws,
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

    let other = append(&mut ws, "m2", json!({"content": "Another chat"})).await;
    assert_ne!(
        other["conversation"]["id"], conversation["id"],
        "no conversation_id: a new conversation"
    );
}

async fn message_append_to_a_conversation_bumps_its_updated_at(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = append(&mut ws, "m1", json!({"content": "What is on my list?"})).await;
    let conversation_id = id(&first["conversation"]);
    tick().await;

    let fields = json!({
        "conversation_id": conversation_id,
        "role": "assistant",
        "content": "You have 3 tasks.",
    });
    let (reply, seq) = write_ack(&ask(&mut ws, "message.append", "m2", fields).await, "m2");
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
    let history = read_ack(
        &ask(&mut ws, "conversation.history", "h1", fields).await,
        "h1",
    );
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
        let data = append(&mut ws, &id, json!({"content": format!("chat {n}")})).await;
        made.push(self::id(&data["conversation"]));
        tick().await;
    }
    let [a, b, c] = made[..] else { unreachable!() };

    let page = read_ack(
        &ask(&mut ws, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(keys(&page), ["conversations"]);
    assert_eq!(ids(&page["conversations"]), [c, b, a]);

    let touched = append(
        &mut ws,
        "m4",
        json!({"conversation_id": a, "content": "back to the first"}),
    )
    .await;
    let page = read_ack(
        &ask(&mut ws, "conversation.list", "l2", json!({})).await,
        "l2",
    );
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
        let page = read_ack(&ask(&mut ws, "conversation.list", id, fields).await, id);
        assert_eq!(ids(&page["conversations"]), expected, "{id}");
    }

    let (mut bob, _) = app.ws("bob").await;
    let page = read_ack(
        &ask(&mut bob, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(page, json!({"conversations": []}), "per user");
}

async fn conversation_list_defaults_to_50(backend: Backend) {
    // 51 appends in a row: lift the per-connection rate limit for this test.
    let options = Options {
        env: vec![("WS_RATE_BURST", "200".into())],
        ..Default::default()
    };
    let app = spawn_with(backend, options).await;
    let (mut ws, _) = app.ws("alice").await;
    for n in 1..=51 {
        let id = format!("m{n}");
        append(&mut ws, &id, json!({"content": format!("chat {n}")})).await;
    }

    let page = read_ack(
        &ask(&mut ws, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(page["conversations"].as_array().unwrap().len(), 50);
    let rest = read_ack(
        &ask(&mut ws, "conversation.list", "l2", json!({"offset": 50})).await,
        "l2",
    );
    assert_eq!(rest["conversations"].as_array().unwrap().len(), 1);
    let all = read_ack(
        &ask(&mut ws, "conversation.list", "l3", json!({"limit": 100})).await,
        "l3",
    );
    assert_eq!(all["conversations"].as_array().unwrap().len(), 51);
}

async fn conversation_history_pages_backwards_with_before_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let first = append(&mut ws, "m1", json!({"content": "message 1"})).await;
    let conversation_id = id(&first["conversation"]);
    let mut messages = vec![id(&first["message"])];
    let mut last = first;
    for n in 2..=5 {
        let fields = json!({"conversation_id": conversation_id, "content": format!("message {n}")});
        last = append(&mut ws, &format!("m{n}"), fields).await;
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

// ---------------------------------------------------------------- errors

async fn missing_task_is_not_found_on_every_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let missing = id(&task) + 1000;
    let (mut ws, _) = app.ws("alice").await;

    let requests = [
        ("task.get", "g1", json!({"task_id": missing})),
        (
            "task.update",
            "u1",
            json!({"task_id": missing, "title": "x"}),
        ),
        (
            "task.complete",
            "k1",
            json!({"task_id": missing, "completed": true}),
        ),
        ("task.delete", "d1", json!({"task_id": missing})),
    ];
    for (kind, id, fields) in requests {
        assert_error(&ask(&mut ws, kind, id, fields).await, id, "not_found");
    }

    let page = rest_list(&app, "alice", "").await;
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

    let requests = [
        ("task.get", "g1", json!({"task_id": task_id})),
        (
            "task.update",
            "u1",
            json!({"task_id": task_id, "title": "hijacked"}),
        ),
        (
            "task.complete",
            "k1",
            json!({"task_id": task_id, "completed": true}),
        ),
        ("task.delete", "d1", json!({"task_id": task_id})),
    ];
    for (kind, id, fields) in requests {
        assert_error(&ask(&mut bob, kind, id, fields).await, id, "not_found");
    }

    // The same answer as for an id that does not exist.
    let foreign = ask(&mut bob, "task.get", "g2", json!({"task_id": task_id})).await;
    let missing = ask(
        &mut bob,
        "task.get",
        "g2",
        json!({"task_id": task_id + 1000}),
    )
    .await;
    assert_eq!(foreign, missing);

    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body, task, "Alice's task is unchanged");
    let ack = ask(&mut bob, "task.create", "c1", json!({"title": "Bob's own"})).await;
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
        assert_invalid(&answer, id, field);
    }

    let page = rest_list(&app, "alice", "").await;
    assert_eq!(page["total_count"], 0, "nothing was created");
    assert_alive(&mut ws).await;
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
        assert_invalid(&answer, id, field);
    }

    let res = app.get(&app.task_url("alice", task_id), "alice").await;
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
        assert_invalid(&answer, id, field);
    }
    let page = read_ack(
        &ask(&mut ws, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(page, json!({"conversations": []}), "nothing was stored");

    let longest = "x".repeat(32_768);
    let data = append(&mut ws, "m5", json!({"content": longest})).await;
    assert_eq!(data["message"]["content"], longest, "32,768 is allowed");
}

async fn message_append_to_another_users_conversation_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut alice, _) = app.ws("alice").await;
    let data = append(&mut alice, "m1", json!({"content": "private"})).await;
    let conversation_id = id(&data["conversation"]);
    let (mut bob, _) = app.ws("bob").await;

    let fields = json!({"conversation_id": conversation_id, "content": "intrusion"});
    let answer = ask(&mut bob, "message.append", "m1", fields).await;
    assert_error(&answer, "m1", "not_found");

    let fields = json!({"conversation_id": conversation_id});
    let history = read_ack(
        &ask(&mut alice, "conversation.history", "h1", fields).await,
        "h1",
    );
    assert_eq!(
        history["messages"],
        json!([data["message"]]),
        "nothing appended"
    );
    assert_eq!(history["conversation"], data["conversation"], "not touched");
    let page = read_ack(
        &ask(&mut bob, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(page, json!({"conversations": []}));
    let ack = ask(&mut bob, "message.append", "m2", json!({"content": "mine"})).await;
    assert_eq!(write_ack(&ack, "m2").1, 1, "bob's failure wrote no event");
}

async fn conversation_history_of_another_users_conversation_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut alice, _) = app.ws("alice").await;
    let data = append(&mut alice, "m1", json!({"content": "private"})).await;
    let conversation_id = id(&data["conversation"]);
    let (mut bob, _) = app.ws("bob").await;

    let fields = json!({"conversation_id": conversation_id});
    let foreign = ask(&mut bob, "conversation.history", "h1", fields).await;
    assert_error(&foreign, "h1", "not_found");
    let fields = json!({"conversation_id": conversation_id + 1000});
    let missing = ask(&mut bob, "conversation.history", "h1", fields).await;
    assert_eq!(foreign, missing, "the same answer as for a missing one");
}

async fn list_and_history_bounds_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let data = append(&mut ws, "m1", json!({"content": "hello"})).await;
    let conversation_id = id(&data["conversation"]);

    let history = |limit: i64| json!({"conversation_id": conversation_id, "limit": limit});
    for (id, limit) in [("h1", 201), ("h2", 0)] {
        let answer = ask(&mut ws, "conversation.history", id, history(limit)).await;
        assert_invalid(&answer, id, "limit");
    }
    let page = read_ack(
        &ask(&mut ws, "conversation.history", "h3", history(200)).await,
        "h3",
    );
    assert_eq!(page["messages"], json!([data["message"]]));

    for (id, limit) in [("l1", 0), ("l2", 101)] {
        let answer = ask(&mut ws, "conversation.list", id, json!({"limit": limit})).await;
        assert_invalid(&answer, id, "limit");
    }
    for (id, limit) in [("l3", 1), ("l4", 100)] {
        let answer = ask(&mut ws, "conversation.list", id, json!({"limit": limit})).await;
        assert_eq!(
            read_ack(&answer, id)["conversations"],
            json!([data["conversation"]])
        );
    }
    let answer = ask(&mut ws, "conversation.list", "l5", json!({"offset": -1})).await;
    assert_invalid(&answer, "l5", "offset");

    let bad_lists = [
        ("t1", json!({"status": "done"}), "status"),
        ("t2", json!({"sort": "colour"}), "sort"),
        ("t3", json!({"limit": 0}), "limit"),
        ("t4", json!({"limit": 101}), "limit"),
    ];
    for (id, fields, field) in bad_lists {
        let answer = ws.request(req("task.list", id, fields)).await;
        assert_invalid(&answer, id, field);
    }
}

// ---------------------------------------------------------------- acks after commit

async fn acked_task_changes_are_visible_over_rest_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let ack = ask(&mut ws, "task.create", "c1", json!({"title": "Buy milk"})).await;
    let (task, _) = write_ack(&ack, "c1");
    let task_id = id(&task);
    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.status, 200, "created: {}", res.text);
    assert_eq!(res.body, task);
    assert_eq!(rest_list(&app, "alice", "").await["tasks"], json!([task]));

    let fields = json!({"task_id": task_id, "title": "Buy oat milk"});
    let (updated, _) = write_ack(&ask(&mut ws, "task.update", "u1", fields).await, "u1");
    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.body, updated);

    let ack = ask(&mut ws, "task.delete", "d1", json!({"task_id": task_id})).await;
    write_ack(&ack, "d1");
    app.get(&app.task_url("alice", task_id), "alice")
        .await
        .assert_error(404, "not_found");
    assert_eq!(rest_list(&app, "alice", "").await["total_count"], 0);
}

async fn acked_message_is_in_history_on_a_fresh_socket(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let data = append(&mut ws, "m1", json!({"content": "Remember the milk"})).await;
    let conversation_id = id(&data["conversation"]);

    let (mut fresh, ready) = app.ws("alice").await;
    assert_eq!(ready["seq"], 1);
    let fields = json!({"conversation_id": conversation_id});
    let history = read_ack(
        &ask(&mut fresh, "conversation.history", "h1", fields).await,
        "h1",
    );
    assert_eq!(history["messages"], json!([data["message"]]));
    let page = read_ack(
        &ask(&mut fresh, "conversation.list", "l1", json!({})).await,
        "l1",
    );
    assert_eq!(page["conversations"], json!([data["conversation"]]));
}
