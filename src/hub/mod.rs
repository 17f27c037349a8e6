//! The hub: who is connected right now, per user. It holds live sockets only, never
//! data: every event it fans out was committed to the database first.

mod outbox;

use std::sync::Arc;

use dashmap::DashMap;

pub use outbox::{Outbound, Outbox};

use crate::{
    domain::UserId,
    protocol::{Event, ServerFrame},
};

/// Identifies one WebSocket connection on this instance.
pub type ConnectionId = u64;

/// The hub's handle on one live connection.
#[derive(Clone)]
pub struct Peer {
    pub id: ConnectionId,
    pub outbox: Outbox,
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
            peer.outbox.push(Outbound::Event {
                seq: event.seq,
                frame: frame.clone(),
            });
        }
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
