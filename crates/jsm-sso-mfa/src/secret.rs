//! [`TotpSecret`]: the shared key, and HOTP (RFC 4226) / TOTP (RFC 6238) code generation.

use std::fmt;
use std::time::SystemTime;

use data_encoding::BASE32_NOPAD;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Error, TotpParams};

/// The fewest secret bytes accepted (RFC 4226 section 4, R6: at least 128 bits).
pub const MIN_SECRET_LEN: usize = 16;
/// The most secret bytes accepted (longer than any HMAC block gains nothing).
pub const MAX_SECRET_LEN: usize = 128;

/// A TOTP shared secret with its [`TotpParams`].
///
/// The key bytes are zeroed when the value is dropped, and `Debug` prints `[redacted]`.
/// Store it only sealed ([`Sealer::seal`](crate::Sealer::seal)).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use jsm_sso_mfa::{TotpParams, TotpSecret};
///
/// // RFC 6238 appendix B, SHA-1, T = 59 s, 8 digits.
/// let params = TotpParams::new(jsm_sso_mfa::Algorithm::Sha1, 8, 30)?;
/// let secret = TotpSecret::from_bytes(b"12345678901234567890", params)?;
/// assert_eq!(secret.totp(UNIX_EPOCH + Duration::from_secs(59))?, "94287082");
/// assert_eq!(format!("{secret:?}"), "TotpSecret { params: TotpParams { algorithm: Sha1, digits: 8, period: 30 }, key: \"[redacted]\" }");
/// # Ok::<(), jsm_sso_mfa::Error>(())
/// ```
#[derive(Clone)]
pub struct TotpSecret {
    key: Zeroizing<Vec<u8>>,
    params: TotpParams,
}

impl TotpSecret {
    /// A fresh random secret from the operating system's generator, as long as the hash's
    /// output ([`Algorithm::secret_len`](crate::Algorithm::secret_len): 160 bits for SHA-1).
    ///
    /// # Errors
    ///
    /// `mfa.random.failed` when the system generator fails.
    pub fn generate(params: TotpParams) -> Result<Self, Error> {
        let mut key = Zeroizing::new(vec![0u8; params.algorithm().secret_len()]);
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| Error::Random)?;
        Ok(Self { key, params })
    }

    /// A secret from raw bytes (16 to 128 bytes).
    ///
    /// # Errors
    ///
    /// `mfa.secret.too_short` under 128 bits, `mfa.config.invalid` over 128 bytes.
    pub fn from_bytes(bytes: &[u8], params: TotpParams) -> Result<Self, Error> {
        check_len(bytes.len())?;
        Ok(Self {
            key: Zeroizing::new(bytes.to_vec()),
            params,
        })
    }

    /// A secret from the base32 text an authenticator app shows or another system exports.
    /// Upper or lower case, spaces, hyphens and `=` padding are accepted.
    ///
    /// # Errors
    ///
    /// `mfa.secret.encoding` for text that is not base32, `mfa.secret.too_short` under
    /// 128 bits, `mfa.config.invalid` over 128 bytes.
    pub fn from_base32(text: &str, params: TotpParams) -> Result<Self, Error> {
        // Longest text that can decode to MAX_SECRET_LEN bytes, with generous room for
        // separators; checked before any copy of hostile input.
        if text.len() > 4 * MAX_SECRET_LEN {
            return Err(Error::config(
                "secret",
                format!("base32 text of {} bytes is too long", text.len()),
            ));
        }
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !matches!(c, ' ' | '-' | '='))
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let key = BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|e| Error::SecretEncoding {
                reason: e.to_string(),
            })?;
        let key = Zeroizing::new(key);
        check_len(key.len())?;
        Ok(Self { key, params })
    }

    /// The secret as unpadded upper-case base32, the form `otpauth://` URIs and manual entry
    /// in authenticator apps use. Name the call site in review: the secret leaves its
    /// wrapper here.
    #[must_use]
    pub fn expose_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.key))
    }

    /// The secret's parameters.
    #[must_use]
    pub fn params(&self) -> &TotpParams {
        &self.params
    }

    /// The HOTP code (RFC 4226) for `counter`, zero-padded to the configured digits.
    #[must_use]
    pub fn hotp(&self, counter: u64) -> String {
        format!(
            "{:0width$}",
            self.hotp_value(counter),
            width = usize::from(self.params.digits())
        )
    }

    /// The TOTP code (RFC 6238) for the time step `at` falls in.
    ///
    /// # Errors
    ///
    /// `mfa.clock.before_epoch` for a time before 1970.
    pub fn totp(&self, at: SystemTime) -> Result<String, Error> {
        Ok(self.hotp(self.params.step_at(at)?))
    }

    /// RFC 4226 section 5.3: HMAC of the big-endian counter, dynamic truncation to 31 bits,
    /// modulo 10^digits.
    pub(crate) fn hotp_value(&self, counter: u64) -> u32 {
        self.hotp_value_with(&self.hmac_key(), counter)
    }

    /// The HMAC key, prepared once for checking several steps.
    pub(crate) fn hmac_key(&self) -> ring::hmac::Key {
        ring::hmac::Key::new(self.params.algorithm().hmac(), &self.key)
    }

    pub(crate) fn hotp_value_with(&self, key: &ring::hmac::Key, counter: u64) -> u32 {
        let tag = ring::hmac::sign(key, &counter.to_be_bytes());
        let mac = tag.as_ref();
        // The last byte's low nibble picks the offset; every HMAC output here is at least
        // 20 bytes, so offset + 4 <= 19 is in range. `get` keeps the compiler honest.
        let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
        let word = mac
            .get(offset..offset + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map_or(0, u32::from_be_bytes);
        (word & 0x7fff_ffff) % self.params.modulus()
    }

    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.key
    }
}

fn check_len(len: usize) -> Result<(), Error> {
    if len < MIN_SECRET_LEN {
        return Err(Error::SecretTooShort {
            bits: len * 8,
            min_bits: MIN_SECRET_LEN * 8,
        });
    }
    if len > MAX_SECRET_LEN {
        return Err(Error::config(
            "secret",
            format!("{len} bytes, at most {MAX_SECRET_LEN}"),
        ));
    }
    Ok(())
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret")
            .field("params", &self.params)
            .field("key", &"[redacted]")
            .finish()
    }
}
