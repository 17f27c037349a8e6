//! `/ws` hardening (design §9, Hardening): the closing handshake on every close the
//! server starts, a rate limit that closes only clients that ignore it, a frame
//! limit every valid request fits in, and RFC 6455's close codes for protocol
//! violations.
//!
//! The client here writes its frames as raw bytes (any number at once, valid or
//! not) and reads the server's with tungstenite, so it sees exactly how the
//! connection ended: a close frame and its code, or a dropped connection.

use std::{collections::BTreeSet, time::Duration};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpSocket, TcpStream},
    time::{Instant, sleep_until},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::{
    app::{TestApp, spawn_app},
    db::Backend,
    ws::{WAIT, req},
};
use crate::on_both_backends;

on_both_backends!(
    a_thousand_pings_at_once_are_answered_then_closed_with_4429,
    a_first_frame_other_than_auth_closes_with_4401_while_more_are_in_flight,
    a_client_that_waits_as_told_is_slowed_down_and_never_closed,
    a_full_length_cjk_message_fits_and_a_larger_frame_closes_with_1009,
    protocol_violations_close_with_rfc_6455_codes,
);

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq)]
enum Ended {
    /// The closing handshake: a close frame with this code.
    Close(u16),
    /// A close frame without a code.
    CloseWithoutCode,
    /// The connection broke without a close frame (a browser reports 1006).
    Dropped(String),
}

/// A client that writes raw bytes and reads the server's frames with tungstenite.
struct RawClient {
    ws: WebSocketStream<TcpStream>,
}

impl RawClient {
    /// Opens `/ws`, authenticated with the header and past `ready` when `user` is
    /// given, unauthenticated otherwise.
    async fn connect(app: &TestApp, user: Option<&str>) -> Self {
        Self::connect_with(app, user, None).await
    }

    /// `connect`, with a receive buffer of `recv_buffer` bytes: what the server sends
    /// beyond it waits in the server's send buffer until the client reads.
    async fn connect_with(app: &TestApp, user: Option<&str>, recv_buffer: Option<u32>) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(app.addr).await.unwrap();
        let mut request = app.ws_url().into_client_request().unwrap();
        if let Some(user) = user {
            let token = format!("Bearer {}", app.token(user));
            request
                .headers_mut()
                .insert("authorization", HeaderValue::from_str(&token).unwrap());
        }
        let (ws, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .expect("handshake accepted");
        let mut client = RawClient { ws };
        if user.is_some() {
            let ready = client.next().await.expect("ready");
            assert_eq!(ready["type"], "ready", "{ready}");
        }
        client
    }

    /// Writes `bytes` to the socket as they are. The server may close before it has
    /// read them all, so the write may fail.
    async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let tcp = self.ws.get_mut();
        tcp.write_all(bytes).await?;
        tcp.flush().await
    }

    /// The next text frame, or how the connection ended.
    async fn next(&mut self) -> Result<Value, Ended> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the server answers or closes in time");
            return match message {
                Some(Ok(Message::Text(text))) => {
                    Ok(serde_json::from_str(&text).expect("server frames are JSON"))
                }
                Some(Ok(Message::Close(Some(frame)))) => Err(Ended::Close(frame.code.into())),
                Some(Ok(Message::Close(None))) => Err(Ended::CloseWithoutCode),
                Some(Ok(_)) => continue,
                Some(Err(err)) => Err(Ended::Dropped(err.to_string())),
                None => Err(Ended::Dropped("end of stream".into())),
            };
        }
    }

    /// After the server's close frame: the client answers it (tungstenite does on
    /// the next read) and the server ends the connection cleanly, not with a reset.
    async fn assert_clean_end(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(None) => return,
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(err))) => panic!("the connection ended with an error: {err}"),
                Err(_) => panic!("the server kept the connection open after the close"),
            }
        }
    }
}

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const TEXT: u8 = 0x1;
const PING: u8 = 0x9;

