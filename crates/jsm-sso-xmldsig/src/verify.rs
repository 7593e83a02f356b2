//! Enveloped XML-DSig verification that hands back only what the signature covers.
//!
//! The order is the one that closed the 2024-2026 bypasses in goxmldsig, xml-crypto and
//! node-saml: check the strict shape of the `ds:Signature`, canonicalize `SignedInfo` and verify
//! the signature value over those bytes, re-parse the verified bytes and read the `Reference`
//! from them only, resolve the reference to the element that carries the signature (and nothing
//! else), digest that element, and return a view of exactly that element.

use std::time::SystemTime;

use crate::algorithm::{DSIG_NS, DigestMethod, ENVELOPED_SIGNATURE, EXC_C14N_NS, SignatureMethod};
use crate::c14n::{self, Algorithm};
use crate::error::{Error, KeyError, SignatureError};
use crate::keys::{TrustedKey, TrustedKeys, certificate_spki, decode_base64, same_base64};
use crate::xml::{Document, Element, Limits, NO_NAMESPACE, Node, NodeKind, is_valid_ncname};

/// What a verifier accepts beyond the secure defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    allow_sha1: bool,
    id_attributes: Vec<String>,
    certificate_expiry_at: Option<SystemTime>,
}

impl Default for VerifyOptions {
    /// SHA-1 refused; `ID` and `Id` are ID attributes; certificate expiry not checked.
    fn default() -> Self {
        VerifyOptions {
            allow_sha1: false,
            id_attributes: vec!["ID".to_owned(), "Id".to_owned()],
            certificate_expiry_at: None,
        }
    }
}

impl VerifyOptions {
    /// Accepts RSA-SHA1 signatures and SHA-1 digests. Only for a legacy IdP that cannot be
    /// moved to SHA-256: SHA-1 collisions are practical.
    pub fn allow_sha1(mut self, allow: bool) -> Self {
        self.allow_sha1 = allow;
        self
    }

    /// The unqualified attribute names that carry element IDs (default `ID` and `Id`). Empty
    /// names and names that are not XML names are dropped; an empty list keeps the default.
    pub fn id_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names
            .into_iter()
            .map(Into::into)
            .filter(|n| is_valid_ncname(n))
            .collect();
        if !names.is_empty() {
            self.id_attributes = names;
        }
        self
    }

    /// Refuses trusted certificates that expired before `now`. Off by default: IdP certificates
    /// are self-signed and often expired, and trust comes from pinning, not from validity.
    pub fn check_certificate_expiry(mut self, now: SystemTime) -> Self {
        self.certificate_expiry_at = Some(now);
        self
    }

    /// Whether SHA-1 is accepted.
    pub fn sha1_allowed(&self) -> bool {
        self.allow_sha1
    }
}

/// Verifies enveloped signatures against a fixed set of trusted keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: TrustedKeys,
    options: VerifyOptions,
}

/// Facts about a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInfo {
    /// The signature algorithm.
    pub signature_method: SignatureMethod,
    /// The digest algorithm of the reference.
    pub digest_method: DigestMethod,
    /// How `SignedInfo` was canonicalized.
    pub canonicalization: Algorithm,
    /// The ID the reference points at (the signed element's ID).
    pub reference_id: String,
    /// Fingerprint of the trusted key that verified it ([`TrustedKey::fingerprint`]).
    pub key_fingerprint: String,
}

/// The signed element, and only it: the result of a successful verification.
///
/// [`Verified::element`] has no way to reach its parent or siblings, and it hides the enveloped
/// signature (which the digest did not cover), so everything read through it was signed.
#[derive(Debug, Clone)]
pub struct Verified<'d> {
    element: Element<'d>,
    info: SignatureInfo,
}

impl<'d> Verified<'d> {
    /// The signed element.
    pub fn element(&self) -> Element<'d> {
        self.element
    }

    /// Which algorithms and key verified it.
    pub fn info(&self) -> &SignatureInfo {
        &self.info
    }
}

/// `SignedInfo`, read with the strict shape rules.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignedInfo {
    canonicalization: Algorithm,
    c14n_prefixes: Vec<String>,
    signature_method: SignatureMethod,
    reference_uri: String,
    /// Whether the enveloped-signature transform is present.
    enveloped: bool,
    /// The canonicalization transform; `None` means the default, inclusive C14N 1.0.
    transform_c14n: Option<(Algorithm, Vec<String>)>,
    digest_method: DigestMethod,
    digest_value: Vec<u8>,
}

fn shape(detail: impl Into<String>) -> Error {
    Error::Signature(SignatureError::Shape {
        detail: detail.into(),
    })
}

