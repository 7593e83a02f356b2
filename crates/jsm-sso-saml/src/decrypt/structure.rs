//! Reading the XML Encryption structure of a SAML encrypted element, before any cryptography:
//! every algorithm is decided and every value decoded here, so a refusal never depends on a
//! key (RSA-1.5 is refused from its URI, not after an attempt).
//!
//! Two layouts are found in the wild and both are read:
//!
//! - the `EncryptedKey` inside the `EncryptedData`'s `ds:KeyInfo` (Shibboleth, SimpleSAMLphp,
//!   Keycloak, ADFS, xmlsec1 templates);
//! - the `EncryptedKey` as a sibling of the `EncryptedData` inside the SAML element, named from
//!   `ds:KeyInfo` by `ds:RetrievalMethod URI="#id"` (Okta) or `ds:KeyName` (matching the key's
//!   `CarriedKeyName`), or not named at all (then every sibling whose `ReferenceList`, if any,
//!   points at this `EncryptedData` is a candidate).

use std::borrow::Cow;

use base64::Engine as _;
use jsm_sso_xmldsig::Element;

use super::DecryptError;
use super::DecryptOptions;
use super::algorithm::{ContentAlgorithm, DS, KeyTransport, XENC, XENC11};

const ENCRYPTED_KEY_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";
const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";
/// Largest RSA ciphertext read: the size of a 16384-bit modulus.
const MAX_KEY_CIPHERTEXT: usize = 2048;
/// Largest `OAEPparams` read.
const MAX_OAEP_PARAMS: usize = 1024;

/// An `EncryptedData`, read and decoded.
#[derive(Debug)]
pub(crate) struct EncryptedData {
    pub(crate) algorithm: ContentAlgorithm,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) keys: Vec<EncryptedKey>,
}

/// An `EncryptedKey`, read and decoded.
#[derive(Debug)]
pub(crate) struct EncryptedKey {
    pub(crate) transport: KeyTransport,
    pub(crate) label: Option<Vec<u8>>,
    pub(crate) ciphertext: Vec<u8>,
}

fn shape(detail: impl Into<String>) -> DecryptError {
    DecryptError::Shape {
        detail: detail.into(),
    }
}

/// Reads the SAML encrypted element (`EncryptedAssertion`, `EncryptedID`, ...).
pub(crate) fn read(
    encrypted: Element<'_>,
    options: &DecryptOptions,
) -> Result<EncryptedData, DecryptError> {
    let mut data = None;
    let mut siblings = Vec::new();
    for child in encrypted.child_elements() {
        if child.is(XENC, "EncryptedData") {
            if data.replace(child).is_some() {
                return Err(shape("more than one EncryptedData"));
            }
        } else if child.is(XENC, "EncryptedKey") {
            siblings.push(child);
        } else {
            return Err(shape(format!(
                "unexpected element {} in {}",
                child.local_name(),
                encrypted.local_name()
            )));
        }
    }
    let data =
        data.ok_or_else(|| shape(format!("{} has no EncryptedData", encrypted.local_name())))?;

    if let Some(kind) = data.attribute("Type")
        && kind != ELEMENT_TYPE
    {
        return Err(shape(format!(
            "EncryptedData Type is {kind:?}, expected {ELEMENT_TYPE:?}"
        )));
    }
    let method = data
        .child(XENC, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or(DecryptError::AlgorithmMissing {
            element: "EncryptedData",
        })?;
    let algorithm = ContentAlgorithm::from_uri(method.trim())?;
    let ciphertext = cipher_value(data, "EncryptedData", options.max_ciphertext_bytes)?;

    let candidates = key_candidates(data, &siblings)?;
    if candidates.is_empty() {
        return Err(DecryptError::KeyMissing {
            detail: "neither inside EncryptedData/KeyInfo nor beside EncryptedData".to_owned(),
        });
    }
    if candidates.len() > options.max_encrypted_keys {
        return Err(DecryptError::TooManyKeys {
            count: candidates.len(),
            limit: options.max_encrypted_keys,
        });
    }
    let keys = candidates
        .into_iter()
        .map(read_key)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EncryptedData {
        algorithm,
        ciphertext,
        keys,
    })
}

/// The `EncryptedKey` elements that may hold this `EncryptedData`'s key, in the order to try.
fn key_candidates<'d>(
    data: Element<'d>,
    siblings: &[Element<'d>],
) -> Result<Vec<Element<'d>>, DecryptError> {
    let mut out = Vec::new();
    let Some(key_info) = data.child(DS, "KeyInfo") else {
        out.extend(siblings.iter().copied().filter(|k| refers_to(*k, data)));
        return Ok(out);
    };
    out.extend(key_info.children_named(XENC, "EncryptedKey"));

    let mut named = false;
    for retrieval in key_info.children_named(DS, "RetrievalMethod") {
        if retrieval
            .attribute("Type")
            .is_some_and(|t| t.trim() != ENCRYPTED_KEY_TYPE)
        {
            continue;
        }
        named = true;
        let uri = retrieval.attribute("URI").unwrap_or_default().trim();
        let id = uri
            .strip_prefix('#')
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                shape(format!(
                    "RetrievalMethod URI {uri:?} is not a same-document reference #id"
                ))
            })?;
        let mut found = siblings.iter().filter(|k| k.attribute("Id") == Some(id));
        let key = found.next().ok_or_else(|| DecryptError::KeyMissing {
            detail: format!("RetrievalMethod names #{id}, and no EncryptedKey has that Id"),
        })?;
        if found.next().is_some() {
            return Err(shape(format!("more than one EncryptedKey has Id {id:?}")));
        }
        out.push(*key);
    }
    if named {
        return Ok(out);
    }

    let names: Vec<Cow<'_, str>> = key_info
        .children_named(DS, "KeyName")
        .map(|n| n.text())
        .collect();
    let by_name: Vec<Element<'d>> = siblings
        .iter()
        .copied()
        .filter(|k| {
            k.child(XENC, "CarriedKeyName")
                .is_some_and(|c| names.iter().any(|n| n.trim() == c.text().trim()))
        })
        .collect();
    if by_name.is_empty() {
        out.extend(siblings.iter().copied().filter(|k| refers_to(*k, data)));
    } else {
        out.extend(by_name);
    }
    Ok(out)
}