/// One frame as a client writes it: `first` is the byte with FIN, RSV and opcode;
/// the payload is masked unless `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        out.extend(key);
        out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    } else {
        out.extend(payload);
    }
    out
}

/// A masked text frame carrying `json`.
fn text(json: &Value) -> Vec<u8> {
    frame(FIN | TEXT, json.to_string().as_bytes(), true)
}

/// `count` pings, `p0`, `p1`, …, as one run of bytes.
fn pings(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| text(&req("ping", &format!("p{i}"), json!({}))))
        .collect()
}

/// Default limits (20/s, burst 40): the burst is answered, the rest refused, and the
/// connection closed with 4429; the client reads every answer the server sent, in
/// order, then the close code (not a reset).
async fn a_thousand_pings_at_once_are_answered_then_closed_with_4429(backend: Backend) {
    let app = spawn_app(backend).await;
    // The answers outgrow the client's receive window: the server must keep the
    // connection until the client has read them.
    let mut client = RawClient::connect_with(&app, Some("alice"), Some(1024)).await;

    let _ = client.write_raw(&pings(1000)).await;
    let (mut pongs, mut refused) = (0, 0);
    let ended = loop {
        match client.next().await {
            Ok(answer) => {
                let id = format!("p{}", pongs + refused);
                assert_eq!(answer["id"], id, "answers come in order: {answer}");
                if answer["type"] == "pong" {
                    pongs += 1;
                } else {
                    assert_eq!(answer["code"], "rate_limited", "{answer}");
                    refused += 1;
                }
            }
            Err(ended) => break ended,
        }
    };
    assert_eq!(
        ended,
        Ended::Close(4429),
        "after {pongs} pongs and {refused} refusals"
    );
    assert!(pongs >= 40, "the burst is answered: {pongs} pongs");
    assert!(refused > 0, "refusals come before the close");
    client.assert_clean_end().await;
}

/// The server refuses the first frame and closes with 4401 while the client is still
/// sending: the client reads the error, then the close code.
async fn a_first_frame_other_than_auth_closes_with_4401_while_more_are_in_flight(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut client = RawClient::connect(&app, None).await;

    let mut frames = text(&req("task.list", "first", json!({})));
    frames.extend(pings(1000));
    let _ = client.write_raw(&frames).await;
    let refusal = client.next().await.expect("an error before the close");
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["code"], "unauthorized", "{refusal}");
    assert_eq!(refusal["id"], "first", "{refusal}");
    assert_eq!(client.next().await, Err(Ended::Close(4401)));
    client.assert_clean_end().await;
}

/// Default limits (20/s, burst 40). A client keeps four `task.create`s in flight and,
/// after each `rate_limited`, sends that request again once `retry_after_ms` has
/// passed: it is slowed down to the rate, never closed, and every request is acked
/// in the end (a refused request wrote nothing, so its retry is processed afresh).
async fn a_client_that_waits_as_told_is_slowed_down_and_never_closed(backend: Backend) {
    const REQUESTS: usize = 100;
    const IN_FLIGHT: usize = 4;
    let app = spawn_app(backend).await;
    let (mut ws, _) = app.ws("alice").await;

    let create = |i: usize| {
        req(
            "task.create",
            &format!("c{i}"),
            json!({"title": format!("t{i}")}),
        )
    };
    let (mut next, mut in_flight, mut acked, mut refused) = (0, 0, 0, 0);
    // Refused requests, by the time they may be sent again.
    let mut waiting = BTreeSet::<(Instant, usize)>::new();
    while acked < REQUESTS {
        while in_flight + waiting.len() < IN_FLIGHT && next < REQUESTS {
            ws.send(create(next)).await;
            (next, in_flight) = (next + 1, in_flight + 1);
        }
        let retry = waiting.first().copied();
        let due = retry.map_or(Instant::now() + WAIT, |(at, _)| at);
        tokio::select! {
            _ = sleep_until(due), if retry.is_some() => {
                let (at, i) = retry.unwrap();
                waiting.remove(&(at, i));
                ws.send(create(i)).await;
                in_flight += 1;
            }
            answer = ws.recv() => {
                in_flight -= 1;
                let i: usize = answer["id"].as_str().unwrap()[1..].parse().unwrap();
                if answer["type"] == "ack" {
                    acked += 1;
                } else {
                    assert_eq!(answer["code"], "rate_limited", "{answer}");
                    refused += 1;
                    let wait = Duration::from_millis(answer["retry_after_ms"].as_u64().unwrap());
                    waiting.insert((Instant::now() + wait, i));
                }
            }
        }
    }
    assert!(
        refused > 0,
        "{REQUESTS} requests, burst 40: some were refused"
    );
    let list = loop {
        let answer = ws.request(req("task.list", "l", json!({"limit": 1}))).await;
        match answer["retry_after_ms"].as_u64() {
            Some(wait) => tokio::time::sleep(Duration::from_millis(wait)).await,
            None => break answer,
        }
    };
    assert_eq!(list["data"]["total_count"], REQUESTS, "{list}");
}

