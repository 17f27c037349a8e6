//! Conversation and message statements.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_query::{Expr, ExprTrait, InsertStatement, Order, Query};

use super::{
    Store, Tx,
    schema::{Conversation as C, Message as M},
};
use crate::{
    domain::{
        UserId,
        conversation::{
            Conversation, ConversationId, ConversationPage, ConversationQuery, History,
            HistoryQuery, Message, NewMessage, Role,
        },
        time,
    },
    error::{Error, Result},
};

const CONVERSATION_COLUMNS: [C; 4] = [C::Id, C::UserId, C::CreatedAt, C::UpdatedAt];
const MESSAGE_COLUMNS: [M; 6] = [
    M::Id,
    M::UserId,
    M::ConversationId,
    M::Role,
    M::Content,
    M::CreatedAt,
];

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: i32,
    user_id: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Conversation {
            id: row.id.into(),
            user_id: row.user_id,
            created_at: time::from_db(row.created_at),
            updated_at: time::from_db(row.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: i32,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i32,
    user_id: String,
    conversation_id: i32,
    role: String,
    content: String,
    created_at: NaiveDateTime,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            user_id: row.user_id,
            conversation_id: row.conversation_id.into(),
            role: Role::from_db(&row.role),
            content: row.content,
            created_at: time::from_db(row.created_at),
        }
    }
}

impl Store {
    /// The user's conversation with this id, if it is theirs.
    pub async fn get_conversation(
        &self,
        user: &UserId,
        id: ConversationId,
    ) -> Result<Option<Conversation>> {
        let stmt = Query::select()
            .columns(CONVERSATION_COLUMNS)
            .from(C::Table)
            .and_where(Expr::col(C::Id).eq(id))
            .and_where(Expr::col(C::UserId).eq(user.as_str()))
            .to_owned();
        let row: Option<ConversationRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Conversation::from))
    }

    pub async fn list_conversations(
        &self,
        user: &UserId,
        q: &ConversationQuery,
    ) -> Result<ConversationPage> {
        let stmt = Query::select()
            .columns(CONVERSATION_COLUMNS)
            .from(C::Table)
            .and_where(Expr::col(C::UserId).eq(user.as_str()))
            .order_by(C::UpdatedAt, Order::Desc)
            .order_by(C::Id, Order::Desc)
            .limit(q.limit)
            .offset(q.offset)
            .to_owned();
        let rows: Vec<ConversationRow> = self.fetch_all(&stmt).await?;
        Ok(ConversationPage {
            conversations: rows.into_iter().map(Conversation::from).collect(),
        })
    }

    /// The messages of `conversation` (already checked to be the user's) for `q`.
    pub async fn history(&self, conversation: Conversation, q: &HistoryQuery) -> Result<History> {
        let mut stmt = Query::select();
        stmt.columns(MESSAGE_COLUMNS)
            .from(M::Table)
            .and_where(Expr::col(M::ConversationId).eq(conversation.id));
        if let Some(before) = q.before_id {
            stmt.and_where(Expr::col(M::Id).lt(before));
        }
        // Newest first with one extra row to learn whether more exist, then flipped.
        stmt.order_by(M::Id, Order::Desc).limit(q.limit + 1);
        let mut rows: Vec<MessageRow> = self.fetch_all(&stmt).await?;
        let has_more = rows.len() as u64 > q.limit;
        rows.truncate(q.limit as usize);
        rows.reverse();
        Ok(History {
            conversation,
            messages: rows.into_iter().map(Message::from).collect(),
            has_more,
        })
    }
}

impl Tx {
    /// Starts a conversation for each user given (once per mention), in one
    /// statement; returns them in the order given.
    pub async fn insert_conversations(
        &mut self,
        users: &[&UserId],
        now: DateTime<Utc>,
    ) -> Result<Vec<Conversation>> {
        let now = time::to_db(now);
        let mut stmt = Query::insert();
        stmt.into_table(C::Table)
            .columns([C::UserId, C::CreatedAt, C::UpdatedAt]);
        for user in users {
            stmt.values_panic([user.as_str().into(), now.into(), now.into()]);
        }
        stmt.returning_col(C::Id);
        let ids = self.inserted_ids(&stmt, users.len()).await?;
        Ok(ids
            .into_iter()
            .zip(users)
            .map(|(id, user)| Conversation {
                id: id.into(),
                user_id: user.as_str().to_owned(),
                created_at: time::from_db(now),
                updated_at: time::from_db(now),
            })
            .collect())
    }

    /// Marks the users' conversations as active now, in one statement; returns those
    /// that are their users', in no particular order.
    pub async fn touch_conversations(
        &mut self,
        conversations: &[(&UserId, ConversationId)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Conversation>> {
        let stmt = Query::update()
            .table(C::Table)
            .value(C::UpdatedAt, time::to_db(now))
            .and_where(
                Expr::tuple([Expr::col(C::Id), Expr::col(C::UserId)]).in_tuples(
                    conversations
                        .iter()
                        .map(|(user, id)| (id.get(), user.as_str().to_owned())),
                ),
            )
            .returning(Query::returning().columns(CONVERSATION_COLUMNS))
            .to_owned();
        let rows: Vec<ConversationRow> = self.fetch_all(&stmt).await?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    /// Inserts messages, in one statement whatever their number; returns them in the
    /// order given.
    pub async fn insert_messages(
        &mut self,
        messages: &[(&UserId, ConversationId, &NewMessage)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        let created_at = time::to_db(now);
        let mut stmt = Query::insert();
        stmt.into_table(M::Table).columns([
            M::UserId,
            M::ConversationId,
            M::Role,
            M::Content,
            M::CreatedAt,
        ]);
        for (user, conversation, message) in messages {
            stmt.values_panic([
                user.as_str().into(),
                (*conversation).into(),
                message.role.as_str().into(),
                message.content.as_str().into(),
                created_at.into(),
            ]);
        }
        stmt.returning_col(M::Id);
        let ids = self.inserted_ids(&stmt, messages.len()).await?;
        Ok(ids
            .into_iter()
            .zip(messages)
            .map(|(id, (user, conversation, message))| Message {
                id,
                user_id: user.as_str().to_owned(),
                conversation_id: *conversation,
                role: message.role,
                content: message.content.as_str().to_owned(),
                created_at: time::from_db(created_at),
            })
            .collect())
    }

    /// Runs a multi-row insert that returns `id`, and gives the ids in the order of
    /// the rows. They were inserted in that order and ids only grow (a sequence on
    /// PostgreSQL, the rowid on SQLite), but `RETURNING` promises no order: sorted.
    async fn inserted_ids(&mut self, stmt: &InsertStatement, rows: usize) -> Result<Vec<i32>> {
        let returned: Vec<IdRow> = self.fetch_all(stmt).await?;
        if returned.len() != rows {
            return Err(Error::Internal(anyhow::anyhow!(
                "{rows} rows inserted, {} ids returned",
                returned.len()
            )));
        }
        let mut ids: Vec<i32> = returned.into_iter().map(|row| row.id).collect();
        ids.sort_unstable();
        Ok(ids)
    }
}
