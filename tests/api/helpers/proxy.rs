//! A TCP proxy in front of the test PostgreSQL that a test can cut or hang, to see
//! what the server does when its database goes away while it runs.

use tokio::{
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
}

impl DbProxy {
    pub async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, _) = watch::channel(Link::Up);
        let watcher = link.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = watcher.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let mode = *state.borrow_and_update();
                    if mode == Link::Up {
                        let Ok(mut server) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            // Any change of link kills the connections made while it was up.
                            _ = state.changed() => {}
                        }
                    } else if mode == Link::Hang {
                        let _ = state.changed().await;
                    }
                });
            }
        });
        DbProxy { port, link }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
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
