//! `taskwire bench`: a load generator that speaks only the WebSocket protocol, so it
//! can be pointed at any server that does (this one, or another implementation).
//!
//! It opens `--connections` sockets spread over `--users` users (a token minted per
//! user with `--secret`), sends `message.append` or `task.create` frames, and prints
//! one JSON object: what was sent, acked and refused, the throughput, and the ack
//! latency from an HDR histogram. `--fanout` adds one listening socket per user and
//! measures how long an event takes from its request to another tab. `--idle` opens
//! and holds connections instead, to measure what an idle connection costs.

use std::{
    collections::{BTreeMap, HashMap},
    io::IsTerminal,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::{net::TcpSocket, time::Instant};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::{
    auth::Authenticator,
    config::{AuthSettings, Secret},
    domain::UserId,
};

/// Capacity runs need the server's rate limit raised (`WS_RATE_PER_SEC`,
/// `WS_RATE_BURST`, e.g. 1000000) and at most `MAX_CONNECTIONS_PER_USER` (32 by
/// default) connections per user: use `--users` accordingly.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    pub url: String,
    /// The server's BETTER_AUTH_SECRET: one token is minted per user.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Sockets that send requests.
    #[arg(long, default_value_t = 10)]
    pub connections: usize,
    /// Users the sockets are spread over (`bench-user-0`, …).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// How long to send before measuring.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// The request to send: message.append or task.create.
    #[arg(long, default_value = "message.append", value_parser = ["message.append", "task.create"])]
    pub frame: String,
    /// Closed loop: requests in flight per connection.
    #[arg(long, default_value_t = 1, conflicts_with = "rate")]
    pub window: usize,
    /// Open loop: requests per second over all connections, on a fixed schedule;
    /// latency counts from the scheduled time, so a stall is not hidden.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Also open one listening socket per user and measure the delay from a request
    /// to its event on that other tab.
    #[arg(long)]
    pub fanout: bool,
    /// Instead of load: open and hold this many authenticated connections (spread
    /// over loopback source addresses 127.0.0.x when the server is on loopback, so
    /// that more than 28,000 fit) and report how many were established.
    #[arg(long)]
    pub idle: Option<usize>,
    /// How long `--idle` holds its connections.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// What one connection measured.
struct Tally {
    sent: u64,
    acked: u64,
    errors: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            sent: 0,
            acked: 0,
            errors: BTreeMap::new(),
            latency_us: histogram(),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.acked += other.acked;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms with the same bounds");
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, three significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Latency percentiles in milliseconds.
fn percentiles(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "count": h.len(),
    })
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What the whole run shares: the live counters for the progress line.
#[derive(Default)]
struct Live {
    acked: AtomicU64,
    errors: AtomicU64,
    latency_us: Mutex<Option<Histogram<u64>>>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(args.users > 0, "--users must be at least 1");
    anyhow::ensure!(args.window > 0, "--window must be at least 1");
    let mut auth = AuthSettings::from_lookup(|_| None);
    auth.secret = Secret::new(args.secret.trim());
    let auth = Authenticator::new(&auth);
    let tokens: Vec<String> = (0..args.users)
        .map(|i| {
            let user = UserId::parse(&format!("bench-user-{i}")).expect("a valid user id");
            auth.mint(
                &user,
                args.warmup + args.duration + args.hold + Duration::from_secs(3600),
            )
        })
        .collect();
    match args.idle {
        Some(count) => hold_idle(&args, &tokens, count).await,
        None => load(&args, &tokens).await,
    }
}

async fn connect(url: &str, token: &str, source: Option<IpAddr>) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let socket = match source {
        None => tokio_tungstenite::connect_async(request).await?.0,
        Some(source) => {
            let uri = request.uri();
            let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
            let port = uri.port_u16().unwrap_or(80);
            let addr = SocketAddr::new(host.parse()?, port);
            let tcp = TcpSocket::new_v4()?;
            tcp.bind(SocketAddr::new(source, 0))?;
            let stream = tcp.connect(addr).await?;
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
                .await?
                .0
        }
    };
    let mut socket = socket;
    // The first frame is `ready`; anything else says why not.
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text)?;
                anyhow::ensure!(frame["type"] == "ready", "not ready: {frame}");
                return Ok(socket);
            }
            Some(Ok(Message::Close(close))) => anyhow::bail!("closed: {close:?}"),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err.into()),
            None => anyhow::bail!("closed before ready"),
        }
    }
}

/// The request `id` is the connection's prefix and the request's number (ids are
/// idempotency keys: two requests must never share one); the content carries its
/// send time, for the tab that receives it as an event.
fn request(kind: &str, prefix: &str, n: u64) -> Message {
    let stamp = format!("bench {}", unix_micros());
    let id = format!("{prefix}{n}");
    let frame = match kind {
        "task.create" => json!({"type": kind, "id": id, "title": stamp}),
        _ => json!({"type": kind, "id": id, "content": stamp}),
    };
    Message::Text(frame.to_string().into())
}

