//! Tokens never reach the logs: the server binary runs at `RUST_LOG=trace`, or with
//! the WebSocket and HTTP libraries' own targets named at `trace`, while clients
//! authenticate every way there is, and its whole output is searched.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use taskwire::{
    auth::Authenticator,
    config::{AuthSettings, Secret},
    domain::UserId,
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::helpers::{
    jwt::{self, bearer, server_signed, valid_for_an_hour},
    process::Sandbox,
};

const SECRET: &str = "log-test-secret";

#[tokio::test]
async fn tokens_never_appear_in_logs() {
    tokens_never_appear_with("trace").await;
}

/// A more specific target must not loosen the cap on the libraries' frame logging.
#[tokio::test]
async fn naming_a_library_target_does_not_log_tokens() {
    tokens_never_appear_with(
        "trace,tungstenite::protocol=trace,tokio_tungstenite=trace,hyper::proto=trace,hyper_util::server=trace",
    )
    .await;
}

async fn tokens_never_appear_with(rust_log: &str) {
    let sandbox = Sandbox::new();
    let server = sandbox.serve(&[
        ("RUST_LOG", rust_log),
        ("BETTER_AUTH_SECRET", SECRET),
        ("DATABASE_URL", &sandbox.sqlite_url("logs.db")),
    ]);

    let auth = Authenticator::new(&AuthSettings {
        secret: Secret::new(SECRET),
        secret_generated: false,
        issuer: None,
        audience: None,
    });
    let token = auth.mint(&UserId::parse("alice").unwrap(), Duration::from_secs(600));
    let bad_token = auth.mint(&UserId::parse("alice").unwrap(), Duration::ZERO) + "tampered";
    let base = format!("127.0.0.1:{}", sandbox.port);
    let http = reqwest::Client::new();
    wait_until_up(&http, &base).await;

    // REST with the header, and with a refused token.
    let res = http
        .post(format!("http://{base}/api/alice/tasks"))
        .bearer_auth(&token)
        .json(&json!({"title": "secret-free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .get(format!("http://{base}/api/alice/tasks"))
        .bearer_auth(&bad_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // WebSocket: header, query parameter, auth frame, and a refused query token.
    let mut request = format!("ws://{base}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&bearer(&token)).unwrap(),
    );
    let (mut by_header, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut by_query, _) =
        tokio_tungstenite::connect_async(format!("ws://{base}/ws?token={token}"))
            .await
            .unwrap();
    let (mut by_frame, _) = tokio_tungstenite::connect_async(format!("ws://{base}/ws"))
        .await
        .unwrap();
    by_frame
        .send(Message::Text(
            json!({"type": "auth", "token": token}).to_string().into(),
        ))
        .await
        .unwrap();
    for ws in [&mut by_header, &mut by_query, &mut by_frame] {
        let ready = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(ready.to_text().unwrap().contains("\"ready\""), "{ready:?}");
        ws.send(Message::Text(
            json!({"type": "ping", "id": "p"}).to_string().into(),
        ))
        .await
        .unwrap();
        ws.next().await.unwrap().unwrap();
    }
    by_header
        .send(Message::Text(
            json!({"type": "auth.refresh", "id": "r", "token": token})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let refreshed = by_header.next().await.unwrap().unwrap();
    assert!(
        refreshed.to_text().unwrap().contains("\"ack\""),
        "{refreshed:?}"
    );
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{base}/ws?token={bad_token}"))
            .await
            .is_err()
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let output = server.kill();
    let logs = output.stdout + &output.stderr;
    assert!(
        logs.contains("frame"),
        "the logs show frames at this level:\n{logs}"
    );
    assert!(
        logs.contains("/api/alice/tasks"),
        "the logs show requests:\n{logs}"
    );
    for secret in [&token, &bad_token] {
        // Any 20-character piece of a token would be a leak, as text or as the hex
        // dump of a frame's bytes.
        let piece = &secret.rsplit('.').next().unwrap()[..20];
        let hex: String = piece.bytes().map(|b| format!("{b:02x}")).collect();
        let spaced: Vec<String> = piece.bytes().map(|b| format!("{b:02x}")).collect();
        for leak in [piece.to_owned(), hex, spaced.join(" "), spaced.join(", ")] {
            assert!(
                !logs.to_lowercase().contains(&leak.to_lowercase()),
                "a token appears in the logs ({leak}) with RUST_LOG={rust_log}:\n{logs}"
            );
        }
    }
    assert!(!logs.contains(SECRET), "the secret appears in the logs");
}

/// Waits for the server at `base` to answer `/health`.
async fn wait_until_up(http: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("http://{base}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text a forged log line would start with.
const FORGED: &str = "2026-01-01T00:00:00Z  INFO forged admin login ok";

/// Client strings with a newline (request ids, a token's user id) reach the logs
/// escaped: no line of the server's output starts with the forged text. The server
/// binary runs at `RUST_LOG=trace`, its whole output captured.
#[tokio::test]
async fn client_strings_cannot_forge_log_lines() {
    let sandbox = Sandbox::new();
    let server = sandbox.serve(&[
        ("RUST_LOG", "trace"),
        ("BETTER_AUTH_SECRET", jwt::SECRET),
        ("DATABASE_URL", &sandbox.sqlite_url("logs.db")),
    ]);
    let base = format!("127.0.0.1:{}", sandbox.port);
    let http = reqwest::Client::new();
    wait_until_up(&http, &base).await;

    let forged_id = format!("x\n{FORGED}");
    // A token whose user id would start a log line, on REST and at the handshake.
    let evil = server_signed(valid_for_an_hour(
        json!({ "sub": format!("evil\n{FORGED}") }),
    ));
    let rest_status = http
        .get(format!("http://{base}/api/evil%0A/tasks"))
        .bearer_auth(&evil)
        .send()
        .await
        .unwrap()
        .status();
    let mut request = format!("ws://{base}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {evil}")).unwrap(),
    );
    if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await {
        // Accepted (the bug): let the session log its "connected" line.
        let _ = ws.next().await;
        let _ = ws
            .send(Message::Text(
                json!({"type": "ping", "id": "p"}).to_string().into(),
            ))
            .await;
        let _ = ws.next().await;
    }

    // Request ids with a newline: a ping, a change, a read, and frames refused as bad.
    let good = server_signed(valid_for_an_hour(json!({ "sub": "alice" })));
    let mut request = format!("ws://{base}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    {
        let ready = ws.next().await.unwrap().unwrap();
        assert!(ready.to_text().unwrap().contains("\"ready\""), "{ready:?}");
        for frame in [
            json!({"type": "ping", "id": forged_id}),
            json!({"type": "task.create", "id": forged_id, "title": "t"}),
            json!({"type": "task.list", "id": forged_id}),
            json!({"type": "task.create", "id": forged_id, "title": ""}),
            json!({"type": "no.such.type", "id": forged_id}),
            json!({"type": "auth", "id": forged_id, "token": good}),
        ] {
            ws.send(Message::Text(frame.to_string().into()))
                .await
                .unwrap();
            let answer = ws.next().await.unwrap().unwrap();
            let answer: Value = serde_json::from_str(answer.to_text().unwrap()).unwrap();
            assert_eq!(answer["id"], forged_id.as_str(), "{answer}");
        }
    }

    // The last frame's log line is written before its answer: the logs are complete.
    let output = server.kill();
    let logs = output.stdout + &output.stderr;
    assert!(
        logs.contains(&format!("x\\n{FORGED}")),
        "the request ids are logged, escaped:\n{logs}"
    );
    let forged: Vec<&str> = logs
        .lines()
        .filter(|line| line.starts_with(FORGED))
        .collect();
    assert!(forged.is_empty(), "forged log lines {forged:?} in:\n{logs}");
    assert_eq!(rest_status, 401, "a user id with a newline is refused");
}
