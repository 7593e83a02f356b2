//! The algorithm URIs of XML Encryption 1.0/1.1 and which of them are allowed.

use super::DecryptError;

/// `http://www.w3.org/2001/04/xmlenc#`
pub(crate) const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// `http://www.w3.org/2009/xmlenc11#`
pub(crate) const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
/// `http://www.w3.org/2000/09/xmldsig#`
pub(crate) const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// The symmetric algorithm that encrypts the assertion itself (`EncryptedData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentAlgorithm {
    /// `http://www.w3.org/2009/xmlenc11#aes128-gcm`: 12-byte IV, ciphertext, 16-byte tag.
    Aes128Gcm,
    /// `http://www.w3.org/2009/xmlenc11#aes256-gcm`: 12-byte IV, ciphertext, 16-byte tag.
    Aes256Gcm,
    /// `http://www.w3.org/2001/04/xmlenc#aes128-cbc`: 16-byte IV, then CBC blocks with
    /// XML Encryption padding. Not authenticated: rely on the assertion's signature.
    Aes128Cbc,
    /// `http://www.w3.org/2001/04/xmlenc#aes256-cbc`: 16-byte IV, then CBC blocks with
    /// XML Encryption padding. Not authenticated: rely on the assertion's signature.
    Aes256Cbc,
}

impl ContentAlgorithm {
    /// All allowed content algorithms.
    pub const ALL: [ContentAlgorithm; 4] = [
        ContentAlgorithm::Aes128Gcm,
        ContentAlgorithm::Aes256Gcm,
        ContentAlgorithm::Aes128Cbc,
        ContentAlgorithm::Aes256Cbc,
    ];

    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        }
    }

    /// The algorithm for a URI, or the refusal (3DES, AES-192, anything else).
    pub(crate) fn from_uri(uri: &str) -> Result<Self, DecryptError> {
        Self::ALL
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| DecryptError::UnsupportedAlgorithm {
                role: "content encryption",
                uri: uri.to_owned(),
            })
    }

    /// Length of the AES key in bytes.
    pub(crate) fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
        }
    }
}

/// A hash function used inside RSA-OAEP, for the label digest or for MGF1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    /// SHA-1. Safe inside OAEP (no collision resistance needed); the default of both OAEP URIs.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl OaepHash {
    const ALL: [OaepHash; 5] = [
        OaepHash::Sha1,
        OaepHash::Sha224,
        OaepHash::Sha256,
        OaepHash::Sha384,
        OaepHash::Sha512,
    ];

    /// The `ds:DigestMethod` URI.
    pub fn digest_uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha224 => "http://www.w3.org/2001/04/xmldsig-more#sha224",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The `xenc11:MGF` URI for MGF1 with this hash.
    pub fn mgf_uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2009/xmlenc11#mgf1sha1",
            Self::Sha224 => "http://www.w3.org/2009/xmlenc11#mgf1sha224",
            Self::Sha256 => "http://www.w3.org/2009/xmlenc11#mgf1sha256",
            Self::Sha384 => "http://www.w3.org/2009/xmlenc11#mgf1sha384",
            Self::Sha512 => "http://www.w3.org/2009/xmlenc11#mgf1sha512",
        }
    }

    fn from_digest_uri(uri: &str) -> Result<Self, DecryptError> {
        Self::ALL
            .into_iter()
            .find(|h| h.digest_uri() == uri)
            .ok_or_else(|| DecryptError::UnsupportedAlgorithm {
                role: "oaep digest",
                uri: uri.to_owned(),
            })
    }

    fn from_mgf_uri(uri: &str) -> Result<Self, DecryptError> {
        Self::ALL
            .into_iter()
            .find(|h| h.mgf_uri() == uri)
            .ok_or_else(|| DecryptError::UnsupportedAlgorithm {
                role: "oaep mask generation",
                uri: uri.to_owned(),
            })
    }
}

/// How the content key is wrapped for the SP (`EncryptedKey`): RSA-OAEP only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTransport {
    /// `http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p`: MGF1 is always MGF1-SHA1; the
    /// `ds:DigestMethod` (default SHA-1) hashes the OAEP label.
    RsaOaepMgf1p {
        /// The OAEP digest (`ds:DigestMethod`).
        digest: OaepHash,
    },
    /// `http://www.w3.org/2009/xmlenc11#rsa-oaep`: digest from `ds:DigestMethod` (default
    /// SHA-1), mask generation from `xenc11:MGF` (default MGF1-SHA1).
    RsaOaep {
        /// The OAEP digest (`ds:DigestMethod`).
        digest: OaepHash,
        /// The hash of MGF1 (`xenc11:MGF`).
        mgf: OaepHash,
    },
}

