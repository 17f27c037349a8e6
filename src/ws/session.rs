//! One WebSocket connection: authentication, then a reader loop (this task) and a
//! writer task joined by a bounded queue.
//!
//! The reader answers frames one at a time, in order. The writer owns the socket's
//! sending half; the hub pushes events into the same queue, and a connection whose
//! queue overflows is closed with 1008 instead of growing the server's memory.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use tokio::{
    sync::mpsc,
    time::{Instant, sleep, sleep_until, timeout},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use super::frames::{self, Connection};
use crate::{
    auth::Identity,
    error::Error,
    http::AppState,
    hub::{Outbound, Peer, Registration},
    protocol::{Request, ServerFrame},
    service::JoinError,
};

/// Close codes of the protocol (design §6).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const AUTH_FAILED: u16 = 4401;
    pub const AUTH_TIMEOUT: u16 = 4408;
    pub const TOO_MANY: u16 = 4429;
}

/// Tells every session to finish and close with 1001, and waits for them.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    sessions: TaskTracker,
}

impl Shutdown {
    pub fn begin(&self) {
        self.token.cancel();
    }

    /// Resolves once `begin` was called.
    pub async fn begun(&self) {
        self.token.cancelled().await
    }

    /// Resolves once every session has closed.
    pub async fn sessions_closed(&self) {
        self.sessions.close();
        self.sessions.wait().await
    }
}

/// How long a closing writer may take to send its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub async fn run(socket: WebSocket, state: AppState, identity: Option<Identity>) {
    let _alive = state.shutdown.sessions.token();
    let (sink, mut stream) = socket.split();
    let (outbox, inbox) = mpsc::channel(state.settings.ws.outbound_queue);
    let evict = CancellationToken::new();
    let writer = tokio::spawn(write_loop(
        sink,
        inbox,
        evict.clone(),
        state.settings.ws.outbound_queue,
    ));

    let identity = match identity {
        Some(identity) => Some(identity),
        None => authenticate(&state, &mut stream, &outbox, &evict).await,
    };
    if let Some(identity) = identity {
        let id = rand::random::<u64>() >> 11; // fits a JSON number exactly
        let span = tracing::info_span!("ws", user = %identity.user_id, connection = id);
        let mut conn = Connection::new(identity, id);
        async {
            let Some(_registration) = join(&state, &conn, &outbox, &evict).await else {
                return;
            };
            tracing::info!("connected");
            let reason = serve(&state, &mut conn, &mut stream, &outbox, &evict).await;
            tracing::info!(reason, "disconnected");
        }
        .instrument(span)
        .await;
    }
    drop(outbox);
    let _ = timeout(CLOSE_GRACE + Duration::from_secs(1), writer).await;
}

/// Joins the hub, which queues `ready`. While the database cannot say the user's
/// latest `seq`, the socket stays open: the client is told `unavailable` once and
/// `ready` follows when the database answers.
async fn join(
    state: &AppState,
    conn: &Connection,
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
) -> Option<Registration> {
    let peer = Peer {
        id: conn.id(),
        outbox: outbox.clone(),
        evict: evict.clone(),
    };
    let mut retry = Duration::from_millis(500);
    let mut told = false;
    loop {
        // Boxed, like request handling: the database path is a deep future that an
        // idle connection should not carry around.
        let joined = state.service.join(conn.user(), peer.clone(), |seq| {
            conn.ready_frame(state, seq)
        });
        match Box::pin(joined).await {
            Ok(registration) => return Some(registration),
            Err(JoinError::AtCapacity) => {
                queue(
                    outbox,
                    evict,
                    [Outbound::Close(
                        close::TOO_MANY,
                        "too many connections for this user",
                    )],
                );
                return None;
            }
            Err(JoinError::Failed(err)) => {
                if !told {
                    told = true;
                    queue(
                        outbox,
                        evict,
                        [Outbound::Frame(ServerFrame::error(None, &err).to_text())],
                    );
                }
            }
        }
        tokio::select! {
            _ = sleep(retry) => retry = (retry * 2).min(Duration::from_secs(5)),
            _ = state.shutdown.token.cancelled() => {
                queue(outbox, evict, [Outbound::Close(close::GOING_AWAY, "server shutting down")]);
                return None;
            }
            _ = evict.cancelled() => return None,
        }
    }
}

