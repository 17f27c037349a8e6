//! `conversation.history`: a window of one conversation's messages, oldest first;
//! `before_id` pages back.
//!
//! # Format
//!
//! ```text
//! → {"type": "conversation.history", "id": "h1", "conversation_id": 3, "limit": 2}
//! ← {"type": "ack", "id": "h1", "data": {"conversation": {"id": 3, …},
//!    "messages": [{"id": 40, …}, {"id": 41, …}], "has_more": true}}
//! ```

use super::{Context, Reply};
use crate::{domain::conversation::HistoryQuery, error::Result, protocol::input::HistoryFields};

pub async fn apply(cx: &mut Context<'_>, fields: HistoryFields) -> Result<Reply> {
    let query = HistoryQuery::try_from(fields)?;
    let history = cx.service().history(cx.conn.user(), &query).await?;
    Reply::read(&history)
}
