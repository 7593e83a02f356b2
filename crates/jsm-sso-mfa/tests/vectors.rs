//! The published test vectors: RFC 4226 appendix D (HOTP, SHA-1, 6 digits) and RFC 6238
//! appendix B (TOTP, SHA-1/SHA-256/SHA-512, 8 digits, 30 s). Values copied from the RFC text.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, UNIX_EPOCH};

use jsm_sso_mfa::{Algorithm, TotpParams, TotpSecret};

/// RFC 4226 appendix D: the secret is the ASCII string "12345678901234567890".
#[test]
fn rfc4226_appendix_d_hotp() {
    let secret = TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap();
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(secret.hotp(counter as u64), *code, "count {counter}");
    }
}

/// RFC 6238 appendix B. The seeds are the ASCII digits repeated to the hash's output
/// length (the RFC's reference code uses these lengths; its table's prose says 20 bytes for
/// all three, which the reference code and every interoperable implementation contradict).
#[test]
fn rfc6238_appendix_b_totp() {
    let seed20 = b"12345678901234567890";
    let seed32 = b"12345678901234567890123456789012";
    let seed64 = b"1234567890123456789012345678901234567890123456789012345678901234";
    let secret = |alg, seed: &[u8]| {
        TotpSecret::from_bytes(seed, TotpParams::new(alg, 8, 30).unwrap()).unwrap()
    };
    let sha1 = secret(Algorithm::Sha1, seed20);
    let sha256 = secret(Algorithm::Sha256, seed32);
    let sha512 = secret(Algorithm::Sha512, seed64);
    // (Unix time, T in hex, SHA-1, SHA-256, SHA-512)
    let table = [
        (59u64, 0x1u64, "94287082", "46119246", "90693936"),
        (1_111_111_109, 0x23523EC, "07081804", "68084774", "25091201"),
        (1_111_111_111, 0x23523ED, "14050471", "67062674", "99943326"),
        (1_234_567_890, 0x273EF07, "89005924", "91819424", "93441116"),
        (2_000_000_000, 0x3F940AA, "69279037", "90698825", "38618901"),
        (
            20_000_000_000,
            0x27BC86AA,
            "65353130",
            "77737706",
            "47863826",
        ),
    ];
    for (time, step, c1, c256, c512) in table {
        let at = UNIX_EPOCH + Duration::from_secs(time);
        assert_eq!(sha1.params().step_at(at).unwrap(), step, "T at {time}");
        assert_eq!(sha1.totp(at).unwrap(), c1, "SHA-1 at {time}");
        assert_eq!(sha256.totp(at).unwrap(), c256, "SHA-256 at {time}");
        assert_eq!(sha512.totp(at).unwrap(), c512, "SHA-512 at {time}");
        // The same codes through HOTP with T as the counter.
        assert_eq!(sha512.hotp(step), c512);
    }
}

/// Six-digit TOTP is the 8-digit value modulo 10^6: leading zeros are kept.
#[test]
fn six_digit_codes_keep_leading_zeros() {
    let secret = TotpSecret::from_bytes(
        b"12345678901234567890",
        TotpParams::new(Algorithm::Sha1, 6, 30).unwrap(),
    )
    .unwrap();
    // 8 digits "07081804" at 1111111109 -> 6 digits "081804".
    let at = UNIX_EPOCH + Duration::from_secs(1_111_111_109);
    assert_eq!(secret.totp(at).unwrap(), "081804");
    let seven = TotpSecret::from_bytes(
        b"12345678901234567890",
        TotpParams::new(Algorithm::Sha1, 7, 30).unwrap(),
    )
    .unwrap();
    assert_eq!(seven.totp(at).unwrap(), "7081804");
}

/// The base32 form of the RFC 4226 secret is the one authenticator apps would be given.
#[test]
fn base32_round_trip_of_the_rfc_secret() {
    let secret = TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap();
    assert_eq!(
        secret.expose_base32().as_str(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
    let again = TotpSecret::from_base32(
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        TotpParams::default(),
    )
    .unwrap();
    assert_eq!(again.hotp(0), "755224");
}