async fn load(args: &BenchArgs, tokens: &[String]) -> anyhow::Result<Value> {
    let mut sockets = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        sockets.push(connect(&args.url, &tokens[i % tokens.len()], None).await?);
    }
    let mut listeners = Vec::new();
    if args.fanout {
        for token in tokens.iter().take(args.connections.min(tokens.len())) {
            listeners.push(connect(&args.url, token, None).await?);
        }
    }
    let started = Instant::now();
    let measure_from = started + args.warmup;
    let stop_at = measure_from + args.duration;
    let live = Arc::new(Live::default());
    if std::io::stderr().is_terminal() {
        *live.latency_us.lock().unwrap() = Some(histogram());
        tokio::spawn(progress(live.clone(), measure_from, stop_at));
    }
    let per_connection_rate = args.rate.map(|r| r / args.connections as f64);
    // This run's ids differ from any earlier run's against the same server.
    let run = format!("{:x}", unix_micros());
    let plan = Arc::new(Plan {
        kind: args.frame.clone(),
        window: args.window,
        rate: per_connection_rate,
        measure_from,
        stop_at,
    });
    let workers: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let prefix = format!("{run}-{i}-");
            tokio::spawn(drive(socket, prefix, plan.clone(), live.clone()))
        })
        .collect();
    let listening: Vec<_> = listeners
        .into_iter()
        .map(|socket| tokio::spawn(listen(socket, measure_from, stop_at)))
        .collect();
    let mut total = Tally::new();
    for worker in workers {
        total.merge(worker.await?);
    }
    let mut fanout = histogram();
    for listener in listening {
        fanout.add(&listener.await?).expect("same bounds");
    }
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let seconds = args.duration.as_secs_f64();
    let mut report = json!({
        "url": args.url,
        "frame": args.frame,
        "connections": args.connections,
        "users": args.users,
        "mode": match args.rate {
            Some(rate) => json!({"open_loop_rate_per_s": rate}),
            None => json!({"closed_loop_window": args.window}),
        },
        "duration_s": seconds,
        "sent": total.sent,
        "acked": total.acked,
        "errors": total.errors,
        "throughput_per_s": (total.acked as f64 / seconds).round(),
        "latency_ms": percentiles(&total.latency_us),
    });
    if args.fanout {
        report["fanout_latency_ms"] = percentiles(&fanout);
    }
    Ok(report)
}

/// What every sending connection does.
struct Plan {
    kind: String,
    /// Closed loop: requests in flight.
    window: usize,
    /// Open loop: requests per second on this connection.
    rate: Option<f64>,
    measure_from: Instant,
    stop_at: Instant,
}

