//! The service layer: what each request means, shared by the REST routes and the
//! WebSocket frame handlers, which are thin adapters over it.
//!
//! Every change goes through `Service::change`: a transaction (shared with other
//! changes: `commit`) writes the rows and the event with the user's next `seq`,
//! commits, and only then is the event fanned out and the change acknowledged. A change requested with an id is recorded under
//! that id in the same transaction, so a retry returns the first answer instead of
//! writing twice.

mod commit;
mod conversations;
mod fanout;
mod tasks;

use std::{marker::PhantomData, sync::Arc};

use base64::Engine;
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use tungstenite::Utf8Bytes;

use crate::{
    config::GroupCommit,
    domain::UserId,
    error::{Error, Result},
    hub::{Hub, Outbound, Peer, Registration},
    protocol::{Event, EventName, RequestId},
    store::{RequestKey, Store, StoredEvent, Tx},
};
use commit::{Change, Committer, Job, Reply, Write};

/// Who asks for a change: the user, and the id of the WebSocket request that asks
/// (none for REST), which is the change's idempotency key.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user: UserId,
    pub request: Option<RequestId>,
}

impl Actor {
    pub fn rest(user: UserId) -> Self {
        Actor {
            user,
            request: None,
        }
    }

    /// The idempotency key of a change of type `kind` with parsed `input`: the
    /// request's id and a fingerprint of what it asks, so that the same id with
    /// another request is told apart (`conflict`).
    fn key(&self, kind: &str, input: &impl Serialize) -> Result<Option<Key>> {
        let Some(id) = &self.request else {
            return Ok(None);
        };
        let input = serde_json::to_vec(input).map_err(|e| Error::Internal(e.into()))?;
        let digest = Sha256::new()
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(&input)
            .finalize();
        Ok(Some(Key {
            id: id.clone(),
            hash: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        }))
    }
}

/// A change's idempotency key: the request id and the fingerprint of the request.
struct Key {
    id: RequestId,
    hash: String,
}

impl Key {
    fn stored(&self) -> RequestKey<'_> {
        RequestKey {
            id: self.id.as_str(),
            hash: &self.hash,
        }
    }

    /// `conflict`: the id already named a different request.
    fn reused(&self) -> Error {
        Error::Conflict(
            format!(
                "The id {:?} was already used for a different request",
                self.id.as_str()
            )
            .into(),
        )
    }
}

/// A committed change: the event that carries it, whose `data` is the ack's,
/// serialized once. REST reads it back as a `T`; WebSocket sends it as it is.
#[derive(Debug)]
pub struct Committed<T> {
    pub event: Event,
    result: PhantomData<T>,
}

impl<T: DeserializeOwned> Committed<T> {
    /// The change's result as a value (REST answers with it).
    pub fn value(&self) -> Result<T> {
        serde_json::from_str(self.event.data.get()).map_err(|e| Error::Internal(e.into()))
    }
}

/// Why a connection could not join.
#[derive(Debug)]
pub enum JoinError {
    /// The user is at `MAX_CONNECTIONS_PER_USER`.
    AtCapacity,
    /// The database could not say the user's latest `seq`.
    Failed(Error),
}

/// One lock per user with changes committing on this instance: a joining
/// connection's `ready`, and other instances' events, never fall between a commit and
/// its publish, and other users never wait for them. An entry lives only while
/// someone holds or waits for it.
#[derive(Default)]
struct UserLocks(DashMap<UserId, Arc<Mutex<()>>>);

impl UserLocks {
    /// Waits for the user's turn, within `budget` (a change stuck on a hung database
    /// must not hold the user's requests forever).
    async fn turn(self: &Arc<Self>, user: &UserId, budget: std::time::Duration) -> Result<Turn> {
        let lock = self.0.entry(user.clone()).or_default().clone();
        let guard = tokio::time::timeout(budget, lock.lock_owned()).await;
        // Made before the outcome is known, so a waiter that gave up also cleans up.
        let mut turn = Turn {
            guard: None,
            locks: self.clone(),
            user: user.clone(),
        };
        turn.guard = Some(guard.map_err(|_| Error::Unavailable)?);
        Ok(turn)
    }
}

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
    committer: Committer,
}

