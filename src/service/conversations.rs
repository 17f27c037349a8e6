use tracing::instrument;

use serde_json::value::RawValue;

use super::{Actor, Committed, Service, commit::Write, to_raw};
use crate::domain::{
    UserId,
    conversation::{
        Appended, Conversation, ConversationId, ConversationPage, ConversationQuery, History,
        HistoryQuery, NewMessage,
    },
    time,
};
use crate::error::{Error, Result};
use crate::protocol::EventName;
use crate::store::Tx;

fn conversation_not_found() -> Error {
    Error::not_found("Conversation not found")
}

/// A message to append for a user: a `message.append` change's rows.
pub(super) struct MessageOf {
    pub user: UserId,
    pub message: NewMessage,
}

/// Appends messages with at most three statements, however many: start the
/// conversations asked for, mark the others active (each must be its user's, or
/// all fail `not_found`), insert the messages. Returns each one's event data, in order.
pub(super) async fn append_messages(
    tx: &mut Tx,
    messages: &[&MessageOf],
) -> Result<Vec<Box<RawValue>>> {
    let now = time::now();
    let new: Vec<&UserId> = messages
        .iter()
        .filter(|m| m.message.conversation_id.is_none())
        .map(|m| &m.user)
        .collect();
    let existing: Vec<(&UserId, ConversationId)> = messages
        .iter()
        .filter_map(|m| Some((&m.user, m.message.conversation_id?)))
        .collect();
    let mut started = if new.is_empty() {
        Vec::new()
    } else {
        tx.insert_conversations(&new, now).await?
    }
    .into_iter();
    let touched = if existing.is_empty() {
        Vec::new()
    } else {
        tx.touch_conversations(&existing, now).await?
    };
    let conversations = messages
        .iter()
        .map(|m| match m.message.conversation_id {
            None => started
                .next()
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("fewer conversations than asked"))),
            Some(id) => touched
                .iter()
                .find(|c| c.id == id && c.user_id == m.user.as_str())
                .cloned()
                .ok_or_else(conversation_not_found),
        })
        .collect::<Result<Vec<Conversation>>>()?;
    let rows: Vec<_> = messages
        .iter()
        .zip(&conversations)
        .map(|(m, conversation)| (&m.user, conversation.id, &m.message))
        .collect();
    let inserted = tx.insert_messages(&rows, now).await?;
    conversations
        .into_iter()
        .zip(inserted)
        .map(|(conversation, message)| {
            to_raw(&Appended {
                conversation,
                message,
            })
        })
        .collect()
}

impl Service {
    /// Appends a message, starting a conversation when none is named. Either way the
    /// conversation's `updated_at` becomes the message's time.
    #[instrument(skip_all, fields(user = ?actor.user.as_str()))]
    pub async fn append_message(
        &self,
        actor: &Actor,
        message: NewMessage,
    ) -> Result<Committed<Appended>> {
        let key = actor.key("message.append", &message)?;
        let write = Write::Message(MessageOf {
            user: actor.user.clone(),
            message,
        });
        self.change(actor, EventName::MessageAppended, key, write)
            .await
    }

    #[instrument(skip_all, fields(user = ?user.as_str()))]
    pub async fn list_conversations(
        &self,
        user: &UserId,
        query: &ConversationQuery,
    ) -> Result<ConversationPage> {
        self.store.list_conversations(user, query).await
    }

    #[instrument(skip_all, fields(user = ?user.as_str(), conversation_id = query.conversation_id.get()))]
    pub async fn history(&self, user: &UserId, query: &HistoryQuery) -> Result<History> {
        let conversation = self
            .store
            .get_conversation(user, query.conversation_id)
            .await?
            .ok_or_else(conversation_not_found)?;
        self.store.history(conversation, query).await
    }
}