/// One sending connection: keeps `window` requests in flight (closed loop), or sends
/// on a fixed schedule (open loop), until `stop_at`; counts what is answered. Its
/// request ids start with `prefix`.
async fn drive(mut socket: Socket, prefix: String, plan: Arc<Plan>, live: Arc<Live>) -> Tally {
    let Plan {
        ref kind,
        window,
        rate,
        measure_from,
        stop_at,
    } = *plan;
    let mut tally = Tally::new();
    // Request number → when it was sent (or scheduled), and whether it is measured.
    let mut in_flight: HashMap<u64, (Instant, bool)> = HashMap::new();
    let mut next = 0u64;
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let mut scheduled = Instant::now();
    let drain_until = stop_at + Duration::from_secs(5);
    loop {
        let now = Instant::now();
        let sending = now < stop_at;
        // Send what is due.
        match interval {
            None if sending => {
                while in_flight.len() < window {
                    if socket.send(request(kind, &prefix, next)).await.is_err() {
                        return tally;
                    }
                    in_flight.insert(next, (Instant::now(), now >= measure_from));
                    next += 1;
                }
            }
            Some(every) if sending => {
                while scheduled <= now {
                    if socket.send(request(kind, &prefix, next)).await.is_err() {
                        return tally;
                    }
                    in_flight.insert(next, (scheduled, scheduled >= measure_from));
                    next += 1;
                    scheduled += every;
                }
            }
            _ if in_flight.is_empty() || now >= drain_until => break,
            _ => {}
        }
        let wake = match interval {
            Some(_) if sending => scheduled,
            _ if sending => stop_at,
            _ => drain_until,
        };
        let message = tokio::select! {
            message = socket.next() => message,
            _ = tokio::time::sleep_until(wake) => continue,
        };
        let Some(Ok(Message::Text(text))) = message else {
            match message {
                Some(Ok(_)) => continue,
                _ => break,
            }
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let number = frame["id"]
            .as_str()
            .and_then(|id| id.strip_prefix(prefix.as_str()));
        let Some(n) = number.and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let Some((since, measured)) = in_flight.remove(&n) else {
            continue;
        };
        if !measured {
            continue;
        }
        tally.sent += 1;
        if frame["type"] == "ack" {
            tally.acked += 1;
            let us = since.elapsed().as_micros().max(1) as u64;
            let _ = tally.latency_us.record(us);
            live.acked.fetch_add(1, Ordering::Relaxed);
            if let Some(h) = live.latency_us.lock().unwrap().as_mut() {
                let _ = h.record(us);
            }
        } else {
            let code = frame["code"].as_str().unwrap_or("unknown").to_owned();
            *tally.errors.entry(code).or_default() += 1;
            live.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Measured requests never answered count as sent.
    tally.sent += in_flight.values().filter(|(_, measured)| *measured).count() as u64;
    let _ = socket.close(None).await;
    tally
}

/// A listening tab: the delay from each request's send time (in its content) to its
/// event here.
async fn listen(mut socket: Socket, measure_from: Instant, stop_at: Instant) -> Histogram<u64> {
    let mut latency = histogram();
    let until = stop_at + Duration::from_secs(2);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, socket.next()).await {
        let Message::Text(text) = message else {
            continue;
        };
        let now = unix_micros();
        if Instant::now() < measure_from {
            continue;
        }
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let data = &frame["data"];
        let stamp = data["message"]["content"]
            .as_str()
            .or_else(|| data["title"].as_str())
            .and_then(|s| s.strip_prefix("bench "))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(sent) = stamp {
            let _ = latency.record(now.saturating_sub(sent).max(1));
        }
    }
    latency
}

/// A one-line progress report on stderr, once a second.
async fn progress(live: Arc<Live>, measure_from: Instant, stop_at: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last = 0;
    while Instant::now() < stop_at {
        tick.tick().await;
        let acked = live.acked.load(Ordering::Relaxed);
        let p99 = live
            .latency_us
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0.0, |h| h.value_at_quantile(0.99) as f64 / 1000.0);
        let phase = if Instant::now() < measure_from {
            "warm-up"
        } else {
            "measuring"
        };
        eprint!(
            "\r{phase}: {} acked/s, {} errors, p99 {p99:.2} ms so far   ",
            acked - last,
            live.errors.load(Ordering::Relaxed)
        );
        last = acked;
    }
}

/// `--idle`: opens `count` authenticated connections (a few hundred at a time) and
/// holds them for `--hold`, answering the server's pings.
async fn hold_idle(args: &BenchArgs, tokens: &[String], count: usize) -> anyhow::Result<Value> {
    let loopback = args
        .url
        .as_str()
        .into_client_request()?
        .uri()
        .host()
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost");
    let established = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let opened = Instant::now();
    let mut held = Vec::with_capacity(count);
    let limit = Arc::new(tokio::sync::Semaphore::new(256));
    let mut connecting = Vec::with_capacity(count);
    for i in 0..count {
        // About 20,000 connections per loopback source address: each has ~28,000
        // ephemeral ports to the server's one.
        let source = loopback.then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i / 20_000) as u8)));
        let (url, token) = (args.url.clone(), tokens[i % tokens.len()].clone());
        let (limit, established, failures) = (limit.clone(), established.clone(), failures.clone());
        connecting.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.ok()?;
            match connect(&url, &token, source).await {
                Ok(socket) => {
                    established.fetch_add(1, Ordering::Relaxed);
                    Some(socket)
                }
                Err(err) => {
                    let reason = err.to_string();
                    let reason = reason.split(':').next().unwrap_or("error").to_owned();
                    *failures.lock().unwrap().entry(reason).or_default() += 1;
                    None
                }
            }
        }));
    }
    for task in connecting {
        if let Some(socket) = task.await? {
            held.push(tokio::spawn(keep_alive(socket, args.hold)));
        }
    }
    let open_s = opened.elapsed().as_secs_f64();
    let still_open = {
        let mut open = 0u64;
        for socket in held {
            if socket.await? {
                open += 1;
            }
        }
        open
    };
    let failures = failures.lock().unwrap().clone();
    Ok(json!({
        "url": args.url,
        "idle": count,
        "users": args.users,
        "established": established.load(Ordering::Relaxed),
        "still_open_after_hold": still_open,
        "failed": failures,
        "open_s": (open_s * 100.0).round() / 100.0,
        "hold_s": args.hold.as_secs_f64(),
    }))
}

/// Holds a socket for `hold`, reading (so the server's pings are answered); true if
/// it stayed open all along.
async fn keep_alive(mut socket: Socket, hold: Duration) -> bool {
    let until = Instant::now() + hold;
    loop {
        match tokio::time::timeout_at(until, socket.next()).await {
            Err(_) => {
                let _ = socket.close(None).await;
                return true;
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return false,
            Ok(Some(Ok(_))) => {}
        }
    }
}
