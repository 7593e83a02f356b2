//! [`Algorithm`] and [`TotpParams`]: what an authenticator app must agree on.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The HMAC hash of HOTP/TOTP.
///
/// SHA-1 is the default because every authenticator app supports it; HMAC-SHA-1 is not
/// weakened by SHA-1's collision attacks. SHA-256 and SHA-512 are for apps that honour the
/// `algorithm` parameter of the `otpauth://` URI (many silently fall back to SHA-1, so test
/// the app before you choose them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1 (RFC 4226).
    #[default]
    Sha1,
    /// HMAC-SHA-256 (RFC 6238).
    Sha256,
    /// HMAC-SHA-512 (RFC 6238).
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs: `SHA1`, `SHA256` or `SHA512`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The length of a freshly generated secret: the hash's output length (RFC 4226
    /// recommends 160 bits for SHA-1; RFC 6238's vectors use the output length for SHA-2).
    #[must_use]
    pub fn secret_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    pub(crate) fn hmac(self) -> ring::hmac::Algorithm {
        match self {
            Self::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => ring::hmac::HMAC_SHA256,
            Self::Sha512 => ring::hmac::HMAC_SHA512,
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
            Self::Sha512 => 3,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Sha1),
            2 => Some(Self::Sha256),
            3 => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// The fewest digits a code may have (RFC 4226 requires at least 6).
pub const MIN_DIGITS: u8 = 6;
/// The most digits a code may have (beyond 8 a 31-bit truncation adds no strength; 8 is
/// what authenticator apps support).
pub const MAX_DIGITS: u8 = 8;
/// The shortest time step, in seconds.
pub const MIN_PERIOD: u32 = 15;
/// The longest time step, in seconds.
pub const MAX_PERIOD: u32 = 300;

/// Hash, number of digits and time step of one TOTP enrolment. A value that exists is
/// valid: digits are 6 to 8 and the period 15 to 300 seconds.
///
/// ```
/// use jsm_sso_mfa::{Algorithm, TotpParams};
///
/// let params = TotpParams::new(Algorithm::Sha256, 8, 30)?;
/// assert_eq!(params.digits(), 8);
/// assert_eq!(TotpParams::default().algorithm(), Algorithm::Sha1);
/// assert_eq!(TotpParams::new(Algorithm::Sha1, 9, 30).unwrap_err().to_string(),
///            "invalid TOTP parameter digits: 9 is not between 6 and 8");
/// # Ok::<(), jsm_sso_mfa::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    algorithm: Algorithm,
    digits: u8,
    period: u32,
}

impl Default for TotpParams {
    /// SHA-1, 6 digits, 30 seconds: what every authenticator app supports.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

impl TotpParams {
    /// Checked parameters.
    ///
    /// # Errors
    ///
    /// `mfa.config.invalid` when `digits` is not 6 to 8 or `period` not 15 to 300.
    pub fn new(algorithm: Algorithm, digits: u8, period: u32) -> Result<Self, Error> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            return Err(Error::config(
                "digits",
                format!("{digits} is not between {MIN_DIGITS} and {MAX_DIGITS}"),
            ));
        }
        if !(MIN_PERIOD..=MAX_PERIOD).contains(&period) {
            return Err(Error::config(
                "period",
                format!("{period} s is not between {MIN_PERIOD} and {MAX_PERIOD} s"),
            ));
        }
        Ok(Self {
            algorithm,
            digits,
            period,
        })
    }

    /// The HMAC hash.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Digits per code (6 to 8).
    #[must_use]
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// Length of a time step in seconds.
    #[must_use]
    pub fn period(&self) -> u32 {
        self.period
    }

    /// The time step (`floor(unix_time / period)`, RFC 6238's `T`) that `at` falls in.
    ///
    /// # Errors
    ///
    /// `mfa.clock.before_epoch` for a time before 1970.
    pub fn step_at(&self, at: SystemTime) -> Result<u64, Error> {
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::ClockBeforeEpoch)?
            .as_secs();
        Ok(secs / u64::from(self.period))
    }

    /// The moment time step `step` ends (the start of `step + 1`), saturating.
    pub(crate) fn step_end(&self, step: u64) -> SystemTime {
        let secs = step
            .saturating_add(1)
            .saturating_mul(u64::from(self.period));
        UNIX_EPOCH
            .checked_add(std::time::Duration::from_secs(secs))
            .unwrap_or(UNIX_EPOCH + std::time::Duration::from_secs(u64::from(u32::MAX)))
    }

    /// 10^digits, the modulus of the truncated HMAC.
    pub(crate) fn modulus(&self) -> u32 {
        10u32.pow(u32::from(self.digits))
    }
}