/// The element children of a `ds:` structure element. White space between them is allowed;
/// other text, comments, CDATA and processing instructions are not.
fn structure_children<'d>(element: Element<'d>) -> Result<Vec<Element<'d>>, Error> {
    let mut children = Vec::new();
    for node in element.children() {
        match node {
            Node::Element(e) => children.push(e),
            Node::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            _ => {
                return Err(shape(format!(
                    "{} may contain only elements",
                    element.local_name()
                )));
            }
        }
    }
    Ok(children)
}

/// The text of a text-only `ds:` field (`DigestValue`, `SignatureValue`, `X509Certificate`).
fn text_only<'d>(element: Element<'d>) -> Result<&'d str, Error> {
    let mut text = "";
    for node in element.children() {
        match node {
            Node::Text(t) if text.is_empty() => text = t,
            _ => {
                return Err(shape(format!(
                    "{} must hold text only",
                    element.local_name()
                )));
            }
        }
    }
    Ok(text)
}

fn is_ds(element: Element<'_>, local: &str) -> bool {
    element.is(DSIG_NS, local)
}

fn algorithm_attr<'d>(element: Element<'d>) -> Result<&'d str, Error> {
    element
        .attribute("Algorithm")
        .ok_or_else(|| shape(format!("{} has no Algorithm", element.local_name())))
}

/// Reads a c14n method element (`CanonicalizationMethod` or a c14n `Transform`) and its
/// optional `InclusiveNamespaces` child.
fn c14n_method(
    element: Element<'_>,
    algorithm: Algorithm,
) -> Result<(Algorithm, Vec<String>), Error> {
    let children = structure_children(element)?;
    let mut prefixes = Vec::new();
    match children.as_slice() {
        [] => {}
        [inclusive]
            if algorithm.is_exclusive() && inclusive.is(EXC_C14N_NS, "InclusiveNamespaces") =>
        {
            if inclusive.has_child_elements() || !inclusive.text().trim().is_empty() {
                return Err(shape("InclusiveNamespaces must be empty"));
            }
            let list = inclusive.attribute("PrefixList").unwrap_or_default();
            for prefix in list.split_ascii_whitespace() {
                if prefix != "#default" && !is_valid_ncname(prefix) {
                    return Err(shape(format!("bad prefix {prefix:?} in PrefixList")));
                }
                prefixes.push(prefix.to_owned());
            }
        }
        _ => {
            return Err(shape(format!(
                "unexpected content in {}",
                element.local_name()
            )));
        }
    }
    Ok((algorithm, prefixes))
}

fn parse_signed_info(signed_info: Element<'_>, allow_sha1: bool) -> Result<SignedInfo, Error> {
    let [c14n_el, method_el, reference] = structure_children(signed_info)?[..] else {
        return Err(shape(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference",
        ));
    };
    if !is_ds(c14n_el, "CanonicalizationMethod")
        || !is_ds(method_el, "SignatureMethod")
        || !is_ds(reference, "Reference")
    {
        return Err(shape(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference",
        ));
    }
    let c14n_uri = algorithm_attr(c14n_el)?;
    let canonicalization = Algorithm::from_uri(c14n_uri).ok_or_else(|| {
        Error::Signature(SignatureError::UnsupportedTransform {
            uri: c14n_uri.to_owned(),
        })
    })?;
    let (canonicalization, c14n_prefixes) = c14n_method(c14n_el, canonicalization)?;
    let signature_method = SignatureMethod::from_uri(algorithm_attr(method_el)?, allow_sha1)?;
    if !structure_children(method_el)?.is_empty() {
        return Err(shape("SignatureMethod must be empty"));
    }

    let reference_uri = reference
        .attribute("URI")
        .ok_or_else(|| Error::Signature(SignatureError::ReferenceUri { uri: String::new() }))?
        .to_owned();
    let parts = structure_children(reference)?;
    let (transforms, digest_method_el, digest_value_el) = match parts.as_slice() {
        [t, m, v] if is_ds(*t, "Transforms") => (Some(*t), *m, *v),
        [m, v] => (None, *m, *v),
        _ => {
            return Err(shape(
                "Reference must hold Transforms, DigestMethod and DigestValue",
            ));
        }
    };
    if !is_ds(digest_method_el, "DigestMethod") || !is_ds(digest_value_el, "DigestValue") {
        return Err(shape(
            "Reference must hold Transforms, DigestMethod and DigestValue",
        ));
    }
    if !structure_children(digest_method_el)?.is_empty() {
        return Err(shape("DigestMethod must be empty"));
    }
    let digest_method = DigestMethod::from_uri(algorithm_attr(digest_method_el)?, allow_sha1)?;
    let digest_value = decode_base64(text_only(digest_value_el)?)
        .filter(|d| d.len() == digest_method.ring().output_len())
        .ok_or(Error::Signature(SignatureError::Encoding {
            field: "DigestValue",
        }))?;

    let mut enveloped = false;
    let mut transform_c14n = None;
    if let Some(transforms) = transforms {
        let list = structure_children(transforms)?;
        if list.is_empty() || list.len() > 2 {
            return Err(shape("Transforms must hold one or two Transform elements"));
        }
        for transform in list {
            if !is_ds(transform, "Transform") {
                return Err(shape("Transforms may hold only Transform elements"));
            }
            let uri = algorithm_attr(transform)?;
            if uri == ENVELOPED_SIGNATURE {
                if enveloped || transform_c14n.is_some() {
                    return Err(shape("enveloped-signature must come first, once"));
                }
                if !structure_children(transform)?.is_empty() {
                    return Err(shape(
                        "the enveloped-signature transform takes no parameters",
                    ));
                }
                enveloped = true;
            } else if let Some(algorithm) = Algorithm::from_uri(uri) {
                if transform_c14n.is_some() {
                    return Err(shape("more than one canonicalization transform"));
                }
                transform_c14n = Some(c14n_method(transform, algorithm)?);
            } else {
                return Err(Error::Signature(SignatureError::UnsupportedTransform {
                    uri: uri.to_owned(),
                }));
            }
        }
    }
    Ok(SignedInfo {
        canonicalization,
        c14n_prefixes,
        signature_method,
        reference_uri,
        enveloped,
        transform_c14n,
        digest_method,
        digest_value,
    })
}

