//! Fan-out: a committed event reaches every live connection of its user, on this
//! instance and, on PostgreSQL, on every other one.
//!
//! The instance that commits a change publishes it at once; on PostgreSQL the
//! transaction also announces it (`NOTIFY`), and every instance's listener publishes
//! what it hears. The hub never publishes a `seq` twice, and a `seq` that arrives
//! ahead of one still missing makes the missing ones be read from the event log
//! first, so every connection sees its user's events in order, none skipped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Service;
use crate::{
    domain::UserId,
    hub::Hub,
    protocol::{Event, EventName},
    store::{NOTIFY_PAYLOAD_MAX, Store},
};

/// What an announcement carries: the event, or (too large for `NOTIFY`) only its
/// place in the log.
#[derive(Serialize)]
struct Notice<'a> {
    user: &'a str,
    seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
}

/// An announcement as heard.
#[derive(Deserialize)]
struct Heard {
    user: String,
    seq: i64,
    name: Option<String>,
    data: Option<Box<RawValue>>,
}

/// The announcement of `user`'s `event`.
pub(super) fn notice(user: &UserId, event: &Event) -> String {
    let whole = Notice {
        user: user.as_str(),
        seq: event.seq,
        name: Some(event.name.as_str()),
        data: Some(&event.data),
    };
    let text = serde_json::to_string(&whole).expect("a notice serializes");
    if text.len() <= NOTIFY_PAYLOAD_MAX {
        return text;
    }
    let reference = Notice {
        data: None,
        name: None,
        ..whole
    };
    serde_json::to_string(&reference).expect("a notice serializes")
}

impl Service {
    /// Listens for the events every instance commits and publishes them to this
    /// instance's connections, until the process ends. After every (re)connection it
    /// catches up from the event log, so an event announced while it was not
    /// listening is not lost. Returns at once on SQLite (one instance).
    pub async fn listen_for_events(self) {
        if !self.store.announces_events() {
            return;
        }
        let mut retry = Duration::from_millis(500);
        loop {
            let mut listener = match self.store.listen().await {
                Ok(Some(listener)) => listener,
                // Not migrated yet (the database was down at startup).
                Ok(None) => {
                    tokio::time::sleep(retry).await;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for events; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            tracing::info!("listening for committed events");
            metrics::gauge!("taskwire_listener_connected").set(1.0);
            retry = Duration::from_millis(500);
            self.catch_up().await;
            loop {
                match listener.next().await {
                    Ok(Some(payload)) => self.heard(&payload),
                    Ok(None) => {
                        tracing::warn!("event listener reconnected; catching up");
                        self.catch_up().await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener lost; reconnecting");
                        metrics::gauge!("taskwire_listener_connected").set(0.0);
                        break;
                    }
                }
            }
        }
    }

    /// An announcement: published if its user has connections here that lack it.
    fn heard(&self, payload: &str) {
        let Ok(heard) = serde_json::from_str::<Heard>(payload) else {
            tracing::error!("unreadable event announcement");
            return;
        };
        let Some(user) = UserId::parse(&heard.user) else {
            return;
        };
        if self
            .hub
            .last_seq(&user)
            .is_none_or(|last| last >= heard.seq)
        {
            return;
        }
        let event = match (heard.name.as_deref().and_then(EventName::parse), heard.data) {
            (Some(name), Some(data)) => Some(Event {
                name,
                seq: heard.seq,
                data,
            }),
            _ => None,
        };
        // In a task of its own: waiting for the user's turn must not hold up other
        // users' events.
        let service = self.clone();
        tokio::spawn(async move {
            match event {
                Some(event) => service.deliver(&user, &event).await,
                None => service.catch_up_user(&user, heard.seq).await,
            }
        });
    }

    /// Publishes another instance's event in the user's turn (after a joining
    /// connection's `ready`, in order with this instance's own changes).
    async fn deliver(&self, user: &UserId, event: &Event) {
        let Ok(_turn) = self.turn(user).await else {
            return self.catch_up_later(user);
        };
        publish_in_order(&self.store, &self.hub, user, event).await;
    }

    /// Publishes every event of `user` this instance has not published, up to `seq`.
    async fn catch_up_user(&self, user: &UserId, seq: i64) {
        let Ok(_turn) = self.turn(user).await else {
            return self.catch_up_later(user);
        };
        let Some(after) = self.hub.last_seq(user).filter(|last| *last < seq) else {
            return;
        };
        publish_from_log(&self.store, &self.hub, user, after, seq).await;
    }

    /// The user's turn did not come in time: their next event fills the gap.
    fn catch_up_later(&self, user: &UserId) {
        tracing::warn!(user = ?user.as_str(), "event delivery deferred to the user's next event");
    }

    /// Publishes what every user with connections here has missed (after the
    /// listener was away).
    async fn catch_up(&self) {
        for user in self.hub.users() {
            match self.store.latest_seq(&user).await {
                Ok(latest) => self.catch_up_user(&user, latest).await,
                Err(err) => tracing::warn!(error = %err, "cannot catch up on events"),
            }
        }
    }
}

/// Publishes `event`, first the user's events this instance has not published yet
/// (committed elsewhere and not heard yet, or a commit whose outcome came late), so
/// that no live connection sees a `seq` skipped.
pub(super) async fn publish_in_order(store: &Store, hub: &Hub, user: &UserId, event: &Event) {
    if let Some(after) = hub.gap_before(user, event.seq) {
        publish_from_log(store, hub, user, after, event.seq - 1).await;
    }
    hub.publish(user, event);
}

/// Publishes the user's events `after < seq <= up_to`, read from the log.
async fn publish_from_log(store: &Store, hub: &Hub, user: &UserId, after: i64, up_to: i64) {
    match store.events_between(user, after, up_to).await {
        Ok(missed) => {
            for stored in missed {
                match Event::try_from(stored) {
                    Ok(event) => hub.publish(user, &event),
                    Err(err) => tracing::error!(error = %err, "unreadable stored event"),
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot read missed events"),
    }
}
