//! The database of one test: a SQLite file in a temporary folder, or a PostgreSQL
//! schema of its own on `TEST_DATABASE_URL`, dropped with the test.

use std::{path::PathBuf, str::FromStr};

use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};
use taskwire::config::DatabaseUrl;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres { url: String },
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set.
    pub fn postgres() -> Option<Self> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|url| Backend::Postgres { url })
    }

    /// `postgres()`, saying so on stderr when the test is skipped for want of it.
    pub fn postgres_or_skip() -> Option<Self> {
        let backend = Self::postgres();
        if backend.is_none() {
            eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped");
        }
        backend
    }
}

/// A database made for one test, dropped with it.
pub enum TestDb {
    Sqlite {
        /// Kept so the folder lives as long as the test.
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

impl TestDb {
    pub async fn new(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("taskwire.db");
                TestDb::Sqlite { _dir: dir, path }
            }
            Backend::Postgres { url } => {
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .await
                    .expect("create schema");
                TestDb::Postgres {
                    url: url.clone(),
                    schema,
                }
            }
        }
    }

    /// The `DatabaseUrl` the server gets; `port` overrides PostgreSQL's (for a proxy).
    pub fn database_url(&self, port: Option<u16>) -> DatabaseUrl {
        match self {
            TestDb::Sqlite { path, .. } => DatabaseUrl::Sqlite { path: path.clone() },
            TestDb::Postgres { .. } => {
                let mut options = self.schema_options();
                if let Some(port) = port {
                    // In plain text, so the proxy can see what goes through it.
                    options = options
                        .host("127.0.0.1")
                        .port(port)
                        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
                }
                DatabaseUrl::Postgres(Box::new(options))
            }
        }
    }

    /// The test's PostgreSQL schema, on connections named `application_name` (so a
    /// test can find them in `pg_stat_activity`).
    pub fn database_url_named(&self, application_name: &str) -> DatabaseUrl {
        DatabaseUrl::Postgres(Box::new(
            self.schema_options().application_name(application_name),
        ))
    }

    /// A connection of the test's own to its PostgreSQL schema (to lock rows, add
    /// triggers: what another client of the database could do).
    pub async fn pg_connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.schema_options())
            .await
            .unwrap()
    }

    /// Runs raw SQL (a legacy dump) in this test's database, before the server starts.
    pub async fn load(&self, sql: &str) {
        match self {
            TestDb::Sqlite { path, .. } => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                    .await
                    .unwrap();
            }
            TestDb::Postgres { .. } => run_sql(&mut self.pg_connection().await, sql).await,
        }
    }

    /// Connection options with the test's schema first on the search path.
    fn schema_options(&self) -> PgConnectOptions {
        let TestDb::Postgres { url, schema } = self else {
            panic!("not a PostgreSQL test database");
        };
        pg_options(url).options([("search_path", schema.as_str())])
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { url, schema } = self {
            let (url, schema) = (url.clone(), schema.clone());
            // Drop is sync: clean up on a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&url).await {
                        // A failed test may leave a transaction of its server holding
                        // locks, driven by the runtime this drop blocks: give up rather
                        // than wait for it forever.
                        let _ = conn.execute("SET lock_timeout = '3s'").await;
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS {schema} CASCADE"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn pg_options(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url).expect("TEST_DATABASE_URL is a PostgreSQL URL")
}

/// Runs raw SQL (one statement or several) on a connection of the test's own.
pub async fn run_sql(conn: &mut PgConnection, sql: &str) {
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
        .await
        .unwrap();
}