/// Whether a sibling `EncryptedKey` may belong to `data`: it has no `ReferenceList`, or one of
/// its `DataReference`s names `data`'s `Id` (when `data` has none, every key may).
fn refers_to(key: Element<'_>, data: Element<'_>) -> bool {
    let (Some(list), Some(id)) = (key.child(XENC, "ReferenceList"), data.attribute("Id")) else {
        return true;
    };
    list.children_named(XENC, "DataReference").any(|r| {
        r.attribute("URI")
            .and_then(|u| u.trim().strip_prefix('#'))
            .is_some_and(|u| u == id)
    })
}

fn read_key(key: Element<'_>) -> Result<EncryptedKey, DecryptError> {
    let method = key
        .child(XENC, "EncryptionMethod")
        .ok_or(DecryptError::AlgorithmMissing {
            element: "EncryptedKey",
        })?;
    let uri = method
        .attribute("Algorithm")
        .ok_or(DecryptError::AlgorithmMissing {
            element: "EncryptedKey",
        })?;
    let digest = method
        .child(DS, "DigestMethod")
        .map(|d| d.attribute("Algorithm").unwrap_or_default().trim());
    let mgf = method
        .child(XENC11, "MGF")
        .map(|m| m.attribute("Algorithm").unwrap_or_default().trim());
    let transport = KeyTransport::from_parts(uri.trim(), digest, mgf)?;
    let label = match method.child(XENC, "OAEPparams") {
        Some(params) => Some(decode_base64(
            &params.text(),
            "OAEPparams",
            MAX_OAEP_PARAMS,
        )?),
        None => None,
    }
    .filter(|l| !l.is_empty());
    let ciphertext = cipher_value(key, "EncryptedKey", MAX_KEY_CIPHERTEXT)?;
    Ok(EncryptedKey {
        transport,
        label,
        ciphertext,
    })
}

/// The decoded `CipherData/CipherValue` of `element`.
fn cipher_value(
    element: Element<'_>,
    name: &'static str,
    limit: usize,
) -> Result<Vec<u8>, DecryptError> {
    let mut cipher_data = element.children_named(XENC, "CipherData");
    let cipher_data = cipher_data
        .next()
        .ok_or(DecryptError::CipherValueMissing { element: name })?;
    if element.children_named(XENC, "CipherData").nth(1).is_some() {
        return Err(shape(format!("{name} has more than one CipherData")));
    }
    if cipher_data.child(XENC, "CipherReference").is_some() {
        return Err(DecryptError::CipherReference { element: name });
    }
    let value = cipher_data
        .child(XENC, "CipherValue")
        .ok_or(DecryptError::CipherValueMissing { element: name })?;
    if value.has_child_elements() {
        return Err(shape(format!("{name} CipherValue has child elements")));
    }
    decode_base64(&value.text(), name, limit)
}

/// Decodes base64 with XML white space anywhere (IdPs wrap lines), refusing, before decoding,
/// anything that would decode to more than `limit` bytes.
fn decode_base64(text: &str, element: &'static str, limit: usize) -> Result<Vec<u8>, DecryptError> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let significant = text.bytes().filter(|b| !is_space(b)).count();
    let decoded_max = significant / 4 * 3;
    if decoded_max > limit.saturating_add(3) {
        return Err(DecryptError::TooLarge {
            element,
            size: decoded_max,
            limit,
        });
    }
    let compact: Vec<u8> = text.bytes().filter(|b| !is_space(b)).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| DecryptError::Encoding { element })?;
    if bytes.len() > limit {
        return Err(DecryptError::TooLarge {
            element,
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    #[test]
    fn base64_with_line_breaks_and_limits() {
        assert_eq!(
            decode_base64(" aGVs\r\n bG8=\t", "EncryptedData", 10).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode_base64("aGVsbG8=", "EncryptedData", 4)
                .unwrap_err()
                .code(),
            "saml.decrypt.too_large"
        );
        assert_eq!(
            decode_base64("aGVsbG8", "EncryptedData", 10)
                .unwrap_err()
                .code(),
            "saml.decrypt.encoding"
        );
        assert_eq!(
            decode_base64("aGV*bG8=", "EncryptedData", 10)
                .unwrap_err()
                .code(),
            "saml.decrypt.encoding"
        );
        // Refused from the length alone, before allocating the decoded value.
        let huge = "A".repeat(4000);
        let err = decode_base64(&huge, "EncryptedData", 100).unwrap_err();
        assert_eq!(
            err,
            DecryptError::TooLarge {
                element: "EncryptedData",
                size: 3000,
                limit: 100
            }
        );
    }
}
