//! `SystemTime` as RFC 3339 strings in serde (`"2025-01-02T03:04:05Z"`).
//!
//! Written in UTC, with fractional seconds only when there are any. Read with any offset.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn format(t: SystemTime) -> Result<String, time::error::Format> {
    OffsetDateTime::from(t).format(&Rfc3339)
}

fn parse(s: &str) -> Result<SystemTime, time::error::Parse> {
    OffsetDateTime::parse(s, &Rfc3339).map(SystemTime::from)
}

pub(crate) mod rfc3339 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t).map_err(S::Error::custom)?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&raw).map_err(|e| D::Error::custom(format_args!("invalid RFC 3339 time: {e}")))
    }
}

pub(crate) mod rfc3339_option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&format(*t).map_err(S::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
            Some(raw) => parse(&raw)
                .map(Some)
                .map_err(|e| D::Error::custom(format_args!("invalid RFC 3339 time: {e}"))),
            None => Ok(None),
        }
    }
}
