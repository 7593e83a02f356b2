//! `Sealer`: round trips (confirmed and pending, every algorithm), key rotation, and every
//! way a sealed text can be wrong, each with its exact code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use data_encoding::BASE64URL_NOPAD;
use jsm_sso_core::CodedError;
use jsm_sso_mfa::{Algorithm, PendingEnrolment, Sealer, SealingKey, TotpParams, TotpSecret};

fn sealer() -> Sealer {
    Sealer::new(SealingKey::from_bytes(&[0x11; 32]).unwrap())
}

fn secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap()
}

fn code_of(sealer: &Sealer, customer: &str, text: &str) -> &'static str {
    sealer.open(customer, text).unwrap_err().code()
}

/// Replaces field `index` (0-based, dot-separated) of a sealed text.
fn with_field(text: &str, index: usize, value: &str) -> String {
    let mut fields: Vec<&str> = text.split('.').collect();
    fields[index] = value;
    fields.join(".")
}

#[test]
fn round_trip_keeps_secret_and_parameters() {
    let sealer = sealer();
    for alg in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for (digits, period) in [(6, 30), (8, 60), (7, 15), (6, 300)] {
            let secret =
                TotpSecret::generate(TotpParams::new(alg, digits, period).unwrap()).unwrap();
            let text = sealer.seal("cust-1", &secret).unwrap();
            assert!(text.starts_with("totp1.c."), "{text}");
            assert!(!text.contains(secret.expose_base32().as_str()));
            let opened = sealer.open("cust-1", &text).unwrap();
            assert_eq!(opened.params(), secret.params());
            assert_eq!(opened.expose_base32(), secret.expose_base32());
            assert_eq!(opened.hotp(7), secret.hotp(7));
        }
    }
}

#[test]
fn each_seal_uses_a_fresh_nonce() {
    let sealer = sealer();
    let a = sealer.seal("c", &secret()).unwrap();
    let b = sealer.seal("c", &secret()).unwrap();
    assert_ne!(a, b);
    assert_ne!(a.split('.').nth(4), b.split('.').nth(4));
}

#[test]
fn pending_enrolments_round_trip_and_are_not_confirmed_secrets() {
    let sealer = sealer();
    let enrolment =
        PendingEnrolment::generate("Acme Support", "jane@example.com", TotpParams::default())
            .unwrap();
    let text = sealer.seal_pending("cust-1", &enrolment).unwrap();
    assert!(text.starts_with("totp1.p."));
    let back = sealer.open_pending("cust-1", &text).unwrap();
    assert_eq!(back.issuer(), "Acme Support");
    assert_eq!(back.account(), "jane@example.com");
    assert_eq!(back.uri().as_str(), enrolment.uri().as_str());

    let err = sealer.open("cust-1", &text).unwrap_err();
    assert_eq!(err.code(), "mfa.secret.kind_mismatch");
    assert_eq!(
        err.to_string(),
        "sealed secret is a pending enrolment, confirmed was expected"
    );
    let confirmed = sealer.seal("cust-1", &secret()).unwrap();
    let err = sealer.open_pending("cust-1", &confirmed).unwrap_err();
    assert_eq!(err.code(), "mfa.secret.kind_mismatch");
    // Flipping the kind letter does not help: it is authenticated.
    let flipped = with_field(&text, 1, "c");
    assert_eq!(code_of(&sealer, "cust-1", &flipped), "mfa.secret.tampered");
}

#[test]
fn wrong_customer_is_named() {
    let sealer = sealer();
    let text = sealer.seal("cust-1", &secret()).unwrap();
    assert_eq!(
        code_of(&sealer, "cust-2", &text),
        "mfa.secret.customer_mismatch"
    );
    assert_eq!(
        code_of(&sealer, "cust-1 ", &text),
        "mfa.secret.customer_mismatch"
    );
    // Moving the binding of cust-2 onto cust-1's text passes the binding check but not the
    // authentication, which covers the customer id too.
    let other = sealer.seal("cust-2", &secret()).unwrap();
    let moved = with_field(&text, 3, other.split('.').nth(3).unwrap());
    assert_eq!(code_of(&sealer, "cust-2", &moved), "mfa.secret.tampered");
}

