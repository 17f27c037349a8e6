//! The service layer: what each request means, shared by the REST routes and the
//! WebSocket frame handlers, which are thin adapters over it.
//!
//! Every change goes through `Service::change`: one transaction writes the rows and
//! the event with the user's next `seq`, commits, and only then is the event fanned
//! out and the change acknowledged.

mod conversations;
mod tasks;

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
};

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use tokio::sync::{Mutex, MutexGuard};

use crate::{
    domain::{UserId, time},
    error::{Error, Result},
    hub::{ConnectionId, Event, Hub, Outbound, Peer, Registration},
    protocol::EventName,
    store::{Store, Tx},
};

/// Who asks for a change: the user, and the connection it came from (none for REST).
/// That connection gets the ack; the user's other connections get the event.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user: UserId,
    pub connection: Option<ConnectionId>,
}

impl Actor {
    pub fn rest(user: UserId) -> Self {
        Actor {
            user,
            connection: None,
        }
    }
}

/// A committed change: its result and the `seq` of its event.
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub seq: i64,
}

/// Why a connection could not join.
#[derive(Debug)]
pub enum JoinError {
    /// The user is at `MAX_CONNECTIONS_PER_USER`.
    AtCapacity,
    /// The database could not say the user's latest `seq`.
    Failed(Error),
}

/// Number of locks that order one user's changes on this instance.
const WRITE_LOCKS: usize = 64;

/// Cheap to clone; one per server.
#[derive(Clone)]
pub struct Service {
    store: Store,
    hub: Arc<Hub>,
    /// A user's changes commit and fan out in `seq` order: each change holds its
    /// user's lock from `seq` to publish. Striped, so memory stays bounded.
    write_locks: Arc<[Mutex<()>; WRITE_LOCKS]>,
    hasher: RandomState,
}

impl Service {
    pub fn new(store: Store, hub: Arc<Hub>) -> Self {
        Service {
            store,
            hub,
            write_locks: Arc::new(std::array::from_fn(|_| Mutex::new(()))),
            hasher: RandomState::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Adds a live connection to the hub and queues its `ready` frame, built from the
    /// user's latest `seq`. The user's changes wait meanwhile, so the connection gets
    /// every event after that `seq`, and none before `ready`.
    pub async fn join(
        &self,
        user: &UserId,
        peer: Peer,
        ready: impl FnOnce(i64) -> Utf8Bytes,
    ) -> std::result::Result<Registration, JoinError> {
        let _turn = self.write_lock(user).await;
        let seq = self
            .store
            .latest_seq(user)
            .await
            .map_err(JoinError::Failed)?;
        let outbox = peer.outbox.clone();
        let registration = self
            .hub
            .register(user, peer)
            .map_err(|_| JoinError::AtCapacity)?;
        // A fresh queue has room for its first frame.
        let _ = outbox.try_send(Outbound::Frame(ready(seq)));
        Ok(registration)
    }

    /// Holds the user's turn to change data on this instance.
    async fn write_lock(&self, user: &UserId) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(user) as usize % WRITE_LOCKS;
        self.write_locks[stripe].lock().await
    }

    /// Runs `write` in a transaction, records its result as event `name`, commits,
    /// then fans the event out. The result is the event's data, as the ack's is.
    async fn change<T: Serialize>(
        &self,
        actor: &Actor,
        name: EventName,
        write: impl AsyncFnOnce(&mut Tx) -> Result<T>,
    ) -> Result<Committed<T>> {
        let _turn = self.write_lock(&actor.user).await;
        let mut tx = self.store.begin().await?;
        let value = write(&mut tx).await?;
        let data = serde_json::to_value(&value).map_err(|e| Error::Internal(e.into()))?;
        let seq = tx.next_seq(&actor.user).await?;
        tx.append_event(
            &actor.user,
            seq,
            name.as_str(),
            &data.to_string(),
            time::now(),
        )
        .await?;
        tx.commit().await?;
        let event = Event {
            name: name.as_str(),
            seq,
            data,
        };
        self.hub.publish(&actor.user, actor.connection, &event);
        Ok(Committed { value, seq })
    }
}
