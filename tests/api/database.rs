//! Database trouble: with the database unreachable the server stays up, task routes
//! answer 503 and `/health` says "degraded"; when it comes back, requests succeed
//! again without a restart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taskwire::config::DatabaseUrl;

use crate::helpers::{
    app::{Options, TestApp, spawn_with},
    db::{Backend, TestDb, run_sql},
    jwt::bearer,
    proxy::{Link, spawn_behind_proxy},
    ws::req,
};
use crate::on_both_backends;

/// Retries creating a task until it succeeds, for at most `within`.
async fn create_eventually(app: &TestApp, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let res = app.post_task("alice", json!({"title": "after"})).await;
        if res.status == 201 {
            return res.body;
        }
        res.assert_error(503, "unavailable");
        assert!(Instant::now() < deadline, "database never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn assert_unavailable(app: &TestApp) {
    let res = app.post_task("alice", json!({"title": "lost"})).await;
    res.assert_error(503, "unavailable");
    assert_eq!(res.body["detail"], "Database temporarily unavailable");
    app.get_tasks("alice", "")
        .await
        .assert_error(503, "unavailable");

    let started = Instant::now();
    let health = app.health().await;
    let took = started.elapsed();
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["database"], "disconnected");
    assert!(took < Duration::from_secs(1), "/health took {took:?}");

    assert_eq!(app.ready().await.status, 503);
}

/// SQLite: the database file's folder is missing at startup, then appears.
#[tokio::test]
async fn sqlite_unreachable_at_startup_then_back() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("not-yet");
    let app = spawn_with(
        Backend::Sqlite,
        Options {
            database_url: Some(DatabaseUrl::Sqlite {
                path: folder.join("todo.db"),
            }),
            ..Default::default()
        },
    )
    .await;
    assert_unavailable(&app).await;

    std::fs::create_dir(&folder).unwrap();
    let task = create_eventually(&app, Duration::from_secs(20)).await;
    assert_eq!(task["title"], "after");
    assert_eq!(app.health().await.body["status"], "healthy");
    let list = app.get_tasks("alice", "").await;
    assert_eq!(
        list.body["total_count"], 1,
        "nothing written while it was down"
    );
}

/// PostgreSQL: the server goes away while taskwire runs, then comes back.
#[tokio::test]
async fn postgres_down_then_back_without_restart() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Up, 2).await else {
        return;
    };
    let before = app.create_titled("alice", "before").await;

    proxy.set(Link::Down);
    assert_unavailable(&app).await;

    proxy.set(Link::Up);
    create_eventually(&app, Duration::from_secs(20)).await;
    let list = app.get_tasks("alice", "").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total_count"], 2);
    assert_eq!(list.body["tasks"][1]["id"], before["id"]);
}

/// PostgreSQL: a hung server (connections accepted, never answered) still gets a
/// `/health` answer within a second, and 503s on task routes.
#[tokio::test]
async fn postgres_hung_health_answers_within_a_second() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Up, 2).await else {
        return;
    };
    proxy.set(Link::Hang);
    assert_unavailable(&app).await;
    proxy.set(Link::Up);
    create_eventually(&app, Duration::from_secs(20)).await;
}

/// PostgreSQL unreachable at startup: the server starts anyway and migrates later.
#[tokio::test]
async fn postgres_unreachable_at_startup_then_back() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Down, 1).await else {
        return;
    };
    assert_unavailable(&app).await;
    proxy.set(Link::Up);
    create_eventually(&app, Duration::from_secs(20)).await;
}

on_both_backends!(two_instances_starting_together_share_one_database);

/// Two gateways starting at once on one database both come up, migrate once between
/// them, and serve the same rows.
async fn two_instances_starting_together_share_one_database(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let options = |db: &TestDb| Options {
        database_url: Some(db.database_url(None)),
        ..Default::default()
    };
    let (a, b) = tokio::join!(
        spawn_with(backend.clone(), options(&db)),
        spawn_with(backend.clone(), options(&db))
    );
    let created = a.create_titled("alice", "made on a").await;
    let seen = b.get_task("alice", &created["id"]).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body, created);
    let third = spawn_with(backend, options(&db)).await;
    let list = third.get_tasks("alice", "").await;
    assert_eq!(list.body["total_count"], 1);
}

