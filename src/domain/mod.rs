//! Domain types: input is parsed into these at the edge (REST body, WebSocket frame),
//! so the service layer and the store only ever see valid values.

pub mod conversation;
pub mod task;
pub mod time;
pub mod user;

pub use task::{NewTask, Priority, Task, TaskId, TaskPage, TaskPatch, TaskQuery};
pub use user::UserId;
