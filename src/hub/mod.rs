//! The hub: who is connected right now, per user. It holds live sockets only, never
//! data: every event it fans out was committed to the database first.

mod outbox;

use std::sync::Arc;

use dashmap::DashMap;

pub use outbox::{Outbound, Outbox, Replay};

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
    users: DashMap<UserId, Peers>,
    /// Per-user cap on connections; 0 means none.
    max_per_user: usize,
}

/// One user's live connections, and the last `seq` they were all given.
#[derive(Default)]
struct Peers {
    list: Vec<Peer>,
    /// Events up to this `seq` have been published (or were before `ready`).
    last_seq: i64,
}

/// The user already has as many connections as allowed.
#[derive(Debug)]
pub struct AtCapacity;

impl Hub {
    pub fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(Hub {
            users: DashMap::new(),
            max_per_user,
        })
    }

    /// Whether one more connection of `user` would be over the cap.
    pub fn is_full(&self, user: &UserId) -> bool {
        self.max_per_user != 0
            && self
                .users
                .get(user)
                .is_some_and(|p| p.list.len() >= self.max_per_user)
    }

    /// Adds a connection; it stays until the returned registration is dropped.
    pub fn register(
        self: &Arc<Self>,
        user: &UserId,
        peer: Peer,
    ) -> Result<Registration, AtCapacity> {
        let mut peers = self.users.entry(user.clone()).or_default();
        if self.max_per_user != 0 && peers.list.len() >= self.max_per_user {
            return Err(AtCapacity);
        }
        let id = peer.id;
        peers.list.push(peer);
        metrics::gauge!("taskwire_connections").increment(1.0);
        Ok(Registration {
            hub: self.clone(),
            user: user.clone(),
            id,
        })
    }

    /// Records that the user's connections have every event up to `seq` (a new
    /// connection's `ready`).
    pub fn caught_up(&self, user: &UserId, seq: i64) {
        if let Some(mut peers) = self.users.get_mut(user) {
            peers.last_seq = peers.last_seq.max(seq);
        }
    }

    /// The last `seq` the user's live connections were given; `None` when the user
    /// has no live connection here.
    pub fn last_seq(&self, user: &UserId) -> Option<i64> {
        self.users.get(user).map(|peers| peers.last_seq)
    }

    /// The users with live connections here.
    pub fn users(&self) -> Vec<UserId> {
        self.users.iter().map(|entry| entry.key().clone()).collect()
    }

    /// When the user has live connections that have not been given every event
    /// before `seq`, the last `seq` they were given.
    pub fn gap_before(&self, user: &UserId, seq: i64) -> Option<i64> {
        let peers = self.users.get(user)?;
        (peers.last_seq < seq - 1).then_some(peers.last_seq)
    }

    /// Sends a committed event to every live connection of `user`. Serialized once,
    /// shared by all; an event already published is not sent again. The connection
    /// that made the change gets it too: its writer drops it behind the ack with the
    /// same `seq`, or sends it when the ack was an error (a commit whose outcome
    /// came too late), so that connection skips no `seq` either.
    pub fn publish(&self, user: &UserId, event: &Event) {
        let Some(mut peers) = self.users.get_mut(user) else {
            return;
        };
        if event.seq <= peers.last_seq {
            return;
        }
        peers.last_seq = event.seq;
        let frame = ServerFrame::event(event).to_text();
        for peer in &peers.list {
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
        metrics::gauge!("taskwire_connections").decrement(1.0);
        self.hub.users.remove_if_mut(&self.user, |_, peers| {
            peers.list.retain(|p| p.id != self.id);
            peers.list.is_empty()
        });
    }
}
