//! What a session knows about its authenticated connection.

use std::time::Duration;

use tokio::time::Instant;
use tungstenite::Utf8Bytes;

use crate::{
    auth::Identity,
    domain::UserId,
    hub::ConnectionId,
    protocol::{RequestId, ServerFrame},
    service::Actor,
};

#[derive(Clone)]
pub struct Connection {
    id: ConnectionId,
    user: UserId,
    /// Unix seconds; `None` for a demo-mode connection without a token.
    expires_at: Option<i64>,
}

impl Connection {
    pub fn new(identity: Identity) -> Self {
        Connection {
            // Fits a JSON number exactly.
            id: rand::random::<u64>() >> 11,
            user: identity.user_id,
            expires_at: identity.expires_at,
        }
    }

    pub fn id(&self) -> ConnectionId {
        self.id
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// Who asks for the change that request `id` makes on this connection; `id` is
    /// its idempotency key.
    pub fn actor(&self, id: &RequestId) -> Actor {
        Actor {
            user: self.user.clone(),
            request: Some(id.clone()),
        }
    }

    /// Takes the expiry of a refreshed token (same user, already checked).
    pub fn refresh(&mut self, expires_at: Option<i64>) {
        self.expires_at = expires_at;
    }

    /// The `ready` frame, with the user's latest `seq` when the connection joined.
    pub fn ready_frame(&self, heartbeat: Duration, seq: i64) -> Utf8Bytes {
        ServerFrame::Ready {
            user_id: self.user.as_str(),
            connection_id: self.id.to_string(),
            seq,
            heartbeat_ms: heartbeat.as_millis() as u64,
            expires_at: self.expires_at,
            server: concat!("taskwire/", env!("CARGO_PKG_VERSION")),
        }
        .to_text()
    }

    /// When the token runs out (far in the future without one).
    pub fn expiry(&self) -> Instant {
        const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
        match self.expires_at {
            None => Instant::now() + FAR,
            Some(exp) => {
                let left = exp - chrono::Utc::now().timestamp();
                Instant::now() + Duration::from_secs(left.clamp(0, FAR.as_secs() as i64) as u64)
            }
        }
    }
}