/// Certificates named by `KeyInfo/X509Data/X509Certificate`, as SubjectPublicKeyInfo DER.
/// A certificate identical to a trusted one is matched without parsing it again.
fn key_info_spkis(key_info: Element<'_>, trusted: &TrustedKeys) -> Result<Vec<Vec<u8>>, Error> {
    let mut spkis = Vec::new();
    for child in structure_children(key_info)? {
        if !is_ds(child, "X509Data") {
            continue;
        }
        for item in structure_children(child)? {
            if is_ds(item, "X509Certificate") {
                let text = text_only(item)?;
                // The common case: KeyInfo repeats the pinned certificate, perhaps wrapped.
                if let Some(key) = trusted
                    .iter()
                    .find(|k| k.certificate_base64().is_some_and(|b| same_base64(text, b)))
                {
                    spkis.push(key.spki().to_vec());
                    continue;
                }
                let der = decode_base64(text);
                let known = der.as_deref().and_then(|der| {
                    trusted
                        .iter()
                        .find(|k| k.certificate() == Some(der))
                        .map(|k| k.spki().to_vec())
                });
                let spki = known
                    .or_else(|| der.as_deref().and_then(certificate_spki))
                    .ok_or(Error::Signature(SignatureError::Encoding {
                        field: "X509Certificate",
                    }))?;
                spkis.push(spki);
            }
        }
    }
    Ok(spkis)
}

/// Refuses comments, processing instructions and CDATA anywhere inside the signature: a real
/// signer emits none, and c14n would silently drop a comment hidden in a digest value.
fn refuse_hidden_content(element: Element<'_>) -> Result<(), Error> {
    let doc = element.doc;
    let end = doc.node(element.id).map_or(element.id, |n| n.end);
    for id in element.id..end {
        if let Some(NodeKind::Comment(_) | NodeKind::Pi { .. } | NodeKind::CData(_)) =
            doc.node(id).map(|n| &n.kind)
        {
            return Err(shape(
                "signature holds a comment, cdata or processing instruction",
            ));
        }
    }
    Ok(())
}

impl Verifier {
    /// A verifier trusting `keys`.
    pub fn new(keys: TrustedKeys, options: VerifyOptions) -> Self {
        Verifier { keys, options }
    }