/// PostgreSQL: a row locked by another client stalls alice's change; she gets a 503
/// within the database budget, and bob, whose rows are free, is not held up at all.
#[tokio::test]
async fn a_stuck_change_is_503_in_time_and_holds_up_no_other_user() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let app = spawn_with(
        backend,
        Options::with_env(&[("DATABASE_TIMEOUT_SECS", "1")]),
    )
    .await;
    let task = app.create_titled("alice", "locked").await;
    let mut other = app.db.pg_connection().await;
    run_sql(&mut other, "BEGIN").await;
    run_sql(
        &mut other,
        &format!("SELECT * FROM task WHERE id = {} FOR UPDATE", task["id"]),
    )
    .await;

    let started = Instant::now();
    let stuck = app.put_task("alice", &task["id"], json!({"title": "changed"}));
    let free = async {
        // Bob starts while alice's change waits on the lock.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        app.create_titled("bob", "free").await;
        started.elapsed()
    };
    let (stuck, bob_took) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(stuck, free) })
            .await
            .expect("a change stuck on a lock must give up, and others must not wait for it");
    stuck.assert_error(503, "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "503 after {:?}",
        started.elapsed()
    );
    assert!(
        bob_took < Duration::from_millis(900),
        "bob waited {bob_took:?} behind alice"
    );

    run_sql(&mut other, "ROLLBACK").await;
    let res = app
        .put_task("alice", &task["id"], json!({"title": "changed"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

/// PostgreSQL: a REST client that hangs up while its change commits does not take
/// the change's live event with it.
#[tokio::test]
async fn a_change_whose_client_hangs_up_mid_commit_is_still_delivered() {
    let Some(backend) = Backend::postgres_or_skip() else {
        return;
    };
    let app = spawn_with(
        backend,
        Options::with_env(&[("DATABASE_TIMEOUT_SECS", "5")]),
    )
    .await;
    // Every commit that inserted a task now takes a second.
    let mut other = app.db.pg_connection().await;
    run_sql(
        &mut other,
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON task \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();",
    )
    .await;
    let (mut ws, _) = app.ws("alice").await;

    let hung_up = app
        .http
        .post(app.tasks_url("alice"))
        .bearer_auth(app.token("alice"))
        .json(&json!({"title": "committed anyway"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung_up.is_err(), "the client gave up before the commit");

    let event = ws.event().await;
    assert_eq!(event["event"], "task.created");
    assert_eq!(event["seq"], 1);
    assert_eq!(event["data"]["title"], "committed anyway");
}

/// PostgreSQL: a socket that connects while the database is down stays open: it is
/// told `unavailable` once, and gets `ready` when the database is back.
#[tokio::test]
async fn a_socket_opened_while_the_database_is_down_waits_for_ready() {
    let Some((app, proxy)) = spawn_behind_proxy(Link::Up, 2).await else {
        return;
    };
    app.create_titled("alice", "before").await;
    proxy.set(Link::Down);
    let token = bearer(&app.token("alice"));
    let mut ws = app
        .ws_handshake("", &[("authorization", &token)])
        .await
        .open();
    let first = ws.recv().await;
    assert_eq!(first["type"], "error", "{first}");
    assert_eq!(first["code"], "unavailable");
    assert_eq!(first["retryable"], true);

    proxy.set(Link::Up);
    let ready = ws
        .next_frame(Duration::from_secs(20))
        .await
        .expect("the socket stays open");
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["seq"], 1);
    let ack = ws
        .request(req("task.create", "c1", json!({"title": "after"})))
        .await;
    assert_eq!(ack["seq"], 2, "{ack}");
}
