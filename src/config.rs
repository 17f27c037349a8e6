//! Settings, read once at startup from the environment (and `.env`, loaded by `main`).
//!
//! Every variable is parsed here into a typed value, so a bad value stops the server
//! with one line that names the variable, instead of failing later at first use.

use std::{fmt, net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

use sqlx::postgres::PgConnectOptions;

/// Everything the server needs to run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub host: IpAddr,
    pub port: u16,
    /// Prefix of the legacy REST routes, `/api` by default; empty for none.
    pub api_prefix: String,
    /// CORS and WebSocket `Origin` allow-list (same-origin is always allowed).
    pub allowed_origins: Vec<String>,
    /// Unauthenticated requests act as `demo-user`. Opt-in only.
    pub demo_mode: bool,
    pub ws: WsSettings,
    /// How long a graceful stop may take before the remaining sockets are dropped.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Open connections over which a `/ws` handshake is refused with 503 (0: no
    /// cap). Unset: 90% of the file-descriptor limit, known only at startup.
    pub max_connections: Option<usize>,
}

/// WebSocket limits; the defaults suit a browser chat UI.
#[derive(Clone, Debug)]
pub struct WsSettings {
    /// Largest frame a client may send; larger ones close the socket with 1009.
    pub max_frame_bytes: usize,
    /// Server pings this often; a peer silent for two intervals is dropped.
    pub heartbeat: Duration,
    /// How long a socket opened without a token may wait before its `auth` frame.
    pub auth_timeout: Duration,
    /// Live connections per user on one instance; 0 means no cap.
    pub max_connections_per_user: usize,
    /// Requests per second a connection may send, sustained.
    pub rate_per_sec: u32,
    /// Requests a connection may send in a burst.
    pub rate_burst: u32,
    /// Frames waiting for a slow reader before its socket is closed with 1008.
    pub outbound_queue: usize,
}

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// PostgreSQL: where the instance `LISTEN`s for other instances' events
    /// (`DATABASE_LISTEN_URL`): a direct connection, never a transaction pooler.
    /// `None`: the same as `url`.
    pub listen_url: Option<DatabaseUrl>,
    /// Maximum connections of the pool.
    pub pool_size: u32,
    /// How long a request waits for a connection before it answers "unavailable".
    pub acquire_timeout: Duration,
    /// SQLite's `synchronous`: `full` (the default) makes an ack survive a power
    /// loss; `normal` trades that away for speed (a crash of the gateway alone loses
    /// nothing either way).
    pub sqlite_synchronous: SqliteSync,
    /// How long committed events are kept for `resume` (idempotency keys stay at
    /// least a day whatever this says).
    pub event_retention: Duration,
    pub group_commit: GroupCommit,
}

/// How concurrent changes share transactions (`GROUP_COMMIT`, `GROUP_COMMIT_MAX`,
/// `GROUP_COMMIT_WAIT_US`): a commit costs a disk flush whatever it carries, so many
/// changes per transaction acknowledge many more changes per second.
#[derive(Clone, Copy, Debug)]
pub struct GroupCommit {
    /// Off: one transaction per change, each in a task of its own.
    pub enabled: bool,
    /// Most changes in one transaction.
    pub max: usize,
    /// How long a batch waits for more changes once it has one; zero takes what is
    /// queued (changes queue up while the database is busy, so batches grow with load).
    pub wait: Duration,
    /// Transactions in flight at once: one on SQLite (one writer), half the pool on
    /// PostgreSQL (the rest serves reads).
    pub committers: usize,
}

/// `SQLITE_SYNCHRONOUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSync {
    Full,
    Normal,
}

/// The two databases taskwire runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite { path: PathBuf },
    Postgres(Box<PgConnectOptions>),
}

