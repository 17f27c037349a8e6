//! WebSocket clients for the tests, over real sockets (tokio-tungstenite): `WsClient`,
//! which checks every frame the server sends against the committed
//! `protocol/schemas`, and `RawWs`, for what `WsClient` hides. Also the checks of
//! the frames a client gets back: acks and errors.

use std::{sync::LazyLock, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        client::IntoClientRequest,
        http::{HeaderName, HeaderValue, Request},
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

use super::{
    app::TestApp,
    json::{assert_error_body, keys, merged},
    jwt::bearer,
};

/// How long a test waits for a frame before it fails.
pub const WAIT: Duration = Duration::from_secs(5);

static SERVER_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| validator("server-frame.schema.json"));
static CLIENT_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| validator("client-frame.schema.json"));

fn validator(name: &str) -> jsonschema::Validator {
    let path = format!("{}/protocol/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// Checks a frame against the client schema (for frames the tests mean to be valid).
pub fn assert_valid_request(frame: &Value) {
    if let Err(err) = CLIENT_SCHEMA.validate(frame) {
        panic!("request does not match client-frame.schema.json: {err}\n{frame}");
    }
}

/// A request frame of `kind` with `id` and these fields.
pub fn req(kind: &str, id: &str, fields: Value) -> Value {
    merged(json!({"type": kind, "id": id}), fields)
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Events received while waiting for an answer, in order.
    pub events: Vec<Value>,
}

/// What the handshake gave: a socket, or the HTTP refusal (status and JSON body).
pub enum Handshake {
    Open(Box<WsClient>),
    Refused(u16, Value),
}

impl Handshake {
    pub fn open(self) -> WsClient {
        match self {
            Handshake::Open(ws) => *ws,
            Handshake::Refused(status, body) => panic!("handshake refused with {status}: {body}"),
        }
    }

    pub fn refused(self) -> (u16, Value) {
        match self {
            Handshake::Open(_) => panic!("handshake accepted, expected a refusal"),
            Handshake::Refused(status, body) => (status, body),
        }
    }

    /// Refused with `status` and the JSON error body of the REST routes.
    pub fn assert_refused(self, status: u16, code: &str) {
        let (got, body) = self.refused();
        assert_eq!(got, status, "{body}");
        assert_error_body(&body, code);
    }
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The upgrade request for `/ws{query}` with these extra headers.
    fn ws_request(&self, query: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut request: Request<()> = format!("{}{query}", self.ws_url())
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
    }

    /// Opens `/ws` with these extra headers and query string.
    pub async fn ws_handshake(&self, query: &str, headers: &[(&str, &str)]) -> Handshake {
        match tokio_tungstenite::connect_async(self.ws_request(query, headers)).await {
            Ok((stream, _)) => Handshake::Open(Box::new(WsClient {
                stream,
                events: Vec::new(),
            })),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Handshake::Refused(status, body)
            }
            Err(err) => panic!("handshake failed: {err}"),
        }
    }

    /// A socket authenticated as `user` with the `Authorization` header, past its
    /// `ready` frame.
    pub async fn ws(&self, user: &str) -> (WsClient, Value) {
        self.ws_with_token(&self.token(user)).await
    }

    /// A socket authenticated with `token` in the `Authorization` header, and its `ready`.
    pub async fn ws_with_token(&self, token: &str) -> (WsClient, Value) {
        let mut ws = self
            .ws_handshake("", &[("authorization", &bearer(token))])
            .await
            .open();
        let ready = ws.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (ws, ready)
    }

    /// A socket opened without a token: it must send `auth` first.
    pub async fn ws_unauthenticated(&self) -> WsClient {
        self.ws_handshake("", &[]).await.open()
    }
}

impl WsClient {
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("frame sent");
    }

    /// The next text frame, checked against the server schema. Panics on close or
    /// after `WAIT`.
    pub async fn recv(&mut self) -> Value {
        match self.next_frame(WAIT).await {
            Ok(frame) => frame,
            Err(close) => panic!("socket closed while a frame was expected: {close:?}"),
        }
    }

    /// The next text frame, or the close frame (code) that ended the socket.
    pub async fn next_frame(&mut self, wait: Duration) -> Result<Value, Option<u16>> {
        loop {
            let message = tokio::time::timeout(wait, self.stream.next())
                .await
                .expect("no frame from the server in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).expect("server frames are JSON");
                    if let Err(err) = SERVER_SCHEMA.validate(&frame) {
                        panic!(
                            "server frame does not match server-frame.schema.json: {err}\n{frame}"
                        );
                    }
                    return Ok(frame);
                }
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Sends a request and returns its answer (the frame with the same `id`); events
    /// that arrive meanwhile are kept in `events`.
    pub async fn request(&mut self, frame: Value) -> Value {
        let id = frame["id"].clone();
        self.send(frame).await;
        self.answer_to(id).await
    }

    /// The answer to the request `id`, already sent; events that arrive meanwhile
    /// are kept in `events`.
    pub async fn answer_to(&mut self, id: impl Into<Value>) -> Value {
        let id = id.into();
        loop {
            let answer = self.recv().await;
            if answer["type"] == "event" {
                self.events.push(answer);
            } else {
                assert_eq!(answer["id"], id, "answer for another request: {answer}");
                return answer;
            }
        }
    }

    /// Sends the request `kind` with `id` and `fields`, which must match the client
    /// schema, and returns its answer.
    pub async fn ask(&mut self, kind: &str, id: &str, fields: Value) -> Value {
        let frame = req(kind, id, fields);
        assert_valid_request(&frame);
        self.request(frame).await
    }

    /// The contents of a conversation's messages (up to 200), oldest first: what a
    /// test counts to see that a message was written once.
    pub async fn message_contents(&mut self, conversation_id: i64) -> Vec<String> {
        let fields = json!({"conversation_id": conversation_id, "limit": 200});
        let history = read_ack(
            &self.ask("conversation.history", "contents", fields).await,
            "contents",
        );
        history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["content"].as_str().expect("content").to_owned())
            .collect()
    }

    /// Appends a message and returns the ack's `{conversation, message}`.
    pub async fn append_message(&mut self, id: &str, fields: Value) -> Value {
        write_ack(&self.ask("message.append", id, fields).await, id).0
    }

    /// The next event (from `events` first).
    pub async fn event(&mut self) -> Value {
        if !self.events.is_empty() {
            return self.events.remove(0);
        }
        let frame = self.recv().await;
        assert_eq!(frame["type"], "event", "expected an event: {frame}");
        frame
    }

    /// The socket still answers requests: a `ping` gets its `pong`.
    pub async fn assert_alive(&mut self, after: &str) {
        let pong = self.request(req("ping", "alive", json!({}))).await;
        assert_eq!(
            pong,
            json!({"type": "pong", "id": "alive"}),
            "after {after}"
        );
    }

    /// Asserts that nothing arrives within `wait` (pings are answered and skipped).
    pub async fn assert_silent(&mut self, wait: Duration) {
        assert!(
            self.events.is_empty(),
            "unexpected events: {:?}",
            self.events
        );
        if let Ok(message) = tokio::time::timeout(wait, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => return other,
                }
            }
        })
        .await
        {
            panic!("expected silence, got {message:?}");
        }
    }

    /// Waits for the server to close the socket and returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next_frame(WAIT).await {
                Ok(frame) => {
                    if frame["type"] == "event" {
                        continue;
                    }
                    panic!("expected a close, got {frame}");
                }
                Err(code) => return code,
            }
        }
    }

    pub async fn close(&mut self) {
        let _ = self
            .stream
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}

