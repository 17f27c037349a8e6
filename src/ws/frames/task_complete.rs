//! `task.complete`: marks a task done or not done, and acks the whole task (REST's
//! `PATCH …/complete` keeps its old, smaller answer). The user's other connections
//! get `task.updated`.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.complete", "id": "d1", "task_id": 7, "completed": true}
//! ← {"type": "ack", "id": "d1", "data": {"id": 7, "completed": true, …}, "seq": 14}
//! ```

use super::{Context, Reply};
use crate::{domain::TaskId, error::Result, protocol::input::TaskCompleteFields};

pub async fn apply(cx: &mut Context<'_>, fields: TaskCompleteFields) -> Result<Reply> {
    let id = TaskId::try_from(fields.task_id)?;
    let actor = cx.actor();
    let updated = cx
        .service()
        .complete_task(&actor, id, fields.completed)
        .await?;
    Ok(Reply::changed(updated))
}
