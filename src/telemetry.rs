//! Logging: `RUST_LOG` picks the levels (default `info`, sqlx's per-query logs off).

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Ignore the error of a second init (tests start many servers in one process).
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
