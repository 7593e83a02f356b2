//! [`DecryptError`]: every refusal of the XML Encryption layer, with its stable code.

use jsm_sso_core::CodedError;

/// The one message every cryptographic failure carries. Kept in one place so that no failure
/// can say more than another (see [`DecryptError::Failed`]).
const FAILED_MESSAGE: &str = "the encrypted element could not be decrypted";

/// Why an encrypted assertion (or a key, or an encryption request) was refused.
///
/// Everything decided from the *structure* of the message (which algorithm, which element is
/// missing, bad base64, a size over the limit) has its own code and says what it found. Every
/// failure of the *cryptography* (no key unwraps the content key, OAEP decoding fails, the
/// content key has the wrong length, the GCM tag does not verify, the CBC padding is wrong,
/// the plaintext is not UTF-8) is the single [`DecryptError::Failed`], with one fixed message
/// and no detail, so that nobody can tell the causes apart from outside (no padding oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// Decryption failed. Deliberately the same for every cryptographic cause.
    #[error("{}", FAILED_MESSAGE)]
    Failed,
    /// The key transport algorithm is RSA PKCS#1 v1.5 (`xmlenc#rsa-1_5`), refused from its
    /// URI before anything is decrypted (Bleichenbacher-style attacks).
    #[error("key transport rsa-1_5 is refused (use rsa-oaep)")]
    Rsa15Refused,
    /// A content, key transport, digest or mask generation algorithm that is not allowed.
    #[error("{role} algorithm {uri:?} is not allowed")]
    UnsupportedAlgorithm {
        /// What the algorithm is for: `content encryption`, `key transport`, `oaep digest`,
        /// `oaep mask generation`.
        role: &'static str,
        /// The URI as sent.
        uri: String,
    },
    /// An `EncryptedData` or `EncryptedKey` without `EncryptionMethod`.
    #[error("no EncryptionMethod algorithm in {element}")]
    AlgorithmMissing {
        /// `EncryptedData` or `EncryptedKey`.
        element: &'static str,
    },
    /// The XML Encryption structure is not what an IdP produces.
    #[error("malformed encrypted element: {detail}")]
    Shape {
        /// What is wrong.
        detail: String,
    },
    /// `CipherData` holds no `CipherValue`.
    #[error("no CipherData/CipherValue in {element}")]
    CipherValueMissing {
        /// `EncryptedData` or `EncryptedKey`.
        element: &'static str,
    },
    /// `CipherData` points elsewhere with `CipherReference`; fetching it is refused.
    #[error("refused CipherReference in {element}: nothing is fetched")]
    CipherReference {
        /// `EncryptedData` or `EncryptedKey`.
        element: &'static str,
    },
    /// A base64 value (`CipherValue`, `OAEPparams`) does not decode.
    #[error("bad base64 in {element}")]
    Encoding {
        /// The element holding the value.
        element: &'static str,
    },
    /// No `EncryptedKey` to unwrap the content key from.
    #[error("no EncryptedKey found: {detail}")]
    KeyMissing {
        /// Where it was looked for.
        detail: String,
    },
    /// More `EncryptedKey` elements than the limit.
    #[error("{count} EncryptedKey elements, more than the limit of {limit}")]
    TooManyKeys {
        /// How many candidates the message offers.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A ciphertext (or `OAEPparams`) larger than the limit.
    #[error("ciphertext of {element} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The element holding the value.
        element: &'static str,
        /// Size in bytes (of the base64 text when it was refused before decoding).
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// No decryption key is configured.
    #[error("no decryption keys configured")]
    NoKeys,
    /// A private key or certificate could not be read.
    #[error("invalid key material: {detail}")]
    KeyInvalid {
        /// What could not be read.
        detail: String,
    },
    /// An RSA key smaller than allowed.
    #[error("rsa key has {bits} bits; at least {min} are required")]
    KeyTooSmall {
        /// The key's modulus size.
        bits: usize,
        /// The minimum accepted.
        min: usize,
    },
    /// A key that is not RSA, or a password-protected key.
    #[error("unsupported key: {detail}")]
    KeyUnsupported {
        /// What kind of key was found.
        detail: String,
    },
    /// Encryption ([`encrypt_assertion`](super::encrypt_assertion)) could not be done.
    #[error("encryption failed: {detail}")]
    EncryptFailed {
        /// Why.
        detail: String,
    },
}

