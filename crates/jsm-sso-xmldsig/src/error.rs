//! Errors: one [`Error`] for the crate, wrapping one enum per stage.
//!
//! Every variant has a stable machine code ([`CodedError::code`]) and a one-line hint for
//! whoever fixes the IdP or SP set-up ([`CodedError::hint`]). docs/errors.md lists them all.

use jsm_sso_core::CodedError;

/// Anything this crate refuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not acceptable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The signature is missing, malformed, uses a refused algorithm or does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A trusted or signing key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Xml(e) => e.code(),
            Error::Signature(e) => e.code(),
            Error::Key(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Error::Xml(e) => e.hint(),
            Error::Signature(e) => e.hint(),
            Error::Key(e) => e.hint(),
        }
    }
}

/// Why the hardened parser refused a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The input is larger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("document is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("elements nest deeper than {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// An element has more attributes (namespace declarations included) than allowed.
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes {
        /// The configured limit.
        limit: usize,
    },
    /// The document has more nodes than [`Limits::max_nodes`](crate::Limits::max_nodes).
    #[error("document has more than {limit} nodes")]
    TooManyNodes {
        /// The configured limit.
        limit: usize,
    },
    /// A `<!DOCTYPE` declaration: DTDs are refused outright (no XXE, no entity bombs).
    #[error("document type declarations are not allowed")]
    Doctype,
    /// An entity reference other than the five predefined ones.
    #[error("entity reference &{name}; is not allowed")]
    Entity {
        /// The entity name as written.
        name: String,
    },
    /// A character reference that is malformed or names a character XML forbids.
    #[error("invalid character reference &{reference};")]
    CharRef {
        /// The reference as written, without `&` and `;`.
        reference: String,
    },
    /// A character XML 1.0 does not allow (control characters, for example).
    #[error("character U+{code:04X} is not allowed in xml at byte {position}")]
    Char {
        /// The code point.
        code: u32,
        /// Byte offset in the input.
        position: usize,
    },
    /// A prefix used in an element or attribute name has no namespace declaration.
    #[error("namespace prefix {prefix:?} is not declared")]
    UndeclaredPrefix {
        /// The prefix.
        prefix: String,
    },
    /// Two attributes with the same name, or the same namespace URI and local name.
    #[error("duplicate attribute {name:?}")]
    DuplicateAttribute {
        /// The attribute name as written.
        name: String,
    },
    /// A namespace declaration that XML Namespaces forbids (binding `xmlns`, rebinding `xml`,
    /// un-declaring a prefix), or a namespace name that is relative or not a URI, which
    /// canonicalization cannot handle.
    #[error("forbidden namespace declaration: {detail}")]
    Namespace {
        /// What was wrong.
        detail: &'static str,
    },
    /// An element or attribute name that is not a valid XML qualified name.
    #[error("invalid name {name:?}")]
    Name {
        /// The name as written.
        name: String,
    },
    /// The input is not valid UTF-8.
    #[error("document is not valid utf-8 (at byte {position})")]
    Utf8 {
        /// Byte offset of the first invalid sequence.
        position: usize,
    },
    /// The XML declaration names an encoding other than UTF-8, or a version other than 1.0.
    #[error("unsupported xml declaration: {detail}")]
    Declaration {
        /// What was wrong.
        detail: String,
    },
    /// Anything else that makes the input not well-formed.
    #[error("malformed xml at byte {position}: {detail}")]
    Malformed {
        /// Byte offset where the problem was found.
        position: usize,
        /// What was wrong.
        detail: String,
    },
}

