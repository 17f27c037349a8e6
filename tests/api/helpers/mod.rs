//! What every integration test needs: the real server on a random port with a
//! database of its own ([`app`], [`db`]), clients that talk to it over real sockets
//! ([`app`] for REST, [`ws`] for `/ws`), and the small pieces the tests share
//! ([`jwt`] tokens, [`json`] checks, the [`proxy`] that cuts PostgreSQL, the
//! [`process`] that runs the `taskwire` binary).
//!
//! Every test runs on SQLite; with `TEST_DATABASE_URL` set it runs on PostgreSQL too,
//! each test in a schema of its own so tests run in parallel without sharing rows.
//! With `TEST_LOG` set, a failing test shows its server's log.

pub mod app;
pub mod db;
pub mod json;
pub mod jwt;
pub mod process;
pub mod proxy;
pub mod ws;

/// Generates one `#[tokio::test]` per backend for each listed `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::db::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(backend) = $crate::helpers::db::Backend::postgres_or_skip() {
                        super::$name(backend).await;
                    }
                }
            }
        )*
    };
}
