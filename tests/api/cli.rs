//! The `taskwire` binary as a user runs it: bad settings stop it with one line naming
//! the variable, `token` mints what the server accepts, `migrate` makes the schema,
//! and a server started without `BETTER_AUTH_SECRET` prints a token that works.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sqlx::{Connection, Row};

use crate::helpers::{
    app::{Options, spawn_with},
    db::Backend,
    jwt::{SECRET, now},
    process::{Sandbox, TIMEOUT},
};

/// A server refusing to start: fails quickly, with exactly one line on stderr naming `var`.
fn assert_refuses_to_start(env: &[(&str, &str)], var: &str) -> String {
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let out = sandbox.run(&[], env);
    assert!(!out.status.success(), "{env:?}: exited with success");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{env:?}: took {:?} to fail",
        started.elapsed()
    );
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{env:?}: stderr {stderr:?}");
    assert!(stderr.contains(var), "{env:?}: stderr {stderr:?}");
    assert!(
        !sandbox.file("todo.db").exists(),
        "{env:?}: made a database before failing"
    );
    stderr.to_owned()
}

#[test]
fn bad_port_stops_the_server_naming_port() {
    assert_refuses_to_start(&[("PORT", "abc")], "PORT");
}

#[test]
fn unsupported_database_url_stops_the_server_naming_it() {
    assert_refuses_to_start(&[("DATABASE_URL", "mysql://x/y")], "DATABASE_URL");
}

#[test]
fn bad_database_url_error_does_not_print_the_password() {
    let stderr = assert_refuses_to_start(
        &[("DATABASE_URL", "postgres://u:hunter2@h:notaport/db")],
        "DATABASE_URL",
    );
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr:?}");
}

#[test]
fn help_lists_the_commands() {
    let out = Sandbox::new().run(&["--help"], &[]);
    assert!(out.status.success(), "{}", out.stderr);
    for command in ["serve", "token", "migrate", "bench"] {
        assert!(
            out.stdout.contains(command),
            "--help does not mention {command}: {}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn token_command_mints_a_token_the_server_accepts() {
    let secret = "cli-test-secret-0123456789";
    let before = now();
    let out = Sandbox::new().run(
        &[
            "token", "--user", "alice", "--secret", secret, "--ttl", "2h",
        ],
        &[],
    );
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line: {:?}", out.stdout);
    let token = lines[0].trim();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");

    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("signed HS256 with --secret")
    .claims;
    assert_eq!(claims["sub"], "alice");
    let exp = claims["exp"].as_u64().expect("numeric exp") as i64;
    assert!(
        (before + 7200..=now() + 7200).contains(&exp),
        "exp {exp} is not now + 2 h (now {before})"
    );

    let app = spawn_with(
        Backend::Sqlite,
        Options::with_env(&[("BETTER_AUTH_SECRET", secret)]),
    )
    .await;
    let res = app.get_tasks_with_token("alice", token).await;
    assert_eq!(res.status, 200);
    let res = app.get_tasks_with_token("bob", token).await;
    assert_eq!(res.status, 403, "the token is alice's only");
}

#[test]
fn token_command_without_a_secret_names_better_auth_secret() {
    let out = Sandbox::new().run(&["token", "--user", "alice"], &[]);
    assert!(!out.status.success());
    assert!(
        out.stdout.trim().is_empty(),
        "printed a token: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("BETTER_AUTH_SECRET"),
        "stderr: {}",
        out.stderr
    );
}

#[tokio::test]
async fn migrate_creates_the_task_table_and_can_run_twice() {
    let sandbox = Sandbox::new();
    let db = sandbox.file("m.db");
    let url = sandbox.sqlite_url("m.db");
    for attempt in ["first", "second"] {
        let out = sandbox.run(&["migrate"], &[("DATABASE_URL", &url)]);
        assert!(out.status.success(), "{attempt} migrate: {}", out.stderr);
    }
    assert!(db.exists(), "no database file at {}", db.display());

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('task')")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
    for column in [
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "priority",
        "due_date",
        "created_at",
        "updated_at",
    ] {
        assert!(
            columns.iter().any(|c| c == column),
            "task has no {column}: {columns:?}"
        );
    }
}

#[tokio::test]
async fn serve_without_a_secret_prints_a_working_dev_token() {
    let sandbox = Sandbox::new();
    let server = sandbox.serve(&[("DATABASE_URL", &sandbox.sqlite_url("x.db"))]);
    let (seen, line) = server.wait_for_line("export TOKEN=");
    let (_, token) = line.split_once("export TOKEN=").unwrap();
    let token = token.trim();
    assert!(
        seen.iter().any(|l| l.contains("BETTER_AUTH_SECRET")),
        "no warning about the missing BETTER_AUTH_SECRET: {seen:#?}"
    );

    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let res = http
        .get(sandbox.http_url("/api/dev-user/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total_count"], 0, "{body}");
    drop(server);
}

/// `taskwire bench` against a running server: one JSON object on stdout with what
/// was sent, acked and refused, the throughput, the ack and fan-out latencies.
#[tokio::test]
async fn bench_measures_a_server_and_prints_one_json_object() {
    let app = spawn_with(
        Backend::Sqlite,
        Options::with_env(&[("WS_RATE_PER_SEC", "100000"), ("WS_RATE_BURST", "100000")]),
    )
    .await;
    let url = format!("ws://{}/ws", app.addr);
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Sandbox::new().run(&args, &[])
        })
    };
    let args = [
        "bench",
        "--url",
        &url,
        "--secret",
        SECRET,
        "--connections",
        "4",
        "--users",
        "2",
        "--window",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--fanout",
    ];
    let out = run(args.iter().map(|a| a.to_string()).collect())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert!(report["acked"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["sent"], report["acked"], "nothing refused: {report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            report["latency_ms"][key].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
    assert!(
        report["fanout_latency_ms"]["count"].as_u64().unwrap() > 0,
        "{report}"
    );
    let page = app.get_tasks("bench-user-0", "").await;
    assert_eq!(page.status, 200);

    // --idle opens and holds authenticated connections.
    let args = [
        "bench", "--url", &url, "--secret", SECRET, "--users", "2", "--idle", "40", "--hold",
        "500ms",
    ];
    let out = run(args.iter().map(|a| a.to_string()).collect())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(report["established"], 40, "{report}");
    assert_eq!(report["still_open_after_hold"], 40, "{report}");
}
