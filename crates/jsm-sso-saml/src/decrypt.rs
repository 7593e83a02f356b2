//! Decryption of `<saml:EncryptedAssertion>` (XML Encryption 1.0 and 1.1), and encryption the
//! way IdPs do it, for tests.
//!
//! ```
//! use jsm_sso_saml::decrypt::{
//!     ContentAlgorithm, DecryptionKey, EncryptOptions, decrypt_assertion, encrypt_assertion,
//! };
//! use jsm_sso_xmldsig::{Document, Limits};
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/decrypt");
//! let sp_key = DecryptionKey::from_pem(&std::fs::read(format!("{dir}/sp-rsa2048.key"))?)?;
//! let sp_cert = std::fs::read(format!("{dir}/sp-rsa2048.crt"))?;
//!
//! let assertion = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2025-01-01T00:00:00Z"><saml:Issuer>https://idp.example.org</saml:Issuer></saml:Assertion>"#;
//! let options = EncryptOptions::default().content(ContentAlgorithm::Aes256Gcm);
//! let xml = encrypt_assertion(assertion.as_bytes(), &sp_cert, &options)?; // what the IdP sends
//!
//! let doc = Document::parse(xml.as_bytes(), &Limits::default())?;
//! let plaintext = decrypt_assertion(doc.root(), &[sp_key])?;
//! assert_eq!(plaintext, assertion.as_bytes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is accepted:
//!
//! | part | allowed |
//! |---|---|
//! | content (`EncryptedData`) | `xmlenc11#aes128-gcm`, `xmlenc11#aes256-gcm` (12-byte IV, 16-byte tag), `xmlenc#aes128-cbc`, `xmlenc#aes256-cbc` (16-byte IV, XML Encryption padding) |
//! | key transport (`EncryptedKey`) | `xmlenc#rsa-oaep-mgf1p` (MGF1-SHA1), `xmlenc11#rsa-oaep` (`xenc11:MGF` MGF1 with SHA-1/224/256/384/512, default SHA-1) |
//! | OAEP digest (`ds:DigestMethod`) | SHA-1 (default), SHA-224, SHA-256, SHA-384, SHA-512; `xenc:OAEPparams` as the label |
//! | `EncryptedKey` layout | inside `EncryptedData/ds:KeyInfo`, or beside `EncryptedData` named by `ds:RetrievalMethod`, `ds:KeyName`/`CarriedKeyName`, or not named |
//!
//! Refused: RSA PKCS#1 v1.5 key transport (`xmlenc#rsa-1_5`, its own code, decided from the
//! URI before any decryption), 3DES, AES-192, key wrapping, `CipherReference`, and anything
//! else, each with a code (see [`DecryptError`]).
//!
//! **No oracle.** Every cryptographic failure (no configured key unwraps the content key, OAEP
//! decoding fails, the content key has the wrong length, the GCM tag does not verify, the CBC
//! padding is wrong, the plaintext is not UTF-8) is the same [`DecryptError::Failed`]
//! (`saml.decrypt.failed`), with one message and no detail.
//!
//! **CBC is not authenticated.** A tampered AES-CBC ciphertext can decrypt to garbage that
//! passes the padding check. The plaintext must therefore be treated as untrusted until the
//! assertion's signature verifies, and a caller must not report "decrypted but not
//! well-formed XML" any differently to the sender than `saml.decrypt.failed` (Jager and
//! Somorovsky, "How to break XML Encryption", 2011): answer every failure after decryption
//! with the same opaque response.

mod algorithm;
mod crypto;
mod encrypt;
mod error;
mod key;
mod structure;

use jsm_sso_xmldsig::Element;

pub use algorithm::{ContentAlgorithm, KeyTransport, OaepHash};
pub use encrypt::{EncryptOptions, KeyPlacement};
pub use error::DecryptError;
pub use key::DecryptionKey;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Limits for decryption. A value that exists is valid: setters clamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptOptions {
    max_ciphertext_bytes: usize,
    max_encrypted_keys: usize,
}

impl Default for DecryptOptions {
    /// At most 1 MiB of content ciphertext and 8 `EncryptedKey` candidates.
    fn default() -> Self {
        DecryptOptions {
            max_ciphertext_bytes: 1024 * 1024,
            max_encrypted_keys: 8,
        }
    }
}

impl DecryptOptions {
    /// The largest content ciphertext accepted, in decoded bytes (clamped to 1 KiB..=64 MiB).
    pub fn max_ciphertext_bytes(mut self, bytes: usize) -> Self {
        self.max_ciphertext_bytes = bytes.clamp(1024, 64 * 1024 * 1024);
        self
    }

