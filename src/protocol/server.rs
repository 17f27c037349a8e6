//! What the server sends: `ready`, `ack`, `error`, `event`, `pong`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tungstenite::Utf8Bytes;

use super::RequestId;
use crate::{
    domain::{
        Task, TaskId, TaskPage,
        conversation::{Appended, ConversationPage, History},
    },
    error::{Error, ErrorCode},
    store::StoredEvent,
};

/// What the server sends.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ServerFrame")]
pub enum ServerFrame<'a> {
    /// First frame after authentication.
    Ready {
        user_id: &'a str,
        connection_id: String,
        /// The latest event `seq` of this user (0 before the first change).
        seq: i64,
        heartbeat_ms: u64,
        /// Unix seconds when the token expires.
        expires_at: Option<i64>,
        server: &'static str,
    },
    /// The success answer to a request.
    Ack {
        id: &'a RequestId,
        #[schemars(with = "AckData")]
        data: &'a RawValue,
        /// The event `seq` of a mutation.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
    },
    /// The failure answer to a request, or a problem with the connection.
    Error {
        /// The request's id; null when the frame had no usable id.
        #[schemars(with = "Option<String>")]
        id: Option<&'a RequestId>,
        code: ErrorCode,
        message: String,
        retryable: bool,
        /// The field at fault, with `invalid`.
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
        /// How long to wait, with `rate_limited`.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A committed change, made by another connection of the same user or over REST.
    Event {
        event: EventName,
        seq: i64,
        #[schemars(with = "EventData")]
        data: &'a RawValue,
    },
    /// The answer to `ping`.
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<String>")]
        id: Option<&'a RequestId>,
    },
}

impl<'a> ServerFrame<'a> {
    pub fn event(event: &'a Event) -> Self {
        ServerFrame::Event {
            event: event.name,
            seq: event.seq,
            data: &event.data,
        }
    }

    pub fn error(id: Option<&'a RequestId>, err: &'a Error) -> Self {
        ServerFrame::Error {
            id,
            code: err.code(),
            message: err.to_string(),
            retryable: err.retryable(),
            field: match err {
                Error::Invalid { field, .. } => field.as_deref(),
                _ => None,
            },
            retry_after_ms: match err {
                Error::RateLimited { retry_after_ms } => Some(*retry_after_ms),
                _ => None,
            },
        }
    }

    /// The frame as WebSocket text.
    pub fn to_text(&self) -> Utf8Bytes {
        serde_json::to_string(self)
            .expect("server frames always serialize")
            .into()
    }
}

/// A committed change, as it is stored, fanned out and acknowledged. Its `data` is
/// serialized once and is the same text in the ack, the event and the event log.
#[derive(Clone, Debug)]
pub struct Event {
    pub name: EventName,
    pub seq: i64,
    pub data: Box<RawValue>,
}

/// A stored event, read back for a replay or a catch-up.
impl TryFrom<StoredEvent> for Event {
    type Error = Error;

    fn try_from(stored: StoredEvent) -> Result<Self, Error> {
        let name = EventName::parse(&stored.name).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "unknown stored event name {:?}",
                stored.name
            ))
        })?;
        let data = RawValue::from_string(stored.data).map_err(|e| Error::Internal(e.into()))?;
        Ok(Event {
            name,
            seq: stored.seq,
            data,
        })
    }
}

/// Names of `event` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum EventName {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    TaskUpdated,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
    #[serde(rename = "message.appended")]
    MessageAppended,
}

impl EventName {
    const ALL: [EventName; 4] = [
        EventName::TaskCreated,
        EventName::TaskUpdated,
        EventName::TaskDeleted,
        EventName::MessageAppended,
    ];

    /// Reads a stored name; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::TaskCreated => "task.created",
            EventName::TaskUpdated => "task.updated",
            EventName::TaskDeleted => "task.deleted",
            EventName::MessageAppended => "message.appended",
        }
    }
}

/// `task.delete`'s answer and the `task.deleted` event's data.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDeleted {
    pub task_id: TaskId,
}

/// `resume`'s answer, after the replayed events.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resumed {
    /// How many events the replay sent.
    pub replayed: u64,
    /// The user's latest `seq` when the replay was read: every event up to it has
    /// now been received, and live events continue after it.
    pub seq: i64,
}

/// `auth.refresh`'s answer.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refreshed {
    pub expires_at: Option<i64>,
}

/// The `data` of an ack, by request type.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum AckData {
    /// task.create, task.get, task.update, task.complete
    Task(Task),
    /// task.list
    TaskPage(TaskPage),
    /// task.delete
    TaskDeleted(TaskDeleted),
    /// message.append
    Appended(Appended),
    /// conversation.list
    Conversations(ConversationPage),
    /// conversation.history
    History(History),
    /// auth.refresh
    Refreshed(Refreshed),
    /// resume
    Resumed(Resumed),
}

/// The `data` of an event: the same object as the ack of the change.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum EventData {
    /// task.created, task.updated
    Task(Task),
    /// task.deleted
    TaskDeleted(TaskDeleted),
    /// message.appended
    Appended(Appended),
}
