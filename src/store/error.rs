//! Database errors, classified once: "unreachable right now" (the client may retry)
//! or a bug. `From<sqlx::Error>` lives here so the error type stays free of sqlx.

use crate::error::Error;

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Error::Unavailable
        } else {
            Error::Internal(err.into())
        }
    }
}

/// Whether an error means "the database is not reachable right now" (answer 503 /
/// `unavailable`, the client may retry) rather than a bug.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08…), insufficient resources (53…),
            // operator intervention such as a shutdown or "cannot connect now" (57P…).
            // SQLite: BUSY (5), LOCKED (6), CANTOPEN (14) and their extended codes.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 14))
        }
        _ => false,
    }
}
