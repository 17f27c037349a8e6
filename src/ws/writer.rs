//! The writer task of a connection: it owns the socket's sending half and sends what
//! the session and the hub queue, in an order the client can rely on.
//!
//! Events go out in increasing `seq`, never one twice. While changes of this
//! connection are in flight (a `Hold` each), events are held back, so that each ack
//! lands among them in `seq` order: a client never sees event 7 before the ack of 6.
//! A connection's changes are answered in the order sent, which is their `seq` order.

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tungstenite::{
    Message, Utf8Bytes,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

use super::{close, closing::Sink};
use crate::{
    hub::{Outbound, Replay},
    protocol::{Resumed, ServerFrame},
};

const SLOW: (u16, &str) = (close::POLICY, "slow consumer: outbound queue overflowed");

/// Sends queued frames in order until the queue closes, a close is queued, or the
/// connection is evicted (closed with 1008, the rest of its queue dropped). Hands
/// the sending half back for the closing handshake (`closing::finish`).
pub async fn run(
    mut sink: Sink,
    mut inbox: mpsc::Receiver<Outbound>,
    evict: CancellationToken,
    max_held: usize,
) -> Sink {
    let mut order = Sequencer::new(max_held);
    let mut ready = Vec::new();
    let closing = loop {
        let item = tokio::select! {
            biased;
            _ = evict.cancelled() => break Some(SLOW),
            item = inbox.recv() => item,
        };
        let Some(item) = item else { break None };
        let flow = order.step(item, &mut ready);
        for message in ready.drain(..) {
            let sent = tokio::select! {
                biased;
                _ = evict.cancelled() => break,
                sent = sink.send(message) => sent,
            };
            if sent.is_err() {
                // The socket is gone: end the session too.
                evict.cancel();
                return sink;
            }
        }
        if evict.is_cancelled() {
            break Some(SLOW);
        }
        if let Flow::Close(code, reason) = flow {
            break Some((code, reason));
        }
    };
    if let Some((code, reason)) = closing {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
    sink
}

/// Whether the writer goes on after a step.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close(u16, &'static str),
}

/// The writer's ordering, apart from the socket: turns each queued item into the
/// messages to send now.
struct Sequencer {
    /// The event `seq`s this connection has delivered (sent, or acknowledged as its
    /// own change): `low < seq <= high`, contiguous; `None` before the first.
    sent: Option<(i64, i64)>,
    /// Changes (and `resume`s) of this connection in flight: their replies are due.
    holds: usize,
    /// Events held back while `holds` is not zero.
    held: Vec<(i64, Utf8Bytes)>,
    /// More held events than this and the client is a slow consumer.
    max_held: usize,
}

impl Sequencer {
    fn new(max_held: usize) -> Self {
        Sequencer {
            sent: None,
            holds: 0,
            held: Vec::new(),
            max_held,
        }
    }

    /// One queued item: appends what to send to `out`.
    fn step(&mut self, item: Outbound, out: &mut Vec<Message>) -> Flow {
        match item {
            Outbound::Close(code, reason) => return Flow::Close(code, reason),
            Outbound::Hold => self.holds += 1,
            Outbound::Event { seq, frame } if self.holds > 0 => {
                if self.held.len() >= self.max_held {
                    return Flow::Close(SLOW.0, SLOW.1);
                }
                self.held.push((seq, frame));
            }
            Outbound::Event { seq, frame } => self.event(seq, frame, out),
            Outbound::Reply { seq, frame } => self.reply(seq, frame, out),
            Outbound::Resume(replay) => self.resume(*replay, out),
            Outbound::Frame(frame) => out.push(Message::Text(frame)),
            Outbound::Ping => out.push(Message::Ping(Default::default())),
        }
        Flow::Continue
    }

    fn event(&mut self, seq: i64, frame: Utf8Bytes, out: &mut Vec<Message>) {
        if self.sent.is_none_or(|(_, high)| seq > high) {
            self.delivered(seq - 1, seq);
            out.push(Message::Text(frame));
        }
    }

    /// A reply; the held events with a lower `seq` go first, and the rest after it
    /// unless other replies are still due (theirs have higher `seq`s).
    fn reply(&mut self, seq: Option<i64>, frame: Utf8Bytes, out: &mut Vec<Message>) {
        self.holds = self.holds.saturating_sub(1);
        let mut held = std::mem::take(&mut self.held);
        held.sort_unstable_by_key(|(seq, _)| *seq);
        let split = seq.map_or(0, |s| held.partition_point(|(e, _)| *e < s));
        let later = held.split_off(split);
        for (event_seq, event) in held {
            self.event(event_seq, event, out);
        }
        out.push(Message::Text(frame));
        if let Some(seq) = seq {
            self.delivered(seq - 1, seq);
        }
        self.release(later, out);
    }

    /// Sends `later` now if no reply is due, else holds it back again.
    fn release(&mut self, later: Vec<(i64, Utf8Bytes)>, out: &mut Vec<Message>) {
        if self.holds > 0 {
            self.held = later;
            return;
        }
        for (event_seq, event) in later {
            self.event(event_seq, event, out);
        }
    }

    /// A replay: the events up to `latest` that this connection has not delivered
    /// (the replayed ones and the live ones held meanwhile, once each, in `seq`
    /// order), then the ack, then the held events after `latest`.
    fn resume(&mut self, replay: Replay, out: &mut Vec<Message>) {
        self.holds = self.holds.saturating_sub(1);
        let mut held = std::mem::take(&mut self.held);
        held.extend(replay.events);
        held.sort_by_key(|(seq, _)| *seq);
        held.dedup_by_key(|(seq, _)| *seq);
        let split = held.partition_point(|(seq, _)| *seq <= replay.latest);
        let later = held.split_off(split);
        let before = out.len();
        for (seq, event) in held {
            let delivered = self
                .sent
                .is_some_and(|(low, high)| low < seq && seq <= high);
            if seq > replay.after && !delivered {
                out.push(Message::Text(event));
            }
        }
        let resumed = Resumed {
            replayed: (out.len() - before) as u64,
            seq: replay.latest,
        };
        metrics::counter!("taskwire_resume_replayed_events_total").increment(resumed.replayed);
        // The client now has every event after `after` up to `latest`.
        self.delivered(replay.after, replay.latest);
        let data = serde_json::value::to_raw_value(&resumed).expect("a resume ack serializes");
        let ack = ServerFrame::Ack {
            id: &replay.id,
            data: &data,
            seq: None,
        };
        out.push(Message::Text(ack.to_text()));
        self.release(later, out);
    }

    /// Records that the client has every event `low < seq <= high`. Joined to what
    /// it had when the two touch; otherwise the newer range is kept (an ack with an
    /// old `seq`, from a retried request, must not claim the events in between).
    fn delivered(&mut self, low: i64, high: i64) {
        self.sent = Some(match self.sent {
            Some((was_low, was_high)) if low <= was_high && was_low <= high => {
                (was_low.min(low), was_high.max(high))
            }
            Some((was_low, was_high)) if was_high > high => (was_low, was_high),
            _ => (low, high),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> Outbound {
        Outbound::Event {
            seq,
            frame: format!("event {seq}").into(),
        }
    }

    fn reply(seq: Option<i64>) -> Outbound {
        Outbound::Reply {
            seq,
            frame: "reply".into(),
        }
    }

    /// Feeds `items` and returns the texts sent, in order.
    fn sent(order: &mut Sequencer, items: Vec<Outbound>) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            assert_eq!(order.step(item, &mut out), Flow::Continue);
        }
        out.into_iter()
            .map(|m| match m {
                Message::Text(text) => text.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn events_go_out_in_seq_order_never_twice() {
        let mut order = Sequencer::new(8);
        let out = sent(
            &mut order,
            vec![event(1), event(2), event(2), event(1), event(3)],
        );
        assert_eq!(out, ["event 1", "event 2", "event 3"]);
    }

    #[test]
    fn a_reply_lands_among_held_events_by_its_seq() {
        let mut order = Sequencer::new(8);
        let out = sent(
            &mut order,
            vec![
                Outbound::Hold,
                event(7),
                event(5),
                reply(Some(6)),
                event(6),
                event(8),
            ],
        );
        assert_eq!(out, ["event 5", "reply", "event 7", "event 8"]);
    }

    #[test]
    fn a_failed_change_releases_held_events_after_its_reply() {
        let mut order = Sequencer::new(8);
        let out = sent(
            &mut order,
            vec![Outbound::Hold, event(1), reply(None), event(2)],
        );
        assert_eq!(out, ["reply", "event 1", "event 2"]);
    }

    #[test]
    fn pipelined_changes_take_their_places_among_held_events() {
        let mut order = Sequencer::new(10);
        let out = sent(
            &mut order,
            vec![
                Outbound::Hold,
                Outbound::Hold,
                // Another tab's change (2) and the two changes' own events (1, 3).
                event(2),
                event(1),
                event(3),
                reply(Some(1)),
            ],
        );
        assert_eq!(out, ["reply"], "event 2 waits for the second reply");
        let out = sent(&mut order, vec![event(4), reply(Some(3)), event(5)]);
        assert_eq!(out, ["event 2", "reply", "event 4", "event 5"]);
    }

    #[test]
    fn a_failed_change_among_pipelined_ones_releases_nothing_early() {
        let mut order = Sequencer::new(10);
        let out = sent(
            &mut order,
            vec![
                Outbound::Hold,
                Outbound::Hold,
                event(1),
                event(2),
                reply(None),
            ],
        );
        assert_eq!(out, ["reply"], "the second change is still due");
        let out = sent(&mut order, vec![reply(Some(2))]);
        assert_eq!(out, ["event 1", "reply"]);
    }

    #[test]
    fn frames_and_pings_pass_in_queue_order() {
        let mut order = Sequencer::new(8);
        let out = sent(
            &mut order,
            vec![Outbound::Frame("ready".into()), Outbound::Ping, reply(None)],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], "ready");
        assert!(out[1].starts_with("Ping"), "{}", out[1]);
        assert_eq!(out[2], "reply");
    }

    #[test]
    fn too_many_held_events_is_a_slow_consumer() {
        let mut order = Sequencer::new(2);
        let mut out = Vec::new();
        assert_eq!(order.step(Outbound::Hold, &mut out), Flow::Continue);
        assert_eq!(order.step(event(1), &mut out), Flow::Continue);
        assert_eq!(order.step(event(2), &mut out), Flow::Continue);
        assert_eq!(order.step(event(3), &mut out), Flow::Close(SLOW.0, SLOW.1));
        assert!(out.is_empty());
    }

    #[test]
    fn a_queued_close_ends_the_writer() {
        let mut order = Sequencer::new(2);
        let mut out = Vec::new();
        assert_eq!(
            order.step(Outbound::Close(close::GOING_AWAY, "bye"), &mut out),
            Flow::Close(close::GOING_AWAY, "bye")
        );
    }
}

#[cfg(test)]
mod resume_tests {
    use super::*;
    use crate::protocol::RequestId;

    fn frames(seqs: &[i64]) -> Vec<(i64, Utf8Bytes)> {
        seqs.iter()
            .map(|seq| (*seq, format!("event {seq}").into()))
            .collect()
    }

    fn replay(after: i64, latest: i64, seqs: &[i64]) -> Outbound {
        let id = RequestId::try_from("r1".to_owned()).unwrap();
        Outbound::Resume(Box::new(Replay {
            id,
            after,
            latest,
            events: frames(seqs),
        }))
    }

    fn texts(out: Vec<Message>) -> Vec<String> {
        out.into_iter()
            .map(|m| match m {
                Message::Text(text) => text.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn ack(replayed: u64, seq: i64) -> String {
        format!(r#"{{"type":"ack","id":"r1","data":{{"replayed":{replayed},"seq":{seq}}}}}"#)
    }

    #[test]
    fn live_events_during_a_replay_are_neither_lost_nor_sent_twice() {
        let mut order = Sequencer::new(8);
        let mut out = Vec::new();
        order.step(Outbound::Hold, &mut out);
        // Committed while the replay was read: 5 is in the replay too, 6 is not.
        for seq in [5, 6] {
            let frame = format!("event {seq}").into();
            order.step(Outbound::Event { seq, frame }, &mut out);
        }
        order.step(replay(2, 5, &[3, 4, 5]), &mut out);
        order.step(
            Outbound::Event {
                seq: 6,
                frame: "event 6".into(),
            },
            &mut out,
        );
        assert_eq!(
            texts(out),
            ["event 3", "event 4", "event 5", &ack(3, 5), "event 6"]
        );
    }

    #[test]
    fn events_the_connection_already_sent_are_not_replayed() {
        let mut order = Sequencer::new(8);
        let mut out = Vec::new();
        for seq in [4, 5] {
            let frame = format!("event {seq}").into();
            order.step(Outbound::Event { seq, frame }, &mut out);
        }
        order.step(Outbound::Hold, &mut out);
        order.step(replay(2, 5, &[3, 4, 5]), &mut out);
        assert_eq!(texts(out), ["event 4", "event 5", "event 3", &ack(1, 5)]);
    }

    #[test]
    fn an_old_acked_seq_does_not_count_the_events_in_between_as_delivered() {
        let mut order = Sequencer::new(8);
        let mut out = Vec::new();
        // The retried request's ack carries its first seq, 1; the user is at 7 now.
        order.step(Outbound::Hold, &mut out);
        order.step(
            Outbound::Reply {
                seq: Some(1),
                frame: "retried ack".into(),
            },
            &mut out,
        );
        for seq in [7, 8] {
            let frame = format!("event {seq}").into();
            order.step(Outbound::Event { seq, frame }, &mut out);
        }
        order.step(Outbound::Hold, &mut out);
        order.step(replay(1, 8, &[2, 3, 4, 5, 6, 7, 8]), &mut out);
        assert_eq!(
            texts(out),
            [
                "retried ack",
                "event 7",
                "event 8",
                "event 2",
                "event 3",
                "event 4",
                "event 5",
                "event 6",
                &ack(5, 8)
            ]
        );
    }

    #[test]
    fn nothing_missed_is_an_empty_replay() {
        let mut order = Sequencer::new(8);
        let mut out = Vec::new();
        order.step(Outbound::Hold, &mut out);
        order.step(replay(7, 7, &[]), &mut out);
        assert_eq!(texts(out), [ack(0, 7)]);
    }
}
