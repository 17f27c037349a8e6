//! The frame handler: one text frame in, one answer out. Parsing, dispatch to the
//! service layer (shared with REST), and the ack or error frame, all in one place.
//!
//! # Format
//!
//! ```text
//! → {"type": "task.create", "id": "c1", "title": "Buy milk"}
//! ← {"type": "ack", "id": "c1", "data": {"id": 7, "title": "Buy milk", …}, "seq": 12}
//! → {"type": "task.get", "id": "g1", "task_id": 99}
//! ← {"type": "error", "id": "g1", "code": "not_found", "message": "Task not found", "retryable": false}
//! ```

use std::time::Instant as StdInstant;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::{
    auth::Identity,
    domain::{
        NewTask, TaskPatch, TaskQuery,
        conversation::{Content, ConversationQuery, HistoryQuery, NewMessage, Role},
        task::{ListTasksParams, parse_task_id_number},
    },
    error::{Error, Result},
    http::AppState,
    hub::ConnectionId,
    protocol::{MAX_ID_CHARS, Refreshed, Request, ServerFrame},
    service::{Actor, Committed},
};

/// What a session knows about its connection.
pub struct Connection {
    actor: Actor,
    /// Unix seconds; `None` for a demo-mode connection without a token.
    expires_at: Option<i64>,
}

impl Connection {
    pub fn new(identity: Identity, id: ConnectionId) -> Self {
        Connection {
            actor: Actor {
                user: identity.user_id,
                connection: Some(id),
            },
            expires_at: identity.expires_at,
        }
    }

    pub fn user(&self) -> &crate::domain::UserId {
        &self.actor.user
    }

    pub fn id(&self) -> ConnectionId {
        self.actor.connection.unwrap_or_default()
    }