/// Waits for the first frame of a socket opened without a token: it must be `auth`.
/// Anything else, or a token that fails, is answered with an error and close 4401.
async fn authenticate(
    state: &AppState,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
) -> Option<Identity> {
    const AUTH_FIRST: &str = "Authenticate first: send {\"type\": \"auth\", \"token\": \"<jwt>\"}";
    let refuse = |id: Option<String>, err: Error| {
        let error = Outbound::Frame(ServerFrame::error(id, &err).to_text());
        queue(
            outbox,
            evict,
            [
                error,
                Outbound::Close(close::AUTH_FAILED, "authentication failed"),
            ],
        );
        None
    };
    let deadline = Instant::now() + state.settings.ws.auth_timeout;
    loop {
        let message = tokio::select! {
            _ = sleep_until(deadline) => {
                queue(outbox, evict, [Outbound::Close(close::AUTH_TIMEOUT, "no auth frame in time")]);
                return None;
            }
            _ = state.shutdown.token.cancelled() => {
                queue(outbox, evict, [Outbound::Close(close::GOING_AWAY, "server shutting down")]);
                return None;
            }
            message = stream.next() => message,
        };
        let text = match message? {
            Ok(Message::Text(text)) => text,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => return None,
            Ok(Message::Binary(_)) => return refuse(None, Error::unauthorized(AUTH_FIRST)),
            Err(err) => {
                read_failed(err, outbox, evict);
                return None;
            }
        };
        let (id, token) = match frames::parse(&text) {
            Ok((id, Request::Auth(fields))) => (id, fields.token),
            Ok((id, _)) | Err((id, _)) => return refuse(id, Error::unauthorized(AUTH_FIRST)),
        };
        let identity = match state.auth.verify(&token) {
            Ok(identity) => identity,
            Err(err) => return refuse(id, err),
        };
        // The per-user cap is enforced when the connection joins the hub (4429).
        return Some(identity);
    }
}

/// Queues frames for the writer. A client whose queue is full does not read, so it
/// is evicted (closed with 1008) instead of waited for; false then.
fn queue(
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
    items: impl IntoIterator<Item = Outbound>,
) -> bool {
    for item in items {
        if outbox.try_send(item).is_err() {
            evict.cancel();
            return false;
        }
    }
    true
}

/// The reader loop of an authenticated connection; returns why it ended.
async fn serve(
    state: &AppState,
    conn: &mut Connection,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
) -> &'static str {
    let settings = &state.settings.ws;
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + settings.heartbeat, settings.heartbeat);
    let mut last_heard = Instant::now();
    let mut limiter = RateLimiter::new(settings.rate_per_sec, settings.rate_burst);
    loop {
        let expiry = conn.expiry();
        tokio::select! {
            biased;
            _ = evict.cancelled() => return "slow consumer",
            _ = state.shutdown.token.cancelled() => {
                drain(state, conn, stream, outbox, evict).await;
                queue(outbox, evict, [Outbound::Close(close::GOING_AWAY, "server shutting down")]);
                return "shutdown";
            }
            _ = sleep_until(expiry) => {
                let frame = ServerFrame::error(None, &Error::TokenExpired).to_text();
                queue(outbox, evict, [Outbound::Frame(frame), Outbound::Close(close::AUTH_FAILED, "token expired")]);
                return "token expired";
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > settings.heartbeat * 2 {
                    return "silent peer";
                }
                queue(outbox, evict, [Outbound::Ping]);
            }
            message = stream.next() => {
                last_heard = Instant::now();
                let text = match message {
                    None | Some(Ok(Message::Close(_))) => return "closed by client",
                    Some(Err(err)) => {
                        read_failed(err, outbox, evict);
                        return "read error";
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => None,
                    Some(Ok(Message::Text(text))) => Some(text),
                };
                if let Err(retry_after_ms) = limiter.take() {
                    if limiter.strikes >= settings.rate_burst.saturating_mul(2) {
                        queue(outbox, evict, [Outbound::Close(close::TOO_MANY, "rate limit exceeded")]);
                        return "rate limit abuse";
                    }
                    let id = text.as_deref().and_then(frames::peek_id);
                    let frame = ServerFrame::error(id, &Error::RateLimited { retry_after_ms });
                    if !queue(outbox, evict, [Outbound::Frame(frame.to_text())]) {
                        return "slow consumer";
                    }
                    continue;
                }
                let answered = match text {
                    Some(text) => answer(state, conn, &text, outbox, evict).await,
                    None => {
                        let err = Error::BadFrame("Binary frames are not supported: send JSON text".into());
                        queue(outbox, evict, [Outbound::Frame(ServerFrame::error(None, &err).to_text())])
                    }
                };
                if !answered {
                    return "slow consumer";
                }
            }
        }
    }
}

/// Answers the frames that already arrived when shutdown began.
async fn drain(
    state: &AppState,
    conn: &mut Connection,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
) {
    const QUIET: Duration = Duration::from_millis(100);
    while let Ok(Some(Ok(Message::Text(text)))) = timeout(QUIET, stream.next()).await {
        if !answer(state, conn, &text, outbox, evict).await {
            return;
        }
    }
}

/// Handles one request and queues its answer. Events are held back while the
/// request's change is in flight, so its ack takes its place in `seq` order.
async fn answer(
    state: &AppState,
    conn: &mut Connection,
    text: &str,
    outbox: &mpsc::Sender<Outbound>,
    evict: &CancellationToken,
) -> bool {
    let hold = || {
        queue(outbox, evict, [Outbound::Hold]);
    };
    let (frame, seq) = frames::handle(state, conn, text, hold).await;
    queue(outbox, evict, [Outbound::Answer { seq, frame }])
}

