//! Enveloped signing (exclusive c14n, SHA-256 digest, RSA-SHA256, ECDSA-P256-SHA256 or
//! ECDSA-P384-SHA384), for SP
//! metadata, AuthnRequests and the test IdP.

use std::fmt;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};

use crate::algorithm::{DSIG_NS, DigestMethod, ENVELOPED_SIGNATURE, SignatureMethod};
use crate::c14n::{self, Algorithm};
use crate::error::{Error, KeyError, SignatureError};
use crate::keys::MIN_RSA_BITS;
use crate::xml::{Document, Element, Limits, NO_NAMESPACE, NodeKind};

enum KeyPair {
    Rsa(RsaKeyPair),
    /// P-256 with ECDSA-SHA256 or P-384 with ECDSA-SHA384.
    Ecdsa(EcdsaKeyPair, SignatureMethod),
}

/// The `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`, if its algorithm is rsaEncryption.
fn pkcs8_rsa_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (_, info) = x509_parser::der_parser::parse_der(pkcs8).ok()?;
    let fields = info.as_sequence().ok()?;
    let algorithm = fields
        .get(1)?
        .as_sequence()
        .ok()?
        .first()?
        .as_oid()
        .ok()?
        .to_id_string();
    (algorithm == "1.2.840.113549.1.1.1").then_some(())?;
    fields.get(2)?.as_slice().ok()
}

/// Modulus length in bits of a PKCS#1 `RSAPrivateKey` (ring refuses small keys without saying
/// how small, so read it here for a precise error).
fn rsa_private_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (_, key) = x509_parser::der_parser::parse_der(pkcs1).ok()?;
    let modulus = key.as_sequence().ok()?.get(1)?.as_slice().ok()?;
    let first = modulus.iter().position(|b| *b != 0)?;
    let significant = modulus.get(first..)?;
    Some(significant.len() * 8 - significant.first()?.leading_zeros() as usize)
}

fn refuse_small_rsa(bits: Option<usize>) -> Result<(), KeyError> {
    match bits {
        Some(bits) if bits < MIN_RSA_BITS => Err(KeyError::TooSmall { bits }),
        _ => Ok(()),
    }
}

/// A private key to sign with, and optionally the certificate to put in `KeyInfo`.
pub struct SigningKey {
    pair: KeyPair,
    certificate: Option<Vec<u8>>,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.pair {
            KeyPair::Rsa(_) => "rsa",
            KeyPair::Ecdsa(_, SignatureMethod::EcdsaSha384) => "ecdsa-p384",
            KeyPair::Ecdsa(..) => "ecdsa-p256",
        };
        f.debug_struct("SigningKey")
            .field("kind", &kind)
            .field("private_key", &"[redacted]")
            .field("certificate", &self.certificate.is_some())
            .finish()
    }
}

