//! One WebSocket connection: authentication, then a reader loop (this task) and a
//! writer task (`writer`) joined by a bounded queue (`hub::Outbox`), then the
//! closing handshake (`closing`).
//!
//! The reader parses each frame and dispatches it to the frame's handler. Changes
//! are pipelined: up to `CHANGES_IN_FLIGHT` of a connection commit at once (in the
//! order sent, sharing group commits), while it reads on. Any other frame waits for
//! the changes before it, so replies go out in the order of the requests and a read
//! sees every change sent before it. The hub pushes events into the same queue; a
//! connection whose queue overflows is closed with 1008 instead of growing the
//! server's memory.

use std::{
    future::{Future, poll_fn},
    pin::Pin,
    task::Poll,
    time::Duration,
};

use futures_util::{StreamExt, stream::FuturesOrdered};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::Instrument;
use tungstenite::{Message, error::ProtocolError};

use super::{
    close,
    closing::{self, Reader},
    connection::Connection,
    frames::{self, Context, Reply},
    rate_limit::{RateLimiter, Verdict},
    upgrade::Socket,
    writer,
};
use crate::{
    auth::Identity,
    error::{Error, ErrorCode, Result},
    hub::{Outbound, Outbox, Peer, Registration, Replay},
    protocol::{ClientFrame, Rejected, Request, RequestId, ServerFrame},
    service::JoinError,
    state::AppState,
};

/// Changes a connection may have in flight at once; further frames wait in the
/// socket until one is answered.
pub const CHANGES_IN_FLIGHT: usize = 32;

