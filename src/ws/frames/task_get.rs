//! `task.get`: one of the user's tasks; another user's is `not_found`.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.get", "id": "g1", "task_id": 7}
//! ← {"type": "ack", "id": "g1", "data": {"id": 7, "title": "Buy milk", …}}
//! → {"type": "task.get", "id": "g2", "task_id": 99}
//! ← {"type": "error", "id": "g2", "code": "not_found", "message": "Task not found", "retryable": false}
//! ```

use super::{Context, Reply};
use crate::{domain::TaskId, error::Result, protocol::input::TaskRef};

pub async fn apply(cx: &mut Context<'_>, fields: TaskRef) -> Result<Reply> {
    let id = TaskId::try_from(fields.task_id)?;
    let task = cx.service().get_task(cx.conn.user(), id).await?;
    Reply::read(&task)
}
