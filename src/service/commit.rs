//! Group commit: the changes of every connection share transactions.
//!
//! A commit costs a disk flush whatever it carries, so the database's commit rate
//! bounds how many changes per second can be acknowledged. `change` hands its
//! change to the `Committer` as a `Job`; a committer task takes every job queued
//! (up to `GROUP_COMMIT_MAX`, waiting up to `GROUP_COMMIT_WAIT_US` for more), runs
//! each in a savepoint of one transaction (a failing change is rolled back alone and
//! told its error), commits, publishes, and only then answers each job.
//!
//! A user's changes always go to the same committer, in the order they were
//! submitted, so they commit and publish in `seq` order, several in one batch if
//! they come together. The committer holds the turns of its batch's users from before
//! the transaction to after the publish, so a joining connection's `ready` never
//! falls between a commit and its publish.

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use futures_util::future::BoxFuture;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::{Key, Turn, UserLocks, fanout, repeated};
use crate::{
    config::GroupCommit,
    domain::{UserId, time},
    error::{Error, Result},
    hub::Hub,
    protocol::{Event, EventName},
    store::{Store, Tx},
};

/// How long a commit may take to tell its outcome before the gateway stops waiting
/// for it. The request itself answers `unavailable` after `DATABASE_TIMEOUT_SECS`;
/// the commit goes on, and if it succeeds its event still reaches the user.
const COMMIT_OUTCOME_LIMIT: Duration = Duration::from_secs(30);

/// A change's rows, written in the batch's transaction; returns the event's data.
pub(super) type Write =
    Box<dyn for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<Box<RawValue>>> + Send>;

/// One change and who waits for it.
pub(super) struct Job {
    pub change: Change,
    pub reply: Reply,
}

/// What to write: rows (`write`), recorded as event `name` of `user` under `key`.
pub(super) struct Change {
    pub user: UserId,
    pub name: EventName,
    pub key: Option<Key>,
    pub write: Write,
}

/// Where the answer goes: the committed (or earlier) event, or why not. Without
/// coalescing, the user's turn travels with it until the event is published.
pub(super) struct Reply {
    pub turn: Option<Turn>,
    pub done: oneshot::Sender<Result<Event>>,
}

/// The one way into the database for changes.
#[derive(Clone)]
pub(super) struct Committer {
    store: Store,
    hub: Arc<Hub>,
    /// One queue per committer task; empty with group commit off (each job then
    /// commits in a task of its own).
    queues: Arc<[mpsc::UnboundedSender<Job>]>,
    /// Picks a user's committer.
    hasher: RandomState,
}

impl Committer {
    /// Starts `settings.committers` committer tasks (none with group commit off).
    /// The queues need no bound of their own: each connection has few requests in
    /// flight (`WS_RATE_*`), and each job's caller gives up after the budget.
    pub fn start(
        store: Store,
        hub: Arc<Hub>,
        locks: Arc<UserLocks>,
        settings: GroupCommit,
    ) -> Self {
        let committers = if settings.enabled {
            settings.committers
        } else {
            0
        };
        let queues = (0..committers)
            .map(|_| {
                let (queue, jobs) = mpsc::unbounded_channel();
                tokio::spawn(commit_batches(
                    store.clone(),
                    hub.clone(),
                    locks.clone(),
                    jobs,
                    settings,
                ));
                queue
            })
            .collect();
        Committer {
            store,
            hub,
            queues,
            hasher: RandomState::new(),
        }
    }

    /// Whether changes share transactions (else each job brings its user's turn).
    pub fn coalesces(&self) -> bool {
        !self.queues.is_empty()
    }

    pub fn submit(&self, job: Job) {
        if !self.coalesces() {
            let (store, hub) = (self.store.clone(), self.hub.clone());
            tokio::spawn(async move { commit_batch(&store, &hub, None, vec![job]).await });
            return;
        }
        let committer = self.hasher.hash_one(&job.change.user) as usize % self.queues.len();
        if let Err(mpsc::error::SendError(job)) = self.queues[committer].send(job) {
            // Only when the runtime is shutting down.
            let _ = job.reply.done.send(Err(Error::Unavailable));
        }
    }
}

