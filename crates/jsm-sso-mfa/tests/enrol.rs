//! Enrolment: secrets, the `otpauth://` URI and its percent-encoding, the QR code, label
//! limits, base32 import, and confirmation by the first valid code only.
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
use jsm_sso_core::{Clock, CodedError};
use jsm_sso_mfa::{Algorithm, PendingEnrolment, TotpParams, TotpSecret, TotpVerifier};

#[test]
fn generated_secrets_have_the_hash_length_and_differ() {
    for (alg, len) in [
        (Algorithm::Sha1, 20usize),
        (Algorithm::Sha256, 32),
        (Algorithm::Sha512, 64),
    ] {
        let params = TotpParams::new(alg, 6, 30).unwrap();
        let a = TotpSecret::generate(params).unwrap();
        let b = TotpSecret::generate(params).unwrap();
        // Unpadded base32 of n bytes has ceil(8n/5) characters.
        assert_eq!(a.expose_base32().len(), (len * 8).div_ceil(5));
        assert_ne!(a.expose_base32(), b.expose_base32());
        assert_eq!(alg.secret_len(), len);
    }
}

#[test]
fn uri_has_every_parameter_and_encodes_labels() {
    let secret = TotpSecret::from_bytes(
        b"12345678901234567890",
        TotpParams::new(Algorithm::Sha256, 8, 60).unwrap(),
    )
    .unwrap();
    let e = PendingEnrolment::with_secret("Acme & Co / Support", "jane+test@exämple.com", secret)
        .unwrap();
    assert_eq!(
        e.uri().as_str(),
        "otpauth://totp/Acme%20%26%20Co%20%2F%20Support:jane%2Btest%40ex%C3%A4mple.com\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%26%20Co%20%2F%20Support\
         &algorithm=SHA256&digits=8&period=60"
    );
    let plain = PendingEnrolment::with_secret(
        "Acme",
        "jane.doe_1~x-y@example.com",
        TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        plain.uri().as_str(),
        "otpauth://totp/Acme:jane.doe_1~x-y%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Acme&algorithm=SHA1&digits=6&period=30"
    );
    assert_eq!(
        plain.secret_base32().as_str(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
}

#[test]
fn labels_are_checked() {
    let p = TotpParams::default();
    let long = "a".repeat(129);
    for (issuer, account, reason) in [
        ("", "a", "issuer is 0 bytes, allowed 1 to 128"),
        ("Acme", "", "account is 0 bytes, allowed 1 to 128"),
        (long.as_str(), "a", "issuer is 129 bytes, allowed 1 to 128"),
        ("Acme:EU", "a", "issuer contains ':', the label separator"),
        ("Acme", "a:b", "account contains ':', the label separator"),
        ("Acme\n", "a", "issuer contains a control character"),
        ("Acme", "a\u{7f}", "account contains a control character"),
    ] {
        let err = PendingEnrolment::generate(issuer, account, p).unwrap_err();
        assert_eq!(err.code(), "mfa.enrolment.label_invalid");
        assert_eq!(
            err.to_string(),
            format!("enrolment label is invalid: {reason}")
        );
    }
    assert!(PendingEnrolment::generate(&"a".repeat(128), &"b".repeat(128), p).is_ok());
}

/// The SVG is well-formed, square, and its dark modules form a QR code of the size the
/// URI needs (version 7-ish for a SHA-512 secret); the quiet zone is light.
#[test]
fn qr_code_is_an_svg_of_the_uri() {
    for alg in [Algorithm::Sha1, Algorithm::Sha512] {
        let e = PendingEnrolment::generate(
            "Acme Support",
            "jane@example.com",
            TotpParams::new(alg, 6, 30).unwrap(),
        )
        .unwrap();
        let svg = e.qr_svg().unwrap();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..60]);
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        let width: u32 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(width >= 256, "{width}");
        assert!(svg.contains(&format!("height=\"{width}\"")));
        // The URI is not in the SVG as text: only as modules.
        assert!(!svg.contains("otpauth"));
        assert!(!svg.contains(e.secret_base32().as_str()));
        // Scanned like a phone would (rasterised, then a QR decoder): it reads back the URI.
        assert_eq!(scan(&svg, width), e.uri().as_str());
    }
}

