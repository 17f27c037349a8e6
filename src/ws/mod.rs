//! `GET /ws`: the handshake (origin, token, per-user cap), then a `session` per socket.
//!
//! A session reads frames and dispatches each to its handler in `frames/`; a
//! `writer` task sends what the session and the hub queue for it; `closing` ends the
//! connection with the closing handshake. The upgrade itself is in `upgrade`.
//!
//! A token presented at the handshake is checked before the upgrade, so a bad one is
//! a plain HTTP 401 the browser can see; without one, the socket must send an `auth`
//! frame first.

mod closing;
mod connection;
mod frames;
mod rate_limit;
mod session;
mod upgrade;
mod writer;

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use tungstenite::protocol::WebSocketConfig;

use self::upgrade::Upgrade;
use crate::{
    auth::{Identity, bearer_token},
    domain::UserId,
    error::{Error, ErrorCode},
    http::error::error_body,
    state::AppState,
};

/// Close codes of the protocol (design §6, §9).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const AUTH_FAILED: u16 = 4401;
    pub const AUTH_TIMEOUT: u16 = 4408;
    pub const TOO_MANY: u16 = 4429;
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: Upgrade,
) -> Response {
    // Which of several Origins counts would be a guess; a browser sends one.
    if headers.get_all(header::ORIGIN).iter().nth(1).is_some() {
        return Error::Forbidden("More than one Origin header".into()).into_response();
    }
    if !origin_allowed(&headers, &state.settings.allowed_origins) {
        return Error::Forbidden("Origin not allowed".into()).into_response();
    }
    let identity = match handshake_identity(&state, &headers, query.as_deref()) {
        Ok(identity) => identity,
        Err(err) => return err.into_response(),
    };
    if let Some(identity) = &identity
        && state.service.hub().is_full(&identity.user_id)
    {
        return error_body(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "Too many connections for this user",
        );
    }
    let max_frame = Some(state.settings.ws.max_frame_bytes);
    // Small buffers: an idle connection should cost kilobytes, not the library's
    // default 128 KiB each way. The read buffer is allocated up front for every
    // connection; 1 KiB holds several typical requests (a few hundred bytes each),
    // and a larger frame is read in more pieces (4 KiB cost 3 KiB more per idle
    // connection, for no throughput). Outgoing frames are written as they come (no size
    // cap: a long history ack may be large); the bounded outbound queue is what
    // limits memory for a slow reader.
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(max_frame)
        .max_frame_size(max_frame);
    upgrade.on_upgrade(config, move |socket| session::run(socket, state, identity))
}

/// The identity from the handshake: `Ok(None)` when no token was presented (the
/// client must send an `auth` frame), an error when one was presented and failed.
fn handshake_identity(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<Identity>, Error> {
    // The header wins over the query parameter; two of either is refused.
    let token = match bearer_token(headers)? {
        Some(token) => Some(token.to_owned()),
        None => {
            let mut tokens = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .filter(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned());
            match (tokens.next(), tokens.next()) {
                (Some(_), Some(_)) => {
                    return Err(Error::unauthorized("More than one token query parameter"));
                }
                (token, _) => token,
            }
        }
    };
    match token {
        Some(token) => state.auth.verify(&token).map(Some),
        None if state.settings.demo_mode => Ok(Some(Identity {
            user_id: UserId::demo(),
            expires_at: None,
        })),
        None => Ok(None),
    }
}

/// No `Origin` (not a browser), same origin, or on the allow-list.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return headers.get(header::ORIGIN).is_none();
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (url::Url::parse(origin), host) {
        (Ok(url), Some(host)) => url.host_str().is_some_and(|origin_host| {
            let origin_authority = match url.port() {
                Some(port) => format!("{origin_host}:{port}"),
                None => origin_host.to_owned(),
            };
            origin_authority.eq_ignore_ascii_case(host)
                || url
                    .port_or_known_default()
                    .is_some_and(|p| format!("{origin_host}:{p}").eq_ignore_ascii_case(host))
        }),
        _ => false,
    }
}
