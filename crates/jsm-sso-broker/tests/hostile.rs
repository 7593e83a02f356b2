//! Hostile input never panics: arbitrary callbacks, session cookies, hints and return paths
//! are refused with broker codes (or parsed), within their limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, SystemTime};

use jsm_sso_broker::{Callback, CodedError, LoginHint, SessionKeys};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn callbacks_parse_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        match Callback::parse(&bytes) {
            Ok(c) => {
                // Whatever parsed re-encodes and parses again to the same parameters (the
                // raw text differs: it is kept as received).
                let again = Callback::parse(c.to_form().as_bytes()).unwrap();
                prop_assert_eq!(again.to_form(), c.to_form());
                prop_assert_eq!(c.raw(), String::from_utf8_lossy(&bytes));
            }
            Err(e) => prop_assert_eq!(e.code(), "broker.callback.malformed"),
        }
    }

    #[test]
    fn session_cookies_are_refused_not_trusted(token in ".{0,600}", tail in "[A-Za-z0-9_.-]{0,400}") {
        let keys = SessionKeys::new(&[3; 32]).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        for t in [token.clone(), format!("v1.{tail}"), format!("v1.{tail}.{tail}")] {
            let e = keys.open(&t, now).unwrap_err();
            prop_assert!(
                matches!(e.code(), "broker.session.malformed" | "broker.session.signature"),
                "{}", e.code()
            );
        }
    }

    #[test]
    fn hints_parse_or_refuse(text in ".{0,300}") {
        match LoginHint::parse(&text) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.code(), "broker.discovery.hint_invalid"),
        }
    }
}
