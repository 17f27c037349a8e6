use std::fmt;

/// The id of an authenticated user: the string Better Auth puts in the token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// The user every unauthenticated request acts as when `DEMO_MODE` is on.
    pub const DEMO: &'static str = "demo-user";

    /// Longest user id, in characters: far above any issuer's ids, and short enough
    /// to travel in a PostgreSQL `NOTIFY` (8,000 bytes) with room to spare.
    pub const MAX_CHARS: usize = 1024;

    /// A user id is any non-blank string of at most `MAX_CHARS` characters without
    /// control characters (a NUL cannot be stored, a newline would start a new log
    /// line); it is kept exactly as sent.
    pub fn parse(raw: &str) -> Option<Self> {
        (!raw.trim().is_empty()
            && raw.chars().count() <= Self::MAX_CHARS
            && !raw.chars().any(char::is_control))
        .then(|| UserId(raw.to_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_ids_and_control_characters_are_refused() {
        for ok in ["alice", "user_2x9 é", "a b"] {
            assert_eq!(UserId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "  ", "a\0b", "alice\n", "al\rice", "a\tb", "a\u{1b}b", "a\u{7f}", "a\u{85}",
        ] {
            assert!(UserId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
