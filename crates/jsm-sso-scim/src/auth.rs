//! Bearer-token authentication: one or more tokens per IdP, compared in constant time.
//!
//! Tokens are kept as SHA-256 digests; a presented token is hashed and compared against every
//! configured digest with `subtle`'s constant-time equality, without an early exit, so
//! neither the token's content nor its length nor which IdP it belongs to shows in timing.

use jsm_sso_core::Secret;
use jsm_sso_core::identity::IdpId;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// The configured tokens.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    entries: Vec<([u8; 32], IdpId)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "idps",
                &self.entries.iter().map(|(_, i)| i).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn hash(token: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, token);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Tokens {
    pub(crate) fn add(&mut self, idp: IdpId, token: &Secret) {
        self.entries
            .push((hash(token.expose_secret().as_bytes()), idp));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The IdP whose token is in the `Authorization` header value.
    pub(crate) fn authenticate(&self, header: Option<&[u8]>) -> Result<IdpId, Error> {
        let header = header.ok_or(Error::MissingToken)?;
        let token = header
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .and_then(|_| header.get(7..))
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.is_empty())
            .ok_or(Error::MissingToken)?;
        let presented = hash(token);
        let mut found: Option<&IdpId> = None;
        for (digest, idp) in &self.entries {
            if bool::from(digest.ct_eq(&presented)) {
                found = found.or(Some(idp));
            }
        }
        found.cloned().ok_or(Error::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    #[test]
    fn per_idp_tokens() {
        let mut t = Tokens::default();
        t.add(IdpId::from("okta"), &Secret::new("okta-token"));
        t.add(IdpId::from("entra"), &Secret::new("entra-token"));
        assert_eq!(
            t.authenticate(Some(b"Bearer okta-token")).unwrap().as_str(),
            "okta"
        );
        assert_eq!(
            t.authenticate(Some(b"bearer  entra-token "))
                .unwrap()
                .as_str(),
            "entra"
        );
        assert_eq!(
            t.authenticate(None).unwrap_err().code(),
            "scim.auth.missing"
        );
        assert_eq!(
            t.authenticate(Some(b"Basic b2t0YQ==")).unwrap_err().code(),
            "scim.auth.missing"
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer ")).unwrap_err().code(),
            "scim.auth.missing"
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer okta-token2"))
                .unwrap_err()
                .code(),
            "scim.auth.invalid"
        );
        assert_eq!(
            t.authenticate(Some(b"Bearer OKTA-TOKEN"))
                .unwrap_err()
                .code(),
            "scim.auth.invalid"
        );
        assert!(!format!("{t:?}").contains("token\""));
    }
}