impl CodedError for XmlError {
    fn code(&self) -> &'static str {
        match self {
            XmlError::TooLarge { .. } => "xml.too_large",
            XmlError::TooDeep { .. } => "xml.too_deep",
            XmlError::TooManyAttributes { .. } => "xml.too_many_attributes",
            XmlError::TooManyNodes { .. } => "xml.too_many_nodes",
            XmlError::Doctype => "xml.doctype",
            XmlError::Entity { .. } => "xml.entity",
            XmlError::CharRef { .. } => "xml.char_ref",
            XmlError::Char { .. } => "xml.char",
            XmlError::UndeclaredPrefix { .. } => "xml.undeclared_prefix",
            XmlError::DuplicateAttribute { .. } => "xml.duplicate_attribute",
            XmlError::Namespace { .. } => "xml.namespace",
            XmlError::Name { .. } => "xml.name",
            XmlError::Utf8 { .. } => "xml.utf8",
            XmlError::Declaration { .. } => "xml.declaration",
            XmlError::Malformed { .. } => "xml.malformed",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            XmlError::TooLarge { .. }
            | XmlError::TooDeep { .. }
            | XmlError::TooManyAttributes { .. }
            | XmlError::TooManyNodes { .. } => {
                "raise the parser limits only if a legitimate IdP really sends such documents"
            }
            XmlError::Doctype | XmlError::Entity { .. } => {
                "SAML messages never carry a DTD or custom entities; treat the sender as hostile"
            }
            XmlError::CharRef { .. } | XmlError::Char { .. } | XmlError::Utf8 { .. } => {
                "the sender emitted characters XML 1.0 forbids; check its encoding"
            }
            XmlError::UndeclaredPrefix { .. }
            | XmlError::DuplicateAttribute { .. }
            | XmlError::Namespace { .. }
            | XmlError::Name { .. } => {
                "the document is not namespace-well-formed; check what produced or altered it"
            }
            XmlError::Declaration { .. } => "send XML 1.0 encoded as UTF-8",
            XmlError::Malformed { .. } => "the document is not well-formed XML",
        }
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The element carries no `ds:Signature` child.
    #[error("element is not signed")]
    Missing,
    /// The element carries more than one `ds:Signature` child.
    #[error("element has more than one signature")]
    Multiple,
    /// The `ds:Signature` does not have the strict shape this verifier accepts.
    #[error("malformed signature: {detail}")]
    Shape {
        /// What was wrong.
        detail: String,
    },
    /// The `SignatureMethod` is refused (HMAC, DSA, MD5, unknown).
    #[error("signature algorithm {uri} is not allowed")]
    UnsupportedSignatureMethod {
        /// The algorithm URI.
        uri: String,
    },
    /// The `DigestMethod` is refused (MD5, unknown).
    #[error("digest algorithm {uri} is not allowed")]
    UnsupportedDigestMethod {
        /// The algorithm URI.
        uri: String,
    },
    /// SHA-1 (as digest or in the signature method) without the explicit opt-in.
    #[error("sha-1 algorithm {uri} is refused unless explicitly allowed")]
    Sha1Refused {
        /// The algorithm URI.
        uri: String,
    },
    /// A `CanonicalizationMethod` or `Transform` outside the allowed list.
    #[error("transform {uri} is not allowed")]
    UnsupportedTransform {
        /// The algorithm URI.
        uri: String,
    },
    /// The `Reference` URI is not a same-document `#id` reference.
    #[error("reference uri {uri:?} is not of the form #id")]
    ReferenceUri {
        /// The URI as written.
        uri: String,
    },
    /// No element carries the referenced ID.
    #[error("no element has id {id:?}")]
    ReferenceNotFound {
        /// The ID.
        id: String,
    },
    /// An ID value appears on more than one element of the document.
    #[error("id {id:?} appears on more than one element")]
    DuplicateId {
        /// The repeated ID.
        id: String,
    },
    /// The reference resolves to an element other than the signature's parent.
    #[error("signature references element {id:?}, which is not the element that carries it")]
    ReferenceNotParent {
        /// The referenced ID.
        id: String,
    },
    /// A base64 value (digest, signature, certificate) could not be decoded or has the wrong
    /// length; ECDSA signatures in DER form land here (XML-DSig uses raw `r||s`).
    #[error("bad encoding of {field}")]
    Encoding {
        /// Which field.
        field: &'static str,
    },
    /// Canonicalization produced no output.
    #[error("canonicalization of {what} produced no output")]
    EmptyCanonicalization {
        /// What was canonicalized.
        what: &'static str,
    },
    /// The digest of the referenced element does not match `DigestValue`.
    #[error("digest mismatch: signed content was altered")]
    DigestMismatch,
    /// `SignatureValue` does not verify over the canonical `SignedInfo` with any candidate key.
    #[error("signature value does not verify")]
    Invalid,
}

