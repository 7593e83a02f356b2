//! [`Timestamp`]: event time in whole milliseconds, written as RFC 3339 in UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with millisecond precision, written as RFC 3339 in UTC
/// (`"2025-01-02T03:04:05.678Z"`).
///
/// Milliseconds because OCSF `time` is epoch milliseconds and because a fixed precision keeps
/// the JSON of an event byte-stable (a value read back writes out the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The time `t`, truncated to the millisecond. Times before 1970 are allowed.
    #[must_use]
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => Self(
                i64::try_from(before.duration().as_millis())
                    .map_or(i64::MIN, |ms| ms.saturating_neg()),
            ),
        }
    }

    /// The time `ms` milliseconds after (or, negative, before) the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch (OCSF `time`).
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The time as a [`SystemTime`].
    #[must_use]
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_millis(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude).unwrap_or(UNIX_EPOCH)
        } else {
            UNIX_EPOCH.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
        }
    }

    fn to_offset_date_time(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0).checked_mul(1_000_000)?).ok()
    }

    /// RFC 3339 text in UTC with exactly three fractional digits.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let Some(dt) = self.to_offset_date_time() else {
            return String::from("invalid-time");
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }

    /// Parses RFC 3339 text (any offset, any fractional precision; sub-millisecond digits are
    /// truncated).
    ///
    /// # Errors
    ///
    /// The text is not RFC 3339 or is out of range.
    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        let dt = OffsetDateTime::parse(text, &Rfc3339)?;
        let ms = dt.unix_timestamp_nanos().div_euclid(1_000_000);
        Ok(Self(i64::try_from(ms).unwrap_or(i64::MAX)))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC with millisecond precision, e.g. 2025-01-02T03:04:05.678Z"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_unix_millis(1_735_787_045_678);
        assert_eq!(t.to_rfc3339(), "2025-01-02T03:04:05.678Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2025-01-02T03:04:05.678Z").unwrap(),
            t
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2025-01-02T04:04:05.678999+01:00").unwrap(),
            t
        );
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn system_time_conversions() {
        let st = UNIX_EPOCH + Duration::from_micros(1_500_999);
        let t = Timestamp::from_system_time(st);
        assert_eq!(t.unix_millis(), 1_500);
        assert_eq!(
            t.to_system_time(),
            UNIX_EPOCH + Duration::from_millis(1_500)
        );
        let before = Timestamp::from_system_time(UNIX_EPOCH - Duration::from_millis(5));
        assert_eq!(before.unix_millis(), -5);
        assert_eq!(
            before.to_system_time(),
            UNIX_EPOCH - Duration::from_millis(5)
        );
        assert_eq!(before.to_rfc3339(), "1969-12-31T23:59:59.995Z");
    }
}