/// Rasterises the renderer's SVG (one light background, one path of dark rectangles
/// `M{x} {y}h{w}v{h}H{x}V{y}`) at one pixel per unit and decodes it with rqrr.
fn scan(svg: &str, size: u32) -> String {
    let size = size as usize;
    let mut dark = vec![false; size * size];
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, w, h) = (nums[0], nums[1], nums[2], nums[3]);
        for row in y..y + h {
            for col in x..x + w {
                dark[row * size + col] = true;
            }
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
        if dark[y * size + x] { 0 } else { 255 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[test]
fn base32_import() {
    let p = TotpParams::default();
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", p)
            .unwrap()
            .hotp(1),
        "287082"
    );
    assert_eq!(
        TotpSecret::from_base32("gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq", p)
            .unwrap()
            .hotp(1),
        "287082"
    );
    for bad in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJÄ",
    ] {
        let err = TotpSecret::from_base32(bad, p).unwrap_err();
        assert_eq!(err.code(), "mfa.secret.encoding", "{bad}");
    }
    // 80 bits (the old Google Authenticator default) is under RFC 4226's 128.
    let err = TotpSecret::from_base32("JBSWY3DPEHPK3PXP", p).unwrap_err();
    assert_eq!(err.code(), "mfa.secret.too_short");
    assert_eq!(err.to_string(), "secret is 80 bits, at least 128 required");
    assert_eq!(
        TotpSecret::from_bytes(&[1; 15], p).unwrap_err().code(),
        "mfa.secret.too_short"
    );
    assert!(TotpSecret::from_bytes(&[1; 16], p).is_ok());
    assert_eq!(
        TotpSecret::from_bytes(&[1; 129], p).unwrap_err().code(),
        "mfa.config.invalid"
    );
    assert_eq!(
        TotpSecret::from_base32(&"A".repeat(513), p)
            .unwrap_err()
            .code(),
        "mfa.config.invalid"
    );
}

#[test]
fn params_are_checked() {
    for (digits, period) in [(5, 30), (9, 30), (6, 14), (6, 301), (0, 0)] {
        let err = TotpParams::new(Algorithm::Sha1, digits, period).unwrap_err();
        assert_eq!(err.code(), "mfa.config.invalid", "{digits} {period}");
    }
    assert_eq!(
        TotpParams::new(Algorithm::Sha1, 6, 301)
            .unwrap_err()
            .to_string(),
        "invalid TOTP parameter period: 301 s is not between 15 and 300 s"
    );
    let d = TotpParams::default();
    assert_eq!(
        (d.algorithm(), d.digits(), d.period()),
        (Algorithm::Sha1, 6, 30)
    );
    assert_eq!(
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512].map(Algorithm::name),
        ["SHA1", "SHA256", "SHA512"]
    );
}

#[tokio::test]
async fn confirmed_only_by_a_valid_code_and_the_code_is_used_up() {
    let clock = Arc::new(FixedClock::new(
        UNIX_EPOCH + Duration::from_secs(1_750_000_000),
    ));
    let verifier = TotpVerifier::new(
        clock.clone(),
        Arc::new(MemoryReplayCache::new(clock.clone(), 100)),
    );
    let e = PendingEnrolment::generate("Acme", "jane@example.com", TotpParams::default()).unwrap();
    let app = e.secret_for_tests().clone();

    let err = e.confirm(&verifier, "cust", "12345").await.unwrap_err();
    assert_eq!(err.code(), "mfa.code.malformed");
    let stale = app.totp(clock.now() - Duration::from_secs(90)).unwrap();
    let err = e.confirm(&verifier, "cust", &stale).await.unwrap_err();
    assert_eq!(err.code(), "mfa.code.invalid");

    let first = app.totp(clock.now()).unwrap();
    let secret = e.confirm(&verifier, "cust", &first).await.unwrap();
    assert_eq!(secret.expose_base32(), app.expose_base32());
    // The confirming code cannot then sign in.
    let err = verifier.verify("cust", &secret, &first).await.unwrap_err();
    assert_eq!(err.code(), "mfa.code.replayed");
}

#[test]
fn secrets_never_show_in_debug() {
    let secret = TotpSecret::from_bytes(b"12345678901234567890", TotpParams::default()).unwrap();
    let e = PendingEnrolment::with_secret("Acme", "jane@example.com", secret.clone()).unwrap();
    let shown = format!("{secret:?} {secret:#?} {e:?}");
    assert!(!shown.contains("GEZDGNBV") && !shown.contains("12345678901234567890"));
    assert!(shown.contains("[redacted]"));
    assert!(shown.contains("jane@example.com"));
}