    /// The `ready` frame, with the user's latest `seq` when the connection joined.
    pub fn ready_frame(&self, state: &AppState, seq: i64) -> Utf8Bytes {
        ServerFrame::Ready {
            user_id: self.actor.user.to_string(),
            connection_id: self.actor.connection.unwrap_or_default().to_string(),
            seq,
            heartbeat_ms: state.settings.ws.heartbeat.as_millis() as u64,
            expires_at: self.expires_at,
            server: concat!("taskwire/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
        .to_text()
    }

    /// When the token runs out (far in the future without one).
    pub fn expiry(&self) -> Instant {
        const FAR: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
        match self.expires_at {
            None => Instant::now() + FAR,
            Some(exp) => {
                let left = exp - chrono::Utc::now().timestamp();
                Instant::now()
                    + std::time::Duration::from_secs(left.clamp(0, FAR.as_secs() as i64) as u64)
            }
        }
    }
}

/// Reads a frame's envelope: a JSON object with a string `type` and an `id` of 1 to
/// 64 characters (optional on `ping` and `auth`); then the fields of its type.
pub fn parse(
    text: &str,
) -> std::result::Result<(Option<String>, Request), (Option<String>, Error)> {
    let bad =
        |id: &Option<String>, message: &'static str| (id.clone(), Error::BadFrame(message.into()));
    let value: Value =
        serde_json::from_str(text).map_err(|_| bad(&None, "Frames must be JSON objects"))?;
    let Value::Object(object) = &value else {
        return Err(bad(&None, "Frames must be JSON objects"));
    };
    // The id first, so that every later complaint can name the request.
    let id = match object.get("id") {
        Some(Value::String(id)) if (1..=MAX_ID_CHARS).contains(&id.chars().count()) => {
            Some(id.clone())
        }
        Some(Value::String(_)) => return Err(bad(&None, "\"id\" must be 1 to 64 characters")),
        Some(_) => return Err(bad(&None, "\"id\" must be a string")),
        None => None,
    };
    let Some(Value::String(kind)) = object.get("type") else {
        return Err(bad(&id, "A frame needs a string \"type\""));
    };
    // `ping` may come without an id (and gets a pong without one); so may `auth`.
    if id.is_none() && kind != "ping" && kind != "auth" {
        return Err(bad(
            &id,
            "A request needs an \"id\" (a string of 1 to 64 characters)",
        ));
    }
    match Request::parse(kind, &value) {
        None => Err((id, Error::UnknownType(kind.clone()))),
        Some(Err(err)) => Err((id, err)),
        Some(Ok(request)) => Ok((id, request)),
    }
}

/// The `id` of a frame, if it has a valid one (for answers to frames not handled).
pub fn peek_id(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    match value.get("id")? {
        Value::String(id) if (1..=MAX_ID_CHARS).contains(&id.chars().count()) => Some(id.clone()),
        _ => None,
    }
}

/// Answers one text frame with exactly one frame, and the `seq` of the change it
/// made, if any. `before_change` runs just before a mutation goes to the service.
pub async fn handle(
    state: &AppState,
    conn: &mut Connection,
    text: &str,
    before_change: impl FnOnce(),
) -> (Utf8Bytes, Option<i64>) {
    let started = StdInstant::now();
    let (id, request) = match parse(text) {
        Ok(parsed) => parsed,
        Err((id, err)) => {
            tracing::info!(id = id.as_deref(), outcome = err.code(), "bad frame");
            return (ServerFrame::error(id, &err).to_text(), None);
        }
    };
    let kind = request.kind();
    if request.is_mutation() {
        before_change();
    }
    // Boxed: the request path (service, store, sqlx) is a deep future. Inline, every
    // idle connection's task would be as large as the largest request in flight.
    let answer = Box::pin(dispatch(state, conn, request)).await;
    let outcome = match &answer {
        Ok(_) => "ok",
        Err(err) => err.code(),
    };
    if let Err(Error::Internal(cause)) = &answer {
        tracing::error!(error = ?cause, "internal error");
    }
    tracing::info!(
        r#type = kind,
        id = id.as_deref(),
        outcome,
        duration_us = started.elapsed().as_micros() as u64,
        "frame"
    );
    match answer {
        Ok(Answer::Pong) => (ServerFrame::Pong { id }.to_text(), None),
        Ok(Answer::Ack { data, seq }) => {
            let ack = ServerFrame::Ack {
                id: id.unwrap_or_default(),
                data,
                seq,
            };
            (ack.to_text(), seq)
        }
        Err(err) => (ServerFrame::error(id, &err).to_text(), None),
    }
}

enum Answer {
    Ack { data: Value, seq: Option<i64> },
    Pong,
}

fn read(data: impl Serialize) -> Result<Answer> {
    let data = serde_json::to_value(data).map_err(|e| Error::Internal(e.into()))?;
    Ok(Answer::Ack { data, seq: None })
}

fn changed<T: Serialize>(committed: Committed<T>) -> Result<Answer> {
    let data = serde_json::to_value(committed.value).map_err(|e| Error::Internal(e.into()))?;
    Ok(Answer::Ack {
        data,
        seq: Some(committed.seq),
    })
}

/// One arm per request type: parse into domain values, call the service, shape the ack.
async fn dispatch(state: &AppState, conn: &mut Connection, request: Request) -> Result<Answer> {
    let service = &state.service;
    let actor = &conn.actor;
    let user = &actor.user;
    match request {
        Request::Ping(_) => Ok(Answer::Pong),
        Request::Auth(_) => Err(Error::invalid(
            "type",
            "Already authenticated: use auth.refresh to replace the token",
        )),
        Request::AuthRefresh(fields) => {
            let identity = state.auth.verify(&fields.token).map_err(|err| match err {
                Error::TokenExpired => Error::unauthorized("Token has expired"),
                other => other,
            })?;
            if identity.user_id != *user {
                return Err(Error::unauthorized("The new token is for another user"));
            }
            conn.expires_at = identity.expires_at;
            read(Refreshed {
                expires_at: identity.expires_at,
            })
        }
        Request::TaskCreate(body) => {
            changed(service.create_task(actor, NewTask::try_from(body)?).await?)
        }
        Request::TaskList(fields) => {
            // Same rules as the REST query string.
            let params = ListTasksParams {
                status: fields.status,
                sort: fields.sort,
                order: fields.order,
                limit: fields.limit.map(|n| n.to_string()),
                offset: fields.offset.map(|n| n.to_string()),
            };
            read(
                service
                    .list_tasks(user, &TaskQuery::try_from(params)?)
                    .await?,
            )
        }
        Request::TaskGet(r) => read(
            service
                .get_task(user, parse_task_id_number(r.task_id)?)
                .await?,
        ),
        Request::TaskUpdate(fields) => {
            let (task_id, body) = fields.into_parts();
            let id = parse_task_id_number(task_id)?;
            changed(
                service
                    .update_task(actor, id, TaskPatch::try_from(body)?)
                    .await?,
            )
        }
        Request::TaskComplete(fields) => {
            let id = parse_task_id_number(fields.task_id)?;
            changed(service.complete_task(actor, id, fields.completed).await?)
        }
        Request::TaskDelete(r) => changed(
            service
                .delete_task(actor, parse_task_id_number(r.task_id)?)
                .await?,
        ),
        Request::MessageAppend(fields) => {
            let message = NewMessage {
                conversation_id: fields
                    .conversation_id
                    .map(|id| {
                        i32::try_from(id).map_err(|_| Error::not_found("Conversation not found"))
                    })
                    .transpose()?,
                role: fields
                    .role
                    .as_deref()
                    .map(Role::parse)
                    .transpose()?
                    .unwrap_or_default(),
                content: Content::parse(fields.content)?,
            };
            changed(service.append_message(actor, message).await?)
        }
        Request::ConversationList(fields) => read(
            service
                .list_conversations(
                    user,
                    &ConversationQuery::parse(fields.limit, fields.offset)?,
                )
                .await?,
        ),
        Request::ConversationHistory(fields) => {
            let query =
                HistoryQuery::parse(fields.conversation_id, fields.limit, fields.before_id)?;
            read(service.history(user, &query).await?)
        }
    }
}