    /// The options in force.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Verifies the enveloped signature that `element` carries as a direct child, and returns
    /// the element as signed content.
    ///
    /// Refused: no or several `ds:Signature` children, any deviation from the strict shape,
    /// algorithms outside the allowed set, a reference to anything but `element` itself, an
    /// ID used twice in the document, a key outside the trusted set, a signature or digest
    /// that does not match.
    pub fn verify_enveloped<'d>(&self, element: Element<'d>) -> Result<Verified<'d>, Error> {
        let doc = element.doc;
        let mut signatures = element.children_named(DSIG_NS, "Signature");
        let signature = signatures
            .next()
            .ok_or(Error::Signature(SignatureError::Missing))?;
        if signatures.next().is_some() {
            return Err(Error::Signature(SignatureError::Multiple));
        }
        refuse_hidden_content(signature)?;
        let parts = structure_children(signature)?;
        let (signed_info_el, value_el, key_info) = match parts.as_slice() {
            [s, v] => (*s, *v, None),
            [s, v, k] if is_ds(*k, "KeyInfo") => (*s, *v, Some(*k)),
            _ => {
                return Err(shape(
                    "Signature must hold SignedInfo, SignatureValue and KeyInfo",
                ));
            }
        };
        if !is_ds(signed_info_el, "SignedInfo") || !is_ds(value_el, "SignatureValue") {
            return Err(shape(
                "Signature must hold SignedInfo, SignatureValue and KeyInfo",
            ));
        }
        let claimed = parse_signed_info(signed_info_el, self.options.allow_sha1)?;

        // 1. The signature over the canonical SignedInfo.
        let mut canonical = Vec::with_capacity(1024);
        c14n::canonicalize_into(
            doc,
            signed_info_el.id,
            None,
            claimed.canonicalization,
            &prefix_refs(&claimed.c14n_prefixes),
            &mut canonical,
        );
        if canonical.is_empty() {
            return Err(Error::Signature(SignatureError::EmptyCanonicalization {
                what: "SignedInfo",
            }));
        }
        let signature_value = decode_base64(text_only(value_el)?).ok_or(Error::Signature(
            SignatureError::Encoding {
                field: "SignatureValue",
            },
        ))?;
        let key = self.verify_signature_value(
            claimed.signature_method,
            &canonical,
            &signature_value,
            key_info,
        )?;

        // 2. From here on, only what was verified: re-parse the canonical bytes.
        let verified_doc = Document::parse(&canonical, &Limits::default().with_max_depth(8))?;
        let signed_info = parse_signed_info(verified_doc.root(), self.options.allow_sha1)?;
        if signed_info != claimed || !verified_doc.root().is(DSIG_NS, "SignedInfo") {
            return Err(shape("SignedInfo changed under canonicalization"));
        }

        // 3. The reference must be the element that carries the signature, by a unique ID.
        let id = signed_info
            .reference_uri
            .strip_prefix('#')
            .filter(|id| is_bare_name(id))
            .ok_or_else(|| {
                Error::Signature(SignatureError::ReferenceUri {
                    uri: signed_info.reference_uri.clone(),
                })
            })?;
        let target = self.resolve_id(doc, id)?;
        if target != element.id {
            return Err(Error::Signature(SignatureError::ReferenceNotParent {
                id: id.to_owned(),
            }));
        }

        // 4. The digest of exactly that element, minus this signature.
        let (algorithm, prefixes) = signed_info
            .transform_c14n
            .clone()
            .unwrap_or((Algorithm::Inclusive, Vec::new()));
        // A same-document `URI="#id"` dereferences to the element and its descendants *but not
        // comments* (XML-DSig 1.0, 4.3.3.3), so a `#WithComments` transform after it has no
        // comments left to keep. xmlsec1 and Santuario digest the comment-less form; keeping
        // them refused every xmlsec1 signature with `#WithComments` over content with comments.
        let algorithm = without_comments(algorithm);
        let exclude = signed_info.enveloped.then_some(signature.id);
        // Hashed as it is produced, so a large element is never held twice in memory.
        let mut context = ring::digest::Context::new(signed_info.digest_method.ring());
        let written = c14n::digest_into(
            doc,
            element.id,
            exclude,
            algorithm,
            &prefix_refs(&prefixes),
            &mut context,
        );
        if written == 0 {
            return Err(Error::Signature(SignatureError::EmptyCanonicalization {
                what: "the referenced element",
            }));
        }
        let digest = context.finish();
        if digest.as_ref() != signed_info.digest_value.as_slice() {
            return Err(Error::Signature(SignatureError::DigestMismatch));
        }

        Ok(Verified {
            element: Element {
                doc,
                id: element.id,
                hidden: Some(signature.id),
            },
            info: SignatureInfo {
                signature_method: signed_info.signature_method,
                digest_method: signed_info.digest_method,
                canonicalization: signed_info.canonicalization,
                reference_id: id.to_owned(),
                key_fingerprint: key.fingerprint(),
            },
        })
    }

    /// The one element whose ID attribute is `id`; refuses a document in which any ID value
    /// appears twice.
    fn resolve_id(&self, doc: &Document, id: &str) -> Result<u32, Error> {
        let mut ids: Vec<(&str, u32)> = Vec::new();
        for (index, node) in doc.nodes.iter().enumerate() {
            let NodeKind::Element(data) = &node.kind else {
                continue;
            };
            for attr in doc.attrs_of(data) {
                if attr.ns == NO_NAMESPACE
                    && self
                        .options
                        .id_attributes
                        .iter()
                        .any(|name| name == doc.str(attr.local))
                {
                    ids.push((
                        doc.str(attr.value),
                        u32::try_from(index).unwrap_or(u32::MAX),
                    ));
                }
            }
        }
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|w| matches!(w, [a, b] if a.0 == b.0)) {
            let repeated = pair.first().map(|p| p.0).unwrap_or_default();
            return Err(Error::Signature(SignatureError::DuplicateId {
                id: repeated.to_owned(),
            }));
        }
        ids.iter()
            .find(|(value, _)| *value == id)
            .map(|(_, node)| *node)
            .ok_or_else(|| {
                Error::Signature(SignatureError::ReferenceNotFound { id: id.to_owned() })
            })
    }

    /// Checks the signature value with the trusted keys `KeyInfo` selects (all of them when it
    /// names no certificate) and returns the key that verified.
    fn verify_signature_value(
        &self,
        method: SignatureMethod,
        message: &[u8],
        signature: &[u8],
        key_info: Option<Element<'_>>,
    ) -> Result<&TrustedKey, Error> {
        let named = match key_info {
            Some(k) => key_info_spkis(k, &self.keys)?,
            None => Vec::new(),
        };
        let mut selected: Vec<&TrustedKey> = self
            .keys
            .iter()
            .filter(|k| named.is_empty() || named.iter().any(|spki| spki.as_slice() == k.spki()))
            .collect();
        if selected.is_empty() {
            return Err(Error::Key(KeyError::Untrusted));
        }
        if let Some(now) = self.options.certificate_expiry_at {
            selected.retain(|k| k.not_after().is_none_or(|t| t >= now));
            if selected.is_empty() {
                return Err(Error::Key(KeyError::Expired));
            }
        }
        selected.retain(|k| crate::crypto::key_fits(method, k.kind()));
        if selected.is_empty() {
            return Err(Error::Key(KeyError::NoMatchingKey {
                algorithm: method.name(),
            }));
        }
        for key in selected {
            if crate::crypto::verify(method, key, message, signature)? {
                return Ok(key);
            }
        }
        Err(Error::Signature(SignatureError::Invalid))
    }
}