impl CodedError for SignatureError {
    fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "xmldsig.signature.missing",
            SignatureError::Multiple => "xmldsig.signature.multiple",
            SignatureError::Shape { .. } => "xmldsig.shape",
            SignatureError::UnsupportedSignatureMethod { .. } => "xmldsig.algorithm.unsupported",
            SignatureError::UnsupportedDigestMethod { .. } => "xmldsig.digest.unsupported",
            SignatureError::Sha1Refused { .. } => "xmldsig.algorithm.sha1",
            SignatureError::UnsupportedTransform { .. } => "xmldsig.transform.unsupported",
            SignatureError::ReferenceUri { .. } => "xmldsig.reference.uri",
            SignatureError::ReferenceNotFound { .. } => "xmldsig.reference.not_found",
            SignatureError::DuplicateId { .. } => "xmldsig.reference.duplicate_id",
            SignatureError::ReferenceNotParent { .. } => "xmldsig.reference.not_parent",
            SignatureError::Encoding { .. } => "xmldsig.encoding",
            SignatureError::EmptyCanonicalization { .. } => "xmldsig.c14n.empty",
            SignatureError::DigestMismatch => "xmldsig.digest.mismatch",
            SignatureError::Invalid => "xmldsig.signature.invalid",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            SignatureError::Missing => {
                "configure the IdP to sign the response or the assertion, as the SP requires"
            }
            SignatureError::Multiple
            | SignatureError::Shape { .. }
            | SignatureError::ReferenceUri { .. }
            | SignatureError::ReferenceNotFound { .. }
            | SignatureError::DuplicateId { .. }
            | SignatureError::ReferenceNotParent { .. }
            | SignatureError::EmptyCanonicalization { .. } => {
                "the signature's structure is not what an IdP produces; the message may be forged"
            }
            SignatureError::UnsupportedSignatureMethod { .. }
            | SignatureError::UnsupportedDigestMethod { .. }
            | SignatureError::UnsupportedTransform { .. } => {
                "configure the IdP to sign with RSA-SHA256 (or ECDSA) and exclusive c14n"
            }
            SignatureError::Sha1Refused { .. } => {
                "switch the IdP to SHA-256; allow SHA-1 only for a legacy IdP you cannot change"
            }
            SignatureError::Encoding { .. } => {
                "a base64 value in the signature is damaged or in the wrong form"
            }
            SignatureError::DigestMismatch => {
                "the signed content changed after signing; the message was altered in transit"
            }
            SignatureError::Invalid => {
                "the IdP signed with a key other than the trusted one; refresh the IdP certificate"
            }
        }
    }
}

/// Why a key or certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM, certificate, SPKI or private key could not be parsed.
    #[error("invalid key material: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
    /// An RSA key shorter than 2048 bits.
    #[error("rsa key has {bits} bits; at least 2048 are required")]
    TooSmall {
        /// Modulus length in bits.
        bits: usize,
    },
    /// A key type this crate does not use (DSA, Ed25519, curves other than P-256/P-384).
    #[error("unsupported key type: {detail}")]
    Unsupported {
        /// What was found.
        detail: String,
    },
    /// The signature's `KeyInfo` names a certificate or key that is not trusted.
    #[error("signature names a key that is not trusted")]
    Untrusted,
    /// No trusted key fits the signature algorithm (an RSA signature with only EC keys).
    #[error("no trusted key fits signature algorithm {algorithm}")]
    NoMatchingKey {
        /// The algorithm's short name.
        algorithm: &'static str,
    },
    /// The trusted certificate has expired and expiry checking was asked for.
    #[error("trusted certificate expired")]
    Expired,
    /// No trusted keys were given.
    #[error("no trusted keys configured")]
    Empty,
}

impl CodedError for KeyError {
    fn code(&self) -> &'static str {
        match self {
            KeyError::Invalid { .. } => "xmldsig.key.invalid",
            KeyError::TooSmall { .. } => "xmldsig.key.too_small",
            KeyError::Unsupported { .. } => "xmldsig.key.unsupported",
            KeyError::Untrusted => "xmldsig.key.untrusted",
            KeyError::NoMatchingKey { .. } => "xmldsig.key.mismatch",
            KeyError::Expired => "xmldsig.key.expired",
            KeyError::Empty => "xmldsig.key.none",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            KeyError::Invalid { .. } => "supply the IdP certificate as PEM or DER",
            KeyError::TooSmall { .. } => "have the IdP issue an RSA key of 2048 bits or more",
            KeyError::Unsupported { .. } => "use an RSA (2048+), P-256 or P-384 key",
            KeyError::Untrusted => {
                "the message was signed by a certificate you do not trust; check IdP metadata"
            }
            KeyError::NoMatchingKey { .. } => {
                "the IdP signs with a key type that none of the pinned certificates has"
            }
            KeyError::Expired => "renew the IdP signing certificate and update the SP",
            KeyError::Empty => "configure at least one IdP signing certificate",
        }
    }
}
