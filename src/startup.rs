//! Builds the server from `Settings`: used by `main` and by the tests, which start
//! the real thing on a random port.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    auth::Authenticator,
    config::{Backend, DatabaseUrl, Settings},
    http,
    hub::Hub,
    server::{self, OpenConnections},
    service::Service,
    shutdown::Shutdown,
    state::{App, AppState},
    store::{Store, is_unavailable},
    ws,
};

/// The server, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    connections: OpenConnections,
}

impl Application {
    /// Binds the listener and prepares the database. A database that does not answer
    /// yet does not stop the server: it serves 503s and migrates once it answers.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Before anything is recorded: what is recorded without a recorder is lost.
        crate::telemetry::metrics();
        let store = Store::connect_lazy(&settings.database)?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match store.migrate().await {
                Ok(()) => break,
                // SQLite is busy: another instance starting on the same file holds the
                // write lock while it migrates. Wait for it rather than serve 503s.
                Err(sqlx::migrate::MigrateError::Execute(err))
                    if is_unavailable(&err) && sqlite_folder_exists(&settings) && attempts < 25 =>
                {
                    tracing::debug!(error = %err, "SQLite busy at startup; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(sqlx::migrate::MigrateError::Execute(err)) if is_unavailable(&err) => {
                    if let DatabaseUrl::Sqlite { path } = &settings.database.url
                        && let Some(dir) = path
                            .parent()
                            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
                    {
                        // Likely a typo, possibly a volume not mounted yet: say it loudly.
                        tracing::error!(
                            "DATABASE_URL: the folder {} does not exist; serving 503s until it does",
                            dir.display()
                        );
                    }
                    tracing::warn!(error = %err, "database unreachable at startup; serving 503s until it answers");
                    tokio::spawn(migrate_when_reachable(store.clone()));
                    break;
                }
                // SQLite has no migration lock: an instance starting at the same moment
                // may have applied the same migration first. The next attempt sees it.
                Err(err) if attempts < 3 => {
                    tracing::debug!(error = %err, "migration attempt failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => anyhow::bail!("cannot apply database migrations: {err}"),
            }
        }
        let connections = server::connection_cap(settings.max_connections);
        let address = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
        let state = Arc::new(App {
            service: Service::new(
                store,
                Hub::new(settings.ws.max_connections_per_user),
                settings.database.group_commit,
            ),
            auth: Authenticator::new(&settings.auth),
            settings,
            shutdown: Shutdown::default(),
        });
        tokio::spawn(state.service.clone().listen_for_events());
        tokio::spawn(prune_events(
            state.service.store().clone(),
            state.settings.database.event_retention,
        ));
        if state.service.store().backend() == Backend::Sqlite {
            tokio::spawn(checkpoint_wal(state.service.store().clone()));
        }
        Ok(Application {
            listener,
            state,
            connections,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves. Then it stops accepting, lets requests in
    /// flight finish, has every WebSocket answer what it received and close with 1001,
    /// and returns within `SHUTDOWN_TIMEOUT_SECS` of the signal.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let settings = &self.state.settings;
        let ws = ws::routes().route_layer(axum::middleware::from_fn_with_state(
            self.connections.clone(),
            server::refuse_when_full,
        ));
        let routes = http::routes(&settings.api_prefix).merge(ws);
        let app = http::middleware(routes, settings).with_state(self.state.clone());
        let stop = self.state.shutdown.clone();
        let signal = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.begin();
            }
        };
        let run = async {
            server::serve(
                self.listener,
                app,
                settings.header_timeout,
                self.connections.clone(),
                signal,
            )
            .await;
            stop.sessions_closed().await;
            Ok(())
        };
        tokio::pin!(run);
        // The time limit starts with the signal, not with the server.
        let ended_by_itself = tokio::select! {
            result = &mut run => Some(result),
            _ = stop.begun() => None,
        };
        let limit = self.state.settings.shutdown_timeout;
        let result = match ended_by_itself {
            Some(result) => result,
            None => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                tracing::warn!(
                    ?limit,
                    "graceful shutdown timed out; dropping the remaining connections"
                );
                Ok(())
            }),
        };
        self.state.service.store().close().await;
        result
    }
}

/// Idempotency keys live in the event log, and are kept at least this long.
const KEY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Deletes events older than `retention`, at startup and then every
/// `min(retention, 60 s)` (design §9). A database that is down is tried next time.
async fn prune_events(store: Store, retention: Duration) {
    let mut every = tokio::time::interval(retention.min(Duration::from_secs(60)));
    loop {
        every.tick().await;
        if !store.is_migrated() {
            continue;
        }
        let now = chrono::Utc::now();
        let (Ok(before), Ok(keys_before)) = (
            chrono::Duration::from_std(retention).map(|r| now - r),
            chrono::Duration::from_std(KEY_RETENTION).map(|r| now - r),
        ) else {
            return;
        };
        match store.prune_events(before, keys_before).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old events pruned"),
            Err(err) => tracing::debug!(error = %err, "event pruning skipped"),
        }
    }
}

/// How often the SQLite log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite: checkpoints the write-ahead log every `CHECKPOINT_EVERY`, ahead of the
/// writer's own automatic checkpoints, whose copying and flushing, left to them
/// alone, stalled commits for up to a second under load.
async fn checkpoint_wal(store: Store) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    loop {
        every.tick().await;
        if store.is_migrated()
            && let Err(err) = store.checkpoint().await
        {
            tracing::debug!(error = %err, "checkpoint skipped");
        }
    }
}

/// Whether the database is a SQLite file whose folder exists (so a failure to open
/// it is a lock held by someone else, not a missing volume).
fn sqlite_folder_exists(settings: &Settings) -> bool {
    matches!(&settings.database.url, DatabaseUrl::Sqlite { path }
        if path.parent().is_none_or(|d| d.as_os_str().is_empty() || d.exists()))
}

async fn migrate_when_reachable(store: Store) {
    let mut delay = Duration::from_millis(500);
    loop {
        tokio::time::sleep(delay).await;
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("database reachable again; migrations applied");
                return;
            }
            Err(err) => tracing::debug!(error = %err, "database still unreachable"),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Fly.io and Docker send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
