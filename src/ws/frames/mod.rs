//! One handler per request type, in the manner of mini-redis's `cmd/`: each file's
//! doc comment shows the request and its ack on the wire, turns the request's fields
//! into domain input and applies it through the service layer (shared with REST).
//!
//! `ping` and `auth` carry no handler: the session answers `ping` with `pong`, and
//! `auth` only opens a socket (`session::authenticate`); on an open one it is
//! `invalid`.

mod auth_refresh;
mod conversation_history;
mod conversation_list;
mod message_append;
mod resume;
mod task_complete;
mod task_create;
mod task_delete;
mod task_get;
mod task_list;
mod task_update;

use serde::Serialize;
use serde_json::value::RawValue;
use tungstenite::Utf8Bytes;

use super::connection::Connection;
use crate::{
    error::{Error, Result},
    protocol::{Request, RequestId},
    service::{Actor, Committed, Service},
    state::AppState,
};

/// What a handler can reach: the server, the connection the request came on, and
/// the request's id.
pub struct Context<'a> {
    pub state: &'a AppState,
    pub conn: &'a mut Connection,
    pub id: &'a RequestId,
}

impl Context<'_> {
    fn service(&self) -> &Service {
        &self.state.service
    }

    /// Who asks for a change: this connection, under this request's id.
    fn actor(&self) -> Actor {
        self.conn.actor(self.id)
    }
}

/// A handled request's success.
pub enum Reply {
    /// An ack: its `data`, and the `seq` of the change.
    Ack {
        data: Box<RawValue>,
        seq: Option<i64>,
    },
    /// `resume`'s events `after < seq <= latest`; the writer sends them and the ack.
    Replay {
        after: i64,
        latest: i64,
        events: Vec<(i64, Utf8Bytes)>,
    },
}

impl Reply {
    /// A read's answer.
    fn read(value: &impl Serialize) -> Result<Self> {
        let data = serde_json::value::to_raw_value(value).map_err(|e| Error::Internal(e.into()))?;
        Ok(Reply::Ack { data, seq: None })
    }

    /// A change's answer: the data of its event, as serialized when it was stored.
    fn changed<T>(committed: Committed<T>) -> Self {
        Reply::Ack {
            data: committed.event.data,
            seq: Some(committed.event.seq),
        }
    }
}

/// Routes a request to its handler.
pub async fn dispatch(cx: &mut Context<'_>, request: Request) -> Result<Reply> {
    match request {
        Request::AuthRefresh(fields) => auth_refresh::apply(cx, fields).await,
        Request::Resume(fields) => resume::apply(cx, fields).await,
        Request::TaskCreate(fields) => task_create::apply(cx, fields).await,
        Request::TaskList(fields) => task_list::apply(cx, fields).await,
        Request::TaskGet(fields) => task_get::apply(cx, fields).await,
        Request::TaskUpdate(fields) => task_update::apply(cx, fields).await,
        Request::TaskComplete(fields) => task_complete::apply(cx, fields).await,
        Request::TaskDelete(fields) => task_delete::apply(cx, fields).await,
        Request::MessageAppend(fields) => message_append::apply(cx, fields).await,
        Request::ConversationList(fields) => conversation_list::apply(cx, fields).await,
        Request::ConversationHistory(fields) => conversation_history::apply(cx, fields).await,
    }
}
