//! taskwire: the real-time gateway of the Todo chatbot. See `ARCHITECTURE.md`.
//!
//! Layers, bottom up; each module uses only those above it in this list:
//!
//! - `config`: settings read once from the environment; `telemetry`: logging.
//! - `domain`: the parsed values the layers pass around (`NewTask`, `UserId`, …);
//!   `error`: the one error type and its codes; `auth`: JWT verification.
//! - `store`: every SQL statement (sea-query over sqlx), SQLite and PostgreSQL.
//! - `protocol`: the wire: client frames, REST bodies, server frames, JSON errors.
//! - `hub`: who is connected right now, and each connection's outbound queue.
//! - `service`: what each request means; commits a change, then fans it out.
//! - `state`, `shutdown`: what every handler can reach, and the graceful stop.
//! - `http`: the legacy REST routes and probes; `ws`: `/ws`, its sessions, one
//!   handler per frame type, and the writer.
//! - `startup`: builds the server for `main` and the tests; `server`: the accept
//!   loop and what it guards against (slow headers, delayed ACKs, fd exhaustion).
//! - `bench`: a load generator that speaks only the protocol (`taskwire bench`).

pub mod auth;
pub mod bench;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod protocol;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod ws;
