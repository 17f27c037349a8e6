//! The `taskwire` command: `serve` (the default), `token`, `migrate`.

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use taskwire::{
    auth::Authenticator,
    config::{AuthSettings, Secret, Settings},
    domain::UserId,
    startup::{Application, shutdown_signal},
    store::Store,
    telemetry,
};

/// Real-time gateway for the Todo chatbot: the legacy REST API plus a JWT WebSocket,
/// on SQLite or PostgreSQL. Configured by environment variables (and `.env`); see
/// README.md and .env.example.
#[derive(Parser)]
#[command(name = "taskwire", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Print a signed HS256 token that this server accepts, for testing.
    Token {
        /// User id to put in the `sub` claim.
        #[arg(long)]
        user: String,
        /// Lifetime, such as 30m, 1h or 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Signing secret; defaults to BETTER_AUTH_SECRET.
        #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Load-test a server over the WebSocket protocol; prints one JSON object.
    Bench(taskwire::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("error: cannot read .env: {err}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Token { user, ttl, secret } => token(&user, ttl, secret),
        Command::Bench(args) => match taskwire::bench::run(args).await {
            Ok(report) => {
                println!("{report:#}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
        command => {
            let settings = match Settings::from_env() {
                Ok(settings) => settings,
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init();
            let result = match command {
                Command::Migrate => migrate(settings).await,
                _ => serve(settings).await,
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn token(user: &str, ttl: Duration, secret: Option<String>) -> ExitCode {
    let Some(user) = UserId::parse(user) else {
        eprintln!("error: --user must not be blank or contain control characters");
        return ExitCode::from(2);
    };
    let Some(secret) = secret.filter(|s| !s.trim().is_empty()) else {
        eprintln!("error: no secret: set BETTER_AUTH_SECRET or pass --secret");
        return ExitCode::from(2);
    };
    let mut auth = AuthSettings::from_lookup(|name| std::env::var(name).ok());
    auth.secret = Secret::new(secret.trim());
    println!("{}", Authenticator::new(&auth).mint(&user, ttl));
    ExitCode::SUCCESS
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = Store::connect_lazy(&settings.database)?;
    store.migrate().await?;
    println!("migrations applied to {}", settings.database.url);
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    print_banner(&app);
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

/// Tells a new user how to connect, with a ready-to-paste command.
fn print_banner(app: &Application) {
    let state = app.state();
    let settings = &state.settings;
    let addr = app.local_addr();
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_owned(),
        // An IPv6 address in a URL goes in brackets.
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let base = format!("http://{host}:{}", addr.port());
    println!("taskwire {} listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("  database: {}", settings.database.url);
    println!("  health:   curl {base}/health");
    println!(
        "  live:     ws://{host}:{}/ws (protocol: protocol/README.md)",
        addr.port()
    );
    if settings.auth.secret_generated {
        let user = UserId::parse("dev-user").expect("a literal user id");
        let token = state.auth.mint(&user, Duration::from_secs(24 * 3600));
        println!();
        println!(
            "WARNING: BETTER_AUTH_SECRET is not set: this run signs tokens with a random secret"
        );
        println!(
            "         that dies with the process. Set BETTER_AUTH_SECRET to Better Auth's secret."
        );
        println!();
        println!("Try it as user \"dev-user\" (token valid 24 h, for this run only):");
        println!("  export TOKEN={token}");
        println!(
            "  curl -X POST {base}{}/dev-user/tasks -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"title\": \"Buy milk\"}}'",
            settings.api_prefix
        );
        println!(
            "  curl {base}{}/dev-user/tasks -H \"Authorization: Bearer $TOKEN\"",
            settings.api_prefix
        );
        println!(
            "  wscat -c ws://{host}:{}/ws -H \"Authorization: Bearer $TOKEN\"",
            addr.port()
        );
        println!(
            "  (then send: {{\"type\": \"task.create\", \"id\": \"1\", \"title\": \"Buy milk\"}})"
        );
    } else {
        println!("  a token for testing: taskwire token --user <user-id>");
    }
    if settings.demo_mode {
        println!("DEMO_MODE is on: requests without a token act as \"demo-user\".");
    }
}
