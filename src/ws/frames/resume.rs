//! `resume`: a reconnecting client sends the last `seq` it saw and receives the
//! events it missed, in order, then the ack. Events committed meanwhile are neither
//! lost nor sent twice: the writer holds them and merges them with the replay.
//! An `after_seq` above the latest, or older than the retained log, is `resume_gap`:
//! the client reloads what it shows and continues from `ready`'s `seq`.
//!
//! # Format
//!
//! ```text
//! → {"type": "resume", "id": "s1", "after_seq": 10}
//! ← {"type": "event", "event": "task.created", "seq": 11, "data": {…}}
//! ← {"type": "event", "event": "message.appended", "seq": 12, "data": {…}}
//! ← {"type": "ack", "id": "s1", "data": {"replayed": 2, "seq": 12}}
//! ```

use super::{Context, Reply};
use crate::{
    error::{Error, Result},
    protocol::{Event, ServerFrame, input::ResumeFields},
};

pub async fn apply(cx: &mut Context<'_>, fields: ResumeFields) -> Result<Reply> {
    let after = fields.after_seq;
    if after < 0 {
        return Err(Error::invalid("after_seq", "after_seq must be 0 or more"));
    }
    let (latest, stored) = cx.service().events_since(cx.conn.user(), after).await?;
    if after > latest {
        return Err(Error::ResumeGap(
            format!("after_seq {after} is ahead of the latest seq {latest}").into(),
        ));
    }
    // The log is contiguous unless its older part was pruned.
    if stored.len() as i64 != latest - after {
        return Err(Error::ResumeGap(
            format!(
                "Events after seq {after} are no longer kept: reload, then go on from ready's seq"
            )
            .into(),
        ));
    }
    let mut events = Vec::with_capacity(stored.len());
    for stored in stored {
        let event = Event::try_from(stored)?;
        events.push((event.seq, ServerFrame::event(&event).to_text()));
    }
    Ok(Reply::Replay {
        after,
        latest,
        events,
    })
}
