//! [`EventId`]: UUIDv7 (RFC 9562), time-ordered and unique.

use std::sync::{Mutex, PoisonError};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;

/// A time-ordered unique event id: a UUIDv7 (RFC 9562) written in the usual hyphenated
/// lower-case form. Ids made by one process sort in the order they were made, even within one
/// millisecond (the 12 `rand_a` bits count up, RFC 9562 method 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId([u8; 16]);

/// The last millisecond and counter handed out, for monotonic ids within a process.
static LAST: Mutex<(i64, u16)> = Mutex::new((i64::MIN, 0));

impl EventId {
    /// A new UUIDv7 for an event at `time`.
    #[must_use]
    pub fn new_v7(time: Timestamp) -> Self {
        let mut random = [0u8; 10];
        // SystemRandom only fails when the OS has no randomness at all; the counter and the
        // time still make the id unique within this process then.
        let _ignored = SystemRandom::new().fill(&mut random);
        let [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] = random;
        let (ms, counter) = {
            let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
            let now = time.unix_millis().max(0);
            if now > last.0 {
                *last = (now, u16::from_be_bytes([r8, r9]) & 0x01ff);
            } else if last.1 >= 0x0fff {
                // counter exhausted: borrow the next millisecond, as RFC 9562 allows
                *last = (last.0.saturating_add(1), 0);
            } else {
                last.1 = last.1.saturating_add(1);
            }
            *last
        };
        let ms = u64::try_from(ms).unwrap_or(0).to_be_bytes();
        let [_, _, m0, m1, m2, m3, m4, m5] = ms;
        let [c0, c1] = counter.to_be_bytes();
        Self([
            m0,
            m1,
            m2,
            m3,
            m4,
            m5,
            0x70 | (c0 & 0x0f),
            c1,
            0x80 | (r0 & 0x3f),
            r1,
            r2,
            r3,
            r4,
            r5,
            r6,
            r7,
        ])
    }

    /// The 16 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The millisecond timestamp in the id's first 48 bits.
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        let [b0, b1, b2, b3, b4, b5, ..] = self.0;
        let ms = u64::from_be_bytes([0, 0, b0, b1, b2, b3, b4, b5]);
        Timestamp::from_unix_millis(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    /// Parses the hyphenated form (`0190f6a2-...`), either case.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
        let dashes_ok = text.len() == 36
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| (b == b'-') == matches!(i, 8 | 13 | 18 | 23));
        if !dashes_ok || hex.len() != 32 {
            return Err(format!("event id {text:?} is not a hyphenated uuid"));
        }
        let mut out = [0u8; 16];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let text = std::str::from_utf8(pair).map_err(|_| "event id is not ascii".to_owned())?;
            *byte = u8::from_str_radix(text, 16)
                .map_err(|_| format!("event id {text:?} has a non-hex digit"))?;
        }
        Ok(Self(out))
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for EventId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "uuid",
            "description": "UUIDv7 (RFC 9562), lower-case hyphenated"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_layout_and_order() {
        let t = Timestamp::from_unix_millis(1_735_787_045_678);
        let ids: Vec<EventId> = (0..5000).map(|_| EventId::new_v7(t)).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        let id = ids[0];
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "7", "version nibble: {text}");
        assert!(
            matches!(&text[19..20], "8" | "9" | "a" | "b"),
            "variant: {text}"
        );
        assert_eq!(EventId::parse(&text).unwrap(), id);
        assert!(id.timestamp() >= t);
    }

    #[test]
    fn parse_refuses_bad_text() {
        for bad in [
            "",
            "0190f6a2",
            "0190f6a2-0000-7000-8000-00000000000g",
            "0190f6a200007000800000000000000000",
        ] {
            assert!(EventId::parse(bad).is_err(), "{bad}");
        }
    }
}
