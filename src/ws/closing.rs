//! The end of a connection: the closing handshake (RFC 6455 §7, design §9).
//!
//! When the server closes a socket, its writer sends everything queued before the
//! close, then the close frame. The socket is not dropped then: one closed with
//! unread bytes is reset by the kernel, and the reset throws away what was still on
//! its way to the client, close frame included (a browser reports 1006). So what the
//! client still sends is read and discarded until its close frame arrives, or for
//! `CLOSE_GRACE` after ours.

use std::time::Duration;

use futures_util::{
    StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    task::JoinHandle,
    time::timeout,
};
use tungstenite::Message;

use super::upgrade::Socket;

/// How long the writer may take to send its last frames, and how long the client
/// then has to answer the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The socket's sending half, owned by the writer.
pub type Sink = SplitSink<Socket, Message>;

/// The socket's reading half, and how far reading has come.
pub struct Reader {
    stream: SplitStream<Socket>,
    state: Read,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Open,
    /// The client's close frame arrived, or the connection is gone.
    Over,
    /// Tungstenite failed (a protocol violation, an oversized frame) and reads no
    /// more: what the client still sends can only be read as raw bytes.
    Failed,
}

impl Reader {
    pub fn new(stream: SplitStream<Socket>) -> Self {
        Reader {
            stream,
            state: Read::Open,
        }
    }

    /// The next message; `None` once nothing more can be read. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<Message, tungstenite::Error>> {
        if self.state != Read::Open {
            return None;
        }
        let item = self.stream.next().await;
        self.state = match &item {
            Some(Ok(Message::Close(_))) | None => Read::Over,
            Some(Err(_)) => Read::Failed,
            Some(Ok(_)) => Read::Open,
        };
        item
    }
}

/// Ends a connection whose session is over. The writer sends what is queued, then
/// (when the server closes) the close frame, within `CLOSE_GRACE`; all the while, and
/// for `CLOSE_GRACE` after, the client's frames are read and discarded until its
/// close frame.
pub async fn finish(mut reader: Reader, mut writer: JoinHandle<Sink>) {
    let sent = timeout(CLOSE_GRACE, &mut writer);
    tokio::pin!(sent);
    // Reading goes on meanwhile: a client blocked sending to us may not read what we
    // send before we have read what it sends.
    let sink = loop {
        tokio::select! {
            sent = &mut sent => break sent.ok().and_then(Result::ok),
            _ = reader.next(), if reader.state == Read::Open => {}
        }
    };
    let Some(sink) = sink else {
        // The client does not read what we send: there is no answer to wait for.
        writer.abort();
        return;
    };
    let _ = timeout(CLOSE_GRACE, async {
        while reader.next().await.is_some() {}
        if reader.state == Read::Failed {
            discard_raw(reader.stream, sink).await;
        }
    })
    .await;
}

/// After tungstenite failed: half-closes the connection, so that the client, having
/// read our close frame, closes its side too, and discards bytes until it has.
async fn discard_raw(stream: SplitStream<Socket>, sink: Sink) {
    let Ok(mut socket) = stream.reunite(sink) else {
        return;
    };
    let io = socket.get_mut();
    if io.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0; 4096];
    while let Ok(1..) = io.read(&mut buf).await {}
}
