//! The store: the only place that talks to the database.
//!
//! One `Store` serves SQLite and PostgreSQL. Every statement is built with sea-query
//! and rendered for the backend in use; `on_backend!` writes each query once and
//! expands it for both pools, so no method is written twice.

mod conversations;
mod error;
mod events;
mod listen;
pub mod schema;
mod tasks;

pub use error::is_unavailable;
pub use events::{KeyedEvent, NewEvent, RequestKey, StoredEvent};
pub use listen::{EventListener, NOTIFY_PAYLOAD_MAX};

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_query::{PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::{
    AssertSqlSafe, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::{PgPoolOptions, PgRow},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};

use crate::config::{Backend, DatabaseSettings, DatabaseUrl, SqliteSync};
use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Statements a batch of changes writes with one row per change (the request-id
/// lookup, the `seq`s, conversations started and touched, messages, events).
const BATCH_STATEMENTS: usize = 6;

/// Renders a statement for one backend. sea-query quotes identifiers and binds
/// every value as a parameter, which is what makes the SQL string safe to run.
fn build(
    stmt: &impl SqlxBinder,
    qb: impl sea_query::QueryBuilder,
) -> (AssertSqlSafe<String>, SqlxValues) {
    let (sql, values) = stmt.build_sqlx(qb);
    (AssertSqlSafe(sql), values)
}

/// A row type that both backends can decode.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$conn` bound to the backend's pool or connection and `$qb`
/// to its sea-query builder.
macro_rules! on_backend {
    ($enum:ident, $value:expr, $conn:ident, $qb:ident => $body:expr) => {
        match $value {
            $enum::Sqlite($conn) => {
                let $qb = SqliteQueryBuilder;
                $body
            }
            $enum::Postgres($conn) => {
                let $qb = PostgresQueryBuilder;
                $body
            }
        }
    };
}

/// The database, shared by every request (cheap to clone).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// SQLite: the one connection that writes. SQLite has one writer at a time
    /// anyway, and a connection forgets its page cache whenever another one has
    /// written, so a single writer keeps its pages warm from batch to batch.
    sqlite_writer: Option<SqlitePool>,
    /// Set once migrations have run: until then every query answers "unavailable",
    /// so a fresh database that was down at startup is never used half-made.
    migrated: Arc<AtomicBool>,
    /// How long one step (a read, a transaction's work, its commit) may wait on
    /// the database before the request answers "unavailable" (`DATABASE_TIMEOUT_SECS`).
    budget: Duration,
    /// PostgreSQL: where committed events are announced and heard.
    events: Option<Arc<listen::EventsChannel>>,
}

impl Store {
    /// Makes the pool without connecting: the server starts even when the database
    /// is down, and connects on first use.
    pub fn connect_lazy(settings: &DatabaseSettings) -> Result<Self, sqlx::Error> {
        // A batch's statements have one text per batch size (its rows), so each
        // connection keeps that many prepared, and the usual ones besides.
        let statements = BATCH_STATEMENTS * settings.group_commit.max + 100;
        let mut sqlite_writer = None;
        let pool = match &settings.url {
            DatabaseUrl::Sqlite { path } => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(match settings.sqlite_synchronous {
                        SqliteSync::Full => SqliteSynchronous::Full,
                        SqliteSync::Normal => SqliteSynchronous::Normal,
                    })
                    .foreign_keys(true)
                    .statement_cache_capacity(statements)
                    .busy_timeout(Duration::from_secs(5))
                    // A batch's statements are rolled back one by one on error: their
                    // journals are kept in memory, not written to temporary files.
                    .pragma("temp_store", "memory");
                sqlite_writer = Some(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(settings.acquire_timeout)
                        // A file does not drop connections: no check before each use.
                        .test_before_acquire(false)
                        // A batch's pages stay in memory until its commit instead of
                        // spilling into the log halfway (the default is 2 MiB).
                        .connect_lazy_with(options.clone().pragma("cache_size", "-32768")),
                );
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(settings.pool_size)
                        .acquire_timeout(settings.acquire_timeout)
                        .connect_lazy_with(options),
                )
            }
            DatabaseUrl::Postgres(options) => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(settings.pool_size)
                    .acquire_timeout(settings.acquire_timeout)
                    // A Neon cold start or a restarted server leaves dead sockets in
                    // the pool: check each one before handing it out.
                    .test_before_acquire(true)
                    .idle_timeout(Duration::from_secs(300))
                    .connect_lazy_with((**options).clone().statement_cache_capacity(statements)),
            ),
        };
        let events = match (&settings.url, &settings.listen_url) {
            (DatabaseUrl::Postgres(options), listen) => {
                let listen = match listen {
                    Some(DatabaseUrl::Postgres(listen)) => listen,
                    _ => options,
                };
                Some(Arc::new(listen::EventsChannel::new((**listen).clone())))
            }
            (DatabaseUrl::Sqlite { .. }, _) => None,
        };
        Ok(Store {
            pool,
            sqlite_writer,
            migrated: Arc::new(AtomicBool::new(false)),
            budget: settings.acquire_timeout,
            events,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this backend. Idempotent; on PostgreSQL sqlx holds an
    /// advisory lock meanwhile, so instances starting together take turns.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => {
                POSTGRES_MIGRATIONS.run(pool).await?;
                if let Some(events) = &self.events {
                    events.name_after_schema(pool).await?;
                }
            }
        }
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// The pool's open connections and how many of them are idle.
    pub fn pool_connections(&self) -> (u32, usize) {
        on_backend!(Pool, &self.pool, pool, _qb => (pool.size(), pool.num_idle()))
    }

    /// One round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let stmt = sea_query::Query::select()
            .expr(sea_query::Expr::val(1))
            .to_owned();
        on_backend!(Pool, &self.pool, pool, qb => {
            let (sql, values) = build(&stmt, qb);
            sqlx::query_with(sql, values).execute(pool).await.map(drop)
        })
    }

    fn ready(&self) -> Result<()> {
        if self.is_migrated() {
            Ok(())
        } else {
            Err(Error::Unavailable)
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Runs `work` within the budget; a database that does not answer in time is
    /// "unavailable", whether it refuses connections or hangs mid-query.
    pub async fn bounded<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.budget, work)
            .await
            .unwrap_or(Err(Error::Unavailable))
    }

    pub async fn fetch_all<T: Row>(&self, stmt: &SelectStatement) -> Result<Vec<T>> {
        self.ready()?;
        self.bounded(async {
            on_backend!(Pool, &self.pool, pool, qb => {
                let (sql, values) = build(stmt, qb);
                Ok(sqlx::query_as_with(sql, values).fetch_all(pool).await?)
            })
        })
        .await
    }

    pub async fn fetch_optional<T: Row>(&self, stmt: &SelectStatement) -> Result<Option<T>> {
        self.ready()?;
        self.bounded(async {
            on_backend!(Pool, &self.pool, pool, qb => {
                let (sql, values) = build(stmt, qb);
                Ok(sqlx::query_as_with(sql, values).fetch_optional(pool).await?)
            })
        })
        .await
    }

    pub async fn fetch_one<T: Row>(&self, stmt: &SelectStatement) -> Result<T> {
        self.ready()?;
        self.bounded(async {
            on_backend!(Pool, &self.pool, pool, qb => {
                let (sql, values) = build(stmt, qb);
                Ok(sqlx::query_as_with(sql, values).fetch_one(pool).await?)
            })
        })
        .await
    }

    /// Runs a statement outside a transaction; returns the number of rows it touched.
    pub async fn execute(&self, stmt: &impl SqlxBinder) -> Result<u64> {
        self.ready()?;
        self.bounded(async {
            on_backend!(Pool, &self.pool, pool, qb => {
                let (sql, values) = build(stmt, qb);
                Ok(sqlx::query_with(sql, values).execute(pool).await?.rows_affected())
            })
        })
        .await
    }

    /// Starts a write transaction. On SQLite it runs on the writer connection and
    /// takes the write lock up front (`BEGIN IMMEDIATE`), so that another process's
    /// writer waits instead of failing with "database is locked" when a reader upgrades.
    pub async fn begin(&self) -> Result<Tx> {
        self.ready()?;
        Ok(match (&self.pool, &self.sqlite_writer) {
            (Pool::Sqlite(pool), writer) => {
                let pool = writer.as_ref().unwrap_or(pool);
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            (Pool::Postgres(pool), _) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// SQLite: copies what the write-ahead log holds into the database file, as far as
    /// readers allow, without blocking the writer (a passive checkpoint). Run by a
    /// task of its own, it leaves the writer's automatic checkpoints (which let the
    /// log start over, so it does not grow) little to copy and flush. No-op on
    /// PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(());
        };
        self.ready()?;
        self.bounded(async {
            sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.sqlite_writer {
            writer.close().await;
        }
        on_backend!(Pool, &self.pool, pool, _qb => pool.close().await)
    }
}

/// A write transaction: statements run in it are all kept on `commit`, or none are.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Runs a statement with `RETURNING` and decodes the row it returned, if any.
    pub async fn fetch_optional<T: Row>(&mut self, stmt: &impl SqlxBinder) -> Result<Option<T>> {
        on_backend!(Tx, self, tx, qb => {
            let (sql, values) = build(stmt, qb);
            Ok(sqlx::query_as_with(sql, values).fetch_optional(&mut **tx).await?)
        })
    }

    pub async fn fetch_all<T: Row>(&mut self, stmt: &impl SqlxBinder) -> Result<Vec<T>> {
        on_backend!(Tx, self, tx, qb => {
            let (sql, values) = build(stmt, qb);
            Ok(sqlx::query_as_with(sql, values).fetch_all(&mut **tx).await?)
        })
    }

    pub async fn fetch_one<T: Row>(&mut self, stmt: &impl SqlxBinder) -> Result<T> {
        on_backend!(Tx, self, tx, qb => {
            let (sql, values) = build(stmt, qb);
            Ok(sqlx::query_as_with(sql, values).fetch_one(&mut **tx).await?)
        })
    }

    /// Runs a statement and returns the number of rows it touched.
    pub async fn execute(&mut self, stmt: &impl SqlxBinder) -> Result<u64> {
        on_backend!(Tx, self, tx, qb => {
            let (sql, values) = build(stmt, qb);
            Ok(sqlx::query_with(sql, values).execute(&mut **tx).await?.rows_affected())
        })
    }

    /// Marks where the next change of a batch starts, so that its failure undoes it
    /// alone (`rollback_to_savepoint`). Never released: a release is one more round
    /// trip, and the commit keeps every change that was not rolled back either way.
    pub async fn savepoint(&mut self) -> Result<()> {
        self.raw("SAVEPOINT change").await
    }

    /// Undoes what ran since the last `savepoint`, even after an error, and goes on.
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.raw("ROLLBACK TO SAVEPOINT change").await
    }

    /// Transaction control, which sea-query does not build (like `BEGIN IMMEDIATE`
    /// above): fixed text, no values.
    async fn raw(&mut self, sql: &'static str) -> Result<()> {
        on_backend!(Tx, self, tx, _qb => {
            sqlx::raw_sql(sql).execute(&mut **tx).await?;
            Ok(())
        })
    }

    pub async fn commit(self) -> Result<()> {
        on_backend!(Tx, self, tx, _qb => Ok(tx.commit().await?))
    }
}
