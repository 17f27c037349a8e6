//! JWT authentication, shared by REST and WebSocket.
//!
//! Tokens are HS256 JWTs signed with `BETTER_AUTH_SECRET` (what Better Auth issues).
//! The algorithm is pinned: `alg: none`, other algorithms and unsigned "demo tokens"
//! of the old front end are refused.

use std::{collections::HashSet, time::Duration};

use axum::http::{HeaderMap, header::AUTHORIZATION};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde_json::{Map, Value};

use crate::{config::AuthSettings, domain::UserId, error::Error};

/// Who a request acts for, and until when its token is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: UserId,
    /// Unix seconds; `None` for demo-mode requests that carry no token.
    pub expires_at: Option<i64>,
}

/// Verifies and mints tokens with the configured secret.
#[derive(Clone)]
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

/// The claims that may carry the user id, in order of preference.
const USER_ID_CLAIMS: [&str; 3] = ["sub", "userId", "id"];

const SIGNED_JWT_REQUIRED: &str = "Invalid token: a signed JWT (HS256) is required; unsigned or base64-encoded demo tokens are no longer accepted";

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            // Better Auth sets `aud`; without a configured audience it is not checked.
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if settings.audience.is_some() {
            validation.required_spec_claims.insert("aud".to_owned());
        }
        Authenticator {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }
    }

    /// Checks a token and finds its user.
    pub fn verify(&self, token: &str) -> Result<Identity, Error> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::unauthorized("Missing token"));
        }
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(|err| match err.kind() {
                    ErrorKind::ExpiredSignature => Error::TokenExpired,
                    ErrorKind::InvalidSignature => {
                        Error::unauthorized("Invalid token: bad signature")
                    }
                    ErrorKind::InvalidAlgorithm => {
                        Error::unauthorized("Invalid token: only HS256 is accepted")
                    }
                    ErrorKind::MissingRequiredClaim(claim) => {
                        Error::unauthorized(format!("Invalid token: the {claim} claim is required"))
                    }
                    ErrorKind::InvalidClaimFormat(claim) => {
                        Error::unauthorized(format!("Invalid token: malformed {claim} claim"))
                    }
                    ErrorKind::InvalidIssuer => Error::unauthorized("Invalid token: wrong issuer"),
                    ErrorKind::InvalidAudience => {
                        Error::unauthorized("Invalid token: wrong audience")
                    }
                    ErrorKind::ImmatureSignature => {
                        Error::unauthorized("Invalid token: not valid yet")
                    }
                    _ if looks_like_demo_token(token) => Error::unauthorized(SIGNED_JWT_REQUIRED),
                    _ => Error::unauthorized("Invalid token: a signed JWT is required"),
                })?;
        let claims = data.claims;
        let user_id = USER_ID_CLAIMS
            .iter()
            .find_map(|name| claims.get(*name)?.as_str().and_then(UserId::parse))
            .ok_or_else(|| Error::unauthorized("Invalid token: no user id in sub, userId or id"))?;
        Ok(Identity {
            user_id,
            // `exp` was checked above; some issuers write it as a float.
            expires_at: claims
                .get("exp")
                .and_then(|exp| exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))),
        })
    }

    /// Mints a token this server accepts (CLI `taskwire token`, the dev banner, tests).
    pub fn mint(&self, user: &UserId, ttl: Duration) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), user.as_str().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + ttl.as_secs()).into());
        if let Some(iss) = &self.issuer {
            claims.insert("iss".into(), iss.as_str().into());
        }
        if let Some(aud) = &self.audience {
            claims.insert("aud".into(), aud.as_str().into());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }
}

/// The old front end's tokens: `btoa(JSON.stringify({userId, sub, exp}))`.
fn looks_like_demo_token(token: &str) -> bool {
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .is_some()
}

/// Where a request's token came from, read from the `Authorization` header.
///
/// `Ok(None)`: no header at all. A header that is present but not `Bearer <token>`
/// counts as a token that was presented and failed.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::unauthorized("Invalid Authorization header"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::unauthorized(
            "Authorization header must be: Bearer <token>",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::unauthorized("Missing token after Bearer"));
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn authenticator() -> Authenticator {
        Authenticator::new(&AuthSettings {
            secret: Secret::new("s3cret"),
            secret_generated: false,
            issuer: None,
            audience: None,
        })
    }

    #[test]
    fn minted_tokens_verify() {
        let auth = authenticator();
        let user = UserId::parse("alice").unwrap();
        let token = auth.mint(&user, Duration::from_secs(60));
        assert_eq!(auth.verify(&token).unwrap().user_id, user);
    }

    #[test]
    fn demo_tokens_are_refused_with_a_clear_message() {
        let demo = base64::engine::general_purpose::STANDARD
            .encode(r#"{"userId":"alice","sub":"alice","exp":9999999999}"#);
        let err = authenticator().verify(&demo).unwrap_err();
        assert!(err.to_string().contains("signed JWT"), "{err}");
    }
}
