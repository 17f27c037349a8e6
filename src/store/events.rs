//! The event log: a per-user `seq` counter and the committed changes behind it. A
//! change made by a WebSocket request also keeps the request's id (its idempotency
//! key) and a fingerprint of the request, under a unique key.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Cond, Expr, ExprTrait, OnConflict, Order, Query};

use super::{
    Store, Tx,
    schema::{EventLog as L, EventSeq as S},
};
use crate::{
    domain::{UserId, time},
    error::{Error, Result},
};

#[derive(sqlx::FromRow)]
struct SeqRow {
    seq: i64,
}

/// A committed change as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredEvent {
    pub seq: i64,
    pub name: String,
    /// The change's data, as its ack and event carried it.
    pub data: String,
    /// The fingerprint of the request that made it, when a request id keyed it.
    pub request_hash: Option<String>,
}

const EVENT_COLUMNS: [L; 4] = [L::Seq, L::Name, L::Data, L::RequestHash];

/// A request id and the fingerprint of the parsed request it named.
#[derive(Clone, Copy, Debug)]
pub struct RequestKey<'a> {
    pub id: &'a str,
    pub hash: &'a str,
}

/// A change's event, to be recorded.
pub struct NewEvent<'a> {
    pub user: &'a UserId,
    pub seq: i64,
    pub name: &'static str,
    pub data: &'a str,
    pub key: Option<RequestKey<'a>>,
    pub at: DateTime<Utc>,
}

/// An event found by the request id that made it.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyedEvent {
    pub user_id: String,
    pub request_id: String,
    #[sqlx(flatten)]
    pub event: StoredEvent,
}

#[derive(sqlx::FromRow)]
struct UserSeqRow {
    user_id: String,
    seq: i64,
}

impl Tx {
    /// Takes the user's next `seq` (see `reserve_seqs`).
    pub async fn next_seq(&mut self, user: &UserId) -> Result<i64> {
        let last = self.reserve_seqs(&[(user, 1)]).await?;
        last.first()
            .copied()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no seq was returned")))
    }

    /// Takes the next `count` `seq`s of each user (users listed once each); returns
    /// each user's last one, in the order given. The counter rows stay locked until commit, so a user's
    /// changes commit in `seq` order with no gaps, on every instance; list the users in
    /// one order everywhere (sorted), so that two transactions never wait in a cycle.
    pub async fn reserve_seqs(&mut self, counts: &[(&UserId, i64)]) -> Result<Vec<i64>> {
        let mut stmt = Query::insert();
        stmt.into_table(S::Table).columns([S::UserId, S::Seq]);
        for (user, count) in counts {
            stmt.values_panic([user.as_str().into(), (*count).into()]);
        }
        stmt.on_conflict(
            OnConflict::column(S::UserId)
                .value(
                    S::Seq,
                    Expr::col((S::Table, S::Seq)).add(Expr::col((Alias::new("excluded"), S::Seq))),
                )
                .to_owned(),
        )
        .returning(Query::returning().columns([S::UserId, S::Seq]));
        let rows: Vec<UserSeqRow> = self.fetch_all(&stmt).await?;
        counts
            .iter()
            .map(|(user, _)| {
                rows.iter()
                    .find(|row| row.user_id == user.as_str())
                    .map(|row| row.seq)
                    .ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("no seq was returned for a user"))
                    })
            })
            .collect()
    }

    /// Records events, in one statement whatever their number.
    pub async fn append_events(&mut self, events: &[NewEvent<'_>]) -> Result<()> {
        let mut stmt = Query::insert();
        stmt.into_table(L::Table).columns([
            L::UserId,
            L::Seq,
            L::Name,
            L::Data,
            L::RequestId,
            L::RequestHash,
            L::CreatedAt,
        ]);
        for event in events {
            stmt.values_panic([
                event.user.as_str().into(),
                event.seq.into(),
                event.name.into(),
                event.data.into(),
                event.key.map(|k| k.id).into(),
                event.key.map(|k| k.hash).into(),
                time::to_db(event.at).into(),
            ]);
        }
        self.execute(&stmt).await?;
        Ok(())
    }

    /// The changes these request ids already made, if any, in one statement. Read
    /// after `reserve_seqs`, which waits for the users' other changes, a concurrent
    /// copy of a request sees the first one's commit; read before, a copy committed
    /// meanwhile on another instance makes `append_events` fail on the unique key.
    pub async fn events_of_requests(
        &mut self,
        requests: &[(&UserId, &str)],
    ) -> Result<Vec<KeyedEvent>> {
        let stmt = Query::select()
            .columns([L::UserId, L::RequestId])
            .columns(EVENT_COLUMNS)
            .from(L::Table)
            .and_where(
                Expr::tuple([Expr::col(L::UserId), Expr::col(L::RequestId)]).in_tuples(
                    requests
                        .iter()
                        .map(|(user, id)| (user.as_str().to_owned(), (*id).to_owned())),
                ),
            )
            .to_owned();
        self.fetch_all(&stmt).await
    }
}

impl Store {
    /// The last `seq` given to the user's changes; 0 before the first one.
    pub async fn latest_seq(&self, user: &UserId) -> Result<i64> {
        let stmt = Query::select()
            .column(S::Seq)
            .from(S::Table)
            .and_where(Expr::col(S::UserId).eq(user.as_str()))
            .to_owned();
        let row: Option<SeqRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map_or(0, |r| r.seq))
    }

    /// The user's retained events with `after < seq <= up_to`, in order.
    pub async fn events_between(
        &self,
        user: &UserId,
        after: i64,
        up_to: i64,
    ) -> Result<Vec<StoredEvent>> {
        let stmt = Query::select()
            .columns(EVENT_COLUMNS)
            .from(L::Table)
            .and_where(Expr::col(L::UserId).eq(user.as_str()))
            .and_where(Expr::col(L::Seq).gt(after))
            .and_where(Expr::col(L::Seq).lte(up_to))
            .order_by(L::Seq, Order::Asc)
            .to_owned();
        self.fetch_all(&stmt).await
    }

    /// Deletes events older than `before`; those keyed by a request id stay until
    /// `keys_before`, so a retry finds its original ack for as long as promised.
    pub async fn prune_events(
        &self,
        before: DateTime<Utc>,
        keys_before: DateTime<Utc>,
    ) -> Result<u64> {
        let stmt = Query::delete()
            .from_table(L::Table)
            .cond_where(
                Cond::all()
                    .add(Expr::col(L::CreatedAt).lt(time::to_db(before)))
                    .add(
                        Cond::any()
                            .add(Expr::col(L::RequestId).is_null())
                            .add(Expr::col(L::CreatedAt).lt(time::to_db(keys_before))),
                    ),
            )
            .to_owned();
        self.execute(&stmt).await
    }
}
