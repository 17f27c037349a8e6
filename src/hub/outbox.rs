//! A connection's outbound queue: what its writer sends, in order.

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tungstenite::Utf8Bytes;

use crate::protocol::RequestId;

/// What a connection's writer sends, in order.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// A frame sent as it is, in queue order: `ready`, and errors that answer no
    /// handled request (a refused frame, a rate-limited one, an expired token).
    Frame(Utf8Bytes),
    /// An event, with its `seq` so the writer never sends one twice.
    Event { seq: i64, frame: Utf8Bytes },
    /// A change of this connection is in flight: hold events back until its
    /// `Reply`, so the ack and the events reach the client in `seq` order.
    Hold,
    /// The reply to a handled request (ack, pong or error); after a `Hold`, it
    /// carries the change's `seq`.
    Reply { seq: Option<i64>, frame: Utf8Bytes },
    /// The reply to `resume`: the writer sends the replayed events it has not sent
    /// yet, in `seq` order with the held ones, then the ack it builds from what it
    /// sent (after a `Hold`).
    Resume(Box<Replay>),
    /// A WebSocket ping (heartbeat).
    Ping,
    /// The last frame: a close with this code and reason.
    Close(u16, &'static str),
}

// Every connection's queue allocates its first 32 slots up front: an idle
// connection pays for 32 of these (the rare, large `Replay` is boxed).
const _: () = assert!(std::mem::size_of::<Outbound>() <= 48);

/// A `resume` request's replay.
#[derive(Clone, Debug)]
pub struct Replay {
    pub id: RequestId,
    /// The client has every event up to this `seq`.
    pub after: i64,
    /// The user's latest `seq` when the replay was read.
    pub latest: i64,
    /// The events `after < seq <= latest`, in order, as frames.
    pub events: Vec<(i64, Utf8Bytes)>,
}

/// The sending end of a connection's bounded queue, and the token that ends the
/// connection. Cheap to clone: the session, the hub and the writer share one.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Outbound>,
    evict: CancellationToken,
}

impl Outbox {
    /// A queue of `capacity` frames; the writer reads the receiver.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Outbound>) {
        let (queue, inbox) = mpsc::channel(capacity);
        let outbox = Outbox {
            queue,
            evict: CancellationToken::new(),
        };
        (outbox, inbox)
    }

    /// Queues a frame. A client whose queue is full does not read, so it is evicted
    /// (closed with 1008) instead of waited for: false then, as when the writer is gone.
    pub fn push(&self, item: Outbound) -> bool {
        match self.queue.try_send(item) {
            Ok(()) => true,
            Err(err) => {
                if let TrySendError::Full(_) = err {
                    tracing::warn!("slow consumer: closing");
                }
                self.evict.cancel();
                false
            }
        }
    }

    /// Resolves once the connection is evicted.
    pub async fn evicted(&self) {
        self.evict.cancelled().await
    }

    /// The eviction token alone, for the writer: holding a sender would keep its own
    /// queue open forever.
    pub fn eviction(&self) -> CancellationToken {
        self.evict.clone()
    }
}