impl fmt::Debug for DatabaseUrl {
    // Never print the Postgres options: they hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite:{}", path.display()),
            DatabaseUrl::Postgres(o) => write!(
                f,
                "postgres://{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("")
            ),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub secret: Secret,
    /// True when no `BETTER_AUTH_SECRET` was given and a random one was made for this run.
    pub secret_generated: bool,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl AuthSettings {
    /// `BETTER_AUTH_SECRET`, `JWT_ISSUER`, `JWT_AUDIENCE`; a random secret when none is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (secret, secret_generated) = match get("BETTER_AUTH_SECRET") {
            Some(s) => (Secret::new(s), false),
            None => (Secret::random(), true),
        };
        AuthSettings {
            secret,
            secret_generated,
            issuer: get("JWT_ISSUER"),
            audience: get("JWT_AUDIENCE"),
        }
    }
}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// A fresh random secret for runs without `BETTER_AUTH_SECRET`.
    pub fn random() -> Self {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        Secret(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A bad setting: names the variable and says what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn bad(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://todo.db";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map instead of the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // An empty variable counts as unset, as in the old backend's `.env` files.
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let (url_var, raw_url) = match (get("DATABASE_URL"), get("NEON_DB_URL")) {
            (Some(url), _) => ("DATABASE_URL", url),
            (None, Some(url)) => ("NEON_DB_URL", url),
            (None, None) => ("DATABASE_URL", DEFAULT_DATABASE_URL.to_owned()),
        };
        let number = |var: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            number_in(var, get(var), default, range)
        };
        let switch =
            |var: &'static str, default: bool| match get(var).map(|v| v.to_ascii_lowercase()) {
                None => Ok(default),
                Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
                Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
                Some(v) => Err(bad(var, format!("expected true or false, got {v:?}"))),
            };
        let url = DatabaseUrl::parse(&raw_url).map_err(|m| bad(url_var, m))?;
        let listen_url = match get("DATABASE_LISTEN_URL") {
            None => None,
            Some(raw) => match DatabaseUrl::parse(&raw) {
                Ok(listen @ DatabaseUrl::Postgres(_)) if url.backend() == Backend::Postgres => {
                    Some(listen)
                }
                Ok(_) => {
                    return Err(bad(
                        "DATABASE_LISTEN_URL",
                        "is for PostgreSQL: a postgres:// URL, with DATABASE_URL on PostgreSQL too",
                    ));
                }
                Err(message) => return Err(bad("DATABASE_LISTEN_URL", message)),
            },
        };
        let pool_size = number("DATABASE_POOL_SIZE", 10, 1..=1000)? as u32;
        // SQLite's one writer takes big batches; PostgreSQL's committers share the
        // load, and each pooled connection keeps one prepared statement per batch size.
        let (committers, max) = match url.backend() {
            Backend::Sqlite => (1, 256),
            Backend::Postgres => ((pool_size as usize / 2).max(1), 64),
        };
        let group_commit = GroupCommit {
            enabled: switch("GROUP_COMMIT", true)?,
            max: number("GROUP_COMMIT_MAX", max, 1..=1000)? as usize,
            wait: Duration::from_micros(number("GROUP_COMMIT_WAIT_US", 0, 0..=1_000_000)?),
            committers,
        };
        let database = DatabaseSettings {
            url,
            listen_url,
            pool_size,
            acquire_timeout: Duration::from_secs(number("DATABASE_TIMEOUT_SECS", 3, 1..=300)?),
            sqlite_synchronous: match get("SQLITE_SYNCHRONOUS").map(|v| v.to_ascii_lowercase()) {
                None => SqliteSync::Full,
                Some(v) if v == "full" => SqliteSync::Full,
                Some(v) if v == "normal" => SqliteSync::Normal,
                Some(v) => {
                    return Err(bad(
                        "SQLITE_SYNCHRONOUS",
                        format!("expected full or normal, got {v:?}"),
                    ));
                }
            },
            event_retention: Duration::from_secs(number(
                "EVENT_RETENTION_SECS",
                7 * 24 * 3600,
                1..=10 * 365 * 24 * 3600,
            )?),
            group_commit,
        };

        let host = match get("HOST") {
            Some(h) if h == "localhost" => IpAddr::from([127, 0, 0, 1]),
            Some(h) => h.parse().map_err(|_| {
                bad(
                    "HOST",
                    format!("expected an IP address such as 0.0.0.0, got {h:?}"),
                )
            })?,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        let port = match get("PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| bad("PORT", format!("expected a port number 0-65535, got {p:?}")))?,
            None => 8000,
        };

        let api_prefix = normalize_prefix(get("API_PREFIX").as_deref().unwrap_or("/api"))?;

        let mut allowed_origins = Vec::new();
        let frontend = lookup("FRONTEND_ORIGIN").unwrap_or_else(|| "http://localhost:3000".into());
        for (var, list) in [
            ("FRONTEND_ORIGIN", frontend),
            ("CORS_ORIGINS", lookup("CORS_ORIGINS").unwrap_or_default()),
        ] {
            for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                allowed_origins.push(parse_origin(var, origin)?);
            }
        }

        let demo_mode = switch("DEMO_MODE", false)?;

        let ws = WsSettings {
            max_frame_bytes: number("WS_MAX_FRAME_BYTES", 256 * 1024, 1024..=64 * 1024 * 1024)?
                as usize,
            heartbeat: Duration::from_millis(number("WS_HEARTBEAT_MS", 25_000, 100..=3_600_000)?),
            auth_timeout: Duration::from_millis(number(
                "WS_AUTH_TIMEOUT_MS",
                10_000,
                100..=600_000,
            )?),
            max_connections_per_user: number("MAX_CONNECTIONS_PER_USER", 32, 0..=1_000_000)?
                as usize,
            rate_per_sec: number("WS_RATE_PER_SEC", 20, 1..=1_000_000)? as u32,
            rate_burst: number("WS_RATE_BURST", 40, 1..=1_000_000)? as u32,
            outbound_queue: number("WS_OUTBOUND_QUEUE", 256, 1..=1_000_000)? as usize,
        };
        let shutdown_timeout = Duration::from_secs(number("SHUTDOWN_TIMEOUT_SECS", 10, 1..=3600)?);
        let header_timeout = Duration::from_secs(number("HTTP_HEADER_TIMEOUT_SECS", 10, 1..=3600)?);
        let max_connections = match get("MAX_CONNECTIONS") {
            None => None,
            value => Some(number_in("MAX_CONNECTIONS", value, 0, 0..=100_000_000)? as usize),
        };

        Ok(Settings {
            ws,
            shutdown_timeout,
            header_timeout,
            max_connections,
            database,
            auth: AuthSettings::from_lookup(&lookup),
            host,
            port,
            api_prefix,
            allowed_origins,
            demo_mode,
        })
    }
}

