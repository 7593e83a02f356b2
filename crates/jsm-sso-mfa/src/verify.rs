//! [`TotpVerifier`]: checks a typed code against a secret, the clock and the shared replay
//! cache.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use jsm_sso_core::{Clock, ReplayCache};

use crate::{Error, TotpSecret};

/// The longest customer id accepted, in bytes. It becomes part of the replay key, and with
/// `mfa:totp:`, `:` and a 20-digit step that stays within the 512 bytes every store takes.
pub const MAX_CUSTOMER_LEN: usize = 480;
/// The widest window accepted, in steps either side of now.
pub const MAX_WINDOW: u8 = 2;
/// Longest text looked at as a code; anything longer is malformed without being read.
const MAX_CODE_INPUT: usize = 64;

/// What a successful verification matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The time step (Unix time / period) of the code.
    pub step: u64,
    /// The step's distance from now: `-1` means the customer's clock (or typing) was one
    /// step behind. Worth recording in the audit event: a device that is always off is
    /// drifting.
    pub offset: i8,
}

/// Verifies TOTP codes: format, ±window steps around the [`Clock`]'s time, a constant-time
/// comparison, and a used code refused again through the [`ReplayCache`] seam (share one
/// cache, for example `jsm-sso-redis`, across every broker instance).
///
/// A code is recorded as used for its customer and time step until the step has left the
/// window. Accepting a code also marks the earlier steps of the window as used, so an
/// older code someone saw on the customer's screen cannot be used after a newer one
/// (RFC 6238 section 5.2).
///
/// The verifier does not count failed attempts: a 6-digit code with a ±1 window is
/// guessed with probability 3 in a million per try, so the caller must limit attempts per
/// customer (the broker does).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use jsm_sso_core::{CodedError, clock::FixedClock, memory::MemoryReplayCache};
/// use jsm_sso_mfa::{TotpParams, TotpSecret, TotpVerifier};
///
/// let clock = Arc::new(FixedClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
/// let replay = Arc::new(MemoryReplayCache::new(clock.clone(), 10_000));
/// let verifier = TotpVerifier::new(clock.clone(), replay);
///
/// let secret = TotpSecret::generate(TotpParams::default())?;
/// let code = secret.totp(UNIX_EPOCH + Duration::from_secs(1_700_000_000))?;
/// let ok = verifier.verify("customer-42", &secret, &code).await?;
/// assert_eq!(ok.offset, 0);
/// let again = verifier.verify("customer-42", &secret, &code).await.unwrap_err();
/// assert_eq!(again.code(), "mfa.code.replayed");
/// # Ok::<(), jsm_sso_mfa::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct TotpVerifier {
    clock: Arc<dyn Clock>,
    replay: Arc<dyn ReplayCache>,
    window: u8,
}

impl fmt::Debug for TotpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpVerifier")
            .field("clock", &self.clock)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl TotpVerifier {
    /// A verifier with a window of ±1 step (RFC 6238's recommended network delay allowance).
    pub fn new(clock: Arc<dyn Clock>, replay: Arc<dyn ReplayCache>) -> Self {
        Self {
            clock,
            replay,
            window: 1,
        }
    }

    /// Sets the window in steps either side of now: 0 (the current step only) to 2.
    ///
    /// # Errors
    ///
    /// `mfa.config.invalid` above [`MAX_WINDOW`].
    pub fn with_window(mut self, steps: u8) -> Result<Self, Error> {
        if steps > MAX_WINDOW {
            return Err(Error::config(
                "window",
                format!("{steps} steps, at most {MAX_WINDOW}"),
            ));
        }
        self.window = steps;
        Ok(self)
    }

    /// The window in steps either side of now.
    #[must_use]
    pub fn window(&self) -> u8 {
        self.window
    }

    /// Checks `code` for `customer` (their stable directory id) against `secret`.
    ///
    /// Spaces in the code are ignored (apps show `123 456`); anything else that is not an
    /// ASCII digit makes it malformed.
    ///
    /// # Errors
    ///
    /// - `mfa.code.malformed`: wrong length or a character that is not an ASCII digit;
    /// - `mfa.code.invalid`: no step in the window has this code;
    /// - `mfa.code.replayed`: the code (or a newer one) was already used in its step;
    /// - `mfa.customer.invalid`: an empty or over-long customer id;
    /// - a `core.store.*` code when the replay cache failed (the code is refused).
    pub async fn verify(
        &self,
        customer: &str,
        secret: &TotpSecret,
        code: &str,
    ) -> Result<Verified, Error> {
        check_customer(customer)?;
        let now = self.clock.now();
        let verified = self.check(secret, code, now)?;
        let params = secret.params();
        // A step stays acceptable until `window` steps after it have begun; remember it
        // until then, so forgetting it cannot re-open it.
        let forget_at = |step: u64| params.step_end(step.saturating_add(u64::from(self.window)));
        if !self
            .replay
            .insert_if_absent(
                &replay_key(customer, verified.step),
                forget_at(verified.step),
            )
            .await?
        {
            return Err(Error::CodeReplayed {
                step: verified.step,
            });
        }
        // Older steps that are still inside the window are used up too.
        for back in 1..=u64::from(self.window) {
            let Some(older) = verified.step.checked_sub(back) else {
                break;
            };
            if forget_at(older) > now {
                self.replay
                    .insert_if_absent(&replay_key(customer, older), forget_at(older))
                    .await?;
            }
        }
        Ok(verified)
    }

    /// The pure part of [`verify`](Self::verify): format and window, no replay guard.
    fn check(&self, secret: &TotpSecret, code: &str, now: SystemTime) -> Result<Verified, Error> {
        let params = secret.params();
        let given = parse_code(code, params.digits())?;
        let current = params.step_at(now)?;
        let window = i8::try_from(self.window).unwrap_or(1);
        let mut found: Option<Verified> = None;
        let key = secret.hmac_key();
        // Every step of the window is computed and compared, match or not, so the time
        // taken does not say which step (or how much of a code) matched.
        for offset in -window..=window {
            let step = if offset < 0 {
                current.checked_sub(u64::from(offset.unsigned_abs()))
            } else {
                current.checked_add(u64::from(offset.unsigned_abs()))
            };
            let Some(step) = step else { continue };
            let expected = digits_of(secret.hotp_value_with(&key, step), params.digits());
            let is_match = constant_time_eq(&expected, &given);
            let closer = found.is_none_or(|f| offset.unsigned_abs() < f.offset.unsigned_abs());
            if is_match && closer {
                found = Some(Verified { step, offset });
            }
        }
        found.ok_or(Error::CodeInvalid {
            window: self.window,
        })
    }
}

