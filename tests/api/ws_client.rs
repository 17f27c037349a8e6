//! A WebSocket client for the tests: real sockets (tokio-tungstenite), and every frame
//! the server sends is checked against the committed `protocol/schemas`.

use std::{sync::LazyLock, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        client::IntoClientRequest,
        http::{HeaderName, HeaderValue, Request},
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

use crate::helpers::TestApp;

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
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Opens `/ws` with these extra headers and query string.
    pub async fn ws_handshake(&self, query: &str, headers: &[(&str, &str)]) -> Handshake {
        let mut request: Request<()> = format!("{}{query}", self.ws_url())
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
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

    /// A socket authenticated with the `Authorization` header, past its `ready` frame.
    pub async fn ws(&self, user: &str) -> (WsClient, Value) {
        let token = format!("Bearer {}", self.token(user));
        let mut ws = self
            .ws_handshake("", &[("authorization", &token)])
            .await
            .open();
        let ready = ws.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (ws, ready)
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

    /// The next event (from `events` first).
    pub async fn event(&mut self) -> Value {
        if !self.events.is_empty() {
            return self.events.remove(0);
        }
        let frame = self.recv().await;
        assert_eq!(frame["type"], "event", "expected an event: {frame}");
        frame
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

/// A request frame of `kind` with `id` and these fields.
pub fn req(kind: &str, id: &str, fields: Value) -> Value {
    let mut frame = json!({"type": kind, "id": id});
    if let Value::Object(extra) = fields {
        frame.as_object_mut().unwrap().extend(extra);
    }
    frame
}
