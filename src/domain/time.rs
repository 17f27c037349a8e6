//! Timestamps: UTC everywhere, stored naive (as the old backend did) and sent as RFC 3339 with `Z`.

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Now, cut to microseconds: the precision both databases keep, so what a
/// client is sent equals what it reads back later.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

pub fn from_db(naive: NaiveDateTime) -> DateTime<Utc> {
    naive.and_utc()
}

pub fn to_db(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `#[serde(serialize_with = "rfc3339")]`
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(at))
}

/// `#[serde(serialize_with = "rfc3339_opt")]`
pub fn rfc3339_opt<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&format(at)),
        None => s.serialize_none(),
    }
}

/// Parses a client timestamp: RFC 3339 with any offset, or `YYYY-MM-DDTHH:MM:SS[.f]`
/// without one, read as UTC (what the old backend's clients send).
///
/// The result is cut to microseconds (what both databases keep; a leap second
/// becomes the next second) and must lie in years 0000 to 9999 once in UTC, so that
/// it is stored alike on both backends and sent back as RFC 3339.
pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let at = match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())?
            .and_utc(),
    };
    let at = DateTime::from_timestamp_micros(at.timestamp_micros())?;
    (0..=9999).contains(&at.year()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_z_and_only_needed_fraction() {
        let at = parse("2026-03-01T09:30:00").unwrap();
        assert_eq!(format(&at), "2026-03-01T09:30:00Z");
        let at = parse("2026-03-01T10:30:00.123456+01:00").unwrap();
        assert_eq!(format(&at), "2026-03-01T09:30:00.123456Z");
    }

    #[test]
    fn keeps_to_years_0000_to_9999_and_microseconds() {
        assert!(parse("9999-12-31T23:59:59-23:59").is_none());
        assert!(parse("0000-01-01T00:00:00+01:00").is_none());
        assert_eq!(
            format(&parse("9999-12-31T23:59:59Z").unwrap()),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            format(&parse("2026-03-01T09:30:00.123456789Z").unwrap()),
            "2026-03-01T09:30:00.123456Z"
        );
        assert_eq!(
            format(&parse("2026-06-30T23:59:60Z").unwrap()),
            "2026-07-01T00:00:00Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "tomorrow", "2026-13-01T00:00:00", "2026-03-01"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
