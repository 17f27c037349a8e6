//! Database errors, classified once: "unreachable right now" (the client may retry)
//! or a bug. `From<sqlx::Error>` lives here so the error type stays free of sqlx.

use sqlx::{error::DatabaseError, postgres::PgDatabaseError, sqlite::SqliteError};

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
        sqlx::Error::Database(db) => database_error_is_unavailable(db.as_ref()),
        _ => false,
    }
}

/// Reads the code the way its own backend means it: the two backends' codes overlap
/// (PostgreSQL's data error `22021` read as a SQLite code is BUSY).
fn database_error_is_unavailable(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        postgres_code_is_unavailable(pg.code())
    } else if db.try_downcast_ref::<SqliteError>().is_some() {
        db.code()
            .and_then(|code| code.parse().ok())
            .is_some_and(sqlite_code_is_unavailable)
    } else {
        false
    }
}

/// PostgreSQL SQLSTATEs: connection exceptions (class 08), insufficient resources
/// (53, e.g. too many connections), operator intervention such as a shutdown or
/// "cannot connect now" (57P). Everything else (data errors, constraint violations,
/// syntax) is a bug: retrying cannot help.
fn postgres_code_is_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P")
}

/// SQLite result codes (extended codes carry the primary one in their low byte):
/// BUSY (5), LOCKED (6), CANTOPEN (14).
fn sqlite_code_is_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 14)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::{Connection, Executor, SqliteConnection};

    use super::*;

    #[test]
    fn postgres_outages_are_unavailable_and_data_errors_are_not() {
        // 08006 connection failure, 08003 no connection, 57P01 admin shutdown,
        // 57P03 cannot connect now, 53300 too many connections, 53100 disk full.
        for code in [
            "08006", "08003", "08001", "57P01", "57P02", "57P03", "53300", "53100",
        ] {
            assert!(postgres_code_is_unavailable(code), "{code}");
        }
        // 22021 character not in repertoire (a NUL), 22P05 untranslatable character,
        // 22001 string too long, 23505 unique violation, 23503 foreign key,
        // 42P01 undefined table, 40001 serialization failure, 57014 query canceled.
        for code in [
            "22021", "22P05", "22001", "23505", "23503", "42P01", "40001", "57014",
        ] {
            assert!(!postgres_code_is_unavailable(code), "{code}");
        }
    }

    #[test]
    fn sqlite_busy_locked_and_cantopen_are_unavailable() {
        // 5 BUSY, 261 BUSY_RECOVERY, 517 BUSY_SNAPSHOT, 6 LOCKED, 262 LOCKED_SHAREDCACHE,
        // 14 CANTOPEN, 270 CANTOPEN_NOTEMPDIR.
        for code in [5, 261, 517, 6, 262, 14, 270] {
            assert!(sqlite_code_is_unavailable(code), "{code}");
        }
        // 1 ERROR, 19 CONSTRAINT, 2067 CONSTRAINT_UNIQUE, 1555 CONSTRAINT_PRIMARYKEY,
        // 787 CONSTRAINT_FOREIGNKEY, 1811 CONSTRAINT_TRIGGER, 11 CORRUPT, 20 MISMATCH.
        for code in [1, 19, 2067, 1555, 787, 1811, 11, 20] {
            assert!(!sqlite_code_is_unavailable(code), "{code}");
        }
    }

    /// A driver error that is neither PostgreSQL's nor SQLite's, with the code given.
    #[derive(Debug)]
    struct OtherDriver(&'static str);

    impl std::fmt::Display for OtherDriver {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for OtherDriver {}

    impl DatabaseError for OtherDriver {
        fn message(&self) -> &str {
            "other driver"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn a_code_is_never_read_by_its_shape() {
        // All digits, and BUSY in its low byte as a SQLite code: not SQLite's, so not
        // an outage (the bug: PostgreSQL's 22021 read as SQLITE_BUSY).
        for code in ["22021", "5", "517"] {
            let err = sqlx::Error::Database(Box::new(OtherDriver(code)));
            assert!(!is_unavailable(&err), "{code}");
        }
    }

    #[tokio::test]
    async fn real_sqlite_errors_are_classified_by_their_code() {
        use sea_query::{ColumnDef, Iden, Query, SqliteQueryBuilder, Table};

        #[derive(Iden)]
        enum T {
            Table,
            Id,
            Name,
            Missing,
        }
        let run = async |conn: &mut SqliteConnection, sql: String| {
            conn.execute(sqlx::AssertSqlSafe(sql)).await.map(drop)
        };
        let insert = |id: i64, name: &str| {
            Query::insert()
                .into_table(T::Table)
                .columns([T::Id, T::Name])
                .values_panic([id.into(), name.into()])
                .to_string(SqliteQueryBuilder)
        };
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let create = Table::create()
            .table(T::Table)
            .col(ColumnDef::new(T::Id).integer().primary_key())
            .col(ColumnDef::new(T::Name).text().unique_key())
            .to_string(SqliteQueryBuilder);
        run(&mut conn, create).await.unwrap();
        run(&mut conn, insert(1, "a")).await.unwrap();
        let missing = Query::select()
            .column(T::Id)
            .from(T::Missing)
            .to_string(SqliteQueryBuilder);
        for (sql, code) in [
            (insert(2, "a"), "2067"),
            (insert(1, "b"), "1555"),
            (missing, "1"),
        ] {
            let err = run(&mut conn, sql.clone()).await.unwrap_err();
            let sqlx::Error::Database(db) = &err else {
                panic!("{sql}: {err:?}");
            };
            assert_eq!(db.code().as_deref(), Some(code), "{sql}");
            assert!(!is_unavailable(&err), "{sql}");
        }
    }
}
