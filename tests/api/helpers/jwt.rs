//! Tokens made by hand, for what the server's own `mint` never makes: other
//! algorithms, other secrets, odd claims, expired ones.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::json::merged;

/// The `BETTER_AUTH_SECRET` of every server `spawn_app` starts.
pub const SECRET: &str = "test-secret-for-taskwire";

/// Unix seconds, the unit of `exp` and `iat`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token signed with `alg` and `secret`, carrying exactly `claims`.
pub fn sign(alg: Algorithm, secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// An HS256 token signed with the test servers' secret, carrying exactly `claims`.
pub fn server_signed(claims: Value) -> String {
    sign(Algorithm::HS256, SECRET, claims)
}

/// A token the test servers accept for `user` until `exp` (Unix seconds), or one
/// that expired at `exp` when it is past.
pub fn token_until(user: &str, exp: i64) -> String {
    server_signed(json!({ "sub": user, "exp": exp }))
}

/// `{"exp": now + 1 h}` merged with `extra`.
pub fn valid_for_an_hour(extra: Value) -> Value {
    merged(json!({ "exp": now() + 3600 }), extra)
}

/// The `Authorization` header value that carries `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
