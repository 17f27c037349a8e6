//! A graceful stop: the signal that every session waits on, and a way to wait until
//! they have all closed (in the manner of mini-redis's `shutdown.rs`).

use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};

/// Tells every session to finish and close with 1001, and waits for them.
#[derive(Clone, Default)]
pub struct Shutdown {
    signal: CancellationToken,
    sessions: TaskTracker,
}

impl Shutdown {
    pub fn begin(&self) {
        self.signal.cancel();
    }

    /// Resolves once `begin` was called.
    pub async fn begun(&self) {
        self.signal.cancelled().await
    }

    /// Held by a session while it runs, so `sessions_closed` waits for it.
    pub fn track_session(&self) -> TaskTrackerToken {
        self.sessions.token()
    }

    /// Resolves once every session has closed.
    pub async fn sessions_closed(&self) {
        self.sessions.close();
        self.sessions.wait().await
    }
}