impl CodedError for DecryptError {
    fn code(&self) -> &'static str {
        match self {
            Self::Failed => "saml.decrypt.failed",
            Self::Rsa15Refused => "saml.decrypt.algorithm.rsa1_5",
            Self::UnsupportedAlgorithm { .. } => "saml.decrypt.algorithm.unsupported",
            Self::AlgorithmMissing { .. } => "saml.decrypt.algorithm.missing",
            Self::Shape { .. } => "saml.decrypt.shape",
            Self::CipherValueMissing { .. } => "saml.decrypt.cipher_value.missing",
            Self::CipherReference { .. } => "saml.decrypt.cipher_reference",
            Self::Encoding { .. } => "saml.decrypt.encoding",
            Self::KeyMissing { .. } => "saml.decrypt.encrypted_key.missing",
            Self::TooManyKeys { .. } => "saml.decrypt.encrypted_key.too_many",
            Self::TooLarge { .. } => "saml.decrypt.too_large",
            Self::NoKeys => "saml.decrypt.key.none",
            Self::KeyInvalid { .. } => "saml.decrypt.key.invalid",
            Self::KeyTooSmall { .. } => "saml.decrypt.key.too_small",
            Self::KeyUnsupported { .. } => "saml.decrypt.key.unsupported",
            Self::EncryptFailed { .. } => "saml.decrypt.encrypt_failed",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Failed => {
                "the assertion was not encrypted for any configured SP key, or it was altered; \
                 check the encryption certificate the IdP uses (SP metadata) against the SP keys"
            }
            Self::Rsa15Refused => {
                "configure the IdP to use RSA-OAEP key transport (rsa-oaep-mgf1p or xmlenc11 \
                 rsa-oaep) for assertion encryption"
            }
            Self::UnsupportedAlgorithm { .. } | Self::AlgorithmMissing { .. } => {
                "configure the IdP to encrypt with AES-256-GCM (or AES-128/256-CBC) and RSA-OAEP \
                 key transport"
            }
            Self::Shape { .. }
            | Self::CipherValueMissing { .. }
            | Self::CipherReference { .. }
            | Self::Encoding { .. }
            | Self::KeyMissing { .. }
            | Self::TooManyKeys { .. } => {
                "the encrypted assertion's structure is not what an IdP produces; the message \
                 may be forged or damaged"
            }
            Self::TooLarge { .. } => {
                "the encrypted assertion is larger than the decryption limit; raise \
                 DecryptOptions limits only if the IdP really sends assertions this large"
            }
            Self::NoKeys => "configure at least one SP decryption key",
            Self::KeyInvalid { .. } => {
                "supply the SP private key as PEM (PKCS#8 PRIVATE KEY or PKCS#1 RSA PRIVATE KEY), \
                 or the recipient certificate as PEM"
            }
            Self::KeyTooSmall { .. } => "generate an SP encryption key of 2048 bits or more",
            Self::KeyUnsupported { .. } => {
                "use an unencrypted RSA private key (2048 bits or more) for SP decryption"
            }
            Self::EncryptFailed { .. } => {
                "check the recipient certificate (RSA, 2048 bits or more) and the assertion input"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant; the match makes a new variant fail to compile here.
    fn every_variant() -> Vec<DecryptError> {
        let all = vec![
            DecryptError::Failed,
            DecryptError::Rsa15Refused,
            DecryptError::UnsupportedAlgorithm {
                role: "key transport",
                uri: "u".to_owned(),
            },
            DecryptError::AlgorithmMissing { element: "e" },
            DecryptError::Shape {
                detail: "d".to_owned(),
            },
            DecryptError::CipherValueMissing { element: "e" },
            DecryptError::CipherReference { element: "e" },
            DecryptError::Encoding { element: "e" },
            DecryptError::KeyMissing {
                detail: "d".to_owned(),
            },
            DecryptError::TooManyKeys { count: 2, limit: 1 },
            DecryptError::TooLarge {
                element: "e",
                size: 2,
                limit: 1,
            },
            DecryptError::NoKeys,
            DecryptError::KeyInvalid {
                detail: "d".to_owned(),
            },
            DecryptError::KeyTooSmall { bits: 1, min: 2 },
            DecryptError::KeyUnsupported {
                detail: "d".to_owned(),
            },
            DecryptError::EncryptFailed {
                detail: "d".to_owned(),
            },
        ];
        for e in &all {
            match e {
                DecryptError::Failed
                | DecryptError::Rsa15Refused
                | DecryptError::UnsupportedAlgorithm { .. }
                | DecryptError::AlgorithmMissing { .. }
                | DecryptError::Shape { .. }
                | DecryptError::CipherValueMissing { .. }
                | DecryptError::CipherReference { .. }
                | DecryptError::Encoding { .. }
                | DecryptError::KeyMissing { .. }
                | DecryptError::TooManyKeys { .. }
                | DecryptError::TooLarge { .. }
                | DecryptError::NoKeys
                | DecryptError::KeyInvalid { .. }
                | DecryptError::KeyTooSmall { .. }
                | DecryptError::KeyUnsupported { .. }
                | DecryptError::EncryptFailed { .. } => {}
            }
        }
        all
    }

    #[test]
    fn codes_are_distinct_and_listed_in_docs_errors_md() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md"))
                .unwrap();
        let all = every_variant();
        let mut codes: Vec<&str> = all.iter().map(CodedError::code).collect();
        for code in &codes {
            assert!(code.starts_with("saml.decrypt."), "{code}");
            assert!(
                docs.contains(&format!("| `{code}` |")),
                "{code} missing in docs/errors.md"
            );
        }
        for e in &all {
            assert!(!e.hint().is_empty());
            let message = e.to_string();
            let first = message.chars().next().unwrap();
            assert!(
                !first.is_uppercase() && !message.ends_with('.'),
                "{message}"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
