//! Hardening of authentication and input (design §9 "Hardening"): text the database
//! cannot store (NUL) is `invalid` on both backends, database errors are classified by
//! backend, user ids with control characters, `nbf`, duplicate `Authorization` and
//! `Origin` headers, and user-id claims of any JSON type. (Log lines that client
//! strings cannot forge: `logs.rs`.)

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use tokio_tungstenite::tungstenite::{
    self,
    client::IntoClientRequest,
    http::{HeaderName, HeaderValue},
};

use crate::helpers::{
    app::{Response, TestApp, spawn_app},
    db::{Backend, TestDb},
    jwt::{now, server_signed, valid_for_an_hour},
    ws::{WsClient, req},
};
use crate::on_both_backends;

on_both_backends!(
    nul_in_a_text_field_is_invalid_over_rest,
    nul_in_a_text_field_is_invalid_over_websocket,
    database_errors_are_classified_by_backend,
    a_user_id_with_a_control_character_is_401,
    a_token_not_valid_yet_is_401,
    more_than_one_authorization_header_is_401,
    more_than_one_origin_header_is_403_at_the_handshake,
    a_user_id_claim_of_another_json_type_is_skipped,
    user_ids_are_at_most_1024_characters_and_work_everywhere,
    due_dates_keep_to_years_0000_to_9999,
);

const NUL: &str = "a\u{0}b";

/// An HS256 token signed with the server's secret carrying `claims`, with `exp` in an
/// hour unless `claims` has one.
fn forge(claims: Value) -> String {
    server_signed(valid_for_an_hour(claims))
}

/// `method url` with each `(name, value)` header sent as given (repeats included).
async fn send(
    app: &TestApp,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Response {
    let mut request = app.http.request(method, url);
    for (name, value) in headers {
        // `header` appends: a name given twice is sent twice.
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Response::from(request.send().await.expect("request sent")).await
}

/// `GET /api/{user}/tasks` with a bearer token.
async fn list_as(app: &TestApp, user: &str, token: &str) -> Response {
    let bearer = format!("Bearer {token}");
    send(
        app,
        Method::GET,
        &app.tasks_url(user),
        &[("authorization", &bearer)],
        None,
    )
    .await
}

/// A `/ws` handshake with each `(name, value)` header sent as given (repeats
/// included): `Ok(())` when upgraded, else the refusal's status and JSON body.
async fn handshake(
    app: &TestApp,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<(), (u16, Value)> {
    let mut request = format!("{}{query}", app.ws_url())
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(response)) => Err((
            response.status().as_u16(),
            response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null),
        )),
        Err(err) => panic!("handshake failed: {err}"),
    }
}

/// The handshake was refused with `status` and the JSON error body naming `code`.
fn assert_refused(result: Result<(), (u16, Value)>, status: u16, code: &str, what: &str) {
    let Err((got, body)) = result else {
        panic!("{what}: handshake accepted, expected {status}");
    };
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(body["success"], false, "{what}: {body}");
    assert_eq!(body["error"], code, "{what}: {body}");
}

/// A token refused everywhere a client can present one: REST (401), the `/ws`
/// handshake's header and query (401), and the `auth` frame (`unauthorized`, 4401).
async fn assert_refused_everywhere(app: &TestApp, token: &str, path_user: &str, what: &str) {
    list_as(app, path_user, token)
        .await
        .assert_unauthorized(what);
    let bearer = format!("Bearer {token}");
    assert_refused(
        handshake(app, "", &[("authorization", &bearer)]).await,
        401,
        "unauthorized",
        what,
    );
    assert_refused(
        handshake(app, &format!("?token={token}"), &[]).await,
        401,
        "unauthorized",
        what,
    );
    let mut ws = app.ws_handshake("", &[]).await.open();
    ws.send(json!({"type": "auth", "id": "a1", "token": token}))
        .await;
    let answer = ws.recv().await;
    assert_eq!(answer["type"], "error", "{what}: {answer}");
    assert_eq!(answer["code"], "unauthorized", "{what}: {answer}");
    assert_eq!(ws.closed().await, Some(4401), "{what}");
}

