//! The server under test, started in this process on a random port with a database
//! of its own, and a REST client for it: one method per route, as a client calls it.

use std::{collections::HashMap, fmt::Display, net::SocketAddr, sync::LazyLock, time::Duration};

use reqwest::{Method, header};
use serde_json::{Value, json};
use taskwire::{
    auth::Authenticator,
    config::{DatabaseUrl, Settings},
    domain::UserId,
    startup::Application,
};
use tokio::sync::oneshot;

use super::{
    db::{Backend, TestDb},
    json::assert_error_body,
    jwt::{SECRET, bearer},
};

/// With `TEST_LOG` set, the servers log to the test's captured output, which
/// `cargo test` prints for failing tests only. Without it they log nothing, so the
/// output of a passing run stays readable.
static TEST_LOG: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        taskwire::telemetry::init_for_tests();
    }
});

/// A running server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// The server's database (dropped with the app).
    pub db: TestDb,
    /// Mints tokens exactly as the server verifies them (same secret, issuer, audience).
    auth: Authenticator,
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
    /// PostgreSQL: `LISTEN` through this connection (`DATABASE_LISTEN_URL`).
    pub listen_url: Option<DatabaseUrl>,
}

impl Options {
    /// A server configured with these environment variables, the rest as usual.
    pub fn with_env(env: &[(&'static str, &str)]) -> Self {
        Options {
            env: env.iter().map(|&(k, v)| (k, v.to_owned())).collect(),
            ..Default::default()
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

/// A second instance of the server on `first`'s database (as behind a load balancer).
pub async fn another_instance(first: &TestApp, backend: Backend, options: Options) -> TestApp {
    spawn_with(
        backend,
        Options {
            database_url: Some(first.db.database_url(None)),
            ..options
        },
    )
    .await
}

pub async fn spawn_with(backend: Backend, options: Options) -> TestApp {
    LazyLock::force(&TEST_LOG);
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
    settings.database.listen_url = options.listen_url;
    let auth = Authenticator::new(&settings.auth);
    let app = Application::build(settings).await.expect("server starts");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
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
        format!("http://{}{}", self.addr, path)
    }

    pub fn tasks_url(&self, user: &str) -> String {
        self.url(&format!("/api/{user}/tasks"))
    }

    pub fn task_url(&self, user: &str, id: impl Display) -> String {
        self.url(&format!("/api/{user}/tasks/{id}"))
    }

    /// `method url` with this raw `Authorization` header value (none when `None`),
    /// and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.http.request(method, url);
        if let Some(value) = authorization {
            req = req.header(header::AUTHORIZATION, value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Response::from(req.send().await.expect("request sent")).await
    }

    /// `method url` as `user` (a valid token), with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        user: &str,
        body: Option<Value>,
    ) -> Response {
        let authorization = bearer(&self.token(user));
        self.send(method, url, Some(&authorization), body).await
    }

    /// `method url` as `user`, with `body` sent byte for byte and labelled JSON: for
    /// bodies that are not valid JSON, or not JSON the client library would write.
    pub async fn send_raw(&self, method: Method, url: &str, user: &str, body: &str) -> Response {
        let res = self
            .http
            .request(method, url)
            .bearer_auth(self.token(user))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        Response::from(res).await
    }

    /// `GET /`, no token needed.
    pub async fn root(&self) -> Response {
        self.send(Method::GET, &self.url("/"), None, None).await
    }

    /// `GET /health`, no token needed.
    pub async fn health(&self) -> Response {
        self.send(Method::GET, &self.url("/health"), None, None)
            .await
    }

    /// `GET /ready`, no token needed.
    pub async fn ready(&self) -> Response {
        self.send(Method::GET, &self.url("/ready"), None, None)
            .await
    }

    /// `POST /api/{user}/tasks` as `user`.
    pub async fn post_task(&self, user: &str, body: Value) -> Response {
        self.call(Method::POST, &self.tasks_url(user), user, Some(body))
            .await
    }

    /// `GET /api/{user}/tasks?{query}` as `user` (`query` without the `?`; `""` for none).
    pub async fn get_tasks(&self, user: &str, query: &str) -> Response {
        let mut url = self.tasks_url(user);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        self.call(Method::GET, &url, user, None).await
    }

    /// `POST /api/{user}/tasks` with this raw `Authorization` header value (none when
    /// `None`): for the tests of the header itself.
    pub async fn post_task_with_authorization(
        &self,
        user: &str,
        authorization: Option<&str>,
        body: Value,
    ) -> Response {
        self.send(
            Method::POST,
            &self.tasks_url(user),
            authorization,
            Some(body),
        )
        .await
    }

    /// `GET /api/{user}/tasks` with this raw `Authorization` header value (none when
    /// `None`): for the tests of the header itself.
    pub async fn get_tasks_with_authorization(
        &self,
        user: &str,
        authorization: Option<&str>,
    ) -> Response {
        self.send(Method::GET, &self.tasks_url(user), authorization, None)
            .await
    }

    /// `GET /api/{user}/tasks` with `token`, whoever it was made for.
    pub async fn get_tasks_with_token(&self, user: &str, token: &str) -> Response {
        self.get_tasks_with_authorization(user, Some(&bearer(token)))
            .await
    }

    /// `GET /api/{user}/tasks/{id}` as `user`.
    pub async fn get_task(&self, user: &str, id: impl Display) -> Response {
        self.call(Method::GET, &self.task_url(user, id), user, None)
            .await
    }

    /// `PUT /api/{user}/tasks/{id}` as `user`.
    pub async fn put_task(&self, user: &str, id: impl Display, body: Value) -> Response {
        self.call(Method::PUT, &self.task_url(user, id), user, Some(body))
            .await
    }

    /// `PATCH /api/{user}/tasks/{id}/complete` as `user`.
    pub async fn patch_complete(&self, user: &str, id: impl Display, body: Value) -> Response {
        let url = format!("{}/complete", self.task_url(user, id));
        self.call(Method::PATCH, &url, user, Some(body)).await
    }

    /// `DELETE /api/{user}/tasks/{id}` as `user`.
    pub async fn delete_task(&self, user: &str, id: impl Display) -> Response {
        self.call(Method::DELETE, &self.task_url(user, id), user, None)
            .await
    }

    /// Creates a task for `user` and returns it; panics unless it is a 201.
    pub async fn create_task(&self, user: &str, body: Value) -> Value {
        let res = self.post_task(user, body).await;
        assert_eq!(res.status, 201, "create failed: {}", res.text);
        res.body
    }

    pub async fn create_titled(&self, user: &str, title: &str) -> Value {
        self.create_task(user, json!({ "title": title })).await
    }

    /// `user`'s task list answer for `query` (as `get_tasks`); panics unless 200.
    pub async fn list_tasks(&self, user: &str, query: &str) -> Value {
        let res = self.get_tasks(user, query).await;
        assert_eq!(res.status, 200, "list {query:?}: {}", res.text);
        res.body
    }

    /// How many tasks `user` has (`total_count`); panics unless the list is a 200.
    pub async fn task_count(&self, user: &str) -> i64 {
        self.list_tasks(user, "").await["total_count"]
            .as_i64()
            .unwrap()
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

    /// A `status` answer with the error body, its `error` being `code`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.text
        );
        assert_error_body(&self.body, code);
    }

    /// A 401 with the JSON error body and `WWW-Authenticate: Bearer`; `what` names
    /// the case in a failure.
    pub fn assert_unauthorized(&self, what: &str) {
        assert_eq!(self.status, 401, "{what}: {}", self.text);
        self.assert_error(401, "unauthorized");
        assert_eq!(
            self.headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what}: WWW-Authenticate"
        );
    }
}

/// Lets the clock move on, so that a later write has a later timestamp.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}
