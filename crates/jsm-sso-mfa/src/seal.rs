//! [`SealingKey`] and [`Sealer`]: TOTP secrets encrypted at rest with AES-256-GCM, bound to
//! their customer.
//!
//! The sealed text is `totp1.<kind>.<key id>.<binding>.<nonce>.<ciphertext>`, fields in
//! unpadded base64url:
//!
//! - `kind`: `c` a confirmed secret, `p` a pending enrolment;
//! - `key id`: 6 bytes of SHA-256 over the sealing key, so a secret sealed under another
//!   key is named as such (`mfa.secret.key_unknown`) and key rotation can pick the key;
//! - `binding`: 16 bytes of HMAC-SHA-256 of the customer id under a key derived from the
//!   sealing key, so a secret copied to another customer's row is named as such
//!   (`mfa.secret.customer_mismatch`) without revealing the id;
//! - `nonce`: 96 random bits; `ciphertext`: AES-256-GCM of the parameters and the secret,
//!   with the version, kind, key id and customer id as associated data, so any other
//!   change fails authentication (`mfa.secret.tampered`).
//!
//! The AES and binding keys are derived from the integrator's key with HKDF-SHA-256. Random
//! nonces are safe for up to 2^32 seals per key, far beyond any customer base.

use std::fmt;

use data_encoding::{BASE64, BASE64_NOPAD, BASE64URL_NOPAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};
use zeroize::Zeroizing;

use crate::enrol::check_label;
use crate::params::Algorithm;
use crate::verify::{check_customer_id, constant_time_eq};
use crate::{Error, PendingEnrolment, TotpParams, TotpSecret};

/// The format version this build writes and reads.
const VERSION: &str = "totp1";
/// The longest sealed text looked at.
pub const MAX_SEALED_LEN: usize = 2048;
const KEY_ID_LEN: usize = 6;
const BINDING_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// The integrator's 256-bit key that seals TOTP secrets. Zeroed on drop; `Debug` shows only
/// its id.
pub struct SealingKey {
    aead: LessSafeKey,
    binding: hmac::Key,
    id: String,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl SealingKey {
    /// A key from 32 bytes (for example read from a secret manager).
    ///
    /// # Errors
    ///
    /// `mfa.key.invalid` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != 32 {
            return Err(Error::KeyInvalid { len: bytes.len() });
        }
        let mut id_hash = digest::Context::new(&digest::SHA256);
        id_hash.update(b"jsm-sso-mfa key id\0");
        id_hash.update(bytes);
        let id_hash = id_hash.finish();
        let id = BASE64URL_NOPAD.encode(id_hash.as_ref().get(..KEY_ID_LEN).unwrap_or_default());
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"jsm-sso-mfa seal v1").extract(bytes);
        let mut aead_key = Zeroizing::new([0u8; 32]);
        let mut binding_key = Zeroizing::new([0u8; 32]);
        prk.expand(&[b"aes-256-gcm"], Len32)
            .and_then(|okm| okm.fill(aead_key.as_mut()))
            .map_err(|_| Error::KeyInvalid { len: bytes.len() })?;
        prk.expand(&[b"customer binding"], Len32)
            .and_then(|okm| okm.fill(binding_key.as_mut()))
            .map_err(|_| Error::KeyInvalid { len: bytes.len() })?;
        let aead = UnboundKey::new(&AES_256_GCM, aead_key.as_ref())
            .map_err(|_| Error::KeyInvalid { len: bytes.len() })?;
        Ok(Self {
            aead: LessSafeKey::new(aead),
            binding: hmac::Key::new(hmac::HMAC_SHA256, binding_key.as_ref()),
            id,
        })
    }

    /// A key from standard base64 (padded or not), the usual form in configuration.
    ///
    /// # Errors
    ///
    /// `mfa.key.invalid` unless it decodes to exactly 32 bytes (a length of 0 means the
    /// text was not base64).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let bytes = if text.ends_with('=') {
            BASE64.decode(text.as_bytes())
        } else {
            BASE64_NOPAD.decode(text.as_bytes())
        }
        .map_err(|_| Error::KeyInvalid { len: 0 })?;
        Self::from_bytes(&Zeroizing::new(bytes))
    }

    /// A new random key and its base64, for a key-generation tool. Store the text in the
    /// secret manager; losing it means every customer enrols again.
    ///
    /// # Errors
    ///
    /// `mfa.random.failed` when the system generator fails.
    pub fn generate() -> Result<(Self, Zeroizing<String>), Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::Random)?;
        Ok((
            Self::from_bytes(bytes.as_ref())?,
            Zeroizing::new(BASE64.encode(bytes.as_ref())),
        ))
    }

    /// The key's public id (8 characters), as written into sealed texts.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    fn binding_of(&self, customer: &str) -> String {
        let tag = hmac::sign(&self.binding, customer.as_bytes());
        BASE64URL_NOPAD.encode(tag.as_ref().get(..BINDING_LEN).unwrap_or_default())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Confirmed,
    Pending,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Self::Confirmed => "c",
            Self::Pending => "p",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Pending => "pending",
        }
    }
}

