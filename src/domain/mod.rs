//! Domain types: input is parsed into these at the edge (REST body, WebSocket frame),
//! so the service layer and the store only ever see valid values.

/// An `integer` primary key as a type of its own: read from a stored row as it is,
/// from a client through `TryFrom<i64>`, where an id out of the column's range
/// cannot name anything that exists (`not_found` with `$missing`).
macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident, $missing:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(i32);

        impl $name {
            pub fn get(self) -> i32 {
                self.0
            }
        }

        /// A stored id.
        impl From<i32> for $name {
            fn from(id: i32) -> Self {
                $name(id)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = crate::error::Error;

            fn try_from(raw: i64) -> Result<Self, Self::Error> {
                i32::try_from(raw)
                    .map($name)
                    .map_err(|_| crate::error::Error::not_found($missing))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

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