/// A socket authenticated with `token` in the `Authorization` header; its `ready`.
async fn ws_with(app: &TestApp, token: &str) -> (WsClient, Value) {
    let bearer = format!("Bearer {token}");
    let mut ws = app
        .ws_handshake("", &[("authorization", &bearer)])
        .await
        .open();
    let ready = ws.recv().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    (ws, ready)
}

fn assert_invalid(answer: &Value, id: &str, field: &str) {
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["code"], "invalid", "{answer}");
    assert_eq!(answer["field"], field, "{answer}");
    assert_eq!(answer["retryable"], false, "{answer}");
}

async fn nul_in_a_text_field_is_invalid_over_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "kept").await;
    let task_url = app.task_url("alice", &task["id"]);

    for (field, body) in [
        ("title", json!({ "title": NUL })),
        ("title", json!({ "title": "\u{0}" })),
        ("description", json!({ "title": "t", "description": NUL })),
        ("priority", json!({ "title": "t", "priority": "high\u{0}" })),
        (
            "due_date",
            json!({ "title": "t", "due_date": "2026-03-01T09:30:00Z\u{0}" }),
        ),
    ] {
        let res = app
            .call(
                Method::POST,
                &app.tasks_url("alice"),
                "alice",
                Some(body.clone()),
            )
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "POST {body}: {}", res.text);

        let res = app
            .call(Method::PUT, &task_url, "alice", Some(body.clone()))
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "PUT {body}: {}", res.text);
    }

    // Nothing was stored: one task, unchanged.
    let list = app.get_tasks("alice", "").await;
    assert_eq!(list.body["total_count"], 1, "{}", list.text);
    assert_eq!(app.get_task("alice", &task["id"]).await.body, task);
}

