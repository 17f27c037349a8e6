//! The event log: a per-user `seq` counter and the committed changes behind it. A
//! change made by a WebSocket request also keeps the request's id (its idempotency
//! key) and a fingerprint of the request, under a unique key.

use chrono::{DateTime, Utc};
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query};

use super::{
    Store, Tx,
    schema::{EventLog as L, EventSeq as S},
};
use crate::{
    domain::{UserId, time},
    error::Result,
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

impl Tx {
    /// Takes the user's next `seq`. The counter row stays locked until commit, so a
    /// user's changes commit in `seq` order with no gaps, on every instance.
    pub async fn next_seq(&mut self, user: &UserId) -> Result<i64> {
        let stmt = Query::insert()
            .into_table(S::Table)
            .columns([S::UserId, S::Seq])
            .values_panic([user.as_str().into(), 1i64.into()])
            .on_conflict(
                OnConflict::column(S::UserId)
                    .value(S::Seq, Expr::col((S::Table, S::Seq)).add(1))
                    .to_owned(),
            )
            .returning_col(S::Seq)
            .to_owned();
        let row: SeqRow = self.fetch_one(&stmt).await?;
        Ok(row.seq)
    }

    pub async fn append_event(
        &mut self,
        user: &UserId,
        seq: i64,
        name: &str,
        data: &str,
        key: Option<RequestKey<'_>>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let stmt = Query::insert()
            .into_table(L::Table)
            .columns([
                L::UserId,
                L::Seq,
                L::Name,
                L::Data,
                L::RequestId,
                L::RequestHash,
                L::CreatedAt,
            ])
            .values_panic([
                user.as_str().into(),
                seq.into(),
                name.into(),
                data.into(),
                key.map(|k| k.id).into(),
                key.map(|k| k.hash).into(),
                time::to_db(at).into(),
            ])
            .to_owned();
        self.execute(&stmt).await?;
        Ok(())
    }

    /// The change a request id already made, if any. Read after `next_seq`, which
    /// waits for any other change of the user, so a concurrent copy of the same
    /// request sees the first one's commit.
    pub async fn event_of_request(
        &mut self,
        user: &UserId,
        request_id: &str,
    ) -> Result<Option<StoredEvent>> {
        let stmt = Query::select()
            .columns(EVENT_COLUMNS)
            .from(L::Table)
            .and_where(Expr::col(L::UserId).eq(user.as_str()))
            .and_where(Expr::col(L::RequestId).eq(request_id))
            .to_owned();
        self.fetch_optional(&stmt).await
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
