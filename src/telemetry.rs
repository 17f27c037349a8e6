//! Logging: `RUST_LOG` picks the levels (default `info`, sqlx's per-query logs off).
//! Colours only on a terminal, so files and log shippers get plain text.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Crates whose debug/trace logs print raw headers or frame payloads, which carry
/// tokens (`Authorization`, `?token=`, the `auth` frame). They stay at `info` whatever
/// `RUST_LOG` says, so no log line ever holds a secret.
const NEVER_VERBOSE: [&str; 5] = [
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "tungstenite=info",
    "tokio_tungstenite=info",
];

/// `RUST_LOG` (or the default), with `NEVER_VERBOSE` on top.
fn filter() -> EnvFilter {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    for directive in NEVER_VERBOSE {
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    filter
}

pub fn init() {
    // Ignore the error of a second init (tests start many servers in one process).
    let _ = fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}

/// The same log for the integration tests' in-process servers, written so that
/// `cargo test` captures it per test and shows it only for a test that fails.
pub fn init_for_tests() {
    let _ = fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .with_test_writer()
        .try_init();
}