fn prefix_refs(prefixes: &[String]) -> Vec<&str> {
    prefixes.iter().map(String::as_str).collect()
}

/// The algorithm of the same family that drops comments: what a c14n transform amounts to on
/// the comment-less node-set of a same-document `#id` reference.
fn without_comments(algorithm: Algorithm) -> Algorithm {
    match algorithm {
        Algorithm::InclusiveWithComments => Algorithm::Inclusive,
        Algorithm::ExclusiveWithComments => Algorithm::Exclusive,
        other => other,
    }
}

/// Whether a `Reference` fragment is a bare ID (`#id`), not an XPointer (`#xpointer(...)`) or
/// empty. Deliberately wider than an NCName: real IdPs use IDs that start with a digit (bare
/// UUIDs, e.g. SecureWorks), which xmlsec1 and goxmldsig accept. The value is only ever compared
/// for equality with ID attribute values, never evaluated.
fn is_bare_name(fragment: &str) -> bool {
    !fragment.is_empty()
        && !fragment
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_include_ids_that_are_not_ncnames() {
        for id in [
            "_a1",
            "id-1",
            "28338c8c-39ab-4b94-bcdc-46f68f99d962",
            "pfx.1",
        ] {
            assert!(is_bare_name(id), "{id}");
        }
        for fragment in ["", "xpointer(/)", "xpointer(id('a'))", "a b", "a\tb", "a#b"] {
            assert!(!is_bare_name(fragment), "{fragment:?}");
        }
    }

    #[test]
    fn id_references_are_digested_without_comments() {
        assert_eq!(
            without_comments(Algorithm::ExclusiveWithComments),
            Algorithm::Exclusive
        );
        assert_eq!(
            without_comments(Algorithm::InclusiveWithComments),
            Algorithm::Inclusive
        );
        assert_eq!(without_comments(Algorithm::Exclusive), Algorithm::Exclusive);
        assert_eq!(without_comments(Algorithm::Inclusive), Algorithm::Inclusive);
    }
}
