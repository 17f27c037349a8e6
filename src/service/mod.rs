//! The service layer: what each request means, shared by the REST routes and the
//! WebSocket frame handlers, which are thin adapters over it.
//!
//! Every change goes through `Service::change`: one transaction writes the rows and
//! the event with the user's next `seq`, commits, and only then is the event fanned
//! out and the change acknowledged.

mod conversations;
mod tasks;

use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tungstenite::Utf8Bytes;

use crate::{
    domain::{UserId, time},
    error::{Error, Result},
    hub::{ConnectionId, Hub, Outbound, Peer, Registration},
    protocol::{Event, EventName},
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

/// A committed change: its result, and the event that carries it (whose `data` is
/// the ack's, serialized once).
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub event: Event,
}

/// Why a connection could not join.
#[derive(Debug)]
pub enum JoinError {
    /// The user is at `MAX_CONNECTIONS_PER_USER`.
    AtCapacity,
    /// The database could not say the user's latest `seq`.
    Failed(Error),
}

/// One lock per user with changes in flight on this instance: a user's changes
/// commit and fan out in `seq` order, and other users never wait for them. An entry
/// lives only while someone holds or waits for it.
#[derive(Default)]
struct UserLocks(DashMap<UserId, Arc<Mutex<()>>>);

/// A user's turn to change data; the next one waits until it is dropped.
struct Turn {
    guard: Option<OwnedMutexGuard<()>>,
    locks: Arc<UserLocks>,
    user: UserId,
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Nobody else holds or waits for this lock: forget it.
        self.locks
            .0
            .remove_if(&self.user, |_, lock| Arc::strong_count(lock) == 1);
    }
}

/// Cheap to clone; one per server.
#[derive(Clone)]
pub struct Service {
    store: Store,
    hub: Arc<Hub>,
    locks: Arc<UserLocks>,
}

impl Service {
    pub fn new(store: Store, hub: Arc<Hub>) -> Self {
        Service {
            store,
            hub,
            locks: Arc::default(),
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
        let _turn = self.turn(user).await.map_err(JoinError::Failed)?;
        let outbox = peer.outbox.clone();
        // The cap first: a connection over it is refused without a database read.
        let registration = self
            .hub
            .register(user, peer)
            .map_err(|_| JoinError::AtCapacity)?;
        let seq = self
            .store
            .latest_seq(user)
            .await
            .map_err(JoinError::Failed)?;
        outbox.push(Outbound::Frame(ready(seq)));
        Ok(registration)
    }

    /// Waits for the user's turn, within the database budget (a change stuck on a
    /// hung database must not hold the user's requests forever).
    async fn turn(&self, user: &UserId) -> Result<Turn> {
        let lock = self.locks.0.entry(user.clone()).or_default().clone();
        let guard = tokio::time::timeout(self.store.budget(), lock.lock_owned()).await;
        // Made before the outcome is known, so a waiter that gave up also cleans up.
        let mut turn = Turn {
            guard: None,
            locks: self.locks.clone(),
            user: user.clone(),
        };
        turn.guard = Some(guard.map_err(|_| Error::Unavailable)?);
        Ok(turn)
    }

    /// Runs `write` in a transaction, records its result as event `name`, commits,
    /// then fans the event out. The result is the event's data, as the ack's is.
    async fn change<T: Serialize>(
        &self,
        actor: &Actor,
        name: EventName,
        write: impl AsyncFnOnce(&mut Tx) -> Result<T>,
    ) -> Result<Committed<T>> {
        let turn = self.turn(&actor.user).await?;
        let (tx, value, event) = self
            .store
            .bounded(async {
                let mut tx = self.store.begin().await?;
                let value = write(&mut tx).await?;
                let data = serde_json::value::to_raw_value(&value)
                    .map_err(|e| Error::Internal(e.into()))?;
                let seq = tx.next_seq(&actor.user).await?;
                tx.append_event(&actor.user, seq, name.as_str(), data.get(), time::now())
                    .await?;
                Ok((tx, value, Event { name, seq, data }))
            })
            .await?;
        // Past this point the change must finish even if the request is dropped (a
        // client that disconnects mid-commit): commit and publish in a task of their own.
        let (store, hub) = (self.store.clone(), self.hub.clone());
        let (user, origin) = (actor.user.clone(), actor.connection);
        let finish = tokio::spawn(async move {
            let _turn = turn;
            store.bounded(tx.commit()).await?;
            hub.publish(&user, origin, &event);
            Ok::<_, Error>(event)
        });
        let event = finish.await.map_err(|e| Error::Internal(e.into()))??;
        Ok(Committed { value, event })
    }
}
