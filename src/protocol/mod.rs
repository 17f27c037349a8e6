//! The wire: what clients send and what the server answers, as Rust types.
//!
//! `request` reads client frames, `input` holds every field a client sends (REST
//! bodies included) and how it becomes a domain value, `json` turns serde errors into
//! `invalid` errors that name the field, and `server` holds the frames the server
//! sends. `protocol/schemas/` is generated from these types (a test fails when the
//! committed schemas differ), and `protocol/README.md` documents them for client
//! authors.

pub mod input;
pub mod json;
pub mod request;
pub mod server;

pub use json::{from_json_value, parse_json};
pub use request::{ClientFrame, Rejected, Request, RequestId};
pub use server::{Event, EventName, Refreshed, Resumed, ServerFrame, TaskDeleted};

/// The JSON Schemas of both directions, as committed in `protocol/schemas/`.
pub fn schemas() -> [(&'static str, schemars::Schema); 2] {
    [
        (
            "client-frame.schema.json",
            schemars::schema_for!(request::ClientFrameSchema),
        ),
        (
            "server-frame.schema.json",
            schemars::schema_for!(ServerFrame),
        ),
    ]
}