    /// The most `EncryptedKey` elements tried (clamped to 1..=64). Each is an RSA private
    /// operation per configured key, so this bounds the work one message can cause.
    pub fn max_encrypted_keys(mut self, count: usize) -> Self {
        self.max_encrypted_keys = count.clamp(1, 64);
        self
    }
}

/// Decrypts a `<saml:EncryptedAssertion>` with any of `keys`, with the default
/// [`DecryptOptions`], and returns the plaintext exactly as decrypted (the serialized
/// `<saml:Assertion>`; its namespace prefixes may be declared only in the enclosing message).
///
/// `encrypted` is the `EncryptedAssertion` element of a document parsed with
/// [`jsm_sso_xmldsig::Document::parse`]. The plaintext is untrusted until the assertion's
/// signature is verified.
///
/// # Errors
///
/// `saml.decrypt.shape` when `encrypted` is not an `EncryptedAssertion`; otherwise as
/// [`decrypt_element`].
pub fn decrypt_assertion(
    encrypted: Element<'_>,
    keys: &[DecryptionKey],
) -> Result<Vec<u8>, DecryptError> {
    decrypt_assertion_with(encrypted, keys, &DecryptOptions::default())
}

/// [`decrypt_assertion`] with explicit limits.
///
/// # Errors
///
/// As [`decrypt_assertion`].
pub fn decrypt_assertion_with(
    encrypted: Element<'_>,
    keys: &[DecryptionKey],
    options: &DecryptOptions,
) -> Result<Vec<u8>, DecryptError> {
    if !encrypted.is(SAML, "EncryptedAssertion") {
        return Err(DecryptError::Shape {
            detail: format!(
                "expected saml:EncryptedAssertion, found {}",
                encrypted.local_name()
            ),
        });
    }
    decrypt_element(encrypted, keys, options)
}

/// Decrypts any SAML element of `EncryptedElementType` (`EncryptedAssertion`, `EncryptedID`,
/// `NewEncryptedID`, `EncryptedAttribute`): one `xenc:EncryptedData` and optional sibling
/// `xenc:EncryptedKey`s. Returns the plaintext exactly as decrypted.
///
/// The whole structure is read and every algorithm decided before any key is used. Then each
/// candidate `EncryptedKey` is tried with each of `keys`; the first content key that
/// decrypts the content to UTF-8 wins.
///
/// # Errors
///
/// `saml.decrypt.failed` for every cryptographic failure (identically); the other
/// `saml.decrypt.*` codes for structural problems, refused algorithms and limits.
pub fn decrypt_element(
    encrypted: Element<'_>,
    keys: &[DecryptionKey],
    options: &DecryptOptions,
) -> Result<Vec<u8>, DecryptError> {
    if keys.is_empty() {
        return Err(DecryptError::NoKeys);
    }
    let data = structure::read(encrypted, options)?;
    for encrypted_key in &data.keys {
        let (digest, mgf) = encrypted_key.transport.hashes();
        for key in keys {
            let Ok(content_key) = crypto::oaep_decrypt(
                key.private_key(),
                &encrypted_key.ciphertext,
                digest,
                mgf,
                encrypted_key.label.as_deref(),
            ) else {
                continue;
            };
            let Ok(plain) = crypto::decrypt_content(data.algorithm, &content_key, &data.ciphertext)
            else {
                continue;
            };
            if std::str::from_utf8(&plain).is_ok() {
                return Ok(plain);
            }
        }
    }
    Err(DecryptError::Failed)
}

/// Encrypts an assertion for a recipient the way IdPs do (fresh AES key for the content,
/// RSA-OAEP for the key) and returns the `<saml:EncryptedAssertion>` XML, which declares the
/// `saml`, `xenc`, `ds` and `xenc11` prefixes itself.
///
/// `assertion_xml` must be UTF-8 and should declare every namespace it uses (it is decrypted
/// in the context of the enclosing message, but a self-contained assertion is safest).
/// `recipient_certificate_pem` is the SP encryption certificate (`CERTIFICATE`) or its public
/// key (`PUBLIC KEY`), RSA of 2048 bits or more.
///
/// # Errors
///
/// `saml.decrypt.key.*` for an unusable recipient key, `saml.decrypt.encrypt_failed` for input
/// that is not UTF-8 or a failing random generator.
pub fn encrypt_assertion(
    assertion_xml: &[u8],
    recipient_certificate_pem: &[u8],
    options: &EncryptOptions,
) -> Result<String, DecryptError> {
    encrypt::encrypt(assertion_xml, recipient_certificate_pem, options)
}
