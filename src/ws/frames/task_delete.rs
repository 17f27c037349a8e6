//! `task.delete`: deletes one of the user's tasks. The user's other connections get
//! `task.deleted` with the same `{"task_id"}`.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.delete", "id": "x1", "task_id": 7}
//! ← {"type": "ack", "id": "x1", "data": {"task_id": 7}, "seq": 15}
//! ```

use super::{Context, Reply};
use crate::{domain::TaskId, error::Result, protocol::input::TaskRef};

pub async fn apply(cx: &mut Context<'_>, fields: TaskRef) -> Result<Reply> {
    let id = TaskId::try_from(fields.task_id)?;
    let deleted = cx.service().delete_task(&cx.actor(), id).await?;
    Ok(Reply::changed(deleted))
}