impl SigningKey {
    /// Reads a PEM private key: `PRIVATE KEY` (PKCS#8: RSA, EC P-256 or P-384) or
    /// `RSA PRIVATE KEY` (PKCS#1). RSA keys under 2048 bits are refused. RSA keys sign with
    /// RSA-SHA256, P-256 with ECDSA-SHA256, P-384 with ECDSA-SHA384.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |detail: String| KeyError::Invalid { detail };
        let mut blocks = x509_parser::pem::Pem::iter_from_buffer(pem);
        let block = blocks
            .next()
            .ok_or_else(|| invalid("no pem block".into()))?
            .map_err(|e| invalid(format!("pem: {e}")))?;
        let rng = SystemRandom::new();
        let pair = match block.label.as_str() {
            "RSA PRIVATE KEY" => {
                refuse_small_rsa(rsa_private_modulus_bits(&block.contents))?;
                KeyPair::Rsa(
                    RsaKeyPair::from_der(&block.contents)
                        .map_err(|e| invalid(format!("rsa key: {e}")))?,
                )
            }
            "PRIVATE KEY" => {
                let contents = &block.contents;
                if let Some(rsa) = pkcs8_rsa_private_key(contents) {
                    refuse_small_rsa(rsa_private_modulus_bits(rsa))?;
                    KeyPair::Rsa(
                        RsaKeyPair::from_pkcs8(contents)
                            .map_err(|e| invalid(format!("rsa key: {e}")))?,
                    )
                } else if let Ok(ec) = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    contents,
                    &rng,
                ) {
                    KeyPair::Ecdsa(ec, SignatureMethod::EcdsaSha256)
                } else {
                    KeyPair::Ecdsa(
                        EcdsaKeyPair::from_pkcs8(
                            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                            contents,
                            &rng,
                        )
                        .map_err(|_| KeyError::Unsupported {
                            detail: "pkcs#8 key is not rsa, ec p-256 or ec p-384".into(),
                        })?,
                        SignatureMethod::EcdsaSha384,
                    )
                }
            }
            other => return Err(invalid(format!("unexpected pem block {other}"))),
        };
        Ok(SigningKey {
            pair,
            certificate: None,
            rng,
        })
    }

    /// Puts this PEM certificate into `KeyInfo/X509Data` of every signature.
    pub fn with_certificate_pem(mut self, pem: &[u8]) -> Result<Self, KeyError> {
        let block = x509_parser::pem::Pem::iter_from_buffer(pem)
            .next()
            .ok_or_else(|| KeyError::Invalid {
                detail: "no pem block".into(),
            })?
            .map_err(|e| KeyError::Invalid {
                detail: format!("pem: {e}"),
            })?;
        x509_parser::parse_x509_certificate(&block.contents).map_err(|e| KeyError::Invalid {
            detail: format!("certificate: {e}"),
        })?;
        self.certificate = Some(block.contents);
        Ok(self)
    }

    /// The signature method this key signs with.
    pub fn signature_method(&self) -> SignatureMethod {
        match self.pair {
            KeyPair::Rsa(_) => SignatureMethod::RsaSha256,
            KeyPair::Ecdsa(_, method) => method,
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = || {
            Error::Key(KeyError::Invalid {
                detail: "signing failed".into(),
            })
        };
        match &self.pair {
            KeyPair::Rsa(rsa) => {
                let mut out = vec![0; rsa.public().modulus_len()];
                rsa.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
                    .map_err(|_| failed())?;
                Ok(out)
            }
            KeyPair::Ecdsa(ec, _) => ec
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| failed()),
        }
    }
}

/// Where the `ds:Signature` goes inside the signed element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// As the first child (SAML metadata `EntityDescriptor`).
    FirstChild,
    /// Right after the first child with this namespace URI and local name, or first if there
    /// is none (SAML puts it after `Issuer`).
    After {
        /// Namespace URI of the preceding sibling.
        namespace: String,
        /// Local name of the preceding sibling.
        local_name: String,
    },
}

impl Placement {
    /// After `saml:Issuer`, where SAML 2.0 schemas put the signature.
    pub fn after_saml_issuer() -> Placement {
        Placement::After {
            namespace: "urn:oasis:names:tc:SAML:2.0:assertion".into(),
            local_name: "Issuer".into(),
        }
    }
}

