//! `task.create`: creates a task. The user's other connections get `task.created`
//! with the same data and `seq`.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.create", "id": "c1", "title": "Buy milk", "priority": "high"}
//! ← {"type": "ack", "id": "c1", "data": {"id": 7, "user_id": "alice", "title": "Buy milk",
//!    "description": null, "completed": false, "priority": "high", "due_date": null,
//!    "created_at": "2026-03-01T09:30:00Z", "updated_at": "2026-03-01T09:30:00Z"}, "seq": 12}
//! ```

use super::{Context, Reply};
use crate::{domain::NewTask, error::Result, protocol::input::CreateTaskBody};

pub async fn apply(cx: &mut Context<'_>, fields: CreateTaskBody) -> Result<Reply> {
    let task = NewTask::try_from(fields)?;
    let created = cx.service().create_task(&cx.actor(), task).await?;
    Ok(Reply::changed(created))
}
