//! Integration tests: the real server on a random port, real sockets, real databases.

mod helpers;

mod auth;
mod cli;
mod crash_check;
mod database;
mod group_commit;
mod hardening_http;
mod hardening_input;
mod hardening_ws;
mod health;
mod instances;
mod legacy;
mod logs;
mod tasks;
mod validation;
mod ws_commit;
mod ws_errors;
mod ws_handshake;
mod ws_idempotency;
mod ws_live;
mod ws_resume;
mod ws_smoke;
mod ws_success;
