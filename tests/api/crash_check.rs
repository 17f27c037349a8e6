//! The crash check ("nothing lost, nothing written twice"): the `taskwire` binary
//! takes a stream of `message.append` frames over many connections, several users
//! with several connections each and several frames in flight on each, and is killed
//! with SIGKILL once about half of them are acknowledged. Restarted on the same
//! database, every acknowledged message is stored exactly once; every unanswered
//! frame, resent with its `id`, is then stored exactly once; an acknowledged frame
//! resent gets its first ack back (same `seq`, same `data`).
//!
//! `scripts/crash-check.sh` runs it with bigger figures, read from the environment:
//! `CRASH_CHECK_FRAMES` (default 3000), `CRASH_CHECK_CONNECTIONS` (20, four per
//! user) and `CRASH_CHECK_IN_FLIGHT` (4 per connection).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::{
    Connection, FromRow, PgConnection, SqliteConnection, postgres::PgRow, sqlite::SqliteRow,
};
use tokio::{net::TcpStream, sync::Notify};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

use crate::helpers::{
    db::{Backend, TestDb},
    jwt,
    process::{Process, Sandbox, TIMEOUT},
};
use crate::on_both_backends;

on_both_backends!(acknowledged_messages_survive_a_kill_exactly_once);

/// Connections per user: several, and well under `MAX_CONNECTIONS_PER_USER` (32).
const CONNECTIONS_PER_USER: usize = 4;

/// How long a connection waits for the server's next frame before the check fails.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