/// `message.content` may be 32,768 characters: in CJK that is 96 KiB of UTF-8, which
/// fits the default frame limit (256 KiB). A frame over the limit closes with 1009,
/// and the client reads that code although it was still sending the frame.
async fn a_full_length_cjk_message_fits_and_a_larger_frame_closes_with_1009(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut client = RawClient::connect(&app, Some("alice")).await;

    let content = "漢".repeat(32_768);
    let append = text(&req("message.append", "m1", json!({"content": content})));
    client.write_raw(&append).await.unwrap();
    let ack = client.next().await.expect("an answer");
    assert_eq!(ack["type"], "ack", "{}", ack["message"]);
    assert_eq!(ack["id"], "m1");
    assert_eq!(ack["data"]["message"]["content"], content.as_str());

    let too_big = text(&req(
        "task.create",
        "big",
        json!({"title": "x".repeat(300_000)}),
    ));
    assert!(too_big.len() > 256 * 1024);
    let _ = client.write_raw(&too_big).await;
    assert_eq!(client.next().await, Err(Ended::Close(1009)));
    client.assert_clean_end().await;
}

/// Each violation, followed by valid frames the server must not answer, closes with
/// RFC 6455's code: 1007 for a text frame that is not UTF-8, 1002 for the others.
async fn protocol_violations_close_with_rfc_6455_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let ping = req("ping", "p", json!({})).to_string();
    let cases = [
        (
            "invalid UTF-8 in a text frame",
            frame(FIN | TEXT, b"{\"type\": \"\xff\"}", true),
            1007,
        ),
        (
            "an unmasked frame",
            frame(FIN | TEXT, ping.as_bytes(), false),
            1002,
        ),
        (
            "a reserved bit set",
            frame(FIN | RSV1 | TEXT, ping.as_bytes(), true),
            1002,
        ),
        (
            "a reserved data opcode",
            frame(FIN | 0x3, ping.as_bytes(), true),
            1002,
        ),
        (
            "a reserved control opcode",
            frame(FIN | 0xB, b"", true),
            1002,
        ),
        ("a fragmented ping", frame(PING, b"", true), 1002),
    ];
    for (violation, bytes, code) in cases {
        for user in [Some("alice"), None] {
            let mut client = RawClient::connect(&app, user).await;
            let mut bytes = bytes.clone();
            bytes.extend(pings(500));
            let _ = client.write_raw(&bytes).await;
            let state = if user.is_some() {
                "authenticated"
            } else {
                "before auth"
            };
            assert_eq!(
                client.next().await,
                Err(Ended::Close(code)),
                "{violation}, {state}"
            );
            client.assert_clean_end().await;
        }
    }
}
