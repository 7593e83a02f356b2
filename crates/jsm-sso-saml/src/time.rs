//! `xs:dateTime` as SAML uses it: UTC, RFC 3339, optional fractional seconds.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

/// Parses an `xs:dateTime` that carries a time zone (SAML requires UTC, `Z`; an explicit
/// offset is accepted and converted). A value without a zone is refused: it would be read in
/// some local time, and validity windows would shift by hours.
pub(crate) fn parse(field: &'static str, value: &str) -> Result<SystemTime, Error> {
    let bad = || Error::Time {
        field,
        value: value.chars().take(64).collect(),
    };
    let trimmed = value.trim();
    let parsed = OffsetDateTime::parse(trimmed, &Rfc3339).map_err(|_| bad())?;
    Ok(SystemTime::from(parsed))
}

/// Formats a time as SAML writes it: `2025-06-01T12:00:00Z` (seconds, UTC).
pub(crate) fn format(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// `at + skew`, saturating.
pub(crate) fn plus(at: SystemTime, skew: Duration) -> SystemTime {
    at.checked_add(skew).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_with_and_without_fraction() {
        let a = parse("t", "2025-06-01T12:00:00Z").unwrap();
        let b = parse("t", "2025-06-01T12:00:00.000Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(format(a), "2025-06-01T12:00:00Z");
        let c = parse("t", "2025-06-01T14:00:00+02:00").unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn refuses_missing_zone_and_garbage() {
        for v in [
            "2025-06-01T12:00:00",
            "yesterday",
            "",
            "2025-13-01T00:00:00Z",
        ] {
            let e = parse("NotBefore", v).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Time {
                        field: "NotBefore",
                        ..
                    }
                ),
                "{v}"
            );
        }
    }
}