/// One committer: takes what its queue holds as a batch, commits it, and goes back
/// for the next.
async fn commit_batches(
    store: Store,
    hub: Arc<Hub>,
    locks: Arc<UserLocks>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    settings: GroupCommit,
) {
    while let Some(first) = jobs.recv().await {
        let deadline = tokio::time::Instant::now() + settings.wait;
        let mut batch = vec![first];
        while batch.len() < settings.max {
            let next = if settings.wait.is_zero() {
                jobs.try_recv().ok()
            } else {
                tokio::time::timeout_at(deadline, jobs.recv())
                    .await
                    .ok()
                    .flatten()
            };
            match next {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        commit_batch(&store, &hub, Some(&locks), batch).await;
    }
}

/// What one change found: its own new event, or the event its key made before.
enum Written {
    New(UserId, Event),
    Earlier(Event),
}

/// Writes, commits and publishes `jobs` in one transaction, then answers each. With
/// `locks`, holds the turns of the batch's users meanwhile.
async fn commit_batch(
    store: &Store,
    hub: &Hub,
    locks: Option<&Arc<UserLocks>>,
    mut jobs: Vec<Job>,
) {
    // Every instance locks users' `seq` rows in this order: two batches sharing users
    // wait for one another, never in a cycle. Stable: a user's changes keep their order.
    jobs.sort_by(|a, b| a.change.user.as_str().cmp(b.change.user.as_str()));
    let size = jobs.len();
    let mut turns = Vec::new();
    if let Some(locks) = locks {
        let mut users: Vec<UserId> = jobs.iter().map(|job| job.change.user.clone()).collect();
        users.dedup();
        for user in users {
            match locks.turn(&user, store.budget()).await {
                Ok(turn) => turns.push(turn),
                Err(err) => {
                    for job in jobs {
                        let _ = job.reply.done.send(Err(copy(&err)));
                    }
                    return;
                }
            }
        }
    }
    let (changes, replies): (Vec<_>, Vec<_>) =
        jobs.into_iter().map(|job| (job.change, job.reply)).unzip();
    let (tx, outcomes) = match store.bounded(write_batch(store, changes)).await {
        Ok(written) => written,
        Err(err) => {
            tracing::warn!(error = %err, size, "batch of changes failed");
            for reply in replies {
                let _ = reply.done.send(Err(copy(&err)));
            }
            return;
        }
    };
    let committed = if outcomes.iter().any(|o| matches!(o, Ok(Written::New(..)))) {
        let committed = commit(tx, size).await;
        if let Err(err) = &committed {
            tracing::warn!(error = %err, size, "batch of changes did not commit");
        }
        committed
    } else {
        // Nothing new to keep (on its own, a failed change is not rolled back to a
        // savepoint): dropping the transaction rolls it back.
        Ok(())
    };
    for (outcome, reply) in outcomes.into_iter().zip(replies) {
        let answer = match (outcome, &committed) {
            (Err(err), _) => Err(err),
            // An earlier change may be one of this batch's.
            (Ok(_), Err(err)) => Err(copy(err)),
            (Ok(Written::New(user, event)), Ok(())) => {
                fanout::publish_in_order(store, hub, &user, &event).await;
                Ok(event)
            }
            (Ok(Written::Earlier(event)), Ok(())) => Ok(event),
        };
        let _ = reply.done.send(answer);
        // The user's next change may go now: its event comes after this one.
        drop(reply.turn);
    }
    drop(turns);
}

/// Runs every change in `changes` in one transaction, each (in a batch of more than
/// one) in a savepoint of its own, and announces the new events on commit.
async fn write_batch(store: &Store, changes: Vec<Change>) -> Result<(Tx, Vec<Result<Written>>)> {
    let isolate = changes.len() > 1;
    let mut tx = store.begin().await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut notices = Vec::new();
    let announce = store.announces_events();
    for change in changes {
        if isolate {
            tx.savepoint().await?;
        }
        let outcome = write_change(&mut tx, change).await;
        match &outcome {
            Ok(Written::New(user, event)) => {
                notices.extend(announce.then(|| fanout::notice(user, event)));
            }
            // A failed change, or a repeat, leaves nothing behind (not even its `seq`).
            _ if isolate => tx.rollback_to_savepoint().await?,
            _ => {}
        }
        outcomes.push(outcome);
    }
    // Other instances hear of the events when, and only if, they commit.
    tx.notify(store, &notices).await?;
    Ok((tx, outcomes))
}

/// One change: the user's next `seq`, the key's earlier change if any, else the
/// rows and the event.
async fn write_change(tx: &mut Tx, change: Change) -> Result<Written> {
    // First: it waits for the user's other changes, on every instance.
    let seq = tx.next_seq(&change.user).await?;
    if let Some(key) = &change.key
        && let Some(prior) = tx.event_of_request(&change.user, key.id.as_str()).await?
    {
        return repeated(change.name, key, prior).map(Written::Earlier);
    }
    let data = (change.write)(tx).await?;
    let event = Event {
        name: change.name,
        seq,
        data,
    };
    tx.append_event(
        &change.user,
        seq,
        event.name.as_str(),
        event.data.get(),
        change.key.as_ref().map(Key::stored),
        time::now(),
    )
    .await?;
    Ok(Written::New(change.user, event))
}

/// Commits, waiting at most `COMMIT_OUTCOME_LIMIT` to learn the outcome.
async fn commit(tx: Tx, size: usize) -> Result<()> {
    let committing = std::time::Instant::now();
    match tokio::time::timeout(COMMIT_OUTCOME_LIMIT, tx.commit()).await {
        Ok(committed) => {
            committed?;
            metrics::histogram!("taskwire_commit_seconds")
                .record(committing.elapsed().as_secs_f64());
            metrics::histogram!("taskwire_commit_batch_size").record(size as f64);
            Ok(())
        }
        Err(_) => {
            tracing::error!(size, "commit outcome unknown after 30 s");
            Err(Error::Unavailable)
        }
    }
}

/// The error of a whole batch, told to each of its changes: an outage as such, any
/// other failure as internal (its cause is logged once, by the caller).
fn copy(err: &Error) -> Error {
    match err {
        Error::Unavailable => Error::Unavailable,
        other => Error::Internal(anyhow::anyhow!("the batch's transaction failed: {other:#}")),
    }
}
