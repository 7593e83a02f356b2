//! Signature and digest algorithms: the URIs XML-DSig names them by, and which are allowed.

use ring::signature;

use crate::error::SignatureError;

/// A `SignatureMethod` this crate verifies. HMAC, DSA and MD5 are never accepted; RSA-SHA1 only
/// behind [`VerifyOptions::allow_sha1`](crate::VerifyOptions::allow_sha1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// RSA PKCS#1 v1.5 with SHA-1 (legacy; refused by default).
    RsaSha1,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaSha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256 (RFC 6931).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 and MGF1-SHA-384 (RFC 6931).
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 and MGF1-SHA-512 (RFC 6931).
    RsaPssSha512,
    /// ECDSA with SHA-256, signature as raw `r || s`.
    EcdsaSha256,
    /// ECDSA with SHA-384, signature as raw `r || s`.
    EcdsaSha384,
}

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

impl SignatureMethod {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            SignatureMethod::RsaSha1 => RSA_SHA1,
            SignatureMethod::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureMethod::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            SignatureMethod::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            SignatureMethod::RsaPssSha256 => {
                "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
            }
            SignatureMethod::RsaPssSha384 => {
                "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"
            }
            SignatureMethod::RsaPssSha512 => {
                "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
            }
            SignatureMethod::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            SignatureMethod::EcdsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        }
    }

    /// A short name for messages and reports (`rsa-sha256`).
    pub fn name(self) -> &'static str {
        self.uri().rsplit('#').next().unwrap_or_default()
    }

    /// Parses a `SignatureMethod` URI, refusing everything outside the allowed set.
    pub(crate) fn from_uri(uri: &str, allow_sha1: bool) -> Result<SignatureMethod, SignatureError> {
        let method = [
            SignatureMethod::RsaSha1,
            SignatureMethod::RsaSha256,
            SignatureMethod::RsaSha384,
            SignatureMethod::RsaSha512,
            SignatureMethod::RsaPssSha256,
            SignatureMethod::RsaPssSha384,
            SignatureMethod::RsaPssSha512,
            SignatureMethod::EcdsaSha256,
            SignatureMethod::EcdsaSha384,
        ]
        .into_iter()
        .find(|m| m.uri() == uri);
        match method {
            Some(SignatureMethod::RsaSha1) if !allow_sha1 => Err(SignatureError::Sha1Refused {
                uri: uri.to_owned(),
            }),
            Some(m) => Ok(m),
            None => Err(SignatureError::UnsupportedSignatureMethod {
                uri: uri.to_owned(),
            }),
        }
    }

    /// Whether this method needs an RSA key (otherwise an EC key).
    pub(crate) fn is_rsa(self) -> bool {
        !matches!(
            self,
            SignatureMethod::EcdsaSha256 | SignatureMethod::EcdsaSha384
        )
    }

    /// The ring algorithm for RSA methods.
    pub(crate) fn rsa_algorithm(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            SignatureMethod::RsaSha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SignatureMethod::RsaSha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignatureMethod::RsaSha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SignatureMethod::RsaSha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SignatureMethod::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            SignatureMethod::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            SignatureMethod::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            SignatureMethod::EcdsaSha256 | SignatureMethod::EcdsaSha384 => return None,
        })
    }
}

/// A `DigestMethod` this crate accepts. SHA-1 only behind
/// [`VerifyOptions::allow_sha1`](crate::VerifyOptions::allow_sha1); MD5 never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestMethod {
    /// SHA-1 (legacy; refused by default).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestMethod {
    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            DigestMethod::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            DigestMethod::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            DigestMethod::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            DigestMethod::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// A short name for messages and reports (`sha256`).
    pub fn name(self) -> &'static str {
        self.uri().rsplit('#').next().unwrap_or_default()
    }

    pub(crate) fn from_uri(uri: &str, allow_sha1: bool) -> Result<DigestMethod, SignatureError> {
        let method = [
            DigestMethod::Sha1,
            DigestMethod::Sha256,
            DigestMethod::Sha384,
            DigestMethod::Sha512,
        ]
        .into_iter()
        .find(|m| m.uri() == uri);
        match method {
            Some(DigestMethod::Sha1) if !allow_sha1 => Err(SignatureError::Sha1Refused {
                uri: uri.to_owned(),
            }),
            Some(m) => Ok(m),
            None => Err(SignatureError::UnsupportedDigestMethod {
                uri: uri.to_owned(),
            }),
        }
    }

    pub(crate) fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            DigestMethod::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestMethod::Sha256 => &ring::digest::SHA256,
            DigestMethod::Sha384 => &ring::digest::SHA384,
            DigestMethod::Sha512 => &ring::digest::SHA512,
        }
    }

    /// Digest of `data`.
    pub(crate) fn digest(self, data: &[u8]) -> ring::digest::Digest {
        ring::digest::digest(self.ring(), data)
    }
}

/// The enveloped-signature transform.
pub(crate) const ENVELOPED_SIGNATURE: &str =
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// The XML-DSig namespace.
pub(crate) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The namespace of `InclusiveNamespaces`.
pub(crate) const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_needs_opt_in() {
        assert_eq!(
            SignatureMethod::from_uri(RSA_SHA1, false)
                .err()
                .map(|e| e.to_string()),
            Some(format!(
                "sha-1 algorithm {RSA_SHA1} is refused unless explicitly allowed"
            ))
        );
        assert_eq!(
            SignatureMethod::from_uri(RSA_SHA1, true),
            Ok(SignatureMethod::RsaSha1)
        );
        assert!(matches!(
            DigestMethod::from_uri("http://www.w3.org/2000/09/xmldsig#sha1", false),
            Err(SignatureError::Sha1Refused { .. })
        ));
    }

    #[test]
    fn hmac_dsa_md5_are_refused_even_with_sha1_allowed() {
        for uri in [
            "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
            "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
            "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        ] {
            assert!(matches!(
                SignatureMethod::from_uri(uri, true),
                Err(SignatureError::UnsupportedSignatureMethod { .. })
            ));
        }
        assert!(matches!(
            DigestMethod::from_uri("http://www.w3.org/2001/04/xmldsig-more#md5", true),
            Err(SignatureError::UnsupportedDigestMethod { .. })
        ));
    }

    #[test]
    fn names() {
        assert_eq!(SignatureMethod::RsaSha256.name(), "rsa-sha256");
        assert_eq!(SignatureMethod::RsaPssSha256.name(), "sha256-rsa-MGF1");
        assert_eq!(DigestMethod::Sha512.name(), "sha512");
    }
}