/// The `data` of the ack of a read: `{"type": "ack", "id", "data"}`, no `seq`.
pub fn read_ack(frame: &Value, id: &str) -> Value {
    assert_eq!(frame["type"], "ack", "{frame}");
    assert_eq!(frame["id"], id, "{frame}");
    assert_eq!(keys(frame), ["data", "id", "type"], "a read has no seq");
    frame["data"].clone()
}

/// The `data` and `seq` of the ack of a mutation.
pub fn write_ack(frame: &Value, id: &str) -> (Value, i64) {
    assert_eq!(frame["type"], "ack", "{frame}");
    assert_eq!(frame["id"], id, "{frame}");
    assert_eq!(keys(frame), ["data", "id", "seq", "type"], "{frame}");
    let seq = frame["seq"].as_i64().expect("seq is an integer");
    (frame["data"].clone(), seq)
}

/// `frame` is an error with `code` answering the request `id` (`Value::Null`: the
/// frame had no usable id), with a message that says what went wrong, and
/// `retryable` as the protocol has it: true for `unavailable` and `rate_limited` only.
pub fn assert_ws_error(frame: &Value, code: &str, id: impl Into<Value>) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert_eq!(frame["id"], id.into(), "{frame}");
    let message = frame["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "an error says what went wrong: {frame}"
    );
    let retryable = matches!(code, "unavailable" | "rate_limited");
    assert_eq!(frame["retryable"], retryable, "{frame}");
}

/// `frame` is the `invalid` error of request `id`, naming `field`.
pub fn assert_ws_invalid(frame: &Value, field: &str, id: &str) {
    assert_ws_error(frame, "invalid", id);
    assert_eq!(frame["field"], field, "{frame}");
}

/// A bare WebSocket client, for what `WsClient` hides: the server's pings, a
/// socket that stops reading, sends that may fail.
pub struct RawWs {
    stream: WebSocketStream<TcpStream>,
}

#[derive(Debug)]
pub enum Incoming {
    Text(Value),
    Ping,
    /// A close frame (its code), or the connection ended without one (`None`).
    Ended(Option<u16>),
}

impl RawWs {
    /// Connects as `user` (header token) and reads `ready`; `recv_buffer` shrinks
    /// the socket's receive buffer so that a client that stops reading stalls fast.
    pub async fn connect(app: &TestApp, user: &str, recv_buffer: Option<u32>) -> (Self, Value) {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(app.addr).await.unwrap();
        let token = bearer(&app.token(user));
        let request = app.ws_request("", &[("authorization", &token)]);
        let (stream, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .expect("handshake accepted");
        let mut ws = RawWs { stream };
        match ws.next(WAIT).await {
            Some(Incoming::Text(ready)) if ready["type"] == "ready" => (ws, ready),
            other => panic!("expected ready, got {other:?}"),
        }
    }

    pub async fn send(&mut self, frame: Value) -> Result<(), impl std::fmt::Debug> {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
    }

    /// The next message, or `None` when nothing came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Incoming> {
        loop {
            let message = tokio::time::timeout(wait, self.stream.next()).await.ok()?;
            return Some(match message {
                Some(Ok(Message::Text(text))) => {
                    Incoming::Text(serde_json::from_str(&text).expect("server frames are JSON"))
                }
                Some(Ok(Message::Ping(_))) => Incoming::Ping,
                Some(Ok(Message::Close(frame))) => Incoming::Ended(frame.map(|f| f.code.into())),
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Err(_)) | None => Incoming::Ended(None),
            });
        }
    }
}
