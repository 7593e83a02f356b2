//! Encrypting an assertion the way IdPs do, for tests, the testkit and integrators testing
//! their own SP: a fresh AES key encrypts the assertion, RSA-OAEP wraps the key for the
//! recipient's certificate.

use std::fmt::Write as _;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::algorithm::{ContentAlgorithm, DS, KeyTransport, OaepHash, XENC, XENC11};
use super::{DecryptError, crypto, key};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Where the `EncryptedKey` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyPlacement {
    /// Inside the `EncryptedData`'s `ds:KeyInfo` (Shibboleth, SimpleSAMLphp, Keycloak, ADFS).
    #[default]
    InsideKeyInfo,
    /// Beside the `EncryptedData` in the `EncryptedAssertion`, named by
    /// `ds:RetrievalMethod` and pointing back with a `DataReference` (Okta).
    SiblingWithRetrievalMethod,
}

/// How [`encrypt_assertion`](super::encrypt_assertion) encrypts.
///
/// The default is what current IdPs (Shibboleth 4+, Keycloak) send: AES-256-GCM content
/// encryption and `rsa-oaep-mgf1p` key transport with SHA-1 (the combination every SP
/// library can read), the `EncryptedKey` inside `KeyInfo`, the certificate in its `KeyInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    content: ContentAlgorithm,
    transport: KeyTransport,
    placement: KeyPlacement,
    oaep_params: Option<Vec<u8>>,
    include_certificate: bool,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            content: ContentAlgorithm::Aes256Gcm,
            transport: KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha1,
            },
            placement: KeyPlacement::InsideKeyInfo,
            oaep_params: None,
            include_certificate: true,
        }
    }
}

impl EncryptOptions {
    /// The content encryption algorithm.
    pub fn content(mut self, algorithm: ContentAlgorithm) -> Self {
        self.content = algorithm;
        self
    }

    /// The key transport (RSA-OAEP flavour and hashes).
    pub fn key_transport(mut self, transport: KeyTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Where the `EncryptedKey` is placed.
    pub fn placement(mut self, placement: KeyPlacement) -> Self {
        self.placement = placement;
        self
    }

    /// An OAEP label, sent as `xenc:OAEPparams` (empty or `None`: no label).
    pub fn oaep_params(mut self, params: Option<Vec<u8>>) -> Self {
        self.oaep_params = params.filter(|p| !p.is_empty());
        self
    }

    /// Whether the `EncryptedKey` carries the recipient certificate in its `ds:KeyInfo`
    /// (default yes; only possible when a certificate, not a bare public key, is given).
    pub fn include_certificate(mut self, include: bool) -> Self {
        self.include_certificate = include;
        self
    }
}

fn fail(detail: &str) -> DecryptError {
    DecryptError::EncryptFailed {
        detail: detail.to_owned(),
    }
}

fn random_id() -> Result<String, DecryptError> {
    let mut bytes = [0u8; 16];
    crypto::random(&mut bytes).map_err(|_| fail("the system random generator failed"))?;
    let mut id = String::from("_");
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    Ok(id)
}

pub(crate) fn encrypt(
    assertion_xml: &[u8],
    recipient_certificate_pem: &[u8],
    options: &EncryptOptions,
) -> Result<String, DecryptError> {
    if std::str::from_utf8(assertion_xml).is_err() {
        return Err(fail("the assertion is not UTF-8"));
    }
    let (public, certificate) = key::recipient_key(recipient_certificate_pem)?;
    let b64 = &base64::engine::general_purpose::STANDARD;

    let mut cek = Zeroizing::new(vec![0u8; options.content.key_len()]);
    crypto::random(&mut cek).map_err(|_| fail("the system random generator failed"))?;
    let content = crypto::encrypt_content(options.content, &cek, assertion_xml)
        .map_err(|_| fail("content encryption failed"))?;
    let (digest, mgf) = options.transport.hashes();
    let wrapped = crypto::oaep_encrypt(&public, &cek, digest, mgf, options.oaep_params.as_deref())
        .map_err(|_| fail("rsa-oaep key transport failed"))?;

    let data_id = random_id()?;
    let key_id = random_id()?;

    // The EncryptedKey.
    let mut ek = format!(r#"<xenc:EncryptedKey Id="{key_id}">"#);
    let _ = write!(
        ek,
        r#"<xenc:EncryptionMethod Algorithm="{}">"#,
        options.transport.uri()
    );
    if let Some(params) = &options.oaep_params {
        let _ = write!(
            ek,
            "<xenc:OAEPparams>{}</xenc:OAEPparams>",
            b64.encode(params)
        );
    }
    let _ = write!(
        ek,
        r#"<ds:DigestMethod Algorithm="{}"/>"#,
        digest.digest_uri()
    );
    if let KeyTransport::RsaOaep { mgf, .. } = options.transport
        && mgf != OaepHash::Sha1
    {
        // MGF1-SHA1 is the default and is left implicit, as most IdPs do.
        let _ = write!(ek, r#"<xenc11:MGF Algorithm="{}"/>"#, mgf.mgf_uri());
    }
    ek.push_str("</xenc:EncryptionMethod>");
    if let (true, Some(der)) = (options.include_certificate, &certificate) {
        let _ = write!(
            ek,
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
            b64.encode(der)
        );
    }
    let _ = write!(
        ek,
        "<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>",
        b64.encode(&wrapped)
    );
    if options.placement == KeyPlacement::SiblingWithRetrievalMethod {
        let _ = write!(
            ek,
            r##"<xenc:ReferenceList><xenc:DataReference URI="#{data_id}"/></xenc:ReferenceList>"##
        );
    }
    ek.push_str("</xenc:EncryptedKey>");

    // The EncryptedData, and the EncryptedAssertion around both.
    let mut out = format!(
        r#"<saml:EncryptedAssertion xmlns:saml="{SAML}" xmlns:xenc="{XENC}" xmlns:ds="{DS}" xmlns:xenc11="{XENC11}">"#
    );
    let _ = write!(
        out,
        r#"<xenc:EncryptedData Id="{data_id}" Type="{XENC}Element"><xenc:EncryptionMethod Algorithm="{}"/><ds:KeyInfo>"#,
        options.content.uri()
    );
    match options.placement {
        KeyPlacement::InsideKeyInfo => out.push_str(&ek),
        KeyPlacement::SiblingWithRetrievalMethod => {
            let _ = write!(
                out,
                r##"<ds:RetrievalMethod Type="{XENC}EncryptedKey" URI="#{key_id}"/>"##
            );
        }
    }
    let _ = write!(
        out,
        "</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>",
        b64.encode(&content)
    );
    if options.placement == KeyPlacement::SiblingWithRetrievalMethod {
        out.push_str(&ek);
    }
    out.push_str("</saml:EncryptedAssertion>");
    Ok(out)
}
