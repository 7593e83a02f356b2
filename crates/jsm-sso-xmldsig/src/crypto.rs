//! The signature primitives, on ring.

use ring::signature::{self, UnparsedPublicKey};

use crate::algorithm::SignatureMethod;
use crate::error::{Error, SignatureError};
use crate::keys::{KeyKind, TrustedKey};

/// Whether a key of `kind` can check a signature made with `method`.
pub(crate) fn key_fits(method: SignatureMethod, kind: KeyKind) -> bool {
    method.is_rsa() == matches!(kind, KeyKind::Rsa { .. })
}

/// Byte length of one coordinate (`r` or `s`) on the key's curve.
fn coordinate_len(kind: KeyKind) -> usize {
    match kind {
        KeyKind::EcP384 => 48,
        KeyKind::EcP256 | KeyKind::Rsa { .. } => 32,
    }
}

/// Checks `signature` over `message`. `Ok(false)` means "not this key"; an `Err` means the
/// signature value itself is malformed (an ECDSA signature that is not raw `r || s`).
pub(crate) fn verify(
    method: SignatureMethod,
    key: &TrustedKey,
    message: &[u8],
    signature_value: &[u8],
) -> Result<bool, Error> {
    if let Some(params) = method.rsa_algorithm() {
        return Ok(UnparsedPublicKey::new(params, key.public_key())
            .verify(message, signature_value)
            .is_ok());
    }
    // XML-DSig carries ECDSA as the raw concatenation r || s (RFC 4050 / XML-DSig 1.1), never DER.
    let n = coordinate_len(key.kind());
    if signature_value.len() != 2 * n {
        return Err(Error::Signature(SignatureError::Encoding {
            field: "SignatureValue",
        }));
    }
    let ok = match (key.kind(), method) {
        (KeyKind::EcP256, SignatureMethod::EcdsaSha256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, key.public_key())
                .verify(message, signature_value)
                .is_ok()
        }
        (KeyKind::EcP384, SignatureMethod::EcdsaSha384) => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, key.public_key())
                .verify(message, signature_value)
                .is_ok()
        }
        // ring has the mixed curve/hash pairs only in ASN.1 form.
        (KeyKind::EcP256, SignatureMethod::EcdsaSha384) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA384_ASN1, key.public_key())
                .verify(message, &raw_to_der(signature_value, n))
                .is_ok()
        }
        (KeyKind::EcP384, SignatureMethod::EcdsaSha256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA256_ASN1, key.public_key())
                .verify(message, &raw_to_der(signature_value, n))
                .is_ok()
        }
        _ => false,
    };
    Ok(ok)
}

/// Re-encodes a raw `r || s` ECDSA signature as DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn raw_to_der(raw: &[u8], n: usize) -> Vec<u8> {
    fn integer(out: &mut Vec<u8>, bytes: &[u8]) {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let trimmed = bytes.get(first..).unwrap_or_default();
        let pad = trimmed.first().is_none_or(|b| b & 0x80 != 0);
        out.push(0x02);
        out.push(u8::try_from(trimmed.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
    }
    let (r, s) = raw.split_at(n.min(raw.len()));
    let mut body = Vec::with_capacity(2 * n + 6);
    integer(&mut body, r);
    integer(&mut body, s);
    let mut der = Vec::with_capacity(body.len() + 3);
    der.push(0x30);
    if body.len() >= 0x80 {
        der.push(0x81);
    }
    der.push(u8::try_from(body.len()).unwrap_or(0));
    der.extend_from_slice(&body);
    der
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        let mut raw = vec![0u8; 64];
        raw[31] = 1; // r = 1
        raw[32] = 0x80; // s has its top bit set: needs a leading zero
        let der = raw_to_der(&raw, 32);
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 2 + 3 + 35);
    }
}
