//! Extractors that turn a request into domain values, or into the JSON error body.
//!
//! They run in the order of the contract: authentication (401), path ownership
//! (403), then input (422); existence (404) is the service's answer.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Query, Request},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::error::error_body;
use crate::{
    auth::{Identity, bearer_token},
    domain::UserId,
    error::{Error, ErrorCode},
    protocol::parse_json,
    service::Actor,
    state::AppState,
};

/// The authenticated caller of a REST route.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match bearer_token(&parts.headers)? {
            Some(token) => state.auth.verify(token).map(Caller),
            None if state.settings.demo_mode => Ok(Caller(Identity {
                user_id: UserId::demo(),
                expires_at: None,
            })),
            None => Err(Error::unauthorized("Not authenticated")),
        }
    }
}

/// The caller of a `/{user_id}/…` route, who must be that user.
pub struct PathUser {
    pub user: UserId,
    /// The raw `{task_id}` segment, when the route has one; parsed by the handler so
    /// that a malformed id is a 422 only after the ownership check.
    pub task_id: Option<String>,
}

impl PathUser {
    /// REST changes come from no connection: every live socket of the user gets the event.
    pub fn actor(&self) -> Actor {
        Actor::rest(self.user.clone())
    }
}

impl FromRequestParts<AppState> for PathUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let Caller(identity) = Caller::from_request_parts(parts, state).await?;
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::invalid("user_id", "Malformed path"))?;
        let path_user = params.remove("user_id").unwrap_or_default();
        if path_user != identity.user_id.as_str() {
            return Err(Error::Forbidden(
                "You can only access your own tasks".into(),
            ));
        }
        Ok(PathUser {
            user: identity.user_id,
            task_id: params.remove("task_id"),
        })
    }
}

/// A JSON body parsed into `T`; any failure is a 422 naming the field, never the
/// framework's plain-text rejection. A body labelled as anything but JSON is a 415:
/// browsers send `text/plain` and forms cross-site without asking, but not JSON.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        if !labelled_json(req.headers()) {
            return Err(error_body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::Invalid,
                "The request body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if timed_out(&rejection) {
                return error_body(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::Invalid,
                    "The request body did not arrive in time",
                );
            }
            error_body(
                rejection.status(),
                ErrorCode::Invalid,
                &rejection.body_text(),
            )
        })?;
        parse_json(&bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

/// `application/json` (any parameters, such as `charset`) or `application/*+json`;
/// no `Content-Type` at all counts as JSON too, for old clients that send none.
fn labelled_json(headers: &HeaderMap) -> bool {
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let content_type = match (types.next(), types.next()) {
        (None, _) => return true,
        (Some(one), None) => one,
        (Some(_), Some(_)) => return false,
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json"
            || subtype
                .strip_suffix("+json")
                .is_some_and(|vendor| !vendor.is_empty()))
}

/// Whether the body was cut off by the body deadline (`http::middleware`).
fn timed_out(rejection: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(rejection), |e| e.source())
        .any(|e| e.is::<tower_http::timeout::TimeoutError>())
}

/// Query parameters parsed into `T`, with the JSON error body on failure.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| QueryParams(q))
            .map_err(|rejection| Error::Invalid {
                field: None,
                message: rejection.body_text().into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_types(types: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for t in types {
            headers.append(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        headers
    }

    #[test]
    fn json_and_json_suffixes_are_json() {
        for json in [
            &[][..],
            &["application/json"],
            &["application/json; charset=utf-8"],
            &["Application/JSON;charset=\"UTF-8\""],
            &["application/merge-patch+json"],
        ] {
            assert!(labelled_json(&with_types(json)), "{json:?}");
        }
        for other in [
            &["text/plain"][..],
            &["application/x-www-form-urlencoded"],
            &["multipart/form-data; boundary=x"],
            &["application/jsonp"],
            &["application/+json"],
            &["text/json"],
            &["json"],
            &[""],
            &["application/json", "text/plain"],
        ] {
            assert!(!labelled_json(&with_types(other)), "{other:?}");
        }
    }
}
