//! Tokens never reach the logs: the server binary runs at `RUST_LOG=trace` while
//! clients authenticate every way there is, and its whole output is searched.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use taskwire::{
    auth::Authenticator,
    config::{AuthSettings, Secret},
    domain::UserId,
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::helpers::{jwt::bearer, process::Sandbox};

const SECRET: &str = "log-test-secret";

#[tokio::test]
async fn tokens_never_appear_in_logs() {
    let sandbox = Sandbox::new();
    let server = sandbox.serve(&[
        ("RUST_LOG", "trace"),
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
        // Any 20-character piece of a token would be a leak.
        let signature = secret.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(&signature[..20]),
            "a token appears in the logs:\n{logs}"
        );
    }
    assert!(!logs.contains(SECRET), "the secret appears in the logs");
}
