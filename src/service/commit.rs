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
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::{
    Key, Turn, UserLocks,
    conversations::{MessageOf, append_messages},
    fanout, repeated,
};
use crate::{
    config::GroupCommit,
    domain::{UserId, time},
    error::{Error, Result},
    hub::Hub,
    protocol::{Event, EventName},
    store::{NewEvent, Store, StoredEvent, Tx},
};

/// How long a commit may take to tell its outcome before the gateway stops waiting
/// for it. The request itself answers `unavailable` after `DATABASE_TIMEOUT_SECS`;
/// the commit goes on, and if it succeeds its event still reaches the user.
const COMMIT_OUTCOME_LIMIT: Duration = Duration::from_secs(30);

/// A change's rows, written in the batch's transaction, and its event's data.
pub(super) enum Write {
    /// Written by statements of their own (`super::rows`).
    Rows(WriteRows),
    /// A message, written with the batch's other messages in the same statements.
    Message(MessageOf),
}

/// Writes a change's rows; may run twice (see `write_batch`).
pub(super) type WriteRows =
    Box<dyn for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Box<RawValue>>> + Send + Sync>;

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

/// What a batch wrote, uncommitted, and what each of its changes found.
type Outcomes = (Tx, Vec<Result<Written>>);

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
    let (tx, outcomes) = match write_batch(store, &changes).await {
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

/// Writes `changes` in one transaction: together (a few statements for the whole
/// batch), or, if that fails, change by change, each in a savepoint of its own, so
/// that only the failing ones fail. Either way the new events are announced on commit.
async fn write_batch(store: &Store, changes: &[Change]) -> Result<Outcomes> {
    if changes.len() == 1 {
        return store.bounded(write_apart(store, changes)).await;
    }
    match store.bounded(write_together(store, changes)).await {
        // Waiting twice on a database that is down would only double the wait.
        Err(err) if !matches!(err, Error::Unavailable) => {
            metrics::counter!("taskwire_commit_batch_retries_total").increment(1);
            tracing::debug!(error = %err, size = changes.len(), "batch written again, change by change");
            store.bounded(write_apart(store, changes)).await
        }
        written => written,
    }
}

/// What a change of a batch written together turns out to be.
enum Plan {
    /// New: it takes the next `seq` of its user.
    New,
    /// Its request id was used before: the first answer, or `conflict`.
    Repeat(Result<Event>),
    /// Its request id is also that of the batch's change at this index, which is new.
    CopyOf(usize),
}

/// Writes every change with a few statements for the whole batch, whatever its
/// size: one to find the request ids used before, one to take every user's `seq`s,
/// one per kind of row (all messages together; other changes one by one), one for
/// the events, one to announce them. Any failure fails them all.
async fn write_together(store: &Store, changes: &[Change]) -> Result<Outcomes> {
    let mut tx = store.begin().await?;

    // Keys used before; a copy committed meanwhile elsewhere makes the events'
    // insert fail on the unique key, and the batch is written again change by change.
    let keys: Vec<(&UserId, &str)> = changes
        .iter()
        .filter_map(|c| Some((&c.user, c.key.as_ref()?.id.as_str())))
        .collect();
    let earlier = if keys.is_empty() {
        Vec::new()
    } else {
        tx.events_of_requests(&keys).await?
    };
    let earlier: HashMap<(&str, &str), &StoredEvent> = earlier
        .iter()
        .map(|e| ((e.user_id.as_str(), e.request_id.as_str()), &e.event))
        .collect();
    let mut first_use: HashMap<(&str, &str), usize> = HashMap::new();
    let mut plans: Vec<Plan> = Vec::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        let plan = match &change.key {
            None => Plan::New,
            Some(key) => {
                let id = (change.user.as_str(), key.id.as_str());
                if let Some(prior) = earlier.get(&id) {
                    Plan::Repeat(repeated(change.name, key, prior))
                } else if let Some(&first) = first_use.get(&id) {
                    Plan::CopyOf(first)
                } else {
                    first_use.insert(id, index);
                    Plan::New
                }
            }
        };
        plans.push(plan);
    }
    let new: Vec<usize> = (0..changes.len())
        .filter(|&i| matches!(plans[i], Plan::New))
        .collect();

    // Each user's `seq`s: the batch is sorted by user, so a user's changes are
    // adjacent, and take them in the order they came.
    let mut counts: Vec<(&UserId, i64)> = Vec::new();
    for &i in &new {
        match counts.last_mut() {
            Some((user, count)) if *user == &changes[i].user => *count += 1,
            _ => counts.push((&changes[i].user, 1)),
        }
    }
    let mut seqs = Vec::with_capacity(new.len());
    if !counts.is_empty() {
        let last = tx.reserve_seqs(&counts).await?;
        for ((_, count), last) in counts.iter().zip(last) {
            seqs.extend(last - count + 1..=last);
        }
    }

    // The rows.
    let mut data: Vec<Option<Box<RawValue>>> = changes.iter().map(|_| None).collect();
    let mut messages = Vec::new();
    for &i in &new {
        match &changes[i].write {
            Write::Rows(write) => data[i] = Some(write(&mut tx).await?),
            Write::Message(message) => messages.push((i, message)),
        }
    }
    if !messages.is_empty() {
        let of: Vec<&MessageOf> = messages.iter().map(|(_, m)| *m).collect();
        for ((i, _), written) in messages.iter().zip(append_messages(&mut tx, &of).await?) {
            data[*i] = Some(written);
        }
    }

    // The events.
    let mut events: Vec<Option<Event>> = changes.iter().map(|_| None).collect();
    for (&i, seq) in new.iter().zip(seqs) {
        let data = data[i].take().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("a change of the batch wrote no data"))
        })?;
        events[i] = Some(Event {
            name: changes[i].name,
            seq,
            data,
        });
    }
    let at = time::now();
    let records: Vec<NewEvent> = new
        .iter()
        .filter_map(|&i| {
            let event = events[i].as_ref()?;
            Some(record(&changes[i], event, at))
        })
        .collect();
    if !records.is_empty() {
        tx.append_events(&records).await?;
    }
    drop(records);

    let mut outcomes: Vec<Result<Written>> = Vec::with_capacity(changes.len());
    for (i, plan) in plans.into_iter().enumerate() {
        let outcome = match plan {
            Plan::New => events[i]
                .take()
                .map(|event| Written::New(changes[i].user.clone(), event))
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("a new change without an event"))),
            Plan::Repeat(answer) => answer.map(Written::Earlier),
            // The same request as the first (an earlier index), or `conflict`.
            Plan::CopyOf(first) => match (&changes[i].key, &changes[first].key, &outcomes[first]) {
                (Some(key), Some(first_key), Ok(Written::New(_, event)))
                    if key.hash == first_key.hash =>
                {
                    Ok(Written::Earlier(event.clone()))
                }
                (Some(key), ..) => Err(key.reused()),
                (None, ..) => Err(Error::Internal(anyhow::anyhow!("a copy without a key"))),
            },
        };
        outcomes.push(outcome);
    }
    announce(store, &mut tx, &outcomes).await?;
    Ok((tx, outcomes))
}