impl KeyTransport {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaOaepMgf1p { .. } => RSA_OAEP_MGF1P,
            Self::RsaOaep { .. } => RSA_OAEP,
        }
    }

    /// The OAEP digest and MGF1 hash.
    pub(crate) fn hashes(self) -> (OaepHash, OaepHash) {
        match self {
            Self::RsaOaepMgf1p { digest } => (digest, OaepHash::Sha1),
            Self::RsaOaep { digest, mgf } => (digest, mgf),
        }
    }

    /// Reads the transport from an `EncryptionMethod`'s algorithm and its `DigestMethod` and
    /// `MGF` children (URIs, if present). RSA-1.5 is refused here, from the URI alone.
    pub(crate) fn from_parts(
        uri: &str,
        digest_uri: Option<&str>,
        mgf_uri: Option<&str>,
    ) -> Result<Self, DecryptError> {
        let digest = digest_uri
            .map(OaepHash::from_digest_uri)
            .transpose()?
            .unwrap_or(OaepHash::Sha1);
        match uri {
            RSA_1_5 => Err(DecryptError::Rsa15Refused),
            RSA_OAEP_MGF1P => {
                // The URI fixes MGF1-SHA1; an MGF naming anything else contradicts it.
                match mgf_uri.map(OaepHash::from_mgf_uri).transpose()? {
                    None | Some(OaepHash::Sha1) => Ok(Self::RsaOaepMgf1p { digest }),
                    Some(_) => Err(DecryptError::UnsupportedAlgorithm {
                        role: "oaep mask generation",
                        uri: mgf_uri.unwrap_or_default().to_owned(),
                    }),
                }
            }
            RSA_OAEP => {
                let mgf = mgf_uri
                    .map(OaepHash::from_mgf_uri)
                    .transpose()?
                    .unwrap_or(OaepHash::Sha1);
                Ok(Self::RsaOaep { digest, mgf })
            }
            other => Err(DecryptError::UnsupportedAlgorithm {
                role: "key transport",
                uri: other.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    #[test]
    fn content_uris_round_trip_and_others_are_refused() {
        for alg in ContentAlgorithm::ALL {
            assert_eq!(ContentAlgorithm::from_uri(alg.uri()), Ok(alg));
        }
        for uri in [
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            "http://www.w3.org/2009/xmlenc11#aes192-gcm",
            "http://www.w3.org/2001/04/xmlenc#kw-aes128",
            "",
        ] {
            let err = ContentAlgorithm::from_uri(uri).unwrap_err();
            assert_eq!(err.code(), "saml.decrypt.algorithm.unsupported", "{uri}");
        }
    }

    #[test]
    fn key_transport_defaults_and_refusals() {
        assert_eq!(
            KeyTransport::from_parts(RSA_OAEP_MGF1P, None, None),
            Ok(KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha1
            })
        );
        assert_eq!(
            KeyTransport::from_parts(RSA_OAEP, Some(OaepHash::Sha256.digest_uri()), None),
            Ok(KeyTransport::RsaOaep {
                digest: OaepHash::Sha256,
                mgf: OaepHash::Sha1
            })
        );
        assert_eq!(
            KeyTransport::from_parts(RSA_1_5, None, None),
            Err(DecryptError::Rsa15Refused)
        );
        let bad_digest = KeyTransport::from_parts(RSA_OAEP, Some("urn:md5"), None).unwrap_err();
        assert_eq!(bad_digest.code(), "saml.decrypt.algorithm.unsupported");
        let bad_mgf =
            KeyTransport::from_parts(RSA_OAEP_MGF1P, None, Some(OaepHash::Sha256.mgf_uri()))
                .unwrap_err();
        assert_eq!(bad_mgf.code(), "saml.decrypt.algorithm.unsupported");
        let other =
            KeyTransport::from_parts("http://www.w3.org/2001/04/xmlenc#kw-aes256", None, None)
                .unwrap_err();
        assert_eq!(other.code(), "saml.decrypt.algorithm.unsupported");
    }
}