async fn acknowledged_messages_survive_a_kill_exactly_once(backend: Backend) {
    let started = Instant::now();
    let figures = Figures::from_env();
    let db = TestDb::new(&backend).await;
    let database_url = server_database_url(&db);

    // The first run: a conversation per user, then the stream, killed halfway.
    let server = Server::start(&database_url).await;
    let mut sockets = server.connect_all(&figures).await;
    let plan = Plan::new(&figures, &mut sockets).await;
    let progress = Arc::new(Progress::new(figures.frames.div_ceil(2)));
    let lanes = plan.spawn(sockets, 0..figures.frames, &progress);
    progress.wait().await;
    server.kill();
    let before = Outcome::collect(&plan, lanes).await;
    let acked = before.acks.len();

    // Restarted on the same database, before any resend: every acknowledged message
    // is there, once, under the id its ack gave.
    let server = Server::start(&database_url).await;
    let stored = stored_messages(&db).await;
    let mut lost: BTreeSet<usize> = before
        .acks
        .iter()
        .filter(|&(frame, ack)| stored_id(&stored, &plan.frames[*frame]) != Some(message_id(ack)))
        .map(|(frame, _)| *frame)
        .collect();
    let mut duplicated = duplicates(&stored);

    // The client resends every frame that got no ack, with its id: each is written
    // once, and one that committed before the kill gets the message stored then.
    let resent = before.unanswered();
    let committed = resent
        .iter()
        .filter(|&&frame| stored_id(&stored, &plan.frames[frame]).is_some())
        .count();
    let retried = plan.run(&server, &figures, resent.iter().copied()).await;
    retried.assert_all_acked(&plan);
    for &frame in &resent {
        if let Some(id) = stored_id(&stored, &plan.frames[frame]) {
            assert_eq!(
                message_id(&retried.acks[&frame]),
                id,
                "{} committed before the kill; its resend wrote another message",
                plan.frames[frame].id
            );
        }
    }

    // Acknowledged frames resent get their first ack back: same seq, same data.
    let repeated = plan
        .run(&server, &figures, before.acks.keys().copied())
        .await;
    repeated.assert_all_acked(&plan);
    let changed: Vec<&str> = before
        .acks
        .iter()
        .filter(|&(frame, ack)| repeated.acks[frame] != *ack)
        .map(|(frame, _)| plan.frames[*frame].id.as_str())
        .collect();

    // In the end every frame sent is stored exactly once, and nothing else.
    let stored = stored_messages(&db).await;
    let sent: Vec<usize> = before.acks.keys().chain(&resent).copied().collect();
    lost.extend(
        sent.iter()
            .filter(|&&frame| stored_id(&stored, &plan.frames[frame]).is_none()),
    );
    duplicated.extend(duplicates(&stored));

    println!(
        "crash check on {backend}: {frames} frames over {connections} connections ({users} \
         users), {in_flight} in flight per connection\n  \
         before the kill: {sent} sent, {acked} acked, {unanswered} unanswered \
         ({committed} of them committed), {refused} refused (unavailable)\n  \
         after the restart: {resent} resent with their id, {acked} acked ones resent \
         ({changed} answered differently)\n  \
         lost: {lost}, duplicated: {duplicated} ({elapsed:.1?})",
        backend = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres { .. } => "PostgreSQL",
        },
        frames = figures.frames,
        connections = figures.connections,
        users = figures.users(),
        in_flight = figures.in_flight,
        sent = before.sent,
        unanswered = before.unanswered.len(),
        refused = before.refused.len(),
        resent = resent.len(),
        changed = changed.len(),
        lost = lost.len(),
        duplicated = duplicated.len(),
        elapsed = started.elapsed(),
    );
    let ids = |frames: &BTreeSet<usize>| -> Vec<&str> {
        frames.iter().map(|f| plan.frames[*f].id.as_str()).collect()
    };
    assert!(
        lost.is_empty(),
        "acknowledged but not stored (or stored under another id): {:?}",
        ids(&lost)
    );
    assert!(
        duplicated.is_empty(),
        "stored more than once: {duplicated:?}"
    );
    assert!(
        changed.is_empty(),
        "resent, acknowledged frames answered differently: {changed:?}"
    );
    assert!(
        !before.unanswered.is_empty(),
        "the server was killed with no frame in flight: raise CRASH_CHECK_IN_FLIGHT"
    );
    assert_eq!(
        stored.values().map(|m| m.count).sum::<i64>() as usize,
        sent.len() + plan.conversations.len(),
        "the messages stored: every frame sent and each user's first, nothing else"
    );
    // One event per message, each user's seq 1, 2, 3, … with none skipped or taken twice.
    let events = event_logs(&db).await;
    for (user, conversation) in plan.users.iter().zip(&plan.conversations) {
        let messages = 1 + sent
            .iter()
            .filter(|&&frame| plan.frames[frame].conversation == *conversation)
            .count() as i64;
        assert_eq!(
            events.get(user),
            Some(&(messages, messages)),
            "{user}'s (events, latest seq)"
        );
    }
}

/// The id of the message stored with `frame`'s content, if any.
fn stored_id(stored: &HashMap<String, Stored>, frame: &Frame) -> Option<i64> {
    stored.get(&frame.content).map(|m| m.id)
}

/// The contents stored more than once.
fn duplicates(stored: &HashMap<String, Stored>) -> BTreeSet<String> {
    stored
        .values()
        .filter(|m| m.count > 1)
        .map(|m| m.content.clone())
        .collect()
}

/// The size of the check, from the environment.
struct Figures {
    frames: usize,
    connections: usize,
    in_flight: usize,
}

impl Figures {
    fn from_env() -> Self {
        Figures {
            frames: setting("CRASH_CHECK_FRAMES", 3000),
            connections: setting("CRASH_CHECK_CONNECTIONS", 20),
            in_flight: setting("CRASH_CHECK_IN_FLIGHT", 4),
        }
    }

    fn users(&self) -> usize {
        self.connections.div_ceil(CONNECTIONS_PER_USER)
    }

    /// The user of connection `connection`: users take connections in turn.
    fn user_of(&self, connection: usize) -> usize {
        connection % self.users()
    }
}

