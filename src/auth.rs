//! JWT authentication, shared by REST and WebSocket.
//!
//! Tokens are HS256 JWTs signed with `BETTER_AUTH_SECRET` (what Better Auth issues).
//! The algorithm is pinned: `alg: none`, other algorithms and unsigned "demo tokens"
//! of the old front end are refused. `exp` is required, `nbf` enforced when present,
//! `iss`/`aud` checked when configured (design §9).

use std::time::Duration;

use axum::http::{HeaderMap, header::AUTHORIZATION};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
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
    issuer: Option<String>,
    audience: Option<String>,
}

/// The claims that may carry the user id, in order of preference.
const USER_ID_CLAIMS: [&str; 3] = ["sub", "userId", "id"];

/// Clock skew allowed on `exp` and `nbf`: none. Both are checked to the second, so
/// the issuer's clock and the gateway's must agree (NTP).
const LEEWAY_SECS: i64 = 0;

const SIGNED_JWT_REQUIRED: &str = "Invalid token: a signed JWT (HS256) is required; unsigned or base64-encoded demo tokens are no longer accepted";

type Claims = Map<String, Value>;

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.secret.expose().as_bytes();
        Authenticator {
            decoding: DecodingKey::from_secret(secret),
            encoding: EncodingKey::from_secret(secret),
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
        let claims = self.signed_claims(token)?;
        let expires_at = check_time(&claims)?;
        if let Some(issuer) = &self.issuer {
            check_named(&claims, "iss", issuer, "Invalid token: wrong issuer")?;
        }
        // Better Auth sets `aud`; without a configured audience it is not checked.
        if let Some(audience) = &self.audience {
            check_named(&claims, "aud", audience, "Invalid token: wrong audience")?;
        }
        Ok(Identity {
            user_id: user_id(&claims)?,
            expires_at: Some(expires_at),
        })
    }

    /// The claims of a token whose header and HS256 signature are right.
    ///
    /// jsonwebtoken parses the header and checks the signature; its `decode` is not
    /// used because it refuses a payload whose `sub` is a list or an object
    /// (Keats/jsonwebtoken#427), where §9 skips such a claim. The claims are checked
    /// here instead (`check_time`, `check_named`).
    fn signed_claims(&self, token: &str) -> Result<Claims, Error> {
        let not_a_jwt = || {
            if looks_like_demo_token(token) {
                Error::unauthorized(SIGNED_JWT_REQUIRED)
            } else {
                Error::unauthorized("Invalid token: a signed JWT is required")
            }
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| not_a_jwt())?;
        if header.alg != Algorithm::HS256 {
            return Err(Error::unauthorized("Invalid token: only HS256 is accepted"));
        }
        // `decode_header` found the three parts.
        let (message, signature) = token.rsplit_once('.').ok_or_else(not_a_jwt)?;
        let signed = jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            &self.decoding,
            Algorithm::HS256,
        )
        .map_err(|_| not_a_jwt())?;
        if !signed {
            return Err(Error::unauthorized("Invalid token: bad signature"));
        }
        // Not insecure here: the signature was checked above.
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| not_a_jwt())
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

/// `exp` (required) has not passed and `nbf` (when present) has come; returns `exp`.
fn check_time(claims: &Claims) -> Result<i64, Error> {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let exp = seconds(claims, "exp")?
        .ok_or_else(|| Error::unauthorized("Invalid token: the exp claim is required"))?;
    if exp < now - LEEWAY_SECS {
        return Err(Error::TokenExpired);
    }
    if seconds(claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(Error::unauthorized("Invalid token: not valid yet"));
    }
    Ok(exp)
}

/// A NumericDate claim in whole seconds (some issuers write floats); `None` when
/// absent or null.
fn seconds(claims: &Claims, name: &str) -> Result<Option<i64>, Error> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Error::unauthorized(format!("Invalid token: malformed {name} claim"))),
    }
}

/// The `iss` or `aud` claim (a string, or a list of strings) names `wanted`.
fn check_named(
    claims: &Claims,
    name: &str,
    wanted: &str,
    wrong: &'static str,
) -> Result<(), Error> {
    let names = |value: &Value| value.as_str() == Some(wanted);
    match claims.get(name) {
        None | Some(Value::Null) => Err(Error::unauthorized(format!(
            "Invalid token: the {name} claim is required"
        ))),
        Some(Value::Array(values)) if values.iter().any(names) => Ok(()),
        Some(value) if names(value) => Ok(()),
        Some(_) => Err(Error::unauthorized(wrong)),
    }
}

/// The first of `sub`, `userId`, `id` that is a non-blank string (a claim of any
/// other JSON type is skipped). It is refused, not skipped, when it holds a control
/// character: such an id cannot be stored (NUL) or logged safely (newlines).
fn user_id(claims: &Claims) -> Result<UserId, Error> {
    let raw = USER_ID_CLAIMS
        .iter()
        .filter_map(|name| claims.get(*name)?.as_str())
        .find(|id| !id.trim().is_empty())
        .ok_or_else(|| Error::unauthorized("Invalid token: no user id in sub, userId or id"))?;
    if raw.chars().count() > UserId::MAX_CHARS {
        return Err(Error::unauthorized(
            "Invalid token: the user id is over 1024 characters",
        ));
    }
    UserId::parse(raw).ok_or_else(|| {
        Error::unauthorized("Invalid token: the user id contains a control character")
    })
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
///
/// More than one `Authorization` header is refused: which one counts would be a
/// guess, and a proxy and this server could guess differently.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::unauthorized("More than one Authorization header"));
    }
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

    /// A token signed with the test secret carrying `claims` (and `exp` in a minute).
    fn signed(claims: Value) -> String {
        let mut all = serde_json::json!({ "exp": jsonwebtoken::get_current_timestamp() + 60 });
        all.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &all,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap()
    }

    #[test]
    fn a_user_id_claim_that_is_not_a_string_is_skipped() {
        use serde_json::json;
        for claims in [
            json!({"sub": ["x"], "userId": "alice"}),
            json!({"sub": {"id": "x"}, "userId": "alice"}),
            json!({"sub": 1, "userId": true, "id": "alice"}),
            json!({"sub": null, "userId": " ", "id": "alice"}),
        ] {
            let identity = authenticator().verify(&signed(claims.clone()));
            assert_eq!(identity.unwrap().user_id.as_str(), "alice", "{claims}");
        }
    }

    #[test]
    fn a_user_id_with_a_control_character_is_refused_not_skipped() {
        let token = signed(serde_json::json!({"sub": "a\nb", "userId": "alice"}));
        let err = authenticator().verify(&token).unwrap_err();
        assert!(err.to_string().contains("control character"), "{err}");
    }

    #[test]
    fn nbf_is_enforced_when_present() {
        let now = jsonwebtoken::get_current_timestamp();
        let verify = |nbf: Value| {
            authenticator().verify(&signed(serde_json::json!({"sub": "a", "nbf": nbf})))
        };
        assert!(verify((now + 1000).into()).is_err());
        assert!(verify((now + 1).into()).is_err());
        assert!(verify("soon".into()).is_err());
        assert!(verify(now.into()).is_ok());
        assert!(verify((now as f64 - 0.5).into()).is_ok());
        assert!(verify(Value::Null).is_ok());
    }
}
