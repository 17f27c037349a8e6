//! `task.list`: a page of the user's tasks, with the same filters as the REST query.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.list", "id": "l1", "status": "pending", "sort": "title", "order": "asc", "limit": 20}
//! ← {"type": "ack", "id": "l1", "data": {"tasks": [{"id": 7, "title": "Buy milk", …}],
//!    "total_count": 3, "filtered_count": 1}}
//! ```

use super::{Context, Reply};
use crate::{domain::TaskQuery, error::Result, protocol::input::TaskListFields};

pub async fn apply(cx: &mut Context<'_>, fields: TaskListFields) -> Result<Reply> {
    let query = TaskQuery::try_from(fields)?;
    let page = cx.service().list_tasks(cx.conn.user(), &query).await?;
    Reply::read(&page)
}
