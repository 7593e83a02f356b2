//! Hardened XML, canonicalization and XML-DSig without libxmlsec: the signature layer under
//! jsm-sso's SAML service provider.
//!
//! Parse with limits (no DTD, no foreign entities, namespace-checked), then verify an enveloped
//! signature against pinned keys. Verification returns the signed element itself, with no way
//! to reach outside it, so the code that checks the signature and the code that reads the
//! content cannot look at different nodes (the root of every signature-wrapping attack).
//!
//! ```
//! use jsm_sso_xmldsig::{Document, Limits, TrustedKeys, Verifier, VerifyOptions};
//! const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/peerbench");
//! let xml = std::fs::read(format!("{dir}/medium.xml"))?;
//! let doc = Document::parse(&xml, &Limits::default())?;               // no DTD, size/depth limits
//! let keys = TrustedKeys::from_pem(&std::fs::read(format!("{dir}/idp-rsa.crt"))?)?; // pinned
//! let verifier = Verifier::new(keys, VerifyOptions::default());        // SHA-1 off, RSA >= 2048
//!
//! let assertion = doc.root().child(SAML, "Assertion").ok_or("no assertion")?;
//! let signed = verifier.verify_enveloped(assertion)?;                 // the only way in
//! let name_id = signed.element().child(SAML, "Subject")
//!     .and_then(|s| s.child(SAML, "NameID")).map(|n| n.text().into_owned());
//! assert_eq!(name_id.as_deref(), Some("jane.customer@example.org"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is accepted: RSA-SHA256/384/512, RSA-PSS (SHA-256/384/512 with MGF1), ECDSA-SHA256/384
//! on P-256/P-384 (raw `r || s`); SHA-256/384/512 digests; exclusive and inclusive c14n with or
//! without comments, and the enveloped-signature transform. SHA-1 only with
//! [`VerifyOptions::allow_sha1`]. Never HMAC, DSA, MD5, XPath, XSLT or base64 transforms.
#![forbid(unsafe_code)]

mod algorithm;
pub mod c14n;
mod crypto;
mod detached;
mod error;
mod keys;
mod sign;
mod verify;
mod xml;

pub use algorithm::{DigestMethod, SignatureMethod};
pub use error::{Error, KeyError, SignatureError, XmlError};
pub use jsm_sso_core::CodedError;
pub use keys::{KeyKind, TrustedKey, TrustedKeys};
pub use sign::{Placement, SigningKey, sign_enveloped};
pub use verify::{SignatureInfo, Verified, Verifier, VerifyOptions};
pub use xml::{Attribute, Document, Element, Limits, Node};

/// The crate README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
