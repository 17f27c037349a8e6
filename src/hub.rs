//! The hub: who is connected right now, per user. It holds live sockets only, never
//! data: every event it fans out was committed to the database first.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{domain::UserId, protocol::ServerFrame};

/// Identifies one WebSocket connection on this instance.
pub type ConnectionId = u64;

/// A committed change, as it is fanned out and replayed.
#[derive(Clone, Debug)]
pub struct Event {
    pub name: &'static str,
    pub seq: i64,
    pub data: serde_json::Value,
}

/// What a connection's writer sends, in order.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// An answer to one of this connection's requests (ack, error, pong, ready).
    Frame(Utf8Bytes),
    /// An event, with its `seq` so the writer never sends one twice.
    Event { seq: i64, frame: Utf8Bytes },
    /// A change of this connection is in flight: hold events back until its
    /// `Answer`, so the ack and the events reach the client in `seq` order.
    Hold,
    /// The answer to a request; after a `Hold`, it carries the change's `seq`.
    Answer { seq: Option<i64>, frame: Utf8Bytes },
    /// A WebSocket ping (heartbeat).
    Ping,
    /// The last frame: a close with this code and reason.
    Close(u16, &'static str),
}

/// The hub's handle on one live connection.
#[derive(Clone)]
pub struct Peer {
    pub id: ConnectionId,
    /// Bounded: when it is full the peer is a slow consumer and gets closed.
    pub outbox: mpsc::Sender<Outbound>,
    /// Cancelled to end the connection at once: its queue overflowed (a slow
    /// consumer, closed with 1008) or its socket failed.
    pub evict: CancellationToken,
}

/// Live connections per user.
pub struct Hub {
    peers: DashMap<UserId, Vec<Peer>>,
    /// Per-user cap on connections; 0 means none.
    max_per_user: usize,
}

/// The user already has as many connections as allowed.
#[derive(Debug)]
pub struct AtCapacity;

impl Hub {
    pub fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(Hub {
            peers: DashMap::new(),
            max_per_user,
        })
    }

    /// Whether one more connection of `user` would be over the cap.
    pub fn is_full(&self, user: &UserId) -> bool {
        self.max_per_user != 0
            && self
                .peers
                .get(user)
                .is_some_and(|p| p.len() >= self.max_per_user)
    }

    /// Adds a connection; it stays until the returned registration is dropped.
    pub fn register(
        self: &Arc<Self>,
        user: &UserId,
        peer: Peer,
    ) -> Result<Registration, AtCapacity> {
        let mut peers = self.peers.entry(user.clone()).or_default();
        if self.max_per_user != 0 && peers.len() >= self.max_per_user {
            return Err(AtCapacity);
        }
        let id = peer.id;
        peers.push(peer);
        Ok(Registration {
            hub: self.clone(),
            user: user.clone(),
            id,
        })
    }

    /// Sends a committed event to every live connection of `user` except `origin`
    /// (which gets the ack instead). Serialized once, shared by all.
    pub fn publish(&self, user: &UserId, origin: Option<ConnectionId>, event: &Event) {
        let Some(peers) = self.peers.get(user) else {
            return;
        };
        let frame = ServerFrame::event(event).to_text();
        for peer in peers.iter().filter(|p| Some(p.id) != origin) {
            let item = Outbound::Event {
                seq: event.seq,
                frame: frame.clone(),
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = peer.outbox.try_send(item) {
                tracing::warn!(user = %user, connection = peer.id, "slow consumer: closing");
                peer.evict.cancel();
            }
        }
    }

    /// Live connections of `user` on this instance.
    pub fn connections(&self, user: &UserId) -> usize {
        self.peers.get(user).map_or(0, |p| p.len())
    }

    /// Live connections on this instance.
    pub fn total(&self) -> usize {
        self.peers.iter().map(|p| p.len()).sum()
    }
}

/// Removes the connection from the hub when dropped.
pub struct Registration {
    hub: Arc<Hub>,
    user: UserId,
    id: ConnectionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.peers.remove_if_mut(&self.user, |_, peers| {
            peers.retain(|p| p.id != self.id);
            peers.is_empty()
        });
    }
}