/// Writes each change in a savepoint of its own (in a batch of more than one), so
/// that a failing change is rolled back alone.
async fn write_apart(store: &Store, changes: &[Change]) -> Result<Outcomes> {
    let isolate = changes.len() > 1;
    let mut tx = store.begin().await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        if isolate {
            tx.savepoint().await?;
        }
        let outcome = write_change(&mut tx, change).await;
        // A failed change, or a repeat, leaves nothing behind (not even its `seq`).
        if isolate && !matches!(outcome, Ok(Written::New(..))) {
            tx.rollback_to_savepoint().await?;
        }
        outcomes.push(outcome);
    }
    announce(store, &mut tx, &outcomes).await?;
    Ok((tx, outcomes))
}

/// One change: the user's next `seq`, the key's earlier change if any, else the
/// rows and the event.
async fn write_change(tx: &mut Tx, change: &Change) -> Result<Written> {
    // First: it waits for the user's other changes, on every instance.
    let seq = tx.next_seq(&change.user).await?;
    if let Some(key) = &change.key
        && let Some(prior) = tx
            .events_of_requests(&[(&change.user, key.id.as_str())])
            .await?
            .first()
    {
        return repeated(change.name, key, &prior.event).map(Written::Earlier);
    }
    let data = match &change.write {
        Write::Rows(write) => write(tx).await?,
        Write::Message(message) => append_messages(tx, &[message])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a message wrote no data")))?,
    };
    let event = Event {
        name: change.name,
        seq,
        data,
    };
    tx.append_events(&[record(change, &event, time::now())])
        .await?;
    Ok(Written::New(change.user.clone(), event))
}

/// The log's record of `change`'s `event`.
fn record<'a>(change: &'a Change, event: &'a Event, at: DateTime<Utc>) -> NewEvent<'a> {
    NewEvent {
        user: &change.user,
        seq: event.seq,
        name: event.name.as_str(),
        data: event.data.get(),
        key: change.key.as_ref().map(Key::stored),
        at,
    }
}

/// Other instances hear of the new events when, and only if, the batch commits.
async fn announce(store: &Store, tx: &mut Tx, outcomes: &[Result<Written>]) -> Result<()> {
    if !store.announces_events() {
        return Ok(());
    }
    let notices: Vec<String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ok(Written::New(user, event)) => Some(fanout::notice(user, event)),
            _ => None,
        })
        .collect();
    tx.notify(store, &notices).await
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