async fn nul_in_a_text_field_is_invalid_over_websocket(backend: Backend) {
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;
    let created = ws
        .request(req("task.create", "c0", json!({ "title": "kept" })))
        .await;
    let task = created["data"].clone();
    let appended = ws
        .request(req("message.append", "m0", json!({ "content": "kept" })))
        .await;
    let conversation_id = appended["data"]["conversation"]["id"].clone();

    for (id, kind, field, fields) in [
        ("c1", "task.create", "title", json!({ "title": NUL })),
        (
            "c2",
            "task.create",
            "description",
            json!({ "title": "t", "description": NUL }),
        ),
        (
            "u1",
            "task.update",
            "title",
            json!({ "task_id": task["id"], "title": NUL }),
        ),
        (
            "u2",
            "task.update",
            "description",
            json!({ "task_id": task["id"], "description": NUL }),
        ),
        ("m1", "message.append", "content", json!({ "content": NUL })),
        (
            "m2",
            "message.append",
            "content",
            json!({ "content": NUL, "conversation_id": conversation_id }),
        ),
    ] {
        let answer = ws.request(req(kind, id, fields)).await;
        assert_invalid(&answer, id, field);
    }

    // Nothing was stored, and the connection is still healthy.
    let list = ws.request(req("task.list", "l", json!({}))).await;
    assert_eq!(list["data"]["total_count"], 1, "{list}");
    assert_eq!(list["data"]["tasks"][0], task, "{list}");
    let history = ws
        .request(req(
            "conversation.history",
            "h",
            json!({ "conversation_id": conversation_id }),
        ))
        .await;
    assert_eq!(
        history["data"]["messages"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    let conversations = ws.request(req("conversation.list", "cl", json!({}))).await;
    assert_eq!(
        conversations["data"]["conversations"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{conversations}"
    );
}

/// Makes every insert of a task titled `sqlstate XXXXX` fail with that SQLSTATE
/// (PostgreSQL), or a titled `sqlstate abort` abort (SQLite, which cannot raise a
/// chosen code): what another client of the database, or a data error, could do.
async fn fail_inserts_by_title(db: &TestDb) {
    match db {
        TestDb::Postgres { .. } => {
            let mut conn = db.pg_connection().await;
            conn.execute(sqlx::raw_sql(
                r#"
                CREATE FUNCTION fail_by_title() RETURNS trigger AS $$
                BEGIN
                    IF NEW.title LIKE 'sqlstate %' THEN
                        RAISE EXCEPTION 'injected' USING ERRCODE = substr(NEW.title, 10, 5);
                    END IF;
                    RETURN NEW;
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER fail_by_title BEFORE INSERT ON task
                    FOR EACH ROW EXECUTE FUNCTION fail_by_title();
                "#,
            ))
            .await
            .unwrap();
        }
        TestDb::Sqlite { path, .. } => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            conn.execute(
                "CREATE TRIGGER fail_by_title BEFORE INSERT ON task \
                 WHEN NEW.title = 'sqlstate abort' BEGIN SELECT RAISE(ABORT, 'injected'); END",
            )
            .await
            .unwrap();
        }
    }
}

async fn database_errors_are_classified_by_backend(backend: Backend) {
    let app = spawn_app(backend).await;
    fail_inserts_by_title(&app.db).await;
    let (mut ws, _) = app.ws("alice").await;
    let (bugs, outages): (&[&str], &[&str]) = match app.db {
        // Data errors and constraint violations are bugs, never "retry later";
        // connection exceptions, insufficient resources and shutdowns are outages.
        TestDb::Postgres { .. } => (
            &["22021", "22P05", "23505", "42P01"],
            &["08006", "57P01", "53300"],
        ),
        TestDb::Sqlite { .. } => (&["abort"], &[]),
    };
    for (codes, status, code, retryable) in [
        (bugs, 500, "internal", false),
        (outages, 503, "unavailable", true),
    ] {
        for sqlstate in codes {
            let title = format!("sqlstate {sqlstate}");
            let res = app
                .call(
                    Method::POST,
                    &app.tasks_url("alice"),
                    "alice",
                    Some(json!({ "title": title })),
                )
                .await;
            assert_eq!(res.status, status, "REST {sqlstate}: {}", res.text);
            res.assert_error(status, code);

            let answer = ws
                .request(req("task.create", sqlstate, json!({ "title": title })))
                .await;
            assert_eq!(answer["type"], "error", "{answer}");
            assert_eq!(answer["code"], code, "WS {sqlstate}: {answer}");
            assert_eq!(answer["retryable"], retryable, "WS {sqlstate}: {answer}");
        }
    }
    // The server still works, and nothing was stored.
    let list = app.get_tasks("alice", "").await;
    assert_eq!(list.body["total_count"], 0, "{}", list.text);
    app.create_titled("alice", "fine").await;
}

async fn a_user_id_with_a_control_character_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for (what, claims) in [
        ("NUL in sub", json!({ "sub": "a\u{0}b" })),
        ("newline in sub", json!({ "sub": "alice\n" })),
        ("carriage return in sub", json!({ "sub": "al\rice" })),
        ("escape in sub", json!({ "sub": "al\u{1b}[2Jice" })),
        ("DEL in sub", json!({ "sub": "alice\u{7f}" })),
        ("C1 control in sub", json!({ "sub": "alice\u{85}" })),
        ("NUL in userId", json!({ "userId": "a\u{0}b" })),
        // The first non-blank string claim is the user id: a bad one is not skipped.
        (
            "NUL in sub, good userId",
            json!({ "sub": "a\u{0}b", "userId": "alice" }),
        ),
    ] {
        let token = forge(claims);
        assert_refused_everywhere(&app, &token, "alice", what).await;
    }
    let list = app.get_tasks("alice", "").await;
    assert_eq!(list.status, 200, "control: {}", list.text);
}

async fn a_token_not_valid_yet_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for (what, nbf) in [
        ("nbf in 1000 s", json!(now() + 1000)),
        ("nbf in 5 s", json!(now() + 5)),
        ("nbf as a float", json!((now() + 1000) as f64 + 0.5)),
        ("malformed nbf", json!("tomorrow")),
    ] {
        let token = forge(json!({ "sub": "alice", "nbf": nbf }));
        assert_refused_everywhere(&app, &token, "alice", what).await;
    }
    let res = list_as(
        &app,
        "alice",
        &forge(json!({ "sub": "alice", "nbf": now() + 1000 })),
    )
    .await;
    assert_eq!(
        res.body["message"], "Invalid token: not valid yet",
        "{}",
        res.text
    );

    for (what, nbf) in [
        ("nbf now", json!(now())),
        ("nbf a minute ago", json!(now() - 60)),
        (
            "nbf as a float in the past",
            json!((now() - 60) as f64 + 0.5),
        ),
    ] {
        let token = forge(json!({ "sub": "alice", "nbf": nbf }));
        let res = list_as(&app, "alice", &token).await;
        assert_eq!(res.status, 200, "{what}: {}", res.text);
        let (_ws, ready) = ws_with(&app, &token).await;
        assert_eq!(ready["user_id"], "alice", "{what}");
    }
}

