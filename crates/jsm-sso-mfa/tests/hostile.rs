//! Hostile input never panics and is refused with one of the documented codes: arbitrary
//! codes, sealed texts (random, and single-character mutations of a real one), base32
//! secrets, labels and sealing keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::memory::MemoryReplayCache;
use jsm_sso_mfa::{
    CodedError, PendingEnrolment, Sealer, SealingKey, TotpParams, TotpSecret, TotpVerifier,
};
use proptest::prelude::*;

fn sealer() -> Sealer {
    Sealer::new(SealingKey::from_bytes(&[3; 32]).unwrap())
}

fn secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap()
}

const OPEN_CODES: [&str; 6] = [
    "mfa.secret.sealed_invalid",
    "mfa.secret.sealed_version",
    "mfa.secret.key_unknown",
    "mfa.secret.customer_mismatch",
    "mfa.secret.tampered",
    "mfa.secret.kind_mismatch",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_code_is_accepted_only_if_right(code in "\\PC{0,12}|[0-9 ]{0,10}") {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(1_750_000_000)));
        let verifier = TotpVerifier::new(clock.clone(), Arc::new(MemoryReplayCache::new(clock, 16)));
        let right: Vec<String> = [-30i64, 0, 30]
            .iter()
            .map(|d| secret().totp(UNIX_EPOCH + Duration::from_secs((1_750_000_000 + d) as u64)).unwrap())
            .collect();
        match rt.block_on(verifier.verify("c", &secret(), &code)) {
            Ok(_) => {
                let digits: String = code.chars().filter(|c| *c != ' ').collect();
                prop_assert!(right.contains(&digits.trim().to_owned()), "{code:?}");
            }
            Err(e) => prop_assert!(
                ["mfa.code.malformed", "mfa.code.invalid"].contains(&e.code()),
                "{code:?}: {}", e.code()
            ),
        }
    }

    #[test]
    fn random_sealed_texts_are_refused(text in "\\PC{0,300}|totp1(\\.[A-Za-z0-9_-]{0,40}){0,7}") {
        for open in [Sealer::open, |s: &Sealer, c: &str, t: &str| s.open_pending(c, t).map(|_| secret())] {
            let err = open(&sealer(), "cust", &text).unwrap_err();
            prop_assert!(OPEN_CODES.contains(&err.code()), "{text:?}: {}", err.code());
        }
    }

    #[test]
    fn every_one_character_change_of_a_sealed_text_is_refused(
        index in 0usize..200,
        replacement in prop::sample::select(vec!['A', 'B', 'z', '0', '-', '_', '.', '=', 'é']),
    ) {
        let text = sealer().seal("cust", &secret()).unwrap();
        let mut chars: Vec<char> = text.chars().collect();
        let index = index % chars.len();
        prop_assume!(chars[index] != replacement);
        chars[index] = replacement;
        let changed: String = chars.into_iter().collect();
        let err = sealer().open("cust", &changed).unwrap_err();
        prop_assert!(OPEN_CODES.contains(&err.code()), "{changed}: {}", err.code());
    }

    #[test]
    fn base32_and_labels_never_panic(text in "\\PC{0,200}") {
        if let Err(e) = TotpSecret::from_base32(&text, TotpParams::default()) {
            prop_assert!(
                ["mfa.secret.encoding", "mfa.secret.too_short", "mfa.config.invalid"].contains(&e.code()),
                "{}", e.code()
            );
        }
        match PendingEnrolment::generate(&text, &text, TotpParams::default()) {
            Ok(e) => prop_assert!(e.qr_svg().is_ok()),
            Err(e) => prop_assert_eq!(e.code(), "mfa.enrolment.label_invalid"),
        }
        if let Err(e) = SealingKey::from_base64(&text) {
            prop_assert_eq!(e.code(), "mfa.key.invalid");
        }
    }
}
