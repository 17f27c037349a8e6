//! The WebSocket protocol's frames, as Rust types. `protocol/schemas/` is generated
//! from these (a test fails when the committed schemas differ), and
//! `protocol/README.md` documents them for client authors.

use axum::extract::ws::Utf8Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{
    domain::{
        Task, TaskPage,
        conversation::{Appended, ConversationPage, History},
        task::{CreateTaskBody, Priority, UpdateTaskBody},
    },
    error::Error,
    hub::Event,
};

/// Longest request `id`, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// Lists every request type once: the wire name, the variant and its fields. Expands
/// to the `Request` enum (and its schema) and to the parser that picks the variant.
macro_rules! requests {
    ($( $(#[$doc:meta])* $name:literal => $variant:ident($fields:ty), )*) => {
        /// A client request, by its `type`.
        #[derive(Debug, JsonSchema)]
        #[serde(tag = "type")]
        pub enum Request {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($fields), )*
        }

        impl Request {
            /// Parses the fields of a request of type `kind`; `None` for an unknown type.
            pub fn parse(kind: &str, frame: &Value) -> Option<Result<Request, Error>> {
                Some(match kind {
                    $( $name => crate::http::extract::from_json_value::<$fields>(frame).map(Request::$variant), )*
                    _ => return None,
                })
            }

            /// The wire name of this request's type.
            pub fn kind(&self) -> &'static str {
                match self { $( Request::$variant(_) => $name, )* }
            }
        }
    };
}

requests! {
    /// Authenticates a socket opened without a token (first frame, within 10 s).
    "auth" => Auth(TokenFields),
    /// Replaces the connection's token before it expires (same user).
    "auth.refresh" => AuthRefresh(TokenFields),
    /// Liveness check; answered with `pong` (the only request whose `id` may be omitted).
    "ping" => Ping(NoFields),
    "task.create" => TaskCreate(CreateTaskBody),
    "task.list" => TaskList(TaskListFields),
    "task.get" => TaskGet(TaskRef),
    "task.update" => TaskUpdate(TaskUpdateFields),
    "task.complete" => TaskComplete(TaskCompleteFields),
    "task.delete" => TaskDelete(TaskRef),
    "message.append" => MessageAppend(MessageAppendFields),
    "conversation.list" => ConversationList(PageFields),
    "conversation.history" => ConversationHistory(HistoryFields),
}

impl Request {
    /// Whether the request changes data (its `id` is then an idempotency key and its
    /// ack carries the event's `seq`).
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            Request::TaskCreate(_)
                | Request::TaskUpdate(_)
                | Request::TaskComplete(_)
                | Request::TaskDelete(_)
                | Request::MessageAppend(_)
        )
    }
}

/// What a client sends: `type`, `id` and the fields of its type.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct ClientFrame {
    /// Client-chosen, 1 to 64 characters; echoed in the answer. Required except on `ping`.
    #[schemars(length(min = 1, max = 64))]
    id: Option<String>,
    #[serde(flatten)]
    request: Request,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoFields {}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TokenFields {
    pub token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskRef {
    pub task_id: i64,
}

/// As the REST query: `status` all|pending|completed, `sort`
/// created|updated|title|priority|due_date, `order` asc|desc, `limit` 1..100, `offset` ≥ 0.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskListFields {
    pub status: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// `task_id` and any of the create fields; `null` clears `description` or `due_date`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskUpdateFields {
    pub task_id: i64,
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(min = 1, max = 255))]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = 1000))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub completed: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Priority>")]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub due_date: Option<Option<String>>,
}

impl TaskUpdateFields {
    pub fn into_parts(self) -> (i64, UpdateTaskBody) {
        let body = UpdateTaskBody {
            title: self.title,
            description: self.description,
            completed: self.completed,
            priority: self.priority,
            due_date: self.due_date,
        };
        (self.task_id, body)
    }
}