#[test]
fn wrong_key_is_named_and_rotation_opens_old_texts() {
    let old_key = || SealingKey::from_bytes(&[0x22; 32]).unwrap();
    let old = Sealer::new(old_key());
    let text = old.seal("cust", &secret()).unwrap();

    let new = sealer();
    let err = new.open("cust", &text).unwrap_err();
    assert_eq!(err.code(), "mfa.secret.key_unknown");
    let new_id = SealingKey::from_bytes(&[0x11; 32]).unwrap().id().to_owned();
    assert_eq!(
        err.to_string(),
        format!(
            "sealed secret was sealed with key {}, the sealer holds {new_id}",
            old_key().id()
        )
    );

    let rotating = sealer().with_previous(old_key());
    assert!(rotating.needs_reseal(&text));
    let opened = rotating.open("cust", &text).unwrap();
    let resealed = rotating.seal("cust", &opened).unwrap();
    assert!(!rotating.needs_reseal(&resealed));
    assert_eq!(new.open("cust", &resealed).unwrap().hotp(1), "287082");
}

#[test]
fn every_tamper_is_detected() {
    let sealer = sealer();
    let text = sealer.seal("cust", &secret()).unwrap();
    let fields: Vec<&str> = text.split('.').collect();
    assert_eq!(fields.len(), 6);

    // Flip one character in the nonce and in every position class of the ciphertext.
    let flip = |field: &str, at: usize| -> String {
        let mut chars: Vec<char> = field.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    let nonce = fields[4];
    let ct = fields[5];
    for at in [0, nonce.len() / 2, nonce.len() - 2] {
        let t = with_field(&text, 4, &flip(nonce, at));
        assert_eq!(
            code_of(&sealer, "cust", &t),
            "mfa.secret.tampered",
            "nonce {at}"
        );
    }
    for at in [0, 5, ct.len() / 2, ct.len() - 10, ct.len() - 2] {
        let t = with_field(&text, 5, &flip(ct, at));
        assert_eq!(
            code_of(&sealer, "cust", &t),
            "mfa.secret.tampered",
            "ct {at}"
        );
    }
    // Ciphertext truncated or extended by whole bytes (re-encoded, so still valid base64).
    let raw = BASE64URL_NOPAD.decode(ct.as_bytes()).unwrap();
    for changed in [
        raw[..raw.len() - 1].to_vec(),
        raw[1..].to_vec(),
        [raw.as_slice(), &[0]].concat(),
        raw[..16].to_vec(),
    ] {
        let t = with_field(&text, 5, &BASE64URL_NOPAD.encode(&changed));
        assert_eq!(
            code_of(&sealer, "cust", &t),
            "mfa.secret.tampered",
            "{}",
            changed.len()
        );
    }
    // Not canonical base64 (trailing bits set): malformed, not tampered. Built from a byte
    // count that leaves padding bits in the last character, whose lowest bit is then set.
    let short = if raw.len().is_multiple_of(3) {
        &raw[..raw.len() - 1]
    } else {
        &raw[..]
    };
    let mut non_canonical: Vec<u8> = BASE64URL_NOPAD.encode(short).into_bytes();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = non_canonical.last_mut().unwrap();
    let value = ALPHABET.iter().position(|c| c == last).unwrap();
    *last = ALPHABET[value | 1];
    let t = with_field(&text, 5, std::str::from_utf8(&non_canonical).unwrap());
    assert_eq!(code_of(&sealer, "cust", &t), "mfa.secret.sealed_invalid");
    // The binding field changed: named as another customer's secret.
    let binding = flip(fields[3], 0);
    assert_eq!(
        code_of(&sealer, "cust", &with_field(&text, 3, &binding)),
        "mfa.secret.customer_mismatch"
    );
    // The key id changed: a key we do not hold.
    let key_id = flip(fields[2], 0);
    assert_eq!(
        code_of(&sealer, "cust", &with_field(&text, 2, &key_id)),
        "mfa.secret.key_unknown"
    );
    // Swapping in another text's nonce.
    let other = sealer.seal("cust", &secret()).unwrap();
    let swapped = with_field(&text, 4, other.split('.').nth(4).unwrap());
    assert_eq!(code_of(&sealer, "cust", &swapped), "mfa.secret.tampered");
}

#[test]
fn malformed_and_foreign_texts() {
    let sealer = sealer();
    let text = sealer.seal("cust", &secret()).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "mfa.secret.sealed_invalid"),
        (
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            "mfa.secret.sealed_invalid",
        ),
        (
            text.replacen("totp1", "totp2", 1),
            "mfa.secret.sealed_version",
        ),
        (
            text.replacen("totp1", "TOTP1", 1),
            "mfa.secret.sealed_invalid",
        ),
        (format!("{text}.extra"), "mfa.secret.sealed_invalid"),
        (
            text.rsplit_once('.').unwrap().0.to_owned(),
            "mfa.secret.sealed_invalid",
        ),
        (with_field(&text, 1, "x"), "mfa.secret.sealed_invalid"),
        (with_field(&text, 3, "!!"), "mfa.secret.sealed_invalid"),
        (with_field(&text, 3, "AAAA"), "mfa.secret.sealed_invalid"),
        (with_field(&text, 4, "AAAA"), "mfa.secret.sealed_invalid"),
        (
            with_field(&text, 4, "not base64!"),
            "mfa.secret.sealed_invalid",
        ),
        (with_field(&text, 5, "AAAA"), "mfa.secret.sealed_invalid"),
        (with_field(&text, 5, "a=b"), "mfa.secret.sealed_invalid"),
        ("x".repeat(2049), "mfa.secret.sealed_invalid"),
    ];
    for (input, code) in cases {
        assert_eq!(code_of(&sealer, "cust", &input), code, "{input:.40}");
    }
    let err = sealer
        .open("cust", &text.replacen("totp1", "totp2", 1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sealed secret has version \"totp2\", this build opens \"totp1\""
    );
    // Customer ids are checked on both sides.
    assert_eq!(
        sealer.open("", &text).unwrap_err().code(),
        "mfa.customer.invalid"
    );
    assert_eq!(
        sealer.seal(&"c".repeat(481), &secret()).unwrap_err().code(),
        "mfa.customer.invalid"
    );
}

