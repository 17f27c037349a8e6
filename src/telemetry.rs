//! Logging: `RUST_LOG` picks the levels (default `info`, sqlx's per-query logs off).
//! Colours only on a terminal, so files and log shippers get plain text.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Ignore the error of a second init (tests start many servers in one process).
    let _ = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}