/// A read error: a frame over the size limit closes with 1009; anything else has
/// already broken the connection.
fn read_failed(err: axum::Error, outbox: &mpsc::Sender<Outbound>, evict: &CancellationToken) {
    let too_big = err
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_big {
        queue(
            outbox,
            evict,
            [Outbound::Close(close::TOO_BIG, "frame too large")],
        );
    }
}

/// Sends queued frames in order until the queue closes or the peer proves too slow.
async fn write_loop(
    sink: SplitSink<WebSocket, Message>,
    mut inbox: mpsc::Receiver<Outbound>,
    evict: CancellationToken,
    max_held: usize,
) {
    let mut writer = Writer {
        sink,
        last_event_seq: 0,
        held: None,
    };
    let closing = loop {
        let item = tokio::select! {
            biased;
            _ = evict.cancelled() => break Some(SLOW),
            item = inbox.recv() => item,
        };
        let sent = match item {
            None => break None,
            Some(Outbound::Close(code, reason)) => break Some((code, reason)),
            Some(Outbound::Hold) => {
                writer.held = Some(Vec::new());
                Ok(())
            }
            Some(Outbound::Event { seq, frame }) => match &mut writer.held {
                Some(held) if held.len() >= max_held => break Some(SLOW),
                Some(held) => {
                    held.push((seq, frame));
                    Ok(())
                }
                None => writer.event(seq, frame, &evict).await,
            },
            Some(Outbound::Answer { seq, frame }) => writer.answer(seq, frame, &evict).await,
            Some(Outbound::Frame(frame)) => writer.send(Message::Text(frame), &evict).await,
            Some(Outbound::Ping) => writer.send(Message::Ping(Default::default()), &evict).await,
        };
        match sent {
            Ok(()) => {}
            Err(Stop::Evicted) => break Some(SLOW),
            // The socket is gone: end the session too.
            Err(Stop::Broken) => {
                evict.cancel();
                return;
            }
        }
    };
    let mut sink = writer.sink;
    let finish = async {
        if let Some((code, reason)) = closing {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    };
    let _ = timeout(CLOSE_GRACE, finish).await;
}

const SLOW: (u16, &str) = (close::POLICY, "slow consumer: outbound queue overflowed");

enum Stop {
    /// The connection was evicted while a frame was being sent.
    Evicted,
    /// The socket failed.
    Broken,
}

/// The sending half of a socket, and what it has sent.
struct Writer {
    sink: SplitSink<WebSocket, Message>,
    /// Events go out in increasing `seq`, never one twice.
    last_event_seq: i64,
    /// Events held back while a change of this connection is in flight.
    held: Option<Vec<(i64, Utf8Bytes)>>,
}

impl Writer {
    async fn send(&mut self, message: Message, evict: &CancellationToken) -> Result<(), Stop> {
        tokio::select! {
            biased;
            _ = evict.cancelled() => Err(Stop::Evicted),
            sent = self.sink.send(message) => sent.map_err(|_| Stop::Broken),
        }
    }

    async fn event(
        &mut self,
        seq: i64,
        frame: Utf8Bytes,
        evict: &CancellationToken,
    ) -> Result<(), Stop> {
        if seq <= self.last_event_seq {
            return Ok(());
        }
        self.last_event_seq = seq;
        self.send(Message::Text(frame), evict).await
    }

    /// Sends an answer; after a hold, the held events with a lower `seq` go first
    /// and the rest after it.
    async fn answer(
        &mut self,
        seq: Option<i64>,
        frame: Utf8Bytes,
        evict: &CancellationToken,
    ) -> Result<(), Stop> {
        let mut held = self.held.take().unwrap_or_default();
        held.sort_unstable_by_key(|(seq, _)| *seq);
        let split = seq.map_or(0, |s| held.partition_point(|(e, _)| *e < s));
        let later = held.split_off(split);
        for (event_seq, event) in held {
            self.event(event_seq, event, evict).await?;
        }
        self.send(Message::Text(frame), evict).await?;
        if let Some(seq) = seq {
            self.last_event_seq = self.last_event_seq.max(seq);
        }
        for (event_seq, event) in later {
            self.event(event_seq, event, evict).await?;
        }
        Ok(())
    }
}

/// A token bucket per connection: `burst` requests at once, `rate` per second after.
struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    /// Refusals not yet paid back by accepted requests; twice the burst of them
    /// closes the socket (4429).
    strikes: u32,
}

impl RateLimiter {
    fn new(rate: u32, burst: u32) -> Self {
        RateLimiter {
            rate: rate as f64,
            burst: burst as f64,
            tokens: burst as f64,
            refilled: Instant::now(),
            strikes: 0,
        }
    }

    /// Takes a token, or says how many milliseconds until one is there.
    fn take(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            // A frame let through pays back one refusal: a client that slows down
            // recovers, one that keeps sending far over the rate keeps accruing.
            self.strikes = self.strikes.saturating_sub(1);
            Ok(())
        } else {
            self.strikes += 1;
            Err((((1.0 - self.tokens) / self.rate) * 1000.0).ceil() as u64)
        }
    }
}