fn check_customer(customer: &str) -> Result<(), Error> {
    if customer.is_empty() || customer.len() > MAX_CUSTOMER_LEN {
        return Err(Error::CustomerInvalid {
            len: customer.len(),
            max: MAX_CUSTOMER_LEN,
        });
    }
    Ok(())
}

pub(crate) fn check_customer_id(customer: &str) -> Result<(), Error> {
    check_customer(customer)
}

/// The replay key of a customer's time step. The step is the last field and all digits,
/// so a customer id containing `:` cannot collide with another customer's key.
fn replay_key(customer: &str, step: u64) -> String {
    format!("mfa:totp:{customer}:{step}")
}

/// The code's digit values, or why it is malformed. The reasons never echo the input.
fn parse_code(code: &str, digits: u8) -> Result<Vec<u8>, Error> {
    if code.len() > MAX_CODE_INPUT {
        return Err(Error::malformed(format!(
            "{} bytes, longer than any code",
            code.len()
        )));
    }
    let mut out = Vec::with_capacity(usize::from(digits));
    for c in code.trim_matches(|c: char| c.is_ascii_whitespace()).chars() {
        match c {
            ' ' => {}
            '0'..='9' => out.push(c as u8 - b'0'),
            _ => {
                return Err(Error::malformed(
                    "contains a character that is not an ASCII digit",
                ));
            }
        }
    }
    if out.len() != usize::from(digits) {
        return Err(Error::malformed(format!(
            "expected {digits} digits, got {}",
            out.len()
        )));
    }
    Ok(out)
}

/// The `digits` decimal digits of `value`, most significant first, zero-padded.
fn digits_of(mut value: u32, digits: u8) -> Vec<u8> {
    let mut out = vec![0u8; usize::from(digits)];
    for slot in out.iter_mut().rev() {
        *slot = (value % 10) as u8;
        value /= 10;
    }
    out
}

/// Equality whose running time depends only on the lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_spaces_and_refuses_everything_else() {
        assert_eq!(parse_code("123456", 6).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(parse_code(" 123 456\n", 6).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        for bad in [
            "12345",
            "1234567",
            "",
            "12a456",
            "１２３４５６",
            "١٢٣٤٥٦",
            "12-456",
            "+23456",
        ] {
            let err = parse_code(bad, 6).unwrap_err();
            assert!(matches!(err, Error::CodeMalformed { .. }), "{bad}: {err}");
        }
        assert_eq!(
            parse_code("12345", 6).unwrap_err().to_string(),
            "code is malformed: expected 6 digits, got 5"
        );
    }

    #[test]
    fn digits_are_zero_padded() {
        assert_eq!(digits_of(42, 6), vec![0, 0, 0, 0, 4, 2]);
        assert_eq!(digits_of(99_999_999, 8), vec![9; 8]);
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(!constant_time_eq(&[1, 2, 3], &[1, 2]));
    }
}
