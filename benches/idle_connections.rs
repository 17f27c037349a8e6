//! Resident memory of the server per idle authenticated WebSocket connection.
//!
//! Starts the release `taskwire` binary on a fresh SQLite file, reads its RSS, opens
//! N authenticated connections (each waits for its `ready` frame), lets them sit,
//! reads the RSS again and prints the difference per connection.
//!
//!     ulimit -n 8192; cargo bench --bench idle_connections -- 1000
//!
//! Linux only (reads /proc). The load generator runs in this process, so the
//! server's numbers are not mixed with the clients'.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

const SECRET: &str = "bench-secret";

fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() {
    let connections: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_taskwire"))
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        )
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("MAX_CONNECTIONS_PER_USER", "0")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start taskwire");
    let pid = server.id();
    // Wait for the banner: the server is listening.
    let stdout = server.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    lines.next().expect("banner").unwrap();
    std::thread::spawn(move || for _ in lines {});

    let auth = taskwire::auth::Authenticator::new(&taskwire::config::AuthSettings {
        secret: taskwire::config::Secret::new(SECRET),
        secret_generated: false,
        issuer: None,
        audience: None,
    });
    // Warm the server up with one connection, so one-time allocations are not counted.
    let url = format!("ws://127.0.0.1:{port}/ws");
    let connect = |user: String| {
        let token = auth.mint(
            &taskwire::domain::UserId::parse(&user).unwrap(),
            Duration::from_secs(3600),
        );
        let url = url.clone();
        async move {
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
            let (mut ws, _) = tokio_tungstenite::connect_async(request)
                .await
                .expect("connect");
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"ready\"") => ws,
                other => panic!("expected ready, got {other:?}"),
            }
        }
    };
    let warm = connect("warm-up".into()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);

    let started = Instant::now();
    let mut sockets = Vec::with_capacity(connections);
    for batch in (0..connections).collect::<Vec<_>>().chunks(100) {
        let opened = futures_util::future::join_all(
            batch.iter().map(|i| connect(format!("user-{}", i % 100))),
        )
        .await;
        sockets.extend(opened);
    }
    let opened_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);

    let per_connection = (after.saturating_sub(before)) as f64 / connections as f64;
    println!("idle connections:      {connections} (100 users)");
    println!("opened and ready in:   {:.2} s", opened_in.as_secs_f64());
    println!("server RSS before:     {:.1} MiB", before as f64 / 1024.0);
    println!("server RSS after:      {:.1} MiB", after as f64 / 1024.0);
    println!("per idle connection:   {per_connection:.1} KiB");

    drop(sockets);
    drop(warm);
    let _ = server.kill();
    let _ = server.wait();
}
