//! `task.update`: changes the fields present; `null` clears `description` or
//! `due_date`. The user's other connections get `task.updated`.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.update", "id": "u1", "task_id": 7, "title": "Buy oat milk", "due_date": null}
//! ← {"type": "ack", "id": "u1", "data": {"id": 7, "title": "Buy oat milk", "due_date": null, …}, "seq": 13}
//! ```

use super::{Context, Reply};
use crate::{
    domain::{TaskId, TaskPatch},
    error::Result,
    protocol::input::TaskUpdateFields,
};

pub async fn apply(cx: &mut Context<'_>, fields: TaskUpdateFields) -> Result<Reply> {
    let id = TaskId::try_from(fields.task.task_id)?;
    let patch = TaskPatch::try_from(fields.changes)?;
    let updated = cx.service().update_task(&cx.actor(), id, patch).await?;
    Ok(Reply::changed(updated))
}
