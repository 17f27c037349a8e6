//! Conversations and their chat messages.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{storable, time};
use crate::error::{Error, Result};

pub const CONTENT_MAX_CHARS: usize = 32_768;
pub const CONVERSATION_LIMIT_MAX: u64 = 100;
pub const CONVERSATION_LIMIT_DEFAULT: u64 = 50;
pub const HISTORY_LIMIT_MAX: u64 = 200;
pub const HISTORY_LIMIT_DEFAULT: u64 = 50;

integer_id! {
    /// A conversation's id (an `integer` primary key).
    ConversationId, "Conversation not found"
}

pub type MessageId = i32;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: String,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub id: MessageId,
    pub user_id: String,
    pub conversation_id: ConversationId,
    pub role: Role,
    pub content: String,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            _ => Err(Error::invalid("role", "role must be user or assistant")),
        }
    }

    /// Reads a stored value; anything but `assistant` reads as `user`.
    pub fn from_db(raw: &str) -> Self {
        Self::parse(raw).unwrap_or_default()
    }
}

/// Message text: stored exactly as sent, but never blank, at most 32,768 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Content(String);

impl Content {
    pub fn parse(raw: String) -> Result<Self> {
        if raw.trim().is_empty() {
            return Err(Error::invalid("content", "content must not be blank"));
        }
        storable("content", &raw)?;
        if raw.chars().count() > CONTENT_MAX_CHARS {
            return Err(Error::invalid(
                "content",
                "content must be at most 32768 characters",
            ));
        }
        Ok(Content(raw))
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message to append; without a conversation id, a new conversation is started.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewMessage {
    pub conversation_id: Option<ConversationId>,
    pub role: Role,
    pub content: Content,
}

/// `message.append`'s answer, and the `message.appended` event's data.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Appended {
    pub conversation: Conversation,
    pub message: Message,
}

/// A page of a user's conversations, newest activity first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationQuery {
    pub limit: u64,
    pub offset: u64,
}

impl ConversationQuery {
    pub fn parse(limit: Option<i64>, offset: Option<i64>) -> Result<Self> {
        Ok(ConversationQuery {
            limit: bounded(
                "limit",
                limit,
                CONVERSATION_LIMIT_DEFAULT,
                CONVERSATION_LIMIT_MAX,
            )?,
            offset: match offset {
                None => 0,
                Some(o) => u64::try_from(o).map_err(|_| {
                    Error::invalid("offset", "offset must be a non-negative integer")
                })?,
            },
        })
    }
}

/// A window of one conversation's messages: the newest `limit` before `before_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub conversation_id: ConversationId,
    pub limit: u64,
    pub before_id: Option<MessageId>,
}

impl HistoryQuery {
    pub fn parse(conversation_id: i64, limit: Option<i64>, before_id: Option<i64>) -> Result<Self> {
        Ok(HistoryQuery {
            conversation_id: ConversationId::try_from(conversation_id)?,
            limit: bounded("limit", limit, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)?,
            // An id past the column's range is after every message.
            before_id: before_id
                .map(|b| MessageId::try_from(b).unwrap_or(if b < 0 { 0 } else { MessageId::MAX })),
        })
    }
}

fn bounded(field: &'static str, value: Option<i64>, default: u64, max: u64) -> Result<u64> {
    match value {
        None => Ok(default),
        Some(v) if v >= 1 && v as u64 <= max => Ok(v as u64),
        Some(_) => Err(Error::invalid(
            field,
            format!("{field} must be an integer from 1 to {max}"),
        )),
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    pub conversation: Conversation,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether older messages exist before the first one returned.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_kept_as_sent_but_not_blank() {
        assert_eq!(
            Content::parse("  hi \n".into()).unwrap().into_inner(),
            "  hi \n"
        );
        assert!(Content::parse(" \n\t".into()).is_err());
        assert!(Content::parse("é".repeat(CONTENT_MAX_CHARS)).is_ok());
        assert!(Content::parse("é".repeat(CONTENT_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn content_with_a_nul_is_invalid() {
        match Content::parse("a\0b".into()) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field.as_deref(), Some("content")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn history_limit_over_200_is_invalid() {
        assert!(HistoryQuery::parse(1, Some(200), None).is_ok());
        assert!(HistoryQuery::parse(1, Some(201), None).is_err());
        assert!(HistoryQuery::parse(1, Some(0), None).is_err());
    }
}