/// A whole number within `range` (bounded, so no setting can overflow a timer).
fn number_in(
    var: &'static str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = value else {
        return Ok(default);
    };
    raw.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            bad(
                var,
                format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn normalize_prefix(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') || trimmed.contains(['{', '}', '*', '?', '#', ' ']) {
        return Err(bad(
            "API_PREFIX",
            format!("expected a path such as /api, got {raw:?}"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Origins are compared as `scheme://host[:port]`, the form browsers send.
fn parse_origin(var: &'static str, origin: &str) -> Result<String, ConfigError> {
    if origin == "*" {
        return Ok(origin.to_owned());
    }
    let url = url::Url::parse(origin).map_err(|_| {
        bad(
            var,
            format!("expected an origin such as https://app.example.com, got {origin:?}"),
        )
    })?;
    if url.host_str().is_none() || !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            var,
            format!("expected an http(s) origin, got {origin:?}"),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

impl DatabaseUrl {
    /// Accepts sqlx's URL forms and the old backend's SQLAlchemy ones.
    ///
    /// The error message never repeats the URL: it may hold a password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (scheme, rest) = raw
            .split_once(':')
            .ok_or("expected a URL such as sqlite://todo.db or postgres://user@host/db")?;
        let scheme = scheme.to_ascii_lowercase();
        // `postgresql+psycopg2`, `postgresql+asyncpg`, … are SQLAlchemy driver hints.
        let base = scheme.split('+').next().unwrap_or_default();
        match base {
            "sqlite" => Ok(DatabaseUrl::Sqlite {
                path: sqlite_path(rest)?,
            }),
            "postgres" | "postgresql" => {
                let url = format!("postgres:{rest}");
                // url's errors name the problem ("invalid port number") without echoing the input.
                url::Url::parse(&url).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
                PgConnectOptions::from_str(&url)
                    .map(|o| DatabaseUrl::Postgres(Box::new(o)))
                    .map_err(|_| {
                        "not a valid PostgreSQL URL (check its query parameters)".to_owned()
                    })
            }
            _ => Err(format!(
                "unsupported scheme {scheme:?}: use sqlite://… or postgres://… (postgresql:// works too)"
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite { .. } => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The path part of a SQLite URL (everything after `sqlite:`), by the rules of design §9.
fn sqlite_path(rest: &str) -> Result<PathBuf, String> {
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let path = if let Some(after) = rest.strip_prefix("////") {
        // SQLAlchemy's absolute form: sqlite:////abs/path.db
        format!("/{after}")
    } else if let Some(after) = rest.strip_prefix("///./") {
        // SQLAlchemy's relative form: sqlite:///./todo.db
        format!("./{after}")
    } else if let Some(after) = rest.strip_prefix("//") {
        // sqlite://todo.db (relative) and sqlite:///abs/path.db (absolute)
        after.to_owned()
    } else {
        rest.to_owned()
    };
    if path.is_empty() || path == "/" {
        return Err("expected a file path, such as sqlite://todo.db".into());
    }
    if path.starts_with(":memory:") {
        return Err(
            "in-memory SQLite is not supported (data would vanish): use a file path".into(),
        );
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    fn sqlite(url: &str) -> PathBuf {
        match DatabaseUrl::parse(url).unwrap() {
            DatabaseUrl::Sqlite { path } => path,
            other => panic!("expected sqlite, got {other:?}"),
        }
    }

    #[test]
    fn sqlite_urls_follow_sqlx_and_sqlalchemy() {
        assert_eq!(sqlite("sqlite://todo.db"), PathBuf::from("todo.db"));
        assert_eq!(sqlite("sqlite:todo.db"), PathBuf::from("todo.db"));
        assert_eq!(
            sqlite("sqlite:///abs/path.db"),
            PathBuf::from("/abs/path.db")
        );
        assert_eq!(sqlite("sqlite:///./todo.db"), PathBuf::from("./todo.db"));
        assert_eq!(
            sqlite("sqlite:////abs/path.db"),
            PathBuf::from("/abs/path.db")
        );
        assert_eq!(
            sqlite("sqlite://todo.db?mode=rwc"),
            PathBuf::from("todo.db")
        );
    }

    #[test]
    fn postgres_urls_accept_sqlalchemy_and_neon_forms() {
        for url in [
            "postgres://u:p@localhost/db",
            "postgresql://u:p@localhost:5433/db",
            "postgresql+psycopg2://u:p@localhost/db",
            "postgresql://u:p@ep-x.neon.tech/neondb?sslmode=require",
        ] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap().backend(),
                Backend::Postgres,
                "{url}"
            );
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("PORT", "abc")]).unwrap_err();
        assert_eq!(err.var, "PORT");
        assert!(err.to_string().contains("PORT"), "{err}");

        let err = settings(&[("DATABASE_URL", "mysql://x/y")]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");

        for (var, value) in [
            ("SHUTDOWN_TIMEOUT_SECS", "0"),
            ("WS_HEARTBEAT_MS", "99999999999999"),
            ("DATABASE_POOL_SIZE", "0"),
            ("WS_RATE_BURST", "-1"),
            ("SQLITE_SYNCHRONOUS", "off"),
            ("EVENT_RETENTION_SECS", "0"),
            ("DATABASE_LISTEN_URL", "postgres://u@h/db"),
            ("HTTP_HEADER_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS", "lots"),
            ("GROUP_COMMIT", "sometimes"),
            ("GROUP_COMMIT_MAX", "0"),
            ("GROUP_COMMIT_WAIT_US", "2000000"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{err}");
        }

        let err = settings(&[("DEMO_MODE", "maybe")]).unwrap_err();
        assert_eq!(err.var, "DEMO_MODE");

        let err = settings(&[("CORS_ORIGINS", "not a url")]).unwrap_err();
        assert_eq!(err.var, "CORS_ORIGINS");
    }

    #[test]
    fn url_errors_do_not_echo_the_password() {
        let err =
            settings(&[("DATABASE_URL", "postgres://u:hunter2@host:notaport/db")]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn defaults_match_the_old_backend() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8000);
        assert_eq!(s.api_prefix, "/api");
        assert!(!s.demo_mode);
        assert!(s.auth.secret_generated);
        assert_eq!(s.allowed_origins, vec!["http://localhost:3000".to_string()]);
        assert!(matches!(s.database.url, DatabaseUrl::Sqlite { .. }));
        // An ack survives a power loss unless the operator trades that away.
        assert_eq!(s.database.sqlite_synchronous, SqliteSync::Full);
        assert_eq!(s.database.event_retention, Duration::from_secs(604_800));
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.max_connections, None, "unset: derived from the fd limit");
        let group = s.database.group_commit;
        assert!(group.enabled);
        assert_eq!(
            (group.max, group.wait, group.committers),
            (256, Duration::ZERO, 1)
        );
    }

    #[test]
    fn group_commit_runs_half_the_pool_on_postgres_and_can_be_off() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("DATABASE_POOL_SIZE", "10"),
        ]);
        let group = s.unwrap().database.group_commit;
        assert_eq!((group.committers, group.max), (5, 64));
        let s = settings(&[("GROUP_COMMIT", "off"), ("GROUP_COMMIT_WAIT_US", "500")]).unwrap();
        assert!(!s.database.group_commit.enabled);
        assert_eq!(s.database.group_commit.wait, Duration::from_micros(500));
    }

    #[test]
    fn neon_url_is_used_when_database_url_is_unset() {
        let s = settings(&[("NEON_DB_URL", "postgresql://u@h/db?sslmode=require")]).unwrap();
        assert_eq!(s.database.url.backend(), Backend::Postgres);
    }

    #[test]
    fn generated_secrets_differ_between_runs() {
        assert_ne!(Secret::random().expose(), Secret::random().expose());
    }
}