#[test]
fn sealing_keys() {
    for len in [0, 16, 31, 33, 64] {
        let err = SealingKey::from_bytes(&vec![1; len]).unwrap_err();
        assert_eq!(err.code(), "mfa.key.invalid");
        assert_eq!(
            err.to_string(),
            format!("sealing key is {len} bytes, 32 required")
        );
    }
    let (key, b64) = SealingKey::generate().unwrap();
    let again = SealingKey::from_base64(&b64).unwrap();
    assert_eq!(key.id(), again.id());
    assert_eq!(key.id().len(), 8);
    let nopad = SealingKey::from_base64(b64.trim_end_matches('=')).unwrap();
    assert_eq!(nopad.id(), key.id());
    assert_eq!(
        SealingKey::from_base64("not base64").unwrap_err().code(),
        "mfa.key.invalid"
    );
    assert_eq!(
        SealingKey::from_base64("AAAA").unwrap_err().to_string(),
        "sealing key is 3 bytes, 32 required"
    );
    // Debug shows the id, never the key.
    let shown = format!("{key:?} {:?}", Sealer::new(again));
    assert!(
        shown.contains("[redacted]") && shown.contains(key.id()),
        "{shown}"
    );
    assert!(!shown.contains(b64.as_str()));
    // Distinct keys have distinct ids.
    assert_ne!(
        SealingKey::from_bytes(&[1; 32]).unwrap().id(),
        SealingKey::from_bytes(&[2; 32]).unwrap().id()
    );
}
