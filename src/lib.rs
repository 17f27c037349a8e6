//! taskwire: the real-time gateway of the Todo chatbot.
//!
//! Layers, outside in: `http` (routes, extractors, error bodies) → `service`
//! (what a request means, shared by REST and WebSocket) → `store` (sea-query
//! statements over sqlx). `domain` holds the parsed types they pass around.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod protocol;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod ws;
