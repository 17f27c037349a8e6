//! Domain types: input is parsed into these at the edge (REST body, WebSocket frame),
//! so the service layer and the store only ever see valid values.

pub mod conversation;
pub mod task;
pub mod time;
pub mod user;

pub use task::{NewTask, Priority, Task, TaskId, TaskPage, TaskPatch, TaskQuery};
pub use user::UserId;

use crate::error::{Error, Result};

/// Refuses text the database cannot store: PostgreSQL's text types have no NUL
/// (U+0000). Refused on SQLite too, so a client gets the same answer on both.
fn storable(field: &'static str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(
            field,
            format!("{field} must not contain a NUL character (U+0000)"),
        ));
    }
    Ok(())
}
