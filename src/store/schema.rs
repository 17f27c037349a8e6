//! Table and column names, shared with the old backend's schema.

use sea_query::Iden;

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
}
