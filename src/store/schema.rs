//! Table and column names, shared with the old backend's schema, and how the
//! domain's ids are bound as values.

use sea_query::Iden;

use crate::domain::{TaskId, conversation::ConversationId};

impl From<TaskId> for sea_query::Value {
    fn from(id: TaskId) -> Self {
        id.get().into()
    }
}

impl From<ConversationId> for sea_query::Value {
    fn from(id: ConversationId) -> Self {
        id.get().into()
    }
}

#[derive(Iden, Clone, Copy)]
pub enum Task {
    Table,
    Id,
    UserId,
    Title,
    Description,
    Completed,
    Priority,
    DueDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Conversation {
    Table,
    Id,
    UserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Message {
    Table,
    Id,
    UserId,
    ConversationId,
    Role,
    Content,
    CreatedAt,
}

/// The last `seq` handed out per user.
#[derive(Iden, Clone, Copy)]
pub enum EventSeq {
    Table,
    UserId,
    Seq,
}

/// Committed changes, kept for replay.
#[derive(Iden, Clone, Copy)]
pub enum EventLog {
    Table,
    UserId,
    Seq,
    Name,
    Data,
    CreatedAt,
    /// The id of the WebSocket request that made the change: its idempotency key.
    RequestId,
    /// A fingerprint of that request, after parsing.
    RequestHash,
}
