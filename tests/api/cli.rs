//! The `taskwire` binary as a user runs it: bad settings stop it with one line naming
//! the variable, `token` mints what the server accepts, `migrate` makes the schema,
//! and a server started without `BETTER_AUTH_SECRET` prints a token that works.
//!
//! Each run has a cleared environment and a temporary working directory, so no `.env`
//! is read and no `todo.db` is left behind; every wait is bounded.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sqlx::{Connection, Row};

use crate::helpers::{Backend, Options, free_port, spawn_with};

const TIMEOUT: Duration = Duration::from_secs(30);

/// `taskwire args…` in `dir` with only `env` set.
fn taskwire(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskwire"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to the end; fails the test if it takes longer than `TIMEOUT`.
fn run(mut cmd: Command) -> Finished {
    let mut child = cmd.spawn().expect("taskwire starts");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("taskwire did not exit within {TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A server refusing to start: fails quickly, with exactly one line on stderr naming `var`.
fn assert_refuses_to_start(env: &[(&str, &str)], var: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(taskwire(dir.path(), &[], env));
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
        !dir.path().join("todo.db").exists(),
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
    let dir = tempfile::tempdir().unwrap();
    let out = run(taskwire(dir.path(), &["--help"], &[]));
    assert!(out.status.success(), "{}", out.stderr);
    for command in ["serve", "token", "migrate"] {
        assert!(
            out.stdout.contains(command),
            "--help does not mention {command}: {}",
            out.stdout
        );
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[tokio::test]
async fn token_command_mints_a_token_the_server_accepts() {
    let secret = "cli-test-secret-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let before = now();
    let out = run(taskwire(
        dir.path(),
        &[
            "token", "--user", "alice", "--secret", secret, "--ttl", "2h",
        ],
        &[],
    ));
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
    let exp = claims["exp"].as_u64().expect("numeric exp");
    assert!(
        (before + 7200..=now() + 7200).contains(&exp),
        "exp {exp} is not now + 2 h (now {before})"
    );

    let app = spawn_with(
        Backend::Sqlite,
        Options {
            env: vec![("BETTER_AUTH_SECRET", secret.into())],
            ..Default::default()
        },
    )
    .await;
    let res = app
        .http
        .get(app.tasks_url("alice"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .get(app.tasks_url("bob"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "the token is alice's only");
}

#[test]
fn token_command_without_a_secret_names_better_auth_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(taskwire(dir.path(), &["token", "--user", "alice"], &[]));
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
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let url = format!("sqlite://{}", db.display());
    for attempt in ["first", "second"] {
        let out = run(taskwire(
            dir.path(),
            &["migrate"],
            &[("DATABASE_URL", &url)],
        ));
        assert!(out.status.success(), "{attempt} migrate: {}", out.stderr);
    }
    assert!(db.exists(), "no database file at {}", db.display());

    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
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

/// Kills the server when the test ends, whether it passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_without_a_secret_prints_a_working_dev_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let mut child = taskwire(
        dir.path(),
        &[],
        &[
            ("PORT", &port),
            ("HOST", "127.0.0.1"),
            ("DATABASE_URL", &url),
        ],
    )
    .spawn()
    .expect("taskwire starts");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let errors = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    let token = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            drop(server);
            let stderr = errors.join().unwrap();
            panic!(
                "no `export TOKEN=` line within {TIMEOUT:?}; stdout: {seen:#?}; stderr: {stderr}"
            );
        };
        if let Some((_, token)) = line.split_once("export TOKEN=") {
            break token.trim().to_owned();
        }
        seen.push(line);
    };
    assert!(
        seen.iter().any(|l| l.contains("BETTER_AUTH_SECRET")),
        "no warning about the missing BETTER_AUTH_SECRET: {seen:#?}"
    );

    let http = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let res = http
        .get(format!("http://127.0.0.1:{port}/api/dev-user/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total_count"], 0, "{body}");
    drop(server);
}
