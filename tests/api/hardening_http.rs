//! How the server accepts and serves connections, seen from outside (design §9,
//! Hardening): slow or idle clients cut off, a declared body
//! over the limit refused at once, a global connection cap that spares `/health`,
//! JSON-only REST bodies, and the JSON error body on every 4xx the edge produces.
//!
//! Most checks speak raw HTTP/1.1 over a TCP socket: an HTTP client library will not
//! send a head without its body, or trickle headers.

use std::time::{Duration, Instant};

use reqwest::{Method, header};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{
    app::{Options, Response, TestApp, spawn_app, spawn_with},
    db::Backend,
    process::Sandbox,
    ws::{Handshake, WAIT},
};
use crate::on_both_backends;

on_both_backends!(
    slow_or_silent_headers_are_cut_off,
    a_websocket_outlives_the_header_timeout,
    a_declared_body_over_the_limit_is_413_at_once,
    a_body_that_never_arrives_is_408,
    over_max_connections_ws_is_503_and_http_still_answers,
    rest_bodies_must_be_json,
    edge_errors_have_the_json_body,
);

/// One HTTP/1.1 exchange over a raw socket.
struct Raw {
    stream: TcpStream,
}

/// A response as the raw socket read it: status and body (JSON, or `Null` when empty).
struct RawResponse {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    async fn connect(app: &TestApp) -> Self {
        Raw {
            stream: TcpStream::connect(app.addr).await.expect("connected"),
        }
    }

    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .await
            .expect("bytes sent");
    }

    /// Reads one response (head, then `Content-Length` bytes of body); fails the
    /// test unless it arrives within `wait`.
    async fn response(&mut self, wait: Duration) -> RawResponse {
        tokio::time::timeout(wait, self.read_response())
            .await
            .unwrap_or_else(|_| panic!("no response within {wait:?}"))
    }

    async fn read_response(&mut self) -> RawResponse {
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0; 4096];
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before a full response head: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0; 4096];
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed in the middle of the body");
            body.extend_from_slice(&chunk[..n]);
        }
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!("body is not JSON: {head}{}", String::from_utf8_lossy(&body))
            })
        };
        RawResponse { status, head, body }
    }

    /// Whether the server closed the socket (EOF or reset) within `wait`, discarding
    /// anything it sent first.
    async fn closed_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            let mut chunk = [0; 4096];
            while let Ok(n) = self.stream.read(&mut chunk).await
                && n > 0
            {}
        })
        .await
        .is_ok()
    }
}

impl RawResponse {
    /// The JSON error body, as `Response::assert_error` checks it.
    fn assert_error(&self, status: u16, code: &str) {
        let response = Response {
            status: self.status,
            headers: Default::default(),
            body: self.body.clone(),
            text: format!("{}{}", self.head, self.body),
        };
        response.assert_error(status, code);
    }
}

fn settings(env: &[(&'static str, &str)]) -> Options {
    Options {
        env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        ..Default::default()
    }
}

/// Headers trickled one every 300 ms, or none at all: both sockets are closed once
/// `HTTP_HEADER_TIMEOUT_SECS` has passed since the request began.
async fn slow_or_silent_headers_are_cut_off(backend: Backend) {
    let app = spawn_with(backend, settings(&[("HTTP_HEADER_TIMEOUT_SECS", "1")])).await;

    let mut silent = Raw::connect(&app).await;
    let mut slow = Raw::connect(&app).await;
    let started = Instant::now();
    slow.send("GET /ws HTTP/1.1\r\n").await;
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // The server may have closed the socket already: ignore write errors.
            let _ = slow
                .stream
                .write_all(format!("X-Slow-{i}: x\r\n").as_bytes())
                .await;
        }
    };
    let closed = tokio::select! {
        closed = silent.closed_within(Duration::from_secs(5)) => closed,
        _ = trickle => unreachable!(),
    };
    assert!(closed, "a silent socket is still open after 5 s");
    assert!(
        slow.closed_within(Duration::from_secs(5) - started.elapsed())
            .await,
        "a socket trickling headers is still open after 5 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the 1 s timeout: {:?}",
        started.elapsed()
    );

    // A client that sends its request in time is answered as usual.
    let mut prompt = Raw::connect(&app).await;
    prompt
        .send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(prompt.response(WAIT).await.status, 200);
}

