//! `TotpVerifier` through its public API: window edges, malformed codes, replay (per customer
//! and step, older steps used up, concurrent submissions), and a failing replay cache.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::memory::MemoryReplayCache;
use jsm_sso_core::{Clock, CodedError};
use jsm_sso_mfa::{Algorithm, Error, TotpParams, TotpSecret, TotpVerifier};

/// 10 s into a 30 s step.
const T0: u64 = 1_750_000_020;

struct Fixture {
    clock: Arc<FixedClock>,
    verifier: TotpVerifier,
    secret: TotpSecret,
}

fn fixture_with(params: TotpParams) -> Fixture {
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let replay = Arc::new(MemoryReplayCache::new(clock.clone(), 10_000));
    Fixture {
        verifier: TotpVerifier::new(clock.clone(), replay),
        clock,
        secret: TotpSecret::from_bytes(b"an example secret of 20", params).unwrap(),
    }
}

fn fixture() -> Fixture {
    fixture_with(TotpParams::default())
}

impl Fixture {
    /// The code `steps` steps from now.
    fn code(&self, steps: i64) -> String {
        let period = i64::from(self.secret.params().period());
        let at = if steps < 0 {
            self.clock.now() - Duration::from_secs((-steps * period) as u64)
        } else {
            self.clock.now() + Duration::from_secs((steps * period) as u64)
        };
        self.secret.totp(at).unwrap()
    }

    async fn verify(&self, customer: &str, code: &str) -> Result<jsm_sso_mfa::Verified, Error> {
        self.verifier.verify(customer, &self.secret, code).await
    }
}

#[tokio::test]
async fn window_edges_minus_two_to_plus_two() {
    for (steps, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
        let f = fixture();
        let code = f.code(steps);
        let current = f.secret.params().step_at(f.clock.now()).unwrap();
        match f.verify("cust", &code).await {
            Ok(v) => {
                assert!(accepted, "step {steps} was accepted");
                assert_eq!(i64::from(v.offset), steps);
                assert_eq!(v.step as i64, current as i64 + steps);
            }
            Err(e) => {
                assert!(!accepted, "step {steps} refused: {e}");
                assert_eq!(e.code(), "mfa.code.invalid", "step {steps}");
                assert_eq!(
                    e.to_string(),
                    "code does not match any time step within 1 step(s) of now"
                );
            }
        }
    }
}

#[tokio::test]
async fn window_edges_at_the_step_boundaries() {
    let f = fixture();
    let start = (T0 / 30) * 30;
    let code = f
        .secret
        .totp(UNIX_EPOCH + Duration::from_secs(start))
        .unwrap();
    // Last second of the step after next: the code is two steps old.
    f.clock.set(UNIX_EPOCH + Duration::from_secs(start + 89));
    assert_eq!(
        f.verify("a", &code).await.unwrap_err().code(),
        "mfa.code.invalid"
    );
    // Last second of the next step: one step old, accepted.
    f.clock.set(UNIX_EPOCH + Duration::from_secs(start + 59));
    assert_eq!(f.verify("b", &code).await.unwrap().offset, -1);
    // One second before the step begins: one step early, accepted.
    f.clock.set(UNIX_EPOCH + Duration::from_secs(start - 1));
    assert_eq!(f.verify("c", &code).await.unwrap().offset, 1);
    // 31 s before it begins: two steps early.
    f.clock.set(UNIX_EPOCH + Duration::from_secs(start - 31));
    assert_eq!(
        f.verify("d", &code).await.unwrap_err().code(),
        "mfa.code.invalid"
    );
}

