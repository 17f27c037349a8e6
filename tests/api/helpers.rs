//! Starts the real server on a random port with a database of its own, and talks to
//! it over real sockets.
//!
//! Every test runs on SQLite; with `TEST_DATABASE_URL` set it runs on PostgreSQL too,
//! each test in a schema of its own so tests run in parallel without sharing rows.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use serde_json::{Value, json};
use sqlx::{Connection, Executor, postgres::PgConnectOptions};
use taskwire::{
    auth::Authenticator,
    config::{DatabaseUrl, Settings},
    domain::UserId,
    startup::Application,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
};

pub const SECRET: &str = "test-secret-for-taskwire";

/// A port nobody listens on right now, for a server started as a separate process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    match $crate::helpers::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped"),
                    }
                }
            }
        )*
    };
}

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres { url: String },
}

impl Backend {
    pub fn postgres() -> Option<Self> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|url| Backend::Postgres { url })
    }
}

/// A database made for one test, dropped with it.
pub enum TestDb {
    Sqlite {
        /// Kept so the folder lives as long as the test.
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

impl TestDb {
    pub async fn new(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("taskwire.db");
                TestDb::Sqlite { _dir: dir, path }
            }
            Backend::Postgres { url } => {
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .await
                    .expect("create schema");
                TestDb::Postgres {
                    url: url.clone(),
                    schema,
                }
            }
        }
    }

    /// The `DatabaseUrl` the server gets; `port` overrides PostgreSQL's (for a proxy).
    pub fn database_url(&self, port: Option<u16>) -> DatabaseUrl {
        match self {
            TestDb::Sqlite { path, .. } => DatabaseUrl::Sqlite { path: path.clone() },
            TestDb::Postgres { url, schema } => {
                let mut options = self::pg_options(url).options([("search_path", schema.as_str())]);
                if let Some(port) = port {
                    options = options.host("127.0.0.1").port(port);
                }
                DatabaseUrl::Postgres(Box::new(options))
            }
        }
    }

    /// A connection of the test's own to its PostgreSQL schema (to lock rows, add
    /// triggers: what another client of the database could do).
    pub async fn pg_connection(&self) -> sqlx::PgConnection {
        let TestDb::Postgres { url, schema } = self else {
            panic!("not a PostgreSQL test database");
        };
        let options = pg_options(url).options([("search_path", schema.as_str())]);
        sqlx::PgConnection::connect_with(&options).await.unwrap()
    }

    /// Runs raw SQL (a legacy dump) in this test's database, before the server starts.
    pub async fn load(&self, sql: &str) {
        match self {
            TestDb::Sqlite { path, .. } => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                    .await
                    .unwrap();
            }
            TestDb::Postgres { url, schema } => {
                let options = pg_options(url).options([("search_path", schema.as_str())]);
                let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                    .await
                    .unwrap();
            }
        }
    }
}

pub fn pg_options(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url).expect("TEST_DATABASE_URL is a PostgreSQL URL")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { url, schema } = self {
            let (url, schema) = (url.clone(), schema.clone());
            // Drop is sync: clean up on a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                        // A failed test may leave a transaction of its server holding
                        // locks, driven by the runtime this drop blocks: give up rather
                        // than wait for it forever.
                        let _ = conn.execute("SET lock_timeout = '3s'").await;
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS {schema} CASCADE"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub auth: Authenticator,
    /// The server's database (dropped with the app).
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Options for `spawn_with`.
#[derive(Default)]
pub struct Options {
    /// Extra environment variables, read as the server would read them.
    pub env: Vec<(&'static str, String)>,
    /// SQL to load before the server starts (a legacy dump).
    pub preload: Option<&'static str>,
    /// Connect PostgreSQL through this port (a `DbProxy`).
    pub pg_port: Option<u16>,
    /// Use this database instead of a fresh one.
    pub database_url: Option<DatabaseUrl>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

pub async fn spawn_with(backend: Backend, options: Options) -> TestApp {
    let db = TestDb::new(&backend).await;
    if let Some(sql) = options.preload {
        db.load(sql).await;
    }
    let mut env: HashMap<String, String> = HashMap::from([
        ("BETTER_AUTH_SECRET".into(), SECRET.into()),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
    ]);
    for (k, v) in options.env {
        env.insert(k.to_owned(), v);
    }
    let mut settings =
        Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings are valid");
    settings.database.url = options
        .database_url
        .unwrap_or_else(|| db.database_url(options.pg_port));
    let app = Application::build(settings).await.expect("server starts");
    let addr = app.local_addr();
    let auth = app.state().auth.clone();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        auth,
        db,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.auth
            .mint(&UserId::parse(user).unwrap(), Duration::from_secs(3600))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn tasks_url(&self, user: &str) -> String {
        self.url(&format!("/api/{user}/tasks"))
    }

    pub fn task_url(&self, user: &str, id: impl std::fmt::Display) -> String {
        self.url(&format!("/api/{user}/tasks/{id}"))
    }

    /// `method path` as `user` (a valid token), with an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        user: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.http.request(method, url).bearer_auth(self.token(user));
        if let Some(body) = body {
            req = req.json(&body);
        }
        Response::from(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, url: &str, user: &str) -> Response {
        self.call(reqwest::Method::GET, url, user, None).await
    }

    /// Creates a task for `user` and returns it; panics unless it is a 201.
    pub async fn create_task(&self, user: &str, body: Value) -> Value {
        let res = self
            .call(
                reqwest::Method::POST,
                &self.tasks_url(user),
                user,
                Some(body),
            )
            .await;
        assert_eq!(res.status, 201, "create failed: {}", res.body);
        res.body
    }

    pub async fn create_titled(&self, user: &str, title: &str) -> Value {
        self.create_task(user, json!({ "title": title })).await
    }

    /// Stops the server gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read whole: status, headers, and the body as JSON (`Value::Null` when empty).
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub async fn from(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text:?}"))
        };
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    /// Checks the error body every 4xx/5xx carries, and returns its `error` code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.text
        );
        assert_eq!(self.body["success"], json!(false), "{}", self.text);
        assert_eq!(self.body["error"], json!(code), "{}", self.text);
        let message = self.body["message"].as_str().expect("message is a string");
        assert!(!message.is_empty());
        assert_eq!(
            self.body["detail"],
            json!(message),
            "detail repeats message"
        );
    }
}

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

/// PostgreSQL only (`None` without `TEST_DATABASE_URL`): a server whose database
/// connections go through a proxy the test can cut, starting in state `link`, with
/// `DATABASE_TIMEOUT_SECS` set to `timeout_secs`.
pub async fn spawn_behind_proxy(link: Link, timeout_secs: u64) -> Option<(TestApp, DbProxy)> {
    let backend = Backend::postgres()?;
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
            env: vec![("DATABASE_TIMEOUT_SECS", timeout_secs.to_string())],
            ..Default::default()
        },
    )
    .await;
    Some((app, proxy))
}