/// Tells "present with null" (`Some(None)`) from "absent" (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskCompleteFields {
    pub task_id: i64,
    pub completed: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MessageAppendFields {
    /// Not blank; at most 32,768 characters; stored as sent.
    #[schemars(length(min = 1, max = 32768))]
    pub content: String,
    /// Absent: a new conversation is started.
    pub conversation_id: Option<i64>,
    /// `user` (default) or `assistant`.
    #[schemars(with = "Option<crate::domain::conversation::Role>")]
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PageFields {
    /// 1..100, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryFields {
    pub conversation_id: i64,
    /// 1..200, default 50.
    pub limit: Option<i64>,
    /// Only messages older than this one.
    pub before_id: Option<i64>,
}

/// What the server sends.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[serde(deny_unknown_fields)]
pub enum ServerFrame {
    /// First frame after authentication.
    Ready {
        user_id: String,
        connection_id: String,
        /// The latest event `seq` of this user (0 before the first change).
        seq: i64,
        heartbeat_ms: u64,
        /// Unix seconds when the token expires.
        expires_at: Option<i64>,
        server: String,
    },
    /// The success answer to a request.
    Ack {
        id: String,
        #[schemars(with = "AckData")]
        data: Value,
        /// The event `seq` of a mutation.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
    },
    /// The failure answer to a request, or a problem with the connection.
    Error {
        /// The request's id; null when the frame had no usable id.
        id: Option<String>,
        code: ErrorCode,
        message: String,
        retryable: bool,
        /// The field at fault, with `invalid`.
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        /// How long to wait, with `rate_limited`.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A committed change, made by another connection of the same user or over REST.
    Event {
        event: EventName,
        seq: i64,
        #[schemars(with = "EventData")]
        data: Value,
    },
    /// The answer to `ping`.
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl ServerFrame {
    pub fn event(event: &Event) -> Self {
        ServerFrame::Event {
            event: EventName::from_wire(event.name),
            seq: event.seq,
            data: event.data.clone(),
        }
    }

    pub fn error(id: Option<String>, err: &Error) -> Self {
        ServerFrame::Error {
            id,
            code: ErrorCode::of(err),
            message: err.to_string(),
            retryable: err.retryable(),
            field: match err {
                Error::Invalid { field, .. } => field.as_ref().map(|f| f.to_string()),
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

/// Error codes of `error` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    UnknownType,
    Invalid,
    NotFound,
    Forbidden,
    Unauthorized,
    TokenExpired,
    RateLimited,
    Conflict,
    ResumeGap,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn of(err: &Error) -> Self {
        match err {
            Error::BadFrame(_) => ErrorCode::BadFrame,
            Error::UnknownType(_) => ErrorCode::UnknownType,
            Error::Invalid { .. } => ErrorCode::Invalid,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::TokenExpired => ErrorCode::TokenExpired,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::ResumeGap(_) => ErrorCode::ResumeGap,
            Error::Unavailable => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
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
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::TaskCreated => "task.created",
            EventName::TaskUpdated => "task.updated",
            EventName::TaskDeleted => "task.deleted",
            EventName::MessageAppended => "message.appended",
        }
    }

    fn from_wire(name: &str) -> Self {
        [
            EventName::TaskCreated,
            EventName::TaskUpdated,
            EventName::TaskDeleted,
            EventName::MessageAppended,
        ]
        .into_iter()
        .find(|e| e.as_str() == name)
        .unwrap_or(EventName::TaskUpdated)
    }
}

/// `task.delete`'s answer and the `task.deleted` event's data.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDeleted {
    pub task_id: i32,
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

/// The JSON Schemas of both directions, as committed in `protocol/schemas/`.
pub fn schemas() -> [(&'static str, schemars::Schema); 2] {
    [
        (
            "client-frame.schema.json",
            schemars::schema_for!(ClientFrame),
        ),
        (
            "server-frame.schema.json",
            schemars::schema_for!(ServerFrame),
        ),
    ]
}
