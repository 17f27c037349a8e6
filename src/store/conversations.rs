//! Conversation and message statements.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_query::{Expr, ExprTrait, Order, Query};

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
    error::Result,
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
    pub async fn insert_conversation(
        &mut self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Conversation> {
        let now = time::to_db(now);
        let stmt = Query::insert()
            .into_table(C::Table)
            .columns([C::UserId, C::CreatedAt, C::UpdatedAt])
            .values_panic([user.as_str().into(), now.into(), now.into()])
            .returning(Query::returning().columns(CONVERSATION_COLUMNS))
            .to_owned();
        let row: ConversationRow = self.fetch_one(&stmt).await?;
        Ok(row.into())
    }

    /// Marks the user's conversation as active now; `None` when it is not theirs.
    pub async fn touch_conversation(
        &mut self,
        user: &UserId,
        id: ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>> {
        let stmt = Query::update()
            .table(C::Table)
            .value(C::UpdatedAt, time::to_db(now))
            .and_where(Expr::col(C::Id).eq(id))
            .and_where(Expr::col(C::UserId).eq(user.as_str()))
            .returning(Query::returning().columns(CONVERSATION_COLUMNS))
            .to_owned();
        let row: Option<ConversationRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Conversation::from))
    }

    pub async fn insert_message(
        &mut self,
        user: &UserId,
        conversation: ConversationId,
        message: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        let stmt = Query::insert()
            .into_table(M::Table)
            .columns([
                M::UserId,
                M::ConversationId,
                M::Role,
                M::Content,
                M::CreatedAt,
            ])
            .values_panic([
                user.as_str().into(),
                conversation.into(),
                message.role.as_str().into(),
                message.content.into_inner().into(),
                time::to_db(now).into(),
            ])
            .returning(Query::returning().columns(MESSAGE_COLUMNS))
            .to_owned();
        let row: MessageRow = self.fetch_one(&stmt).await?;
        Ok(row.into())
    }
}