/// Signs the element whose `ID` attribute is `id` with an enveloped signature (exclusive c14n,
/// SHA-256) and returns the whole document with the signature inserted. The rest of the
/// document is left byte for byte as it was (line endings normalised).
///
/// ```
/// use jsm_sso_xmldsig::{sign_enveloped, Document, Limits, Placement, SigningKey, TrustedKeys,
///                       Verifier, VerifyOptions};
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/peerbench");
/// let key = SigningKey::from_pem(&std::fs::read(format!("{dir}/idp-rsa.key"))?)?;
/// let xml = br#"<r xmlns="urn:example" ID="_r1"><Issuer>idp</Issuer></r>"#;
/// let signed = sign_enveloped(xml, "_r1", &key, &Placement::FirstChild)?;
///
/// let doc = Document::parse(signed.as_bytes(), &Limits::default())?;
/// let keys = TrustedKeys::from_pem(&std::fs::read(format!("{dir}/idp-rsa.crt"))?)?;
/// let verified = Verifier::new(keys, VerifyOptions::default()).verify_enveloped(doc.root())?;
/// assert_eq!(verified.info().reference_id, "_r1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign_enveloped(
    xml: &[u8],
    id: &str,
    key: &SigningKey,
    placement: &Placement,
) -> Result<String, Error> {
    let doc = Document::parse(xml, &Limits::default())?;
    let target = find_by_id(&doc, id)?;

    let digest_method = DigestMethod::Sha256;
    let digest = digest_method.digest(&c14n::canonicalize(target, Algorithm::Exclusive, &[]));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut reference_uri = String::with_capacity(id.len() + 1);
    reference_uri.push('#');
    push_escaped(&mut reference_uri, id);
    let method = key.signature_method();
    let signed_info = format!(
        concat!(
            "<ds:SignedInfo xmlns:ds=\"{ds}\">",
            "<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>",
            "<ds:SignatureMethod Algorithm=\"{method}\"/>",
            "<ds:Reference URI=\"{uri}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"{enveloped}\"/><ds:Transform Algorithm=\"{c14n}\"/>",
            "</ds:Transforms><ds:DigestMethod Algorithm=\"{digest_method}\"/>",
            "<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        ),
        ds = DSIG_NS,
        c14n = Algorithm::Exclusive.uri(),
        method = method.uri(),
        uri = reference_uri,
        enveloped = ENVELOPED_SIGNATURE,
        digest_method = digest_method.uri(),
        digest = b64.encode(digest.as_ref()),
    );
    // Exclusive c14n of SignedInfo inside a Signature that declares `ds` is the same as of
    // this stand-alone SignedInfo that declares it itself.
    let signed_info_doc = Document::parse(signed_info.as_bytes(), &Limits::default())?;
    let canonical = c14n::canonicalize(signed_info_doc.root(), Algorithm::Exclusive, &[]);
    let signature_value = b64.encode(key.sign(&canonical)?);

    let mut signature = String::with_capacity(signed_info.len() + signature_value.len() + 2048);
    signature.push_str("<ds:Signature xmlns:ds=\"");
    signature.push_str(DSIG_NS);
    signature.push_str("\">");
    signature.push_str(&signed_info.replacen(&format!(" xmlns:ds=\"{DSIG_NS}\""), "", 1));
    signature.push_str("<ds:SignatureValue>");
    signature.push_str(&signature_value);
    signature.push_str("</ds:SignatureValue>");
    if let Some(cert) = &key.certificate {
        signature.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        signature.push_str(&b64.encode(cert));
        signature.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    }
    signature.push_str("</ds:Signature>");

    let at = insertion_offset(target, placement)?;
    let source = normalized_source(xml)?;
    let (before, after) = (source.get(..at), source.get(at..));
    match (before, after) {
        (Some(before), Some(after)) => Ok(format!("{before}{signature}{after}")),
        _ => Err(Error::Signature(SignatureError::Shape {
            detail: "signature position outside the document".into(),
        })),
    }
}

/// The input as the parser saw it (BOM stripped, line endings normalised), which the element
/// offsets refer to.
fn normalized_source(xml: &[u8]) -> Result<String, Error> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(|e| {
        Error::Xml(crate::XmlError::Utf8 {
            position: e.valid_up_to(),
        })
    })?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

fn find_by_id<'d>(doc: &'d Document, id: &str) -> Result<Element<'d>, Error> {
    let mut found = None;
    for (index, node) in doc.nodes.iter().enumerate() {
        let NodeKind::Element(data) = &node.kind else {
            continue;
        };
        let has_id = doc.attrs_of(data).iter().any(|a| {
            a.ns == NO_NAMESPACE
                && matches!(doc.str(a.local), "ID" | "Id")
                && doc.str(a.value) == id
        });
        if has_id {
            if found.is_some() {
                return Err(Error::Signature(SignatureError::DuplicateId {
                    id: id.to_owned(),
                }));
            }
            found = Some(u32::try_from(index).unwrap_or(u32::MAX));
        }
    }
    let id_node = found
        .ok_or_else(|| Error::Signature(SignatureError::ReferenceNotFound { id: id.to_owned() }))?;
    Ok(Element {
        doc,
        id: id_node,
        hidden: None,
    })
}

fn insertion_offset(target: Element<'_>, placement: &Placement) -> Result<usize, Error> {
    let doc = target.doc;
    let data = doc.element_data(target.id).ok_or_else(|| {
        Error::Signature(SignatureError::Shape {
            detail: "signed node is not an element".into(),
        })
    })?;
    if data.source.start_tag_end == data.source.end {
        return Err(Error::Signature(SignatureError::Shape {
            detail: "cannot sign an element written as an empty tag".into(),
        }));
    }
    if let Placement::After {
        namespace,
        local_name,
    } = placement
        && let Some(sibling) = target.child(namespace, local_name)
        && let Some(sibling_data) = doc.element_data(sibling.id)
    {
        return Ok(sibling_data.source.end as usize);
    }
    Ok(data.source.start_tag_end as usize)
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}
