//! Integration tests: the real server on a random port, real sockets, real databases.

mod helpers;
mod ws_client;

mod auth;
mod cli;
mod database;
mod hardening_ws;
mod health;
mod legacy;
mod logs;
mod tasks;
mod validation;
mod ws_live;
mod ws_requests;
mod ws_smoke;
