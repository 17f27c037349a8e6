//! Client frames: the envelope (`type`, `id`) and the typed request inside it.
//!
//! Parsing is one step of its own, before any handling: a frame becomes a
//! `ClientFrame`, or an error that still names the request's id when it had one.

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{
    input::{
        CreateTaskBody, FromFrame, HistoryFields, MessageAppendFields, NoFields, PageFields,
        ResumeFields, TaskCompleteFields, TaskListFields, TaskRef, TaskUpdateFields, TokenFields,
    },
    json::from_json_value,
};
use crate::error::Error;

/// A request's client-chosen id: 1 to 64 characters, echoed in its answer. It is
/// the request's idempotency key when the request is a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct RequestId(#[schemars(length(min = 1, max = 64))] String);

impl RequestId {
    pub const MAX_CHARS: usize = 64;

    /// Reads the `id` member of a frame: `Ok(None)` when there is none.
    fn from_member(member: Option<&Value>) -> Result<Option<Self>, Error> {
        match member {
            None => Ok(None),
            Some(Value::String(id)) => RequestId::try_from(id.clone()).map(Some),
            Some(_) => Err(Error::BadFrame("\"id\" must be a string".into())),
        }
    }

    /// The id of a frame that is not going to be parsed (one refused by the rate
    /// limit), if it has a valid one.
    pub fn peek(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        Self::from_member(value.get("id")).ok().flatten()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequestId {
    type Error = Error;

    fn try_from(id: String) -> Result<Self, Error> {
        if (1..=Self::MAX_CHARS).contains(&id.chars().count()) {
            Ok(RequestId(id))
        } else {
            Err(Error::BadFrame("\"id\" must be 1 to 64 characters".into()))
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client frame, parsed. Only `ping` and `auth` may come without an id.
#[derive(Debug)]
pub enum ClientFrame {
    /// Answered with a `pong` carrying the same id, or none.
    Ping(Option<RequestId>),
    /// The first frame of a socket opened without a token.
    Auth {
        id: Option<RequestId>,
        token: String,
    },
    /// Every other request.
    Request(RequestId, Request),
}

/// A frame that is not a request we can handle, and the id to answer it with.
#[derive(Debug)]
pub struct Rejected {
    pub id: Option<RequestId>,
    pub error: Error,
}

impl ClientFrame {
    /// Reads a frame: a JSON object with a string `type` and an `id` of 1 to 64
    /// characters (optional on `ping` and `auth`), then the fields of its type.
    pub fn parse(text: &str) -> Result<Self, Rejected> {
        let reject = |id: Option<RequestId>, error: Error| Rejected { id, error };
        let bad = |message: &'static str| Error::BadFrame(message.into());
        let value: Value = serde_json::from_str(text)
            .map_err(|_| reject(None, bad("Frames must be JSON objects")))?;
        let Value::Object(object) = &value else {
            return Err(reject(None, bad("Frames must be JSON objects")));
        };
        // The id first, so that every later complaint can name the request.
        let id = RequestId::from_member(object.get("id")).map_err(|err| reject(None, err))?;
        let Some(Value::String(kind)) = object.get("type") else {
            return Err(reject(id, bad("A frame needs a string \"type\"")));
        };
        match kind.as_str() {
            "ping" => Ok(ClientFrame::Ping(id)),
            "auth" => match from_json_value::<TokenFields>(&value) {
                Ok(fields) => Ok(ClientFrame::Auth {
                    id,
                    token: fields.token,
                }),
                Err(err) => Err(reject(id, err)),
            },
            kind => {
                let Some(id) = id else {
                    return Err(reject(
                        None,
                        bad("A request needs an \"id\" (a string of 1 to 64 characters)"),
                    ));
                };
                match Request::parse(kind, &value) {
                    None => Err(reject(Some(id), Error::UnknownType(kind.to_owned()))),
                    Some(Err(err)) => Err(reject(Some(id), err)),
                    Some(Ok(request)) => Ok(ClientFrame::Request(id, request)),
                }
            }
        }
    }
}

/// Lists every request type once: the wire name, the variant and its fields. Expands
/// to the `Request` enum, the parser that picks its variant, and the schema of every
/// request on the wire (`ping` and `auth`, parsed by `ClientFrame::parse`, included).
macro_rules! requests {
    (
        without_id { $( $(#[$odoc:meta])* $oname:literal => $ovariant:ident($ofields:ty), )* }
        $( $(#[$doc:meta])* $name:literal => $variant:ident($fields:ty), )*
    ) => {
        /// A request that carries an id, by its `type`.
        #[derive(Debug)]
        pub enum Request {
            $( $(#[$doc])* $variant($fields), )*
        }

        impl Request {
            /// Parses the fields of a request of type `kind`; `None` for an unknown type.
            fn parse(kind: &str, frame: &Value) -> Option<Result<Request, Error>> {
                Some(match kind {
                    $( $name => <$fields>::from_frame(frame).map(Request::$variant), )*
                    _ => return None,
                })
            }

            /// The wire name of this request's type.
            pub fn kind(&self) -> &'static str {
                match self { $( Request::$variant(_) => $name, )* }
            }
        }

        /// Every request on the wire, by its `type` (the schema's view).
        #[derive(JsonSchema)]
        #[serde(tag = "type")]
        #[allow(dead_code)]
        pub(super) enum AnyRequest {
            $( $(#[$odoc])* #[serde(rename = $oname)] $ovariant($ofields), )*
            $( $(#[$doc])* #[serde(rename = $name)] $variant($fields), )*
        }
    };
}

requests! {
    without_id {
        /// Authenticates a socket opened without a token (first frame, within 10 s).
        "auth" => Auth(TokenFields),
        /// Liveness check; answered with `pong` (the only request whose `id` may be omitted).
        "ping" => Ping(NoFields),
    }
    /// Replaces the connection's token before it expires (same user).
    "auth.refresh" => AuthRefresh(TokenFields),
    /// Replays the events after `after_seq`, then acks `{"replayed", "seq"}`.
    "resume" => Resume(ResumeFields),
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
    /// Whether the request changes data. A connection works on several changes at
    /// once (they commit in the order sent); any other request waits for them.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Request::TaskCreate(_)
                | Request::TaskUpdate(_)
                | Request::TaskComplete(_)
                | Request::TaskDelete(_)
                | Request::MessageAppend(_)
        )
    }

    /// Whether the connection's events are held back while the request runs, so
    /// that its answer takes its place among them in `seq` order: a change (its ack
    /// carries its event's `seq`) and `resume` (its ack follows the replay).
    pub fn orders_events(&self) -> bool {
        self.is_change() || matches!(self, Request::Resume(_))
    }
}

/// What a client sends: `type`, `id` and the fields of its type.
#[derive(JsonSchema)]
#[schemars(rename = "ClientFrame")]
#[allow(dead_code)]
pub(super) struct ClientFrameSchema {
    /// Client-chosen, 1 to 64 characters; echoed in the answer. Required except on `ping`.
    #[schemars(length(min = 1, max = 64))]
    id: Option<String>,
    #[serde(flatten)]
    request: AnyRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn rejected(text: &str) -> (Option<String>, ErrorCode) {
        let err = ClientFrame::parse(text).unwrap_err();
        (err.id.map(|id| id.to_string()), err.error.code())
    }

    #[test]
    fn only_ping_and_auth_may_lack_an_id() {
        assert!(matches!(
            ClientFrame::parse(r#"{"type": "ping"}"#),
            Ok(ClientFrame::Ping(None))
        ));
        assert!(matches!(
            ClientFrame::parse(r#"{"type": "auth", "token": "t"}"#),
            Ok(ClientFrame::Auth { id: None, .. })
        ));
        assert_eq!(
            rejected(r#"{"type": "task.get", "task_id": 1}"#),
            (None, ErrorCode::BadFrame)
        );
    }

    #[test]
    fn the_id_is_checked_once_and_named_in_later_errors() {
        let long = "x".repeat(65);
        for text in [
            format!(r#"{{"type": "ping", "id": "{long}"}}"#),
            r#"{"type": "ping", "id": 7}"#.to_owned(),
            r#"{"type": "ping", "id": ""}"#.to_owned(),
            "[1]".to_owned(),
            "not json".to_owned(),
        ] {
            assert_eq!(rejected(&text), (None, ErrorCode::BadFrame), "{text}");
        }
        assert_eq!(
            rejected(r#"{"type": "nope", "id": "a"}"#),
            (Some("a".into()), ErrorCode::UnknownType)
        );
        assert_eq!(
            rejected(r#"{"type": "task.get", "id": "a"}"#),
            (Some("a".into()), ErrorCode::Invalid)
        );
        assert_eq!(
            rejected(r#"{"id": "a"}"#),
            (Some("a".into()), ErrorCode::BadFrame)
        );
    }

    #[test]
    fn peek_finds_only_valid_ids() {
        assert_eq!(
            RequestId::peek(r#"{"id": "r1"}"#).map(|id| id.to_string()),
            Some("r1".into())
        );
        assert_eq!(RequestId::peek(r#"{"id": 1}"#), None);
        assert_eq!(RequestId::peek("garbage"), None);
    }
}