async fn more_than_one_authorization_header_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = format!("Bearer {}", app.token("alice"));
    let bob = format!("Bearer {}", app.token("bob"));
    for (what, values) in [
        ("alice then bob", [alice.as_str(), bob.as_str()]),
        ("bob then alice", [bob.as_str(), alice.as_str()]),
        ("good then garbage", [alice.as_str(), "Bearer garbage"]),
        ("garbage then good", ["Basic Zm9vOmJhcg==", alice.as_str()]),
        ("the same twice", [alice.as_str(), alice.as_str()]),
    ] {
        let headers = [("authorization", values[0]), ("authorization", values[1])];
        for user in ["alice", "bob"] {
            let res = send(&app, Method::GET, &app.tasks_url(user), &headers, None).await;
            res.assert_unauthorized(what);
            let res = send(
                &app,
                Method::POST,
                &app.tasks_url(user),
                &headers,
                Some(json!({ "title": "x" })),
            )
            .await;
            res.assert_unauthorized(what);
        }
        assert_refused(
            handshake(&app, "", &headers).await,
            401,
            "unauthorized",
            what,
        );
        let query = format!("?token={}", app.token("alice"));
        assert_refused(
            handshake(&app, &query, &headers).await,
            401,
            "unauthorized",
            what,
        );
    }
    // The same holds for the query parameter of the handshake.
    let (alice_token, bob_token) = (app.token("alice"), app.token("bob"));
    for query in [
        format!("?token={alice_token}&token={bob_token}"),
        format!("?token={alice_token}&token=garbage"),
        format!("?token={alice_token}&token={alice_token}"),
    ] {
        assert_refused(
            handshake(&app, &query, &[]).await,
            401,
            "unauthorized",
            &query,
        );
    }
    for user in ["alice", "bob"] {
        let list = app.get_tasks(user, "").await;
        assert_eq!(list.body["total_count"], 0, "{}", list.text);
    }
    // One header still works, on both transports.
    let res = send(
        &app,
        Method::GET,
        &app.tasks_url("alice"),
        &[("authorization", &alice)],
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    handshake(&app, "", &[("authorization", &alice)])
        .await
        .expect("one Authorization header connects");
}

async fn more_than_one_origin_header_is_403_at_the_handshake(backend: Backend) {
    let app = spawn_app(backend).await;
    let bearer = format!("Bearer {}", app.token("alice"));
    let allowed = "http://localhost:3000";
    let same = format!("http://{}", app.addr);
    for (what, origins) in [
        ("allowed then evil", [allowed, "https://evil.example"]),
        ("evil then allowed", ["https://evil.example", allowed]),
        ("allowed twice", [allowed, allowed]),
        ("same origin twice", [same.as_str(), same.as_str()]),
    ] {
        let headers = [
            ("authorization", bearer.as_str()),
            ("origin", origins[0]),
            ("origin", origins[1]),
        ];
        assert_refused(handshake(&app, "", &headers).await, 403, "forbidden", what);
    }
    for origin in [allowed, same.as_str()] {
        handshake(&app, "", &[("authorization", &bearer), ("origin", origin)])
            .await
            .expect("one allowed Origin connects");
    }
}

