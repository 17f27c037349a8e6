use tracing::instrument;

use super::{Actor, Committed, Service};
use crate::domain::{
    UserId,
    conversation::{
        Appended, ConversationPage, ConversationQuery, History, HistoryQuery, NewMessage,
    },
    time,
};
use crate::error::{Error, Result};
use crate::protocol::EventName;

fn conversation_not_found() -> Error {
    Error::not_found("Conversation not found")
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
        let user = actor.user.clone();
        self.change(actor, EventName::MessageAppended, key, move |tx| {
            Box::pin(async move {
                let now = time::now();
                let conversation = match message.conversation_id {
                    None => tx.insert_conversation(&user, now).await?,
                    Some(id) => tx
                        .touch_conversation(&user, id, now)
                        .await?
                        .ok_or_else(conversation_not_found)?,
                };
                let message = tx
                    .insert_message(&user, conversation.id, message, now)
                    .await?;
                Ok(Appended {
                    conversation,
                    message,
                })
            })
        })
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