#[tokio::test]
async fn configurable_window() {
    let zero = fixture();
    let zero_v = zero.verifier.clone().with_window(0).unwrap();
    assert_eq!(zero_v.window(), 0);
    let err = zero_v
        .verify("c", &zero.secret, &zero.code(-1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "mfa.code.invalid");
    assert!(
        zero_v
            .verify("c", &zero.secret, &zero.code(0))
            .await
            .is_ok()
    );

    let two = fixture();
    let two_v = two.verifier.clone().with_window(2).unwrap();
    assert_eq!(
        two_v
            .verify("c", &two.secret, &two.code(2))
            .await
            .unwrap()
            .offset,
        2
    );
    assert_eq!(
        two_v
            .verify("d", &two.secret, &two.code(-2))
            .await
            .unwrap()
            .offset,
        -2
    );
    let err = two_v
        .verify("e", &two.secret, &two.code(3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "mfa.code.invalid");

    let err = two.verifier.clone().with_window(3).unwrap_err();
    assert_eq!(err.code(), "mfa.config.invalid");
    assert_eq!(
        err.to_string(),
        "invalid TOTP parameter window: 3 steps, at most 2"
    );
}

#[tokio::test]
async fn every_algorithm_and_digit_count_verifies() {
    for alg in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for digits in 6..=8 {
            let f = fixture_with(TotpParams::new(alg, digits, 30).unwrap());
            let code = f.code(0);
            assert_eq!(code.len(), usize::from(digits));
            assert!(f.verify("c", &code).await.is_ok(), "{alg:?} {digits}");
        }
    }
    // A 60 s period: the window is ±60 s.
    let f = fixture_with(TotpParams::new(Algorithm::Sha1, 6, 60).unwrap());
    assert_eq!(f.verify("c", &f.code(-1)).await.unwrap().offset, -1);
}

#[tokio::test]
async fn malformed_codes_are_refused_before_anything_else() {
    let f = fixture();
    let good = f.code(0);
    let long = "1".repeat(65);
    let bad = [
        ("", "expected 6 digits, got 0"),
        ("12345", "expected 6 digits, got 5"),
        ("1234567", "expected 6 digits, got 7"),
        ("12345a", "contains a character that is not an ASCII digit"),
        ("123-456", "contains a character that is not an ASCII digit"),
        ("+12345", "contains a character that is not an ASCII digit"),
        (
            "１２３４５６",
            "contains a character that is not an ASCII digit",
        ), // fullwidth
        ("١٢٣٤٥٦", "contains a character that is not an ASCII digit"), // Arabic-Indic
        (
            "12345\u{00b2}",
            "contains a character that is not an ASCII digit",
        ), // superscript 2
        (
            "123\u{200b}456",
            "contains a character that is not an ASCII digit",
        ), // zero width space
        (
            "123\t456",
            "contains a character that is not an ASCII digit",
        ),
        (long.as_str(), "65 bytes, longer than any code"),
    ];
    for (code, reason) in bad {
        let err = f.verify("cust", code).await.unwrap_err();
        assert_eq!(err.code(), "mfa.code.malformed", "{code:?}");
        assert_eq!(err.to_string(), format!("code is malformed: {reason}"));
    }
    // A malformed attempt used nothing up: the right code, spaced as apps show it, passes.
    let spaced = format!(" {} {} ", &good[..3], &good[3..]);
    assert!(f.verify("cust", &spaced).await.is_ok());
}

#[tokio::test]
async fn a_used_code_is_refused_again_for_that_customer_only() {
    let f = fixture();
    let code = f.code(0);
    let ok = f.verify("cust-1", &code).await.unwrap();
    let err = f.verify("cust-1", &code).await.unwrap_err();
    assert_eq!(err.code(), "mfa.code.replayed");
    assert_eq!(
        err.to_string(),
        format!("code for time step {} was already used", ok.step)
    );
    // The same code (same secret) for another customer is that customer's own first use.
    assert!(f.verify("cust-2", &code).await.is_ok());
    // Still refused later in the window, and once the step has left the window the code is
    // simply invalid.
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(
        f.verify("cust-1", &code).await.unwrap_err().code(),
        "mfa.code.replayed"
    );
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(
        f.verify("cust-1", &code).await.unwrap_err().code(),
        "mfa.code.invalid"
    );
}

#[tokio::test]
async fn a_newer_code_uses_up_the_older_steps_of_the_window() {
    let f = fixture();
    let older = f.code(-1);
    let current = f.code(0);
    let newer = f.code(1);
    assert_eq!(f.verify("c", &current).await.unwrap().offset, 0);
    let err = f.verify("c", &older).await.unwrap_err();
    assert_eq!(
        err.code(),
        "mfa.code.replayed",
        "an older code after a newer one"
    );
    // A newer step is still open.
    assert_eq!(f.verify("c", &newer).await.unwrap().offset, 1);
    assert_eq!(
        f.verify("c", &current).await.unwrap_err().code(),
        "mfa.code.replayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_many_concurrent_submissions_wins() {
    let f = Arc::new(fixture());
    let code = f.code(0);
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (f, code, barrier) = (f.clone(), code.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            f.verify("cust", &code).await.map_err(|e| e.code())
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(code) => assert_eq!(code, "mfa.code.replayed"),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_failing_replay_cache_refuses_the_code() {
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    // A cache with no room: it cannot record the code, so the code must not pass.
    let full = Arc::new(MemoryReplayCache::new(clock.clone(), 0));
    let verifier = TotpVerifier::new(clock.clone(), full);
    let secret = TotpSecret::from_bytes(b"an example secret of 20", TotpParams::default()).unwrap();
    let code = secret.totp(clock.now()).unwrap();
    let err = verifier.verify("cust", &secret, &code).await.unwrap_err();
    assert_eq!(err.code(), "core.store.full");
    assert!(matches!(err, Error::Store(_)));
    // A wrong code is reported as wrong (the cache is not consulted). Fixed secret and
    // clock: this code matches none of the three steps.
    let wrong: String = code
        .bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 5) % 10))
        .collect();
    let err = verifier.verify("cust", &secret, &wrong).await.unwrap_err();
    assert_eq!(err.code(), "mfa.code.invalid");
}

#[tokio::test]
async fn customer_ids_are_checked() {
    let f = fixture();
    let code = f.code(0);
    for customer in [String::new(), "x".repeat(481)] {
        let err = f.verify(&customer, &code).await.unwrap_err();
        assert_eq!(err.code(), "mfa.customer.invalid");
    }
    assert!(f.verify(&"x".repeat(480), &code).await.is_ok());
    // A customer id with the key separator cannot reach another customer's key.
    assert!(f.verify("a:1", &f.code(1)).await.is_ok());
    assert!(f.verify("a", &f.code(1)).await.is_ok());
}

#[tokio::test]
async fn a_clock_before_1970_is_an_error() {
    let clock = Arc::new(FixedClock::new(UNIX_EPOCH - Duration::from_secs(1)));
    let verifier = TotpVerifier::new(
        clock.clone(),
        Arc::new(MemoryReplayCache::new(clock.clone(), 10)),
    );
    let secret = TotpSecret::generate(TotpParams::default()).unwrap();
    let err = verifier.verify("c", &secret, "123456").await.unwrap_err();
    assert_eq!(err.code(), "mfa.clock.before_epoch");
    assert_eq!(
        secret
            .totp(SystemTime::UNIX_EPOCH - Duration::from_secs(5))
            .unwrap_err()
            .code(),
        "mfa.clock.before_epoch"
    );
}
