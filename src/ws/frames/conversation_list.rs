//! `conversation.list`: the user's conversations, newest activity first.
//!
//! # Format
//!
//! ```text
//! → {"type": "conversation.list", "id": "cl1", "limit": 10}
//! ← {"type": "ack", "id": "cl1", "data": {"conversations": [{"id": 3, "user_id": "alice", …}]}}
//! ```

use super::{Context, Reply};
use crate::{domain::conversation::ConversationQuery, error::Result, protocol::input::PageFields};

pub async fn apply(cx: &mut Context<'_>, fields: PageFields) -> Result<Reply> {
    let query = ConversationQuery::try_from(fields)?;
    let page = cx
        .service()
        .list_conversations(cx.conn.user(), &query)
        .await?;
    Reply::read(&page)
}