/// The header timeout bounds the HTTP request only: an upgraded WebSocket lives on.
async fn a_websocket_outlives_the_header_timeout(backend: Backend) {
    let app = spawn_with(backend, settings(&[("HTTP_HEADER_TIMEOUT_SECS", "1")])).await;
    let (mut ws, _) = app.ws("alice").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pong = ws.request(json!({"type": "ping", "id": "p"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

/// `Content-Length: 10^12` and no body: refused before any byte of it is read.
async fn a_declared_body_over_the_limit_is_413_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("alice");
    let head = |length: u64, expect: &str| {
        format!(
            "POST /api/alice/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n{expect}\r\n"
        )
    };
    for (length, expect) in [
        (1_000_000_000_000, ""),
        (1024 * 1024 + 1, ""),
        // curl asks before sending a large body: no `100 Continue`, the answer.
        (10 * 1024 * 1024, "Expect: 100-continue\r\n"),
    ] {
        let mut raw = Raw::connect(&app).await;
        raw.send(head(length, expect)).await;
        let res = raw.response(Duration::from_secs(2)).await;
        res.assert_error(413, "invalid");
    }

    // Without a token either: the size is checked before anything else.
    let mut raw = Raw::connect(&app).await;
    raw.send("PUT /api/alice/tasks/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n")
        .await;
    raw.response(Duration::from_secs(2))
        .await
        .assert_error(413, "invalid");

    let res = app.get_tasks("alice", "").await;
    assert_eq!(res.body["total_count"], 0, "{}", res.text);
}

/// A body that stops half-way is answered 408 once `DATABASE_TIMEOUT_SECS` + 10 s
/// have passed, and nothing is written.
async fn a_body_that_never_arrives_is_408(backend: Backend) {
    let app = spawn_with(backend, settings(&[("DATABASE_TIMEOUT_SECS", "1")])).await;
    let token = app.token("alice");
    let mut raw = Raw::connect(&app).await;
    let started = Instant::now();
    raw.send(format!(
        "POST /api/alice/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"title\": "
    ))
    .await;
    let res = raw.response(Duration::from_secs(20)).await;
    res.assert_error(408, "invalid");
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(15)).contains(&waited),
        "answered after {waited:?}, expected 11 s"
    );
    let res = app.get_tasks("alice", "").await;
    assert_eq!(res.body["total_count"], 0, "{}", res.text);
}

/// `GET path` on a connection of its own, closed at once (so it does not linger in
/// the server's count of live connections).
async fn get_alone(app: &TestApp, path: &str, user: &str) -> u16 {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let res = http
        .get(app.url(path))
        .bearer_auth(app.token(user))
        .send()
        .await
        .expect("the server answers");
    res.status().as_u16()
}

/// `MAX_CONNECTIONS` live sockets: a further `/ws` handshake is 503 `unavailable`,
/// while `/health`, `/ready` and REST still answer; a closed socket frees its place.
async fn over_max_connections_ws_is_503_and_http_still_answers(backend: Backend) {
    let app = spawn_with(backend, settings(&[("MAX_CONNECTIONS", "5")])).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(app.ws("alice").await.0);
    }

    let (status, body) = app.ws_handshake("", &[]).await.refused();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_eq!(body["detail"], body["message"], "{body}");

    assert_eq!(get_alone(&app, "/health", "alice").await, 200);
    assert_eq!(get_alone(&app, "/ready", "alice").await, 200);
    assert_eq!(get_alone(&app, "/api/alice/tasks", "alice").await, 200);

    // One tab closes: once the server has let go of its socket, a new one fits.
    held.pop().unwrap().close().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let token = format!("Bearer {}", app.token("alice"));
        match app.ws_handshake("", &[("authorization", &token)]).await {
            Handshake::Open(_) => break,
            Handshake::Refused(status, body) => {
                assert_eq!(status, 503, "{body}");
                assert!(Instant::now() < deadline, "no place freed after {WAIT:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// REST reads JSON only (a browser cannot send `application/json` cross-site without
/// a preflight); no `Content-Type` at all is read as JSON, for old clients.
async fn rest_bodies_must_be_json(backend: Backend) {
    let app = spawn_with(backend, settings(&[("DEMO_MODE", "true")])).await;
    let body = r#"{"title": "Buy milk"}"#;
    let post = |content_type: Option<&'static str>| {
        let mut req = app.http.post(app.tasks_url("demo-user")).body(body);
        if let Some(content_type) = content_type {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        async { Response::from(req.send().await.expect("sent")).await }
    };

    for refused in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json-seq",
        "json",
        "",
    ] {
        let res = post(Some(refused)).await;
        res.assert_error(415, "invalid");
    }
    let res = app.get_tasks("demo-user", "").await;
    assert_eq!(res.body["total_count"], 0, "a refused body wrote a task");

    for accepted in [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON;charset=\"UTF-8\""),
        Some("application/merge-patch+json"),
        Some("application/vnd.api+json"),
    ] {
        let res = post(accepted).await;
        assert_eq!(res.status, 201, "{accepted:?}: {}", res.text);
    }

    // PUT and PATCH too.
    let task = app.create_titled("demo-user", "x").await;
    let url = app.task_url("demo-user", task["id"].as_i64().unwrap());
    for (method, url, body) in [
        (Method::PUT, url.clone(), r#"{"title": "y"}"#),
        (
            Method::PATCH,
            format!("{url}/complete"),
            r#"{"completed": true}"#,
        ),
    ] {
        let res = app
            .http
            .request(method.clone(), &url)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        Response::from(res).await.assert_error(415, "invalid");
    }
    let res = app
        .get_task("demo-user", task["id"].as_i64().unwrap())
        .await;
    assert_eq!(res.body["title"], "x", "{}", res.text);
    assert_eq!(res.body["completed"], false, "{}", res.text);
}

/// 404, 405, 414 and 431 carry the JSON error body. Past hyper's own hard limits
/// (a request head over 64 KiB), hyper answers 431 before any of our code runs: no
/// body, and the connection is closed (README, "Errors").
async fn edge_errors_have_the_json_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let get = |path: String, headers: Vec<(String, String)>| {
        let mut req = app.http.get(app.url(&path));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async { Response::from(req.send().await.expect("sent")).await }
    };

    get("/nope".into(), vec![])
        .await
        .assert_error(404, "not_found");
    let res = app
        .call(Method::POST, &app.url("/ws"), "alice", Some(json!({})))
        .await;
    res.assert_error(405, "invalid");

    // A URI over 8 KiB.
    let long = format!("/api/alice/tasks?status={}", "a".repeat(8 * 1024));
    get(long, vec![]).await.assert_error(414, "invalid");
    // Headers over 32 KiB in all, or more than 64 of them.
    let big = vec![("x-big".to_owned(), "a".repeat(33 * 1024))];
    get("/health".into(), big)
        .await
        .assert_error(431, "invalid");
    let many = (0..80)
        .map(|i| (format!("x-h{i}"), "a".to_owned()))
        .collect();
    get("/health".into(), many)
        .await
        .assert_error(431, "invalid");
    // Within the limits, the same requests are served.
    let fits = (0..60)
        .map(|i| (format!("x-h{i}"), "a".repeat(500)))
        .collect();
    assert_eq!(get("/health".into(), fits).await.status, 200);

    // hyper's backstop: a head over 64 KiB never reaches the router.
    let mut raw = Raw::connect(&app).await;
    raw.send(format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    ))
    .await;
    let res = raw.response(WAIT).await;
    assert_eq!(res.status, 431, "{}", res.head);
    assert!(raw.closed_within(WAIT).await, "connection left open");
}

/// The issue's attack on a server with few file descriptors: a crowd of idle sockets
/// takes them all, so `accept` fails. The server raises its soft limit to the hard
/// one (and says so), backs off while `accept` fails, cuts the idle sockets off after
/// `HTTP_HEADER_TIMEOUT_SECS`, and `/health` answers again.
#[tokio::test]
async fn a_crowd_of_idle_sockets_does_not_silence_health() {
    let sandbox = Sandbox::new();
    let port = sandbox.port;
    // Soft limit 32, hard 64: the server should run with 64.
    let server = sandbox.serve_with_open_files(
        32,
        64,
        &[
            ("DATABASE_URL", &sandbox.sqlite_url("x.db")),
            ("DATABASE_POOL_SIZE", "2"),
            ("BETTER_AUTH_SECRET", "fd-test-secret"),
            ("HTTP_HEADER_TIMEOUT_SECS", "1"),
            ("RUST_LOG", "info"),
        ],
    );
    let (seen, _) = server.wait_for_line("listening on");
    assert!(
        seen.iter()
            .any(|l| l.contains("file descriptor") && l.contains("64")),
        "the raised limit is not logged: {seen:#?}"
    );

    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let started = Instant::now();
    let res = http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("/health answers despite the crowd");
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "/health took {:?}",
        started.elapsed()
    );
    drop(crowd);
    drop(server);
}
