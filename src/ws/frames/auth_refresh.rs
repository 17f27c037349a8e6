//! `auth.refresh`: replaces the connection's token before it expires. A token that
//! fails is `unauthorized`, one of another user `forbidden`; either way the
//! connection keeps its current token.
//!
//! # Format
//!
//! ```text
//! → {"type": "auth.refresh", "id": "r1", "token": "<jwt>"}
//! ← {"type": "ack", "id": "r1", "data": {"expires_at": 1767225600}}
//! ```

use super::{Context, Reply};
use crate::{
    error::{Error, Result},
    protocol::{Refreshed, input::TokenFields},
};

pub async fn apply(cx: &mut Context<'_>, fields: TokenFields) -> Result<Reply> {
    let identity = cx
        .state
        .auth
        .verify(&fields.token)
        .map_err(|err| match err {
            Error::TokenExpired => Error::unauthorized("Token has expired"),
            other => other,
        })?;
    if identity.user_id != *cx.conn.user() {
        return Err(Error::Forbidden(
            "The new token is for another user: a connection keeps its user".into(),
        ));
    }
    cx.conn.refresh(identity.expires_at);
    Reply::read(&Refreshed {
        expires_at: identity.expires_at,
    })
}
