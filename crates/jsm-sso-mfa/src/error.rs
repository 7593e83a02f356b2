//! The crate's one [`Error`], with a stable code per variant.

use jsm_sso_core::CodedError;
use jsm_sso_core::store::StoreError;

/// Why a code, an enrolment or a sealed secret was refused.
///
/// Every variant has its own stable [`CodedError::code`] (`mfa.code.invalid`, ...); the
/// replay cache's failures keep the core store's code (`core.store.backend`, ...), so an
/// alert on a Redis outage fires the same way for every crate of the family.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The code is not `digits` ASCII digits (after spaces are removed).
    #[error("code is malformed: {reason}")]
    CodeMalformed {
        /// What is wrong, for example `expected 6 digits, got 5`.
        reason: String,
    },
    /// The code matches no time step in the window.
    #[error("code does not match any time step within {window} step(s) of now")]
    CodeInvalid {
        /// The window in steps either side of now.
        window: u8,
    },
    /// The code is right, but this customer already used it in this time step.
    #[error("code for time step {step} was already used")]
    CodeReplayed {
        /// The time step (Unix time / period) the code belongs to.
        step: u64,
    },
    /// The customer id given to the verifier or sealer is empty or too long.
    #[error("customer id is {len} bytes, allowed 1 to {max}")]
    CustomerInvalid {
        /// Length of the id in bytes.
        len: usize,
        /// The longest id accepted.
        max: usize,
    },
    /// A TOTP parameter is out of range (digits, period, window, secret length).
    #[error("invalid TOTP parameter {name}: {reason}")]
    Config {
        /// The parameter, for example `digits`.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A base32 secret could not be decoded.
    #[error("secret is not valid base32: {reason}")]
    SecretEncoding {
        /// What is wrong with it.
        reason: String,
    },
    /// The secret is shorter than RFC 4226 allows (128 bits).
    #[error("secret is {bits} bits, at least {min_bits} required")]
    SecretTooShort {
        /// Length of the secret in bits.
        bits: usize,
        /// The least accepted.
        min_bits: usize,
    },
    /// The issuer or account name cannot go into an `otpauth://` URI.
    #[error("enrolment label is invalid: {reason}")]
    LabelInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The `otpauth://` URI does not fit in a QR code.
    #[error("otpauth URI of {len} bytes does not fit in a QR code")]
    QrTooLong {
        /// Length of the URI in bytes.
        len: usize,
    },
    /// The sealed text does not have the sealed-secret shape (prefix, fields, base64).
    #[error("sealed secret is malformed: {reason}")]
    SealedInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The sealed text names a format version this build cannot open.
    #[error("sealed secret has version {actual:?}, this build opens {expected:?}")]
    SealedVersion {
        /// The version this build writes and reads.
        expected: &'static str,
        /// The version in the text.
        actual: String,
    },
    /// The sealed text was sealed under a key the sealer does not hold.
    #[error("sealed secret was sealed with key {actual}, the sealer holds {expected}")]
    SealedKeyUnknown {
        /// The ids of the keys the sealer holds, comma-separated.
        expected: String,
        /// The key id in the text.
        actual: String,
    },
    /// The sealed text is bound to another customer than the one it was opened for.
    #[error("sealed secret belongs to another customer")]
    SealedCustomerMismatch,
    /// Authenticated decryption failed: the text was changed after sealing.
    #[error("sealed secret failed authentication (tampered)")]
    SealedTampered,
    /// A pending enrolment was opened as a confirmed secret, or the other way round.
    #[error("sealed secret is a {actual} enrolment, {expected} was expected")]
    SealedKind {
        /// What the caller asked to open.
        expected: &'static str,
        /// What the text holds.
        actual: &'static str,
    },
    /// The sealing key is not 256 bits.
    #[error("sealing key is {len} bytes, 32 required")]
    KeyInvalid {
        /// Length of the key given, in bytes.
        len: usize,
    },
    /// The system random number generator failed.
    #[error("system random number generator failed")]
    Random,
    /// The clock reads a time before 1970.
    #[error("clock reads a time before the Unix epoch")]
    ClockBeforeEpoch,
    /// The replay cache could not record the code; the code is refused (fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::CodeMalformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(name: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn sealed(reason: impl Into<String>) -> Self {
        Self::SealedInvalid {
            reason: reason.into(),
        }
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::CodeMalformed { .. } => "mfa.code.malformed",
            Self::CodeInvalid { .. } => "mfa.code.invalid",
            Self::CodeReplayed { .. } => "mfa.code.replayed",
            Self::CustomerInvalid { .. } => "mfa.customer.invalid",
            Self::Config { .. } => "mfa.config.invalid",
            Self::SecretEncoding { .. } => "mfa.secret.encoding",
            Self::SecretTooShort { .. } => "mfa.secret.too_short",
            Self::LabelInvalid { .. } => "mfa.enrolment.label_invalid",
            Self::QrTooLong { .. } => "mfa.enrolment.qr_too_long",
            Self::SealedInvalid { .. } => "mfa.secret.sealed_invalid",
            Self::SealedVersion { .. } => "mfa.secret.sealed_version",
            Self::SealedKeyUnknown { .. } => "mfa.secret.key_unknown",
            Self::SealedCustomerMismatch => "mfa.secret.customer_mismatch",
            Self::SealedTampered => "mfa.secret.tampered",
            Self::SealedKind { .. } => "mfa.secret.kind_mismatch",
            Self::KeyInvalid { .. } => "mfa.key.invalid",
            Self::Random => "mfa.random.failed",
            Self::ClockBeforeEpoch => "mfa.clock.before_epoch",
            Self::Store(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::CodeMalformed { .. } => {
                "the customer typed something other than the code; ask for the digits shown in the authenticator app"
            }
            Self::CodeInvalid { .. } => {
                "wrong code, or the phone's clock is off by more than the window; ask the customer to sync the time"
            }
            Self::CodeReplayed { .. } => {
                "the code was used already; wait for the next code (a repeat from elsewhere may be an attack)"
            }
            Self::CustomerInvalid { .. } => {
                "pass the customer's stable directory id (1 to 480 bytes) to the verifier and sealer"
            }
            Self::Config { .. } => {
                "use SHA-1/SHA-256/SHA-512, 6 to 8 digits, a period of 15 to 300 s and a window of 0 to 2 steps"
            }
            Self::SecretEncoding { .. } => {
                "the imported secret must be RFC 4648 base32 (A-Z, 2-7); check what was copied"
            }
            Self::SecretTooShort { .. } => {
                "RFC 4226 requires secrets of at least 128 bits; enrol the customer again"
            }
            Self::LabelInvalid { .. } => {
                "issuer and account name must be 1 to 128 bytes without control characters; the issuer may not contain ':'"
            }
            Self::QrTooLong { .. } => "shorten the issuer or account name",
            Self::SealedInvalid { .. } => {
                "the stored value is not a sealed TOTP secret; check what the integrator stores and loads"
            }
            Self::SealedVersion { .. } => {
                "the secret was sealed by a newer release; upgrade this instance"
            }
            Self::SealedKeyUnknown { .. } => {
                "the secret was sealed under another key; configure that key (as a previous key) to open it"
            }
            Self::SealedCustomerMismatch => {
                "a secret was loaded for the wrong customer; check the storage lookup (it may be an attack)"
            }
            Self::SealedTampered => {
                "the stored secret was changed after sealing; restore it from backup or enrol the customer again"
            }
            Self::SealedKind { .. } => {
                "a pending enrolment must be confirmed with a valid code before it is used as a second factor"
            }
            Self::KeyInvalid { .. } => "provide a sealing key of exactly 32 random bytes",
            Self::Random => "the operating system's random source failed; check the host",
            Self::ClockBeforeEpoch => "the server clock is wrong; fix NTP",
            Self::Store(e) => e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Error> {
        vec![
            Error::malformed("expected 6 digits, got 5"),
            Error::CodeInvalid { window: 1 },
            Error::CodeReplayed { step: 1 },
            Error::CustomerInvalid { len: 0, max: 480 },
            Error::config("digits", "9 is not between 6 and 8"),
            Error::SecretEncoding {
                reason: "invalid symbol".into(),
            },
            Error::SecretTooShort {
                bits: 80,
                min_bits: 128,
            },
            Error::LabelInvalid {
                reason: "issuer is empty".into(),
            },
            Error::QrTooLong { len: 9_000 },
            Error::sealed("expected 6 fields"),
            Error::SealedVersion {
                expected: "totp1",
                actual: "totp2".into(),
            },
            Error::SealedKeyUnknown {
                expected: "a".into(),
                actual: "b".into(),
            },
            Error::SealedCustomerMismatch,
            Error::SealedTampered,
            Error::SealedKind {
                expected: "confirmed",
                actual: "pending",
            },
            Error::KeyInvalid { len: 3 },
            Error::Random,
            Error::ClockBeforeEpoch,
        ]
    }

    #[test]
    fn codes_are_distinct_stable_and_messages_lower_case() {
        let errors = all();
        let codes: std::collections::BTreeSet<_> = errors.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), errors.len());
        for e in &errors {
            assert!(e.code().starts_with("mfa."), "{}", e.code());
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
        // Every code is listed in docs/errors.md.
        let docs = include_str!("../../../docs/errors.md");
        for code in codes {
            assert!(
                docs.contains(&format!("`{code}`")),
                "{code} missing from docs/errors.md"
            );
        }
        let store = Error::from(StoreError::Backend("connection refused".into()));
        assert_eq!(store.code(), "core.store.backend");
        assert_eq!(
            store.to_string(),
            "store backend failed: connection refused"
        );
    }
}
