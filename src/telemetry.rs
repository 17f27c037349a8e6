//! Logging: `RUST_LOG` picks the levels (default `info`, sqlx's per-query logs off).
//! Colours only on a terminal, so files and log shippers get plain text. Metrics:
//! recorded with the `metrics` macros where things happen, rendered for Prometheus
//! by `GET /metrics`.

use std::{io::IsTerminal, sync::OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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

/// The Prometheus recorder behind `GET /metrics`, installed once per process (the
/// tests run many servers in one).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("taskwire_commit_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
                )
            })
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; ours then stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