/// A handled request: its type, id, when it arrived, and the outcome.
type Answer = (&'static str, RequestId, Instant, Result<Reply>);

/// A change being committed.
type InFlight = Pin<Box<dyn Future<Output = Answer> + Send>>;

pub async fn run(socket: Socket, state: AppState, identity: Option<Identity>) {
    let _alive = state.shutdown.track_session();
    let (sink, stream) = socket.split();
    let mut reader = Reader::new(stream);
    let queue = state.settings.ws.outbound_queue;
    let (outbox, inbox) = Outbox::new(queue);
    let writer = tokio::spawn(writer::run(sink, inbox, outbox.eviction(), queue));

    let identity = match identity {
        Some(identity) => Some(identity),
        None => authenticate(&state, &mut reader, &outbox).await,
    };
    let reader = match identity {
        Some(identity) => serve(state, identity, reader, outbox).await,
        None => reader,
    };
    closing::finish(reader, writer).await;
}

/// Serves an authenticated connection until it ends; hands the reader back for the
/// closing handshake.
async fn serve(state: AppState, identity: Identity, reader: Reader, outbox: Outbox) -> Reader {
    let conn = Connection::new(identity);
    let span = tracing::info_span!("ws", user = ?conn.user().as_str(), connection = conn.id());
    let limiter = RateLimiter::new(
        state.settings.ws.rate_per_sec,
        state.settings.ws.rate_burst,
        Instant::now(),
    );
    let mut session = Session {
        state,
        conn,
        reader,
        outbox,
        limiter,
        changes: FuturesOrdered::new(),
    };
    async {
        let Some(_registration) = session.join().await else {
            return;
        };
        tracing::info!("connected");
        let reason = session.serve().await;
        tracing::info!(reason, "disconnected");
    }
    .instrument(span)
    .await;
    session.reader
}

/// Waits for the first frame of a socket opened without a token: it must be `auth`.
/// Anything else, or a token that fails, is answered with an error and close 4401.
async fn authenticate(state: &AppState, reader: &mut Reader, outbox: &Outbox) -> Option<Identity> {
    const AUTH_FIRST: &str = "Authenticate first: send {\"type\": \"auth\", \"token\": \"<jwt>\"}";
    let refuse = |id: Option<RequestId>, err: Error| {
        outbox.push(Outbound::Frame(
            ServerFrame::error(id.as_ref(), &err).to_text(),
        ));
        outbox.push(Outbound::Close(close::AUTH_FAILED, "authentication failed"));
        None
    };
    let deadline = Instant::now() + state.settings.ws.auth_timeout;
    loop {
        let message = tokio::select! {
            _ = sleep_until(deadline) => {
                outbox.push(Outbound::Close(close::AUTH_TIMEOUT, "no auth frame in time"));
                return None;
            }
            _ = state.shutdown.begun() => {
                outbox.push(Outbound::Close(close::GOING_AWAY, "server shutting down"));
                return None;
            }
            message = reader.next() => message,
        };
        let text = match message? {
            Ok(Message::Text(text)) => text,
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(Message::Close(_)) => return None,
            Ok(Message::Binary(_)) => return refuse(None, Error::unauthorized(AUTH_FIRST)),
            Err(err) => {
                read_failed(&err, outbox);
                return None;
            }
        };
        let (id, token) = match ClientFrame::parse(&text) {
            Ok(ClientFrame::Auth { id, token }) => (id, token),
            Ok(ClientFrame::Ping(id)) | Err(Rejected { id, .. }) => {
                return refuse(id, Error::unauthorized(AUTH_FIRST));
            }
            Ok(ClientFrame::Request(id, _)) => {
                return refuse(Some(id), Error::unauthorized(AUTH_FIRST));
            }
        };
        // The per-user cap is enforced when the connection joins the hub (4429).
        return match state.auth.verify(&token) {
            Ok(identity) => Some(identity),
            Err(err) => refuse(id, err),
        };
    }
}

/// A read error closes with RFC 6455's code: 1009 for a frame over the size limit,
/// 1007 for a text frame that is not UTF-8, 1002 for any other protocol violation.
/// Any other error means the connection is already gone.
fn read_failed(err: &tungstenite::Error, outbox: &Outbox) {
    use tungstenite::Error as E;
    let (code, reason) = match err {
        E::Capacity(_) => (close::TOO_BIG, "frame too large"),
        E::Utf8(_) => (close::INVALID_DATA, "text frame is not valid UTF-8"),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => return,
        E::Protocol(_) => (close::PROTOCOL_ERROR, "protocol violation"),
        _ => return,
    };
    tracing::info!(error = %err, code, "closing on a bad frame");
    outbox.push(Outbound::Close(code, reason));
}

/// An authenticated connection's reader.
struct Session {
    state: AppState,
    conn: Connection,
    reader: Reader,
    outbox: Outbox,
    limiter: RateLimiter,
    /// The connection's changes in flight, answered in the order they came.
    changes: FuturesOrdered<InFlight>,
}

impl Session {
    /// Joins the hub, which queues `ready`. While the database cannot say the user's
    /// latest `seq`, the socket stays open: the client is told `unavailable` once and
    /// `ready` follows when the database answers.
    async fn join(&mut self) -> Option<Registration> {
        let peer = Peer {
            id: self.conn.id(),
            outbox: self.outbox.clone(),
        };
        let heartbeat = self.state.settings.ws.heartbeat;
        let mut retry = Duration::from_millis(500);
        let mut told = false;
        loop {
            // Boxed, like request handling: the database path is a deep future that an
            // idle connection should not carry around.
            let joined = self
                .state
                .service
                .join(self.conn.user(), peer.clone(), |seq| {
                    self.conn.ready_frame(heartbeat, seq)
                });
            match Box::pin(joined).await {
                Ok(registration) => return Some(registration),
                Err(JoinError::AtCapacity) => {
                    self.outbox.push(Outbound::Close(
                        close::TOO_MANY,
                        "too many connections for this user",
                    ));
                    return None;
                }
                Err(JoinError::Failed(err)) if !told => {
                    told = true;
                    self.outbox
                        .push(Outbound::Frame(ServerFrame::error(None, &err).to_text()));
                }
                Err(JoinError::Failed(_)) => {}
            }
            tokio::select! {
                _ = sleep(retry) => retry = (retry * 2).min(Duration::from_secs(5)),
                _ = self.state.shutdown.begun() => {
                    self.outbox.push(Outbound::Close(close::GOING_AWAY, "server shutting down"));
                    return None;
                }
                _ = self.outbox.evicted() => return None,
            }
        }
    }

    /// The reader loop; returns why it ended.
    async fn serve(&mut self) -> &'static str {
        let settings = self.state.settings.ws.clone();
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + settings.heartbeat, settings.heartbeat);
        let mut last_heard = Instant::now();
        loop {
            let expiry = self.conn.expiry();
            tokio::select! {
                biased;
                _ = self.outbox.evicted() => return "slow consumer",
                _ = self.state.shutdown.begun() => {
                    self.drain().await;
                    self.outbox.push(Outbound::Close(close::GOING_AWAY, "server shutting down"));
                    return "shutdown";
                }
                _ = sleep_until(expiry) => {
                    let frame = ServerFrame::error(None, &Error::TokenExpired).to_text();
                    self.outbox.push(Outbound::Frame(frame));
                    self.outbox.push(Outbound::Close(close::AUTH_FAILED, "token expired"));
                    return "token expired";
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > settings.heartbeat * 2 {
                        return "silent peer";
                    }
                    self.outbox.push(Outbound::Ping);
                }
                Some(answer) = self.changes.next(), if !self.changes.is_empty() => {
                    if !self.reply(answer) {
                        return "slow consumer";
                    }
                }
                message = self.reader.next(), if self.changes.len() < CHANGES_IN_FLIGHT => {
                    last_heard = Instant::now();
                    let text = match message {
                        None | Some(Ok(Message::Close(_))) => {
                            // Its changes were sent before its close: it still gets their acks.
                            self.finish_changes().await;
                            return "closed by client";
                        }
                        Some(Err(err)) => {
                            read_failed(&err, &self.outbox);
                            return "read error";
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                        Some(Ok(Message::Binary(_))) => None,
                        Some(Ok(Message::Text(text))) => Some(text),
                    };
                    let queued = match self.limiter.check(Instant::now()) {
                        Verdict::Allow => match text {
                            Some(text) => self.take(&text).await,
                            None => {
                                let err = Error::BadFrame("Binary frames are not supported: send JSON text".into());
                                self.outbox.push(Outbound::Frame(ServerFrame::error(None, &err).to_text()))
                            }
                        },
                        Verdict::Refuse { retry_after } => {
                            let id = text.as_deref().and_then(RequestId::peek);
                            let err = Error::RateLimited { retry_after_ms: retry_after.as_millis() as u64 };
                            self.outbox.push(Outbound::Frame(ServerFrame::error(id.as_ref(), &err).to_text()))
                        }
                        Verdict::Abuse => {
                            self.outbox.push(Outbound::Close(close::TOO_MANY, "rate limit exceeded"));
                            return "rate limit abuse";
                        }
                    };
                    if !queued {
                        return "slow consumer";
                    }
                }
            }
        }
    }

    /// Answers the frames that had already arrived when shutdown began: what comes
    /// without a 100 ms pause, for a second at most (a client that keeps sending
    /// would otherwise hold the stop until its timeout, and never see 1001).
    async fn drain(&mut self) {
        const QUIET: Duration = Duration::from_millis(100);
        const AT_MOST: Duration = Duration::from_secs(1);
        let deadline = Instant::now() + AT_MOST;
        while Instant::now() < deadline {
            match timeout(QUIET, self.reader.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    if !self.take(&text).await {
                        return;
                    }
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                _ => break,
            }
        }
        self.finish_changes().await;
    }

    /// Takes one text frame: a change starts (pipelined); anything else is answered
    /// once the changes before it are. False when the connection is being evicted.
    async fn take(&mut self, text: &str) -> bool {
        let started = Instant::now();
        match ClientFrame::parse(text) {
            Ok(ClientFrame::Request(id, request)) if request.is_change() => {
                self.start_change(id, request, started).await
            }
            parsed => self.finish_changes().await && self.respond(parsed, started).await,
        }
    }

    /// Starts a change and adds it to those in flight. It is polled once here, so
    /// that it takes its place in its user's order (the committer's queue, or the
    /// user's turn) before the next frame is read: changes commit in the order sent.
    async fn start_change(&mut self, id: RequestId, request: Request, started: Instant) -> bool {
        // Events wait while the change is in flight, so its ack lands among them in
        // `seq` order.
        if !self.outbox.push(Outbound::Hold) {
            return false;
        }
        let kind = request.kind();
        let state = self.state.clone();
        // A change never alters the connection (only `auth.refresh` does, and it
        // waits for the changes): each works on a copy of it.
        let mut conn = self.conn.clone();
        let mut change: InFlight = Box::pin(async move {
            let mut cx = Context {
                state: &state,
                conn: &mut conn,
                id: &id,
            };
            let result = frames::dispatch(&mut cx, request).await;
            (kind, id, started, result)
        });
        if let Poll::Ready(answer) = poll_fn(|cx| Poll::Ready(change.as_mut().poll(cx))).await {
            change = Box::pin(std::future::ready(answer));
        }
        self.changes.push_back(change);
        true
    }

    /// Waits for the changes in flight and queues their answers, in order. False
    /// when the connection is being evicted.
    async fn finish_changes(&mut self) -> bool {
        while let Some(answer) = self.changes.next().await {
            if !self.reply(answer) {
                return false;
            }
        }
        true
    }

    /// Answers a frame that is not a change: dispatches it and queues its reply.
    /// False when the connection is being evicted.
    async fn respond(&mut self, parsed: Result<ClientFrame, Rejected>, started: Instant) -> bool {
        let (id, request) = match parsed {
            Ok(ClientFrame::Request(id, request)) => (id, request),
            Ok(ClientFrame::Ping(id)) => {
                log_frame("ping", id.as_ref(), None, started);
                let frame = ServerFrame::Pong { id: id.as_ref() }.to_text();
                return self.outbox.push(Outbound::Reply { seq: None, frame });
            }
            Ok(ClientFrame::Auth { id, .. }) => {
                let err = Error::invalid(
                    "type",
                    "Already authenticated: use auth.refresh to replace the token",
                );
                log_frame("auth", id.as_ref(), Some(err.code()), started);
                return self.reply_error(id.as_ref(), &err);
            }
            Err(Rejected { id, error }) => {
                tracing::info!(
                    id = id.as_ref().map(RequestId::as_str),
                    outcome = %error.code(),
                    "bad frame"
                );
                return self.reply_error(id.as_ref(), &error);
            }
        };
        let kind = request.kind();
        if request.orders_events() {
            self.outbox.push(Outbound::Hold);
        }
        let mut cx = Context {
            state: &self.state,
            conn: &mut self.conn,
            id: &id,
        };
        // Boxed: the request path (service, store, sqlx) is a deep future. Inline, every
        // idle connection's task would be as large as the largest request in flight.
        let result = Box::pin(frames::dispatch(&mut cx, request)).await;
        self.reply((kind, id, started, result))
    }

    /// Queues a handled request's reply. False when the connection is being evicted.
    fn reply(&self, (kind, id, started, result): Answer) -> bool {
        match result {
            Ok(Reply::Ack { data, seq }) => {
                log_frame(kind, Some(&id), None, started);
                let ack = ServerFrame::Ack {
                    id: &id,
                    data: &data,
                    seq,
                };
                self.outbox.push(Outbound::Reply {
                    seq,
                    frame: ack.to_text(),
                })
            }
            Ok(Reply::Replay {
                after,
                latest,
                events,
            }) => {
                log_frame(kind, Some(&id), None, started);
                self.outbox.push(Outbound::Resume(Box::new(Replay {
                    id,
                    after,
                    latest,
                    events,
                })))
            }
            Err(err) => {
                if let Error::Internal(cause) = &err {
                    tracing::error!(error = ?cause, "internal error");
                }
                log_frame(kind, Some(&id), Some(err.code()), started);
                self.reply_error(Some(&id), &err)
            }
        }
    }

    fn reply_error(&self, id: Option<&RequestId>, err: &Error) -> bool {
        metrics::counter!("taskwire_errors_total", "code" => err.code().as_str(), "transport" => "ws")
            .increment(1);
        let frame = ServerFrame::error(id, err).to_text();
        self.outbox.push(Outbound::Reply { seq: None, frame })
    }
}

/// The frame's log line and metrics: frames by type and outcome, and how long the
/// answer took. The line is at `debug`: at tens of thousands of frames a second a
/// line each would cost more than the frames, and fill an operator's disk; the
/// metrics count every one.
fn log_frame(
    kind: &'static str,
    id: Option<&RequestId>,
    error: Option<ErrorCode>,
    started: Instant,
) {
    let took = started.elapsed();
    let outcome = error.map_or("ok", ErrorCode::as_str);
    tracing::debug!(
        r#type = kind,
        id = id.map(RequestId::as_str),
        outcome,
        duration_us = took.as_micros() as u64,
        "frame"
    );
    metrics::counter!("taskwire_frames_total", "type" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!("taskwire_request_seconds", "type" => kind).record(took.as_secs_f64());
}