/// Seals and opens TOTP secrets with the current [`SealingKey`], and opens texts sealed
/// under previous keys during a rotation.
///
/// ```
/// use jsm_sso_core::CodedError;
/// use jsm_sso_mfa::{Sealer, SealingKey, TotpParams, TotpSecret};
///
/// let sealer = Sealer::new(SealingKey::from_bytes(&[7; 32])?);
/// let secret = TotpSecret::generate(TotpParams::default())?;
/// let stored = sealer.seal("customer-42", &secret)?;
/// assert!(stored.starts_with("totp1.c."));
/// let opened = sealer.open("customer-42", &stored)?;
/// assert_eq!(opened.expose_base32(), secret.expose_base32());
/// assert_eq!(sealer.open("customer-43", &stored).unwrap_err().code(), "mfa.secret.customer_mismatch");
/// # Ok::<(), jsm_sso_mfa::Error>(())
/// ```
#[derive(Debug)]
pub struct Sealer {
    current: SealingKey,
    previous: Vec<SealingKey>,
    rng: SystemRandom,
}

impl Sealer {
    /// A sealer that seals and opens with `key`.
    #[must_use]
    pub fn new(key: SealingKey) -> Self {
        Self {
            current: key,
            previous: Vec::new(),
            rng: SystemRandom::new(),
        }
    }

    /// Also opens texts sealed under `key` (a key being rotated out). Re-seal what
    /// [`needs_reseal`](Self::needs_reseal) names, then drop the old key.
    #[must_use]
    pub fn with_previous(mut self, key: SealingKey) -> Self {
        self.previous.push(key);
        self
    }

    /// Seals a confirmed secret for `customer` (their stable directory id).
    ///
    /// # Errors
    ///
    /// `mfa.customer.invalid` for an empty or over-long id, `mfa.random.failed` when the
    /// system generator fails.
    pub fn seal(&self, customer: &str, secret: &TotpSecret) -> Result<String, Error> {
        self.seal_kind(customer, Kind::Confirmed, secret, "", "")
    }

    /// Seals a pending enrolment for `customer`, to keep between showing the QR code and
    /// the confirming code. [`open`](Self::open) refuses it (`mfa.secret.kind_mismatch`).
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub fn seal_pending(
        &self,
        customer: &str,
        enrolment: &PendingEnrolment,
    ) -> Result<String, Error> {
        self.seal_kind(
            customer,
            Kind::Pending,
            enrolment.secret(),
            enrolment.issuer(),
            enrolment.account(),
        )
    }

    /// Opens a confirmed secret sealed for `customer`.
    ///
    /// # Errors
    ///
    /// `mfa.secret.sealed_invalid` (not a sealed secret), `mfa.secret.sealed_version`
    /// (another format version), `mfa.secret.kind_mismatch` (a pending enrolment),
    /// `mfa.secret.key_unknown` (sealed under a key this sealer lacks),
    /// `mfa.secret.customer_mismatch` (sealed for another customer), `mfa.secret.tampered`
    /// (changed after sealing), `mfa.customer.invalid`.
    pub fn open(&self, customer: &str, sealed: &str) -> Result<TotpSecret, Error> {
        self.open_kind(customer, Kind::Confirmed, sealed)
            .map(|(secret, _, _)| secret)
    }

    /// Opens a pending enrolment sealed for `customer`.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); a confirmed secret gives `mfa.secret.kind_mismatch`.
    pub fn open_pending(&self, customer: &str, sealed: &str) -> Result<PendingEnrolment, Error> {
        let (secret, issuer, account) = self.open_kind(customer, Kind::Pending, sealed)?;
        PendingEnrolment::with_secret(&issuer, &account, secret)
    }

