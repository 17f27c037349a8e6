//! The event log: a per-user `seq` counter and the committed changes behind it.

use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, OnConflict, Query};

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

impl Tx {
    /// Takes the user's next `seq`. The counter row stays locked until commit, so a
    /// user's changes commit in `seq` order with no gaps.
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
        at: DateTime<Utc>,
    ) -> Result<()> {
        let stmt = Query::insert()
            .into_table(L::Table)
            .columns([L::UserId, L::Seq, L::Name, L::Data, L::CreatedAt])
            .values_panic([
                user.as_str().into(),
                seq.into(),
                name.into(),
                data.into(),
                time::to_db(at).into(),
            ])
            .to_owned();
        self.execute(&stmt).await?;
        Ok(())
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
}