/// A positive whole number from the environment variable `name`, or `default`.
fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Err(_) => default,
        Ok(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{name} must be a positive whole number, got {raw:?}")),
    }
}

/// The `DATABASE_URL` the binary gets: the test's SQLite file, or its PostgreSQL
/// schema first on the search path.
fn server_database_url(db: &TestDb) -> String {
    match db {
        TestDb::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
        TestDb::Postgres { url, schema } => {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-csearch_path%3D{schema}")
        }
    }
}

/// A `taskwire` process, serving on a port of its own.
struct Server {
    // Declared first: the process is killed before its working directory goes.
    process: Process,
    sandbox: Sandbox,
}

impl Server {
    /// Starts the binary on `database_url` with the rate limit out of the way, and
    /// waits until it answers `/ready` (migrations applied).
    async fn start(database_url: &str) -> Self {
        let sandbox = Sandbox::new();
        let process = sandbox.serve(&[
            ("BETTER_AUTH_SECRET", jwt::SECRET),
            ("DATABASE_URL", database_url),
            ("WS_RATE_PER_SEC", "100000"),
            ("WS_RATE_BURST", "100000"),
            ("RUST_LOG", "warn"),
        ]);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let ready = http.get(sandbox.http_url("/ready")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server was not ready within {TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Server { process, sandbox }
    }

    /// SIGKILL: no graceful stop, nothing flushed that was not already.
    fn kill(self) {
        self.process.kill();
    }

    /// One socket per connection, each past its `ready`.
    async fn connect_all(&self, figures: &Figures) -> Vec<Socket> {
        let mut sockets = Vec::with_capacity(figures.connections);
        for connection in 0..figures.connections {
            sockets.push(self.connect(&user_name(figures.user_of(connection))).await);
        }
        sockets
    }

    async fn connect(&self, user: &str) -> Socket {
        let token = jwt::token_until(user, jwt::now() + 3600);
        let url = format!("ws://127.0.0.1:{}/ws?token={token}", self.sandbox.port);
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("handshake accepted");
        match next_frame(&mut socket).await {
            Some(ready) if ready["type"] == "ready" => socket,
            other => panic!("expected ready, got {other:?}"),
        }
    }
}

fn user_name(user: usize) -> String {
    format!("crash-{user}")
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next text frame as JSON; `None` when the connection is gone.
async fn next_frame(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(ANSWER_WAIT, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no frame from the server within {ANSWER_WAIT:?}"));
        match message {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(&text).expect("server frames are JSON"));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// One `message.append` frame of the stream.
struct Frame {
    connection: usize,
    id: String,
    content: String,
    conversation: i64,
}

impl Frame {
    fn text(&self) -> String {
        json!({
            "type": "message.append",
            "id": self.id,
            "conversation_id": self.conversation,
            "content": self.content,
        })
        .to_string()
    }
}

/// Every frame of the check, and each user's conversation.
struct Plan {
    frames: Arc<Vec<Frame>>,
    users: Vec<String>,
    conversations: Vec<i64>,
    in_flight: usize,
}

impl Plan {
    /// Opens a conversation for each user (its first message, on its first
    /// connection), and deals the frames to the connections in turn.
    async fn new(figures: &Figures, sockets: &mut [Socket]) -> Self {
        let mut conversations = Vec::new();
        // Connection `user` is the user's first (users take connections in turn).
        for (user, socket) in sockets.iter_mut().enumerate().take(figures.users()) {
            let first = json!({
                "type": "message.append",
                "id": "first",
                "content": format!("crash check: {}'s conversation", user_name(user)),
            });
            socket
                .send(Message::Text(first.to_string().into()))
                .await
                .unwrap();
            let ack = next_frame(socket).await.expect("an answer");
            assert_eq!(ack["type"], "ack", "{ack}");
            conversations.push(ack["data"]["conversation"]["id"].as_i64().unwrap());
        }
        let frames = (0..figures.frames)
            .map(|i| {
                let connection = i % figures.connections;
                Frame {
                    connection,
                    id: format!("m{i}"),
                    content: format!("crash check frame {i}"),
                    conversation: conversations[figures.user_of(connection)],
                }
            })
            .collect();
        Plan {
            frames: Arc::new(frames),
            users: (0..figures.users()).map(user_name).collect(),
            conversations,
            in_flight: figures.in_flight,
        }
    }

    /// Sends `frames` over `sockets`, each frame on its own connection, each
    /// connection on a task of its own.
    fn spawn(
        &self,
        sockets: Vec<Socket>,
        frames: impl IntoIterator<Item = usize>,
        progress: &Arc<Progress>,
    ) -> Vec<tokio::task::JoinHandle<Lane>> {
        let mut lanes = vec![Vec::new(); sockets.len()];
        for frame in frames {
            lanes[self.frames[frame].connection].push(frame);
        }
        sockets
            .into_iter()
            .zip(lanes)
            .map(|(socket, frames)| {
                let (all, progress) = (self.frames.clone(), progress.clone());
                tokio::spawn(send_lane(socket, all, frames, self.in_flight, progress))
            })
            .collect()
    }

    /// Sends `frames` to `server` on fresh connections, and collects the answers.
    async fn run(
        &self,
        server: &Server,
        figures: &Figures,
        frames: impl IntoIterator<Item = usize>,
    ) -> Outcome {
        let sockets = server.connect_all(figures).await;
        let lanes = self.spawn(sockets, frames, &Arc::new(Progress::new(usize::MAX)));
        Outcome::collect(self, lanes).await
    }
}

/// Acknowledgements counted across connections; `reached` fires at `target`.
struct Progress {
    acked: AtomicUsize,
    target: usize,
    reached: Notify,
}

impl Progress {
    fn new(target: usize) -> Self {
        Progress {
            acked: AtomicUsize::new(0),
            target,
            reached: Notify::new(),
        }
    }

    /// Waits for `target` acks; fails when none comes for `TIMEOUT` (a bigger check
    /// just takes longer).
    async fn wait(&self) {
        let mut seen = 0;
        while tokio::time::timeout(TIMEOUT, self.reached.notified())
            .await
            .is_err()
        {
            let acked = self.acked.load(Ordering::SeqCst);
            assert!(
                acked > seen,
                "{acked} frames acknowledged, none for {TIMEOUT:?}; waiting for {}",
                self.target
            );
            seen = acked;
        }
    }

    fn ack(&self) {
        if self.acked.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.reached.notify_one();
        }
    }
}

/// What one connection sent and what it got back, until its frames were all
/// answered or the server went away.
struct Lane {
    sent: usize,
    answers: Vec<(usize, Value)>,
    unanswered: Vec<usize>,
}

/// Sends `frames` over `socket` with at most `in_flight` unanswered at a time.
async fn send_lane(
    mut socket: Socket,
    all: Arc<Vec<Frame>>,
    frames: Vec<usize>,
    in_flight: usize,
    progress: Arc<Progress>,
) -> Lane {
    let mut pending: HashMap<String, usize> = HashMap::new();
    let mut lane = Lane {
        sent: 0,
        answers: Vec::new(),
        unanswered: Vec::new(),
    };
    let mut next = frames.iter();
    'stream: loop {
        while pending.len() < in_flight {
            let Some(&frame) = next.next() else { break };
            let text = all[frame].text();
            if socket.send(Message::Text(text.into())).await.is_err() {
                break 'stream;
            }
            lane.sent += 1;
            pending.insert(all[frame].id.clone(), frame);
        }
        if pending.is_empty() {
            break;
        }
        let Some(answer) = next_frame(&mut socket).await else {
            break;
        };
        if answer["type"] == "event" {
            continue;
        }
        let id = answer["id"].as_str().unwrap_or_default();
        let frame = pending
            .remove(id)
            .unwrap_or_else(|| panic!("an answer to no frame in flight: {answer}"));
        if answer["type"] == "ack" {
            progress.ack();
        }
        lane.answers.push((frame, answer));
    }
    lane.unanswered = pending.into_values().collect();
    lane
}

/// The answers of a run, over all connections.
struct Outcome {
    sent: usize,
    acks: HashMap<usize, Value>,
    /// Answered `unavailable`: nothing was written, the client retries.
    refused: Vec<usize>,
    unanswered: Vec<usize>,
}

impl Outcome {
    async fn collect(plan: &Plan, lanes: Vec<tokio::task::JoinHandle<Lane>>) -> Self {
        let mut outcome = Outcome {
            sent: 0,
            acks: HashMap::new(),
            refused: Vec::new(),
            unanswered: Vec::new(),
        };
        for lane in lanes {
            let lane = lane.await.expect("the connection's task ends");
            outcome.sent += lane.sent;
            outcome.unanswered.extend(lane.unanswered);
            for (frame, answer) in lane.answers {
                let expected = &plan.frames[frame];
                match answer["type"].as_str() {
                    Some("ack") => {
                        assert!(answer["seq"].as_i64().is_some(), "{answer}");
                        let data = &answer["data"];
                        assert_eq!(data["message"]["content"], expected.content, "{answer}");
                        assert_eq!(
                            data["conversation"]["id"], expected.conversation,
                            "{answer}"
                        );
                        outcome.acks.insert(frame, answer);
                    }
                    _ if answer["code"] == "unavailable" => outcome.refused.push(frame),
                    _ => panic!("frame {} answered {answer}", expected.id),
                }
            }
        }
        outcome
    }

    /// The frames sent that got no ack: unanswered or refused.
    fn unanswered(&self) -> Vec<usize> {
        self.unanswered
            .iter()
            .chain(&self.refused)
            .copied()
            .collect()
    }

    /// With the server up throughout, every frame got an ack.
    fn assert_all_acked(&self, plan: &Plan) {
        let missing: Vec<&str> = self
            .unanswered()
            .into_iter()
            .map(|f| plan.frames[f].id.as_str())
            .collect();
        assert!(
            missing.is_empty(),
            "frames without an ack from a running server: {missing:?}"
        );
    }
}

fn message_id(ack: &Value) -> i64 {
    ack["data"]["message"]["id"].as_i64().expect("a message id")
}

/// A message content in the database: how many rows hold it, and the first one's id.
#[derive(FromRow)]
struct Stored {
    content: String,
    count: i64,
    id: i64,
}

/// Every message content in the database, read directly.
async fn stored_messages(db: &TestDb) -> HashMap<String, Stored> {
    let rows: Vec<Stored> = query(
        db,
        "SELECT content, COUNT(*) AS count, CAST(MIN(id) AS BIGINT) AS id \
         FROM message GROUP BY content",
    )
    .await;
    rows.into_iter().map(|m| (m.content.clone(), m)).collect()
}

/// Each user's event count and latest `seq`, read directly.
async fn event_logs(db: &TestDb) -> HashMap<String, (i64, i64)> {
    let rows: Vec<(String, i64, i64)> = query(
        db,
        "SELECT user_id, COUNT(*), CAST(MAX(seq) AS BIGINT) FROM event_log GROUP BY user_id",
    )
    .await;
    rows.into_iter()
        .map(|(user, n, seq)| (user, (n, seq)))
        .collect()
}

/// Runs `sql` on the test's database with a connection of the test's own.
async fn query<T>(db: &TestDb, sql: &'static str) -> Vec<T>
where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    match db {
        TestDb::Sqlite { path, .. } => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
        }
        TestDb::Postgres { .. } => {
            let mut conn: PgConnection = db.pg_connection().await;
            sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
        }
    }
}