    /// Whether `sealed` was sealed under a previous key (open and seal it again) or an
    /// unknown one. Looks only at the key id; it does not authenticate.
    #[must_use]
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split('.').nth(2) != Some(self.current.id())
    }

    fn seal_kind(
        &self,
        customer: &str,
        kind: Kind,
        secret: &TotpSecret,
        issuer: &str,
        account: &str,
    ) -> Result<String, Error> {
        check_customer_id(customer)?;
        let key = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Error::Random)?;
        let mut buf = encode_plaintext(secret, issuer, account);
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kind, key.id(), customer)),
                &mut *buf,
            )
            .map_err(|_| Error::sealed("encryption failed"))?;
        Ok(format!(
            "{VERSION}.{kind}.{id}.{binding}.{nonce}.{ct}",
            kind = kind.tag(),
            id = key.id(),
            binding = key.binding_of(customer),
            nonce = BASE64URL_NOPAD.encode(&nonce),
            ct = BASE64URL_NOPAD.encode(&buf),
        ))
    }

    fn open_kind(
        &self,
        customer: &str,
        want: Kind,
        sealed: &str,
    ) -> Result<(TotpSecret, String, String), Error> {
        check_customer_id(customer)?;
        if sealed.len() > MAX_SEALED_LEN {
            return Err(Error::sealed(format!(
                "{} bytes, more than {MAX_SEALED_LEN}",
                sealed.len()
            )));
        }
        let mut fields = sealed.split('.');
        let version = fields.next().unwrap_or_default();
        if version != VERSION {
            return Err(if is_version_tag(version) {
                Error::SealedVersion {
                    expected: VERSION,
                    actual: version.to_owned(),
                }
            } else {
                Error::sealed(format!("does not start with {VERSION}."))
            });
        }
        let (Some(kind), Some(id), Some(binding), Some(nonce), Some(ct), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(Error::sealed("expected 6 dot-separated fields"));
        };
        let kind = match kind {
            "c" => Kind::Confirmed,
            "p" => Kind::Pending,
            _ => return Err(Error::sealed("kind is neither c nor p")),
        };
        if kind != want {
            return Err(Error::SealedKind {
                expected: want.name(),
                actual: kind.name(),
            });
        }
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == id)
            .ok_or_else(|| Error::SealedKeyUnknown {
                expected: std::iter::once(&self.current)
                    .chain(&self.previous)
                    .map(SealingKey::id)
                    .collect::<Vec<_>>()
                    .join(","),
                actual: id.chars().take(16).collect(),
            })?;
        let given_binding = decode_field("binding", binding)?;
        let our_binding = BASE64URL_NOPAD
            .decode(key.binding_of(customer).as_bytes())
            .unwrap_or_default();
        if given_binding.len() != BINDING_LEN {
            return Err(Error::sealed("binding is not 16 bytes"));
        }
        if !constant_time_eq(&given_binding, &our_binding) {
            return Err(Error::SealedCustomerMismatch);
        }
        let nonce = <[u8; NONCE_LEN]>::try_from(decode_field("nonce", nonce)?.as_slice())
            .map_err(|_| Error::sealed("nonce is not 12 bytes"))?;
        let mut buf = Zeroizing::new(decode_field("ciphertext", ct)?);
        if buf.len() < TAG_LEN {
            return Err(Error::sealed("ciphertext shorter than its tag"));
        }
        let plain = key
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kind, key.id(), customer)),
                &mut buf,
            )
            .map_err(|_| Error::SealedTampered)?;
        decode_plaintext(plain)
    }
}

/// `totp` followed by digits: a version tag, ours or not.
fn is_version_tag(field: &str) -> bool {
    field
        .strip_prefix("totp")
        .is_some_and(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn decode_field(name: &str, field: &str) -> Result<Vec<u8>, Error> {
    BASE64URL_NOPAD
        .decode(field.as_bytes())
        .map_err(|_| Error::sealed(format!("{name} is not unpadded base64url")))
}

/// Associated data: version, kind, key id and the customer id (last, so unambiguous).
fn aad(kind: Kind, key_id: &str, customer: &str) -> Vec<u8> {
    format!(
        "jsm-sso-mfa {VERSION}\0{}\0{key_id}\0{customer}",
        kind.tag()
    )
    .into_bytes()
}

/// `[alg][digits][period: u16 BE][key len][key][issuer len][issuer][account len][account]`.
fn encode_plaintext(secret: &TotpSecret, issuer: &str, account: &str) -> Zeroizing<Vec<u8>> {
    let params = secret.params();
    let key = secret.key_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(
        8 + key.len() + issuer.len() + account.len() + TAG_LEN,
    ));
    out.push(params.algorithm().to_byte());
    out.push(params.digits());
    // Periods are at most 300 s and secrets, issuer and account at most 128 bytes: the
    // length fields always fit (checked by TotpParams, TotpSecret and check_label).
    out.extend_from_slice(
        &u16::try_from(params.period())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    for field in [key, issuer.as_bytes(), account.as_bytes()] {
        out.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(field);
    }
    out
}

fn decode_plaintext(plain: &[u8]) -> Result<(TotpSecret, String, String), Error> {
    let bad = || Error::sealed("sealed content does not parse");
    let (header, mut rest) = plain.split_first_chunk::<4>().ok_or_else(bad)?;
    let [alg, digits, p0, p1] = *header;
    let algorithm = Algorithm::from_byte(alg).ok_or_else(bad)?;
    let params = TotpParams::new(algorithm, digits, u32::from(u16::from_be_bytes([p0, p1])))
        .map_err(|_| bad())?;
    let mut take = || -> Result<&[u8], Error> {
        let (len, tail) = rest.split_first().ok_or_else(bad)?;
        let (field, tail) = tail.split_at_checked(usize::from(*len)).ok_or_else(bad)?;
        rest = tail;
        Ok(field)
    };
    let key = take()?;
    let issuer = String::from_utf8(take()?.to_vec()).map_err(|_| bad())?;
    let account = String::from_utf8(take()?.to_vec()).map_err(|_| bad())?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let secret = TotpSecret::from_bytes(key, params).map_err(|_| bad())?;
    if !issuer.is_empty() {
        check_label("issuer", &issuer).map_err(|_| bad())?;
        check_label("account", &account).map_err(|_| bad())?;
    }
    Ok((secret, issuer, account))
}