impl Service {
    /// Starts the committer tasks: call within the runtime.
    pub fn new(store: Store, hub: Arc<Hub>, group_commit: GroupCommit) -> Self {
        let locks = Arc::<UserLocks>::default();
        Service {
            committer: Committer::start(store.clone(), hub.clone(), locks.clone(), group_commit),
            store,
            hub,
            locks,
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
        self.hub.caught_up(user, seq);
        outbox.push(Outbound::Frame(ready(seq)));
        Ok(registration)
    }

    /// Waits for the user's turn, within the database budget.
    async fn turn(&self, user: &UserId) -> Result<Turn> {
        self.locks.turn(user, self.store.budget()).await
    }

    /// Runs `write` in a transaction, records its result as event `name` (under the
    /// request's `key`), commits, then fans the event out. The result is the event's
    /// data, as the ack's is. A key already recorded answers with the change it made.
    ///
    /// The transaction is shared with other changes (`commit`). Once queued, the
    /// change finishes even if the request is dropped (a client that disconnects
    /// mid-commit) or answered `unavailable` (a commit slower than the budget): a
    /// retry with the same id returns its ack once it has committed.
    async fn change<T>(
        &self,
        actor: &Actor,
        name: EventName,
        key: Option<Key>,
        write: Write,
    ) -> Result<Committed<T>> {
        // Without coalescing, a change holds its user's turn from here to its publish,
        // as its own transaction commits in a task of its own; a committer takes the
        // turns of its batch's users itself.
        let turn = if self.committer.coalesces() {
            None
        } else {
            Some(self.turn(&actor.user).await?)
        };
        let (done, answer) = oneshot::channel();
        self.committer.submit(Job {
            change: Change {
                user: actor.user.clone(),
                name,
                key,
                write,
            },
            reply: Reply { turn, done },
        });
        let event = match tokio::time::timeout(self.store.budget(), answer).await {
            Ok(Ok(answer)) => answer?,
            // Not answered in time, or the batch was given up.
            Ok(Err(_)) | Err(_) => return Err(Error::Unavailable),
        };
        Ok(Committed {
            event,
            result: PhantomData,
        })
    }
}

/// A change whose rows `write` writes with statements of its own, returning the
/// change's result. It may run twice (a batch written together that fails is
/// written again change by change), so it clones what it takes.
fn rows<T, W>(write: W) -> Write
where
    T: Serialize + 'static,
    W: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static,
{
    Write::Rows(Box::new(move |tx| {
        let written = write(tx);
        Box::pin(async move { to_raw(&written.await?) })
    }))
}

/// The answer to a repeated request: the first one's event, or `conflict` when the id
/// was used for another request.
fn repeated(name: EventName, key: &Key, prior: &StoredEvent) -> Result<Event> {
    if prior.request_hash.as_deref() != Some(key.hash.as_str()) {
        return Err(key.reused());
    }
    let data = RawValue::from_string(prior.data.clone()).map_err(|e| Error::Internal(e.into()))?;
    Ok(Event {
        name,
        seq: prior.seq,
        data,
    })
}

fn to_raw(value: &impl Serialize) -> Result<Box<RawValue>> {
    serde_json::value::to_raw_value(value).map_err(|e| Error::Internal(e.into()))
}

impl Service {
    /// The user's latest `seq` and the retained events after `after` up to it, for
    /// `resume`. Read together, so every event up to that `seq` is in the answer or
    /// was pruned.
    pub async fn events_since(&self, user: &UserId, after: i64) -> Result<(i64, Vec<StoredEvent>)> {
        let latest = self.store.latest_seq(user).await?;
        if after >= latest {
            return Ok((latest, Vec::new()));
        }
        let events = self.store.events_between(user, after, latest).await?;
        Ok((latest, events))
    }
}
