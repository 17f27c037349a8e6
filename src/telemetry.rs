//! Logging: `RUST_LOG` picks the levels (default `info`, sqlx's per-query logs off).
//! Colours only on a terminal, so files and log shippers get plain text.

use std::io::IsTerminal;

use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{LevelFilter, Targets},
    fmt,
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

/// Crates whose debug/trace logs print raw headers or frame payloads, which carry
/// tokens (`Authorization`, `?token=`, the `auth` frame). They stay at `info`.
const NEVER_VERBOSE: [&str; 5] = [
    "hyper",
    "hyper_util",
    "h2",
    "tungstenite",
    "tokio_tungstenite",
];

/// `RUST_LOG` (or the default).
fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
}

/// A second filter that every event must also pass, so no `RUST_LOG` loosens it: a
/// more specific directive (`tungstenite::protocol=trace`) would win inside one
/// `EnvFilter`, but not across two.
fn never_verbose() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(NEVER_VERBOSE.map(|target| (target, LevelFilter::INFO)))
}

fn init_with(test_writer: bool) {
    let layer = fmt::layer()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let layer = if test_writer {
        layer.with_test_writer().boxed()
    } else {
        layer.boxed()
    };
    // Ignore the error of a second init (tests start many servers in one process).
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(env_filter()).with_filter(never_verbose()))
        .try_init();
}

pub fn init() {
    init_with(false);
}

/// The same log for the integration tests' in-process servers, written so that
/// `cargo test` captures it per test and shows it only for a test that fails.
pub fn init_for_tests() {
    init_with(true);
}
