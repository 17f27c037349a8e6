//! PostgreSQL's `NOTIFY`/`LISTEN` between gateway instances: a committing
//! transaction announces its event on the database's events channel, and every
//! instance hears it on one `LISTEN` connection of its own.
//!
//! The channel is named after the schema the gateway runs in, so that gateways (and
//! test runs) sharing a database in different schemas never hear each other.

use std::sync::OnceLock;

use base64::Engine;
use sea_query::{Expr, Func, Query};
use sha2::{Digest, Sha256};
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};

use super::{Store, Tx, build};
use crate::error::Result;

/// `NOTIFY`'s payload limit is 8,000 bytes; a larger event is announced by
/// reference and read from the event log.
pub const NOTIFY_PAYLOAD_MAX: usize = 7_900;

/// Where events are announced: the channel's name, known once migrations have run.
pub struct EventsChannel {
    name: OnceLock<String>,
    /// The direct connection `LISTEN` uses (`DATABASE_LISTEN_URL` or `DATABASE_URL`).
    listen: PgConnectOptions,
}

#[derive(sqlx::FromRow)]
struct SchemaRow {
    schema: Option<String>,
}

impl EventsChannel {
    pub fn new(listen: PgConnectOptions) -> Self {
        EventsChannel {
            name: OnceLock::new(),
            listen,
        }
    }

    /// Names the channel after the pool's current schema (a short hash: channel
    /// names are at most 63 bytes).
    pub async fn name_after_schema(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let stmt = Query::select()
            .expr_as(Func::cust("current_schema"), "schema")
            .to_owned();
        let (sql, values) = build(&stmt, sea_query::PostgresQueryBuilder);
        let row: SchemaRow = sqlx::query_as_with(sql, values).fetch_one(pool).await?;
        let digest = Sha256::digest(row.schema.unwrap_or_default().as_bytes());
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
        let _ = self.name.set(format!("taskwire_events_{hash}"));
        Ok(())
    }
}

impl Tx {
    /// Announces each of `payloads` on the events channel when this transaction
    /// commits, in one statement (PostgreSQL; nothing on SQLite, which serves one
    /// instance).
    pub async fn notify(&mut self, store: &Store, payloads: &[String]) -> Result<()> {
        let Some(channel) = store.events.as_ref().and_then(|e| e.name.get()) else {
            return Ok(());
        };
        if payloads.is_empty() {
            return Ok(());
        }
        let mut stmt = Query::select();
        for payload in payloads {
            stmt.expr(
                Func::cust("pg_notify")
                    .arg(Expr::val(channel.as_str()))
                    .arg(Expr::val(payload.as_str())),
            );
        }
        self.execute(&stmt).await?;
        Ok(())
    }
}

impl Store {
    /// Whether committed events are announced to other instances (PostgreSQL).
    pub fn announces_events(&self) -> bool {
        self.events.is_some()
    }

    /// A connection that hears every instance's committed events; `None` on SQLite
    /// or before migrations have named the channel.
    pub async fn listen(&self) -> Result<Option<EventListener>> {
        let Some(events) = &self.events else {
            return Ok(None);
        };
        let Some(channel) = events.name.get() else {
            return Ok(None);
        };
        let connect = async {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(self.budget)
                .connect_lazy_with(events.listen.clone());
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(channel).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = self.bounded(async { Ok(connect.await?) }).await?;
        Ok(Some(EventListener { listener }))
    }
}

/// One instance's `LISTEN` connection.
pub struct EventListener {
    listener: PgListener,
}

impl EventListener {
    /// The next announced payload. `Ok(None)`: the connection was lost and made
    /// again, and what was announced in between is lost (catch up from the log).
    pub async fn next(&mut self) -> Result<Option<String>> {
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|notice| notice.payload().to_owned()))
    }
}
