//! The WebSocket opening handshake (RFC 6455 §4.2) over axum's HTTP/1.1 server.
//!
//! Done here rather than with axum's `WebSocketUpgrade` so that a session owns
//! tungstenite's stream and, through it, the connection: after a protocol violation
//! or an oversized frame tungstenite reads nothing more, and the closing handshake
//! still has to read and discard what the client sends (`closing`).

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::{
    handshake::derive_accept_key,
    protocol::{Role, WebSocketConfig},
};

use crate::{error::ErrorCode, http::error::error_body};

/// An open WebSocket: tungstenite's stream over the upgraded connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A WebSocket handshake request: `GET` with `Connection: upgrade`,
/// `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key`.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// The request is not a WebSocket handshake: 426 with the JSON error body.
#[derive(Debug)]
pub struct NotWebSocket;

impl IntoResponse for NotWebSocket {
    fn into_response(self) -> Response {
        error_body(
            StatusCode::UPGRADE_REQUIRED,
            ErrorCode::Invalid,
            "This endpoint speaks WebSocket: connect with a WebSocket client (e.g. wscat -c ws://host/ws)",
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotWebSocket;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, NotWebSocket> {
        let headers = &parts.headers;
        let has = |name, wanted: &str| {
            headers.get(name).is_some_and(|value: &HeaderValue| {
                value
                    .as_bytes()
                    .split(|&b| b == b',')
                    .any(|token| token.trim_ascii().eq_ignore_ascii_case(wanted.as_bytes()))
            })
        };
        let handshake = parts.method == Method::GET
            && has(header::CONNECTION, "upgrade")
            && has(header::UPGRADE, "websocket")
            && headers.get(header::SEC_WEBSOCKET_VERSION) == Some(&HeaderValue::from_static("13"));
        let key = match headers.get(header::SEC_WEBSOCKET_KEY) {
            Some(key) if handshake => key.clone(),
            _ => return Err(NotWebSocket),
        };
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NotWebSocket)?;
        Ok(Upgrade { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers `101 Switching Protocols`; once the connection is handed over,
    /// `session` runs on the socket, in a task of its own.
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, session: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        tokio::spawn(async move {
            match self.on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let socket =
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    session(socket).await;
                }
                Err(err) => tracing::debug!(error = %err, "WebSocket upgrade failed"),
            }
        });
        (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONNECTION, "upgrade".to_owned()),
                (header::UPGRADE, "websocket".to_owned()),
                (header::SEC_WEBSOCKET_ACCEPT, accept),
            ],
        )
            .into_response()
    }
}
