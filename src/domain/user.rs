use std::fmt;

/// The id of an authenticated user: the string Better Auth puts in the token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// The user every unauthenticated request acts as when `DEMO_MODE` is on.
    pub const DEMO: &'static str = "demo-user";

    /// A user id is any non-blank string; it is kept exactly as sent.
    pub fn parse(raw: &str) -> Option<Self> {
        (!raw.trim().is_empty()).then(|| UserId(raw.to_owned()))
    }

    pub fn demo() -> Self {
        UserId(Self::DEMO.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
