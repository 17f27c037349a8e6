//! Accepting and serving connections (design §9, Hardening).
//!
//! axum's `serve` hides hyper's settings, so this is its loop with what it lacks:
//! `TCP_NODELAY` on every socket (an answer is never held back waiting for the
//! peer's delayed ACK), a deadline for request headers (a client that trickles them
//! cannot hold a socket forever), a count of open sockets that `/ws` checks before
//! taking on another long-lived one, and a pause when `accept` fails for want of
//! file descriptors instead of a busy loop. Graceful shutdown is axum's: stop
//! accepting, let every connection finish the request it is serving, then return.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::Response,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    error::ErrorCode,
    http::{error::error_body, limits},
};

/// How long the loop waits before accepting again after `accept` failed (out of
/// file descriptors, most likely: sockets closing will free some).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The number of open sockets, and the cap over which `/ws` refuses new ones.
#[derive(Clone)]
pub struct OpenConnections {
    count: Arc<AtomicUsize>,
    /// 0: no cap.
    cap: usize,
}

impl OpenConnections {
    /// Whether more sockets are open than the cap, the asking one included.
    pub fn over_cap(&self) -> bool {
        self.cap != 0 && self.count.load(Ordering::Relaxed) > self.cap
    }

    fn open(&self) -> Open {
        self.count.fetch_add(1, Ordering::Relaxed);
        Open(self.count.clone())
    }
}

/// One open socket in the count, until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accepted socket that counts as open for as long as it lives: for a WebSocket,
/// until its session ends, long after hyper has handed the socket over.
struct Counted {
    socket: TcpStream,
    _open: Open,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// Middleware for `/ws`: while more sockets are open than `MAX_CONNECTIONS`, a new
/// WebSocket is refused with 503. Only WebSockets are turned away: they stay open
/// for hours, while `/health`, `/ready` and REST requests are over in moments.
pub async fn refuse_when_full(
    State(connections): State<OpenConnections>,
    request: Request,
    next: Next,
) -> Response {
    if connections.over_cap() {
        return error_body(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "The server has too many open connections; retry in a moment",
        );
    }
    next.run(request).await
}

/// The count of open sockets with its cap: `MAX_CONNECTIONS` if set, else 90% of
/// the file-descriptor limit, which leaves room for the database pool, log files and
/// the sockets of plain requests. Raises the soft limit to the hard one first.
pub fn connection_cap(max_connections: Option<usize>) -> OpenConnections {
    let fd_limit = raise_fd_limit();
    let cap = max_connections.unwrap_or_else(|| {
        fd_limit.map_or(0, |limit| {
            usize::try_from(limit / 10 * 9).unwrap_or(usize::MAX)
        })
    });
    match cap {
        0 => tracing::info!("MAX_CONNECTIONS: no cap"),
        cap => tracing::info!("MAX_CONNECTIONS {cap}: past it, /ws handshakes get 503"),
    }
    OpenConnections {
        count: Arc::default(),
        cap,
    }
}

/// Raises the soft limit on open files to the hard limit (the soft one, often 1024,
/// is what runs out first), logs it, and returns the limit in force.
fn raise_fd_limit() -> Option<u64> {
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit > soft => {
            tracing::info!("file descriptor limit {limit} (raised from {soft})");
            Some(limit)
        }
        Ok(limit) => {
            tracing::info!("file descriptor limit {limit}");
            Some(limit)
        }
        Err(err) => {
            tracing::warn!(error = %err, "file descriptor limit {soft}: cannot raise it");
            Some(soft)
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves, then stops accepting and
/// returns once every connection has finished its request in flight (upgraded
/// WebSockets are no longer connections of hyper's: their sessions close them).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    connections: OpenConnections,
    stop: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_header_size(limits::HYPER_MAX_HEAD_BYTES);
    let closing = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut accept_failing = false;
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            // The client gave up before we took the connection: nothing to do.
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                if !accept_failing {
                    tracing::error!(error = %err, "cannot accept connections; retrying every {ACCEPT_BACKOFF:?}");
                    accept_failing = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if std::mem::take(&mut accept_failing) {
            tracing::info!("accepting connections again");
        }
        without_nagle(&socket);
        let io = TokioIo::new(Counted {
            socket,
            _open: connections.open(),
        });
        let connection = http
            .serve_connection(io, TowerToHyperService::new(app.clone()))
            .with_upgrades();
        let closing = closing.clone();
        tracker.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = closing.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                // Timeouts, resets, malformed requests: the client's doing.
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    closing.cancel();
    tracker.close();
    tracker.wait().await;
}

/// Every accepted socket sends each frame at once: with Nagle's algorithm, an ack
/// written right after an event waits for the client's delayed TCP ack (~40 ms).
fn without_nagle(socket: &TcpStream) {
    if let Err(err) = socket.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capped(cap: usize) -> OpenConnections {
        OpenConnections {
            count: Arc::default(),
            cap,
        }
    }

    #[tokio::test]
    async fn accepted_sockets_do_not_wait_for_delayed_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((socket, _), _client) =
            tokio::join!(async { listener.accept().await.unwrap() }, client);
        assert!(!socket.nodelay().unwrap(), "Nagle is on by default");
        without_nagle(&socket);
        assert!(socket.nodelay().unwrap());
    }

    #[test]
    fn over_cap_counts_the_sockets_still_open() {
        let connections = capped(2);
        let first = connections.open();
        let _second = connections.open();
        assert!(!connections.over_cap(), "two open, cap two");
        let third = connections.open();
        assert!(connections.over_cap(), "three open, cap two");
        drop(first);
        assert!(!connections.over_cap(), "a closed socket frees its place");
        drop(third);

        let uncapped = capped(0);
        let _open: Vec<Open> = (0..10).map(|_| uncapped.open()).collect();
        assert!(!uncapped.over_cap(), "0 means no cap");
    }
}
