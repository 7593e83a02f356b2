//! Splitting a compact JWS and reading its header, with limits. Nothing here is trusted
//! until the signature has been checked.

use serde_json::{Map, Value};

use crate::{Algorithm, Error};

/// The largest token accepted, in bytes (Entra tokens with 200 groups are about 10 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The header fields the validator looks at. `jku`, `x5u`, `jwk` and `x5c` are read only
/// to be ignored: keys come from the provider's JWKS, never from the token.
#[derive(Debug, Clone, serde::Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    crit: Option<Value>,
    enc: Option<Value>,
}

/// A compact JWS split into its parts, header read, signature not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt<'t> {
    /// `base64url(header) "." base64url(payload)`: what was signed.
    pub(crate) signing_input: &'t str,
    pub(crate) payload_b64: &'t str,
    pub(crate) signature: Vec<u8>,
    /// The header algorithm; `none` is refused while parsing.
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
}

impl<'t> UnverifiedJwt<'t> {
    /// Splits `token` and reads its header.
    ///
    /// # Errors
    ///
    /// `oidc.jwt.too_large`, `oidc.jwt.encrypted`, `oidc.jwt.malformed`,
    /// `oidc.id_token.alg_none`, `oidc.id_token.crit_unsupported`, `oidc.id_token.typ`.
    pub fn parse(token: &'t str) -> Result<Self, Error> {
        let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::JwtTooLarge {
                len: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        let dots = token.bytes().filter(|b| *b == b'.').count();
        if dots == 4 {
            return Err(Error::JwtEncrypted);
        }
        if dots != 2 {
            return Err(Error::JwtMalformed(format!(
                "{} parts, a compact JWS has 3",
                dots + 1
            )));
        }
        let (signing_input, signature_b64) = token
            .rsplit_once('.')
            .ok_or_else(|| Error::JwtMalformed("no signature part".into()))?;
        let (header_b64, payload_b64) = signing_input
            .split_once('.')
            .ok_or_else(|| Error::JwtMalformed("no payload part".into()))?;

        let header_json = crate::b64::decode(header_b64.as_bytes())
            .ok_or_else(|| Error::JwtMalformed("header is not base64url".into()))?;
        let header: RawHeader = serde_json::from_slice(&header_json)
            .map_err(|e| Error::JwtMalformed(format!("header is not a JSON object: {e}")))?;
        if header.enc.is_some() {
            return Err(Error::JwtEncrypted);
        }
        let alg = match header.alg {
            Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
                return Err(Error::AlgNone);
            }
            Some(Value::String(alg)) => {
                alg.parse::<Algorithm>().map_err(|_| Error::AlgNotAllowed {
                    allowed: Vec::new(),
                    actual: alg.clone(),
                })?
            }
            Some(_) => return Err(Error::JwtMalformed("header alg is not a string".into())),
            None => return Err(Error::JwtMalformed("header has no alg".into())),
        };
        let kid = match header.kid {
            None => None,
            Some(Value::String(kid)) => Some(kid),
            Some(_) => return Err(Error::JwtMalformed("header kid is not a string".into())),
        };
        match header.typ {
            None => {}
            Some(Value::String(typ))
                if typ.eq_ignore_ascii_case("JWT")
                    || typ.eq_ignore_ascii_case("application/jwt") => {}
            Some(other) => {
                return Err(Error::TokenType {
                    actual: other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_owned),
                });
            }
        }
        if let Some(crit) = header.crit {
            // No extension is understood, so any `crit` (even an empty, invalid one) refuses.
            let names = match crit {
                Value::Array(names) => names
                    .iter()
                    .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_owned))
                    .collect(),
                other => vec![other.to_string()],
            };
            return Err(Error::CritUnsupported { names });
        }
        let signature = crate::b64::decode(signature_b64.as_bytes())
            .ok_or_else(|| Error::JwtMalformed("signature is not base64url".into()))?;
        Ok(UnverifiedJwt {
            signing_input,
            payload_b64,
            signature,
            alg,
            kid,
        })
    }

    /// The header's algorithm.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Decodes the payload as a JSON object (after the signature was checked).
    pub(crate) fn claims(&self) -> Result<Map<String, Value>, Error> {
        let json = crate::b64::decode(self.payload_b64.as_bytes())
            .ok_or_else(|| Error::JwtMalformed("payload is not base64url".into()))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::JwtMalformed(format!("payload is not a JSON object: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64::encode;
    use jsm_sso_core::CodedError;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            encode(header.as_bytes()),
            encode(payload.as_bytes()),
            encode(b"sig")
        )
    }

    fn code(token: &str) -> &'static str {
        UnverifiedJwt::parse(token).unwrap_err().code()
    }

    #[test]
    fn header_checks() {
        assert_eq!(
            code(&token(r#"{"alg":"none"}"#, "{}")),
            "oidc.id_token.alg_none"
        );
        assert_eq!(
            code(&token(r#"{"alg":"NoNe"}"#, "{}")),
            "oidc.id_token.alg_none"
        );
        assert_eq!(
            code(&token(r#"{"alg":"XS1"}"#, "{}")),
            "oidc.id_token.alg_not_allowed"
        );
        assert_eq!(code(&token(r#"{"kid":"a"}"#, "{}")), "oidc.jwt.malformed");
        assert_eq!(code(&token(r#"{"alg":256}"#, "{}")), "oidc.jwt.malformed");
        assert_eq!(
            code(&token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}")),
            "oidc.id_token.crit_unsupported"
        );
        assert_eq!(
            code(&token(r#"{"alg":"RS256","crit":[]}"#, "{}")),
            "oidc.id_token.crit_unsupported"
        );
        assert_eq!(
            code(&token(r#"{"alg":"RS256","typ":"at+jwt"}"#, "{}")),
            "oidc.id_token.typ"
        );
        assert_eq!(code("a.b"), "oidc.jwt.malformed");
        assert_eq!(code("a.b.c.d.e"), "oidc.jwt.encrypted");
        assert_eq!(code("!!.e30.c2ln"), "oidc.jwt.malformed");
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(code(&big), "oidc.jwt.too_large");
        let text = token(
            r#"{"alg":"ES256","kid":"k1","typ":"JWT","jku":"https://evil.example/jwks"}"#,
            "{}",
        );
        let ok = UnverifiedJwt::parse(&text).unwrap();
        assert_eq!(ok.alg(), Algorithm::ES256);
        assert_eq!(ok.kid(), Some("k1"));
    }
}
