//! `message.append`: appends a chat message, to a new conversation when none is
//! named. The user's other connections get `message.appended` with the same data.
//!
//! # Format
//!
//! ```text
//! → {"type": "message.append", "id": "m1", "content": "Remind me to buy milk", "conversation_id": 3}
//! ← {"type": "ack", "id": "m1", "data": {
//!      "conversation": {"id": 3, "user_id": "alice", "created_at": "…", "updated_at": "…"},
//!      "message": {"id": 41, "user_id": "alice", "conversation_id": 3, "role": "user",
//!                  "content": "Remind me to buy milk", "created_at": "…"}}, "seq": 16}
//! ```

use super::{Context, Reply};
use crate::{
    domain::conversation::NewMessage, error::Result, protocol::input::MessageAppendFields,
};

pub async fn apply(cx: &mut Context<'_>, fields: MessageAppendFields) -> Result<Reply> {
    let message = NewMessage::try_from(fields)?;
    let appended = cx.service().append_message(&cx.actor(), message).await?;
    Ok(Reply::changed(appended))
}