async fn a_user_id_claim_of_another_json_type_is_skipped(backend: Backend) {
    let app = spawn_app(backend).await;
    for (what, claims) in [
        ("sub list", json!({ "sub": ["x"], "userId": "alice" })),
        (
            "sub object",
            json!({ "sub": { "id": "x" }, "userId": "alice" }),
        ),
        ("sub number", json!({ "sub": 42, "userId": "alice" })),
        ("sub bool", json!({ "sub": true, "userId": "alice" })),
        ("sub null", json!({ "sub": null, "userId": "alice" })),
        ("sub blank", json!({ "sub": " ", "userId": "alice" })),
        ("sub empty list", json!({ "sub": [], "id": "alice" })),
        (
            "sub list, userId object",
            json!({ "sub": ["bob"], "userId": { "sub": "bob" }, "id": "alice" }),
        ),
        (
            "sub object, userId list",
            json!({ "sub": { "a": [1, { "b": 2 }] }, "userId": ["bob"], "id": "alice" }),
        ),
        ("userId list", json!({ "userId": ["bob"], "id": "alice" })),
        (
            "userId number",
            json!({ "sub": false, "userId": 7, "id": "alice" }),
        ),
    ] {
        let token = forge(claims);
        let res = list_as(&app, "alice", &token).await;
        assert_eq!(res.status, 200, "{what}: {}", res.text);
        let res = list_as(&app, "bob", &token).await;
        assert_eq!(res.status, 403, "{what} on bob's path: {}", res.text);
        let (_ws, ready) = ws_with(&app, &token).await;
        assert_eq!(ready["user_id"], "alice", "{what}");
    }
    // Only non-strings are skipped: no usable claim at all is still a 401.
    let token = forge(json!({ "sub": ["alice"], "userId": { "id": "alice" } }));
    assert_refused_everywhere(&app, &token, "alice", "no string claim").await;
}

/// A user id of 1,024 characters works for every change on both backends (on
/// PostgreSQL it travels in `NOTIFY`); one more character is refused with 401.
async fn user_ids_are_at_most_1024_characters_and_work_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let longest = "u".repeat(1024);
    let token = forge(json!({ "sub": longest }));
    let (mut ws, ready) = app.ws_with_token(&token).await;
    assert_eq!(ready["user_id"], longest.as_str());
    let ack = ws
        .ask("message.append", "m1", json!({"content": "hi"}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let ack = ws.ask("task.create", "c1", json!({"title": "t"})).await;
    assert_eq!(ack["type"], "ack", "{ack}");

    let too_long = forge(json!({ "sub": "u".repeat(1025) }));
    list_as(&app, &"u".repeat(1025), &too_long)
        .await
        .assert_unauthorized("a 1,025-character user id");
}

/// A due date must read back as RFC 3339 on both backends: years 0000 to 9999 in UTC.
async fn due_dates_keep_to_years_0000_to_9999(backend: Backend) {
    let app = spawn_app(backend).await;
    for due in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+01:00"] {
        let res = app
            .post_task("alice", json!({"title": "t", "due_date": due}))
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], "due_date", "{due}: {}", res.text);
    }
    let task = app
        .create_task(
            "alice",
            json!({"title": "t", "due_date": "2026-03-01T09:30:00.123456789Z"}),
        )
        .await;
    assert_eq!(task["due_date"], "2026-03-01T09:30:00.123456Z");
    assert_eq!(app.get_task("alice", &task["id"]).await.body, task);
}
