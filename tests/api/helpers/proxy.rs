//! A TCP proxy in front of the test PostgreSQL that a test can cut or hang, to see
//! what the server does when its database goes away while it runs.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

use super::{
    app::{Options, TestApp, spawn_with},
    db::{Backend, pg_options},
};

/// What the proxy in front of PostgreSQL does with connections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Link {
    Up,
    /// Refuses: every connection is closed at once, like a stopped server.
    Down,
    /// Swallows: connections are accepted and never answered, like a hung server.
    Hang,
}

/// A TCP proxy to the test PostgreSQL that a test can cut or hang.
pub struct DbProxy {
    pub port: u16,
    link: watch::Sender<Link>,
    /// When set, the next `COMMIT` goes through and its reply is held this long.
    commit_reply_delay: Arc<Mutex<Option<Duration>>>,
}

impl DbProxy {
    pub async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, _) = watch::channel(Link::Up);
        let watcher = link.clone();
        let commit_reply_delay = Arc::new(Mutex::new(None));
        let delay = commit_reply_delay.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut state = watcher.subscribe();
                let target = target.clone();
                let delay = delay.clone();
                tokio::spawn(async move {
                    let mode = *state.borrow_and_update();
                    if mode == Link::Up {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = pump(client, server, delay) => {}
                            // Any change of link kills the connections made while it was up.
                            _ = state.changed() => {}
                        }
                    } else if mode == Link::Hang {
                        let _ = state.changed().await;
                    }
                });
            }
        });
        DbProxy {
            port,
            link,
            commit_reply_delay,
        }
    }

    /// Lets the next `COMMIT` through and holds its reply for `delay`: the commit
    /// happens, and the server learns it late (a lost or slow reply).
    pub fn hold_next_commit_reply(&self, delay: Duration) {
        *self.commit_reply_delay.lock().unwrap() = Some(delay);
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// Copies bytes both ways; the server's reply to a `COMMIT` seen while a hold is
/// armed is written `delay` late.
async fn pump(client: TcpStream, server: TcpStream, hold: Arc<Mutex<Option<Duration>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let held = Arc::new(Mutex::new(None::<Duration>));
    let to_server = {
        let held = held.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                if chunk.windows(6).any(|w| w == b"COMMIT")
                    && let Some(delay) = hold.lock().unwrap().take()
                {
                    *held.lock().unwrap() = Some(delay);
                }
                if server_write.write_all(chunk).await.is_err() {
                    return;
                }
            }
        }
    };
    let to_client = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let delay = held.lock().unwrap().take();
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = to_server => {}
        _ = to_client => {}
    }
}

/// PostgreSQL only (`None`, the skip noted on stderr, without `TEST_DATABASE_URL`):
/// a server whose database connections go through a proxy the test can cut,
/// starting in state `link`, with `DATABASE_TIMEOUT_SECS` set to `timeout_secs`.
pub async fn spawn_behind_proxy(link: Link, timeout_secs: u64) -> Option<(TestApp, DbProxy)> {
    let backend = Backend::postgres_or_skip()?;
    let Backend::Postgres { url } = &backend else {
        unreachable!()
    };
    let options = pg_options(url);
    let proxy = DbProxy::start((options.get_host().to_owned(), options.get_port())).await;
    proxy.set(link);
    let app = spawn_with(
        backend,
        Options {
            pg_port: Some(proxy.port),
            ..Options::with_env(&[("DATABASE_TIMEOUT_SECS", &timeout_secs.to_string())])
        },
    )
    .await;
    Some((app, proxy))
}
