//! ID token validation, OpenID Connect Core 3.1.3.7, one error code per check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsm_sso_core::Secret;
use serde_json::{Map, Value};

use crate::jwt::UnverifiedJwt;
use crate::{Algorithm, Error, KeySet};

/// The default clock skew allowed on `exp`, `nbf`, `iat` and `auth_time`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest clock skew that may be configured.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Which `iss` is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerPolicy {
    /// Exactly this issuer (the usual case).
    Exact(String),
    /// A multi-tenant issuer such as Entra's
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`: the token's `tid` must be in
    /// `tenants`, and `iss` must be the template with `{tenantid}` replaced by it.
    Tenant {
        /// The issuer with a `{tenantid}` placeholder.
        template: String,
        /// The allowed tenant ids.
        tenants: Vec<String>,
    },
}

/// Validates ID tokens of one provider for one client. Build it once per provider; it is
/// cheap to share and does no I/O.
///
/// ```
/// use jsm_sso_oidc::{IdTokenValidator, Algorithm};
/// let validator = IdTokenValidator::new("https://op.example", "client-1")
///     .leeway(std::time::Duration::from_secs(30))
///     .algorithms([Algorithm::RS256, Algorithm::ES256]);
/// assert_eq!(validator.client_id(), "client-1");
/// ```
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    issuer: IssuerPolicy,
    client_id: String,
    trusted_audiences: Vec<String>,
    algorithms: Option<Vec<Algorithm>>,
    hmac_secret: Option<Secret>,
    leeway: Duration,
}

/// What one sign-in expects of its ID token.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The time to check against.
    pub now: SystemTime,
    /// The nonce sent in the authorization request; `None` skips the check (the CLI).
    pub nonce: Option<&'a str>,
    /// The access token from the same token response (checked against `at_hash`).
    pub access_token: Option<&'a str>,
    /// The authorization code (checked against `c_hash`).
    pub code: Option<&'a str>,
    /// The `max_age` sent in the authorization request.
    pub max_age: Option<Duration>,
}

impl<'a> Expectations<'a> {
    /// Expectations at `now`, with no nonce, tokens or `max_age`.
    #[must_use]
    pub fn at(now: SystemTime) -> Self {
        Self {
            now,
            nonce: None,
            access_token: None,
            code: None,
            max_age: None,
        }
    }

    /// With the nonce sent in the authorization request.
    #[must_use]
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// With the access token of the same token response.
    #[must_use]
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }
}

/// A validated ID token: its algorithm, `kid` and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct IdToken {
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `auth_time`, seconds since the epoch, if sent.
    pub auth_time: Option<i64>,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

impl IdToken {
    /// The identity this token vouches for, read per `profile` (which emails are
    /// trusted, where groups are); `authn_instant` is `auth_time`, else `iat`.
    ///
    /// # Errors
    ///
    /// `oidc.claims.email_invalid`, `oidc.claims.groups_overage`.
    pub fn identity(
        &self,
        idp: impl Into<jsm_sso_core::identity::IdpId>,
        profile: &crate::Profile,
    ) -> Result<jsm_sso_core::VerifiedIdentity, Error> {
        crate::claims::identity(
            &idp.into(),
            jsm_sso_core::identity::Protocol::Oidc,
            profile,
            self.subject.clone(),
            &self.claims,
            crate::claims::from_unix(self.auth_time.unwrap_or(self.issued_at)),
        )
    }
}

impl IdTokenValidator {
    /// A validator for tokens from `issuer` to `client_id`: asymmetric algorithms only,
    /// no extra audiences, [`DEFAULT_LEEWAY`].
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self::with_issuer_policy(IssuerPolicy::Exact(issuer.into()), client_id)
    }

    /// A validator with an [`IssuerPolicy`] (for multi-tenant providers).
    pub fn with_issuer_policy(issuer: IssuerPolicy, client_id: impl Into<String>) -> Self {
        Self {
            issuer,
            client_id: client_id.into(),
            trusted_audiences: Vec::new(),
            algorithms: None,
            hmac_secret: None,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// The client id tokens must be issued to.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The issuer policy.
    #[must_use]
    pub fn issuer(&self) -> &IssuerPolicy {
        &self.issuer
    }

    /// Restricts the algorithms (default: every asymmetric algorithm the provider's keys
    /// allow). HMAC algorithms listed here are used only with [`Self::hmac_secret`].
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Allows HS256/384/512 keyed with the client secret. Only takes effect for HMAC
    /// algorithms also listed in [`Self::algorithms`]; without this no HMAC token is
    /// accepted, which is what stops RSA-key-as-HMAC-secret confusion.
    #[must_use]
    pub fn hmac_secret(mut self, client_secret: Secret) -> Self {
        self.hmac_secret = Some(client_secret);
        self
    }

    /// Audiences besides the client id that may appear in `aud` (default none).
    #[must_use]
    pub fn trusted_audiences(mut self, audiences: impl IntoIterator<Item = String>) -> Self {
        self.trusted_audiences = audiences.into_iter().collect();
        self
    }

    /// The allowed clock skew, at most [`MAX_LEEWAY`] (larger values are capped).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// The algorithms accepted with these keys.
    fn allowed(&self, keys: &KeySet) -> Vec<Algorithm> {
        match &self.algorithms {
            Some(list) => list
                .iter()
                .copied()
                .filter(|a| !a.is_hmac() || self.hmac_secret.is_some())
                .collect(),
            None => keys.algorithms(),
        }
    }

    /// Checks the header algorithm against the allow-list; the first step after parsing.
    ///
    /// # Errors
    ///
    /// `oidc.id_token.alg_not_allowed`; `oidc.jwks.unknown_kid` when the allow-list comes
    /// from the keys and the token names a key they lack.
    pub fn check_alg(&self, jwt: &UnverifiedJwt<'_>, keys: &KeySet) -> Result<(), Error> {
        // With the allow-list taken from the keys, a token naming a key the set lacks is
        // an unknown kid (a rotation, perhaps to another algorithm), not a bad algorithm.
        if let (None, Some(kid), false) = (&self.algorithms, jwt.kid(), jwt.alg.is_hmac())
            && !keys.knows_kid(kid)
        {
            return Err(Error::UnknownKid {
                kid: kid.to_owned(),
            });
        }
        let ok = match &self.algorithms {
            Some(list) => {
                list.contains(&jwt.alg) && (!jwt.alg.is_hmac() || self.hmac_secret.is_some())
            }
            None => keys.allows(jwt.alg),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::AlgNotAllowed {
                allowed: self.allowed(keys).iter().map(ToString::to_string).collect(),
                actual: jwt.alg.to_string(),
            })
        }
    }

    /// Validates a compact ID token against `keys`: parse, algorithm, key, signature,
    /// then every claim check of OIDC Core 3.1.3.7.
    ///
    /// # Errors
    ///
    /// The [`Error`] of the first check that fails.
    pub fn validate(
        &self,
        token: &str,
        keys: &KeySet,
        expect: &Expectations<'_>,
    ) -> Result<IdToken, Error> {
        let jwt = UnverifiedJwt::parse(token)?;
        self.check_alg(&jwt, keys)?;
        self.validate_parsed(&jwt, keys, expect)
    }

    /// [`Self::validate`] for a token already parsed and alg-checked (the provider uses it
    /// to refetch the JWKS between the steps).
    pub(crate) fn validate_parsed(
        &self,
        jwt: &UnverifiedJwt<'_>,
        keys: &KeySet,
        expect: &Expectations<'_>,
    ) -> Result<IdToken, Error> {
        self.verify_signature(jwt, keys)?;
        let claims = jwt.claims()?;
        self.check_claims(jwt, claims, expect)
    }

    fn verify_signature(&self, jwt: &UnverifiedJwt<'_>, keys: &KeySet) -> Result<(), Error> {
        let hmac_key;
        let key = if jwt.alg.is_hmac() {
            let secret = self
                .hmac_secret
                .as_ref()
                .ok_or_else(|| Error::AlgNotAllowed {
                    allowed: self.allowed(keys).iter().map(ToString::to_string).collect(),
                    actual: jwt.alg.to_string(),
                })?;
            hmac_key = jsonwebtoken::DecodingKey::from_secret(secret.expose_secret().as_bytes());
            &hmac_key
        } else {
            keys.select(jwt.alg, jwt.kid.as_deref())?
        };
        if crate::crypto::verify(
            jwt.alg.to_jwt(),
            key,
            jwt.signing_input.as_bytes(),
            &jwt.signature,
        ) {
            Ok(())
        } else {
            Err(Error::Signature {
                kid: jwt.kid.clone(),
                alg: jwt.alg.to_string(),
            })
        }
    }

    fn check_claims(
        &self,
        jwt: &UnverifiedJwt<'_>,
        claims: Map<String, Value>,
        expect: &Expectations<'_>,
    ) -> Result<IdToken, Error> {
        let now = unix_seconds(expect.now);
        let leeway = self.leeway.as_secs();
        let skew = i64::try_from(leeway).unwrap_or(i64::MAX);

        // 2. iss
        let issuer = string_claim(&claims, "iss")?.ok_or(Error::ClaimMissing { claim: "iss" })?;
        self.check_issuer(&claims, issuer)?;
        // sub is required (Core 2) and must be a non-empty string.
        let subject = string_claim(&claims, "sub")?
            .filter(|s| !s.is_empty())
            .ok_or(Error::ClaimMissing { claim: "sub" })?;
        // 3-5. aud, azp
        self.check_audience(&claims)?;
        // 9-10. exp, iat: required, numbers.
        let exp = time_claim(&claims, "exp")?.ok_or(Error::ClaimMissing { claim: "exp" })?;
        let iat = time_claim(&claims, "iat")?.ok_or(Error::ClaimMissing { claim: "iat" })?;
        if now >= exp.saturating_add(skew) {
            return Err(Error::Expired { exp, now, leeway });
        }
        if iat > now.saturating_add(skew) {
            return Err(Error::IssuedInFuture { iat, now, leeway });
        }
        if let Some(nbf) = time_claim(&claims, "nbf")?
            && nbf > now.saturating_add(skew)
        {
            return Err(Error::NotYetValid { nbf, now, leeway });
        }
        // 11. nonce
        if let Some(expected) = expect.nonce {
            match string_claim(&claims, "nonce")? {
                None => {
                    return Err(Error::NonceMissing {
                        expected: expected.to_owned(),
                    });
                }
                Some(actual) if !same(actual, expected) => {
                    return Err(Error::NonceMismatch {
                        expected: expected.to_owned(),
                        actual: actual.to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        // 3.1.3.8 / 3.3.2.11: at_hash and c_hash when present.
        if let (Some(at_hash), Some(access_token)) =
            (string_claim(&claims, "at_hash")?, expect.access_token)
        {
            let expected = crate::crypto::half_hash(jwt.alg.to_jwt(), access_token);
            if !same(at_hash, &expected) {
                return Err(Error::AtHash {
                    expected,
                    actual: at_hash.to_owned(),
                });
            }
        }
        if let (Some(c_hash), Some(code)) = (string_claim(&claims, "c_hash")?, expect.code) {
            let expected = crate::crypto::half_hash(jwt.alg.to_jwt(), code);
            if !same(c_hash, &expected) {
                return Err(Error::CHash {
                    expected,
                    actual: c_hash.to_owned(),
                });
            }
        }
        // 13. auth_time with max_age
        let auth_time = time_claim(&claims, "auth_time")?;
        if let Some(max_age) = expect.max_age {
            let max = max_age.as_secs();
            let auth_time = auth_time.ok_or(Error::AuthTimeMissing { max_age: max })?;
            let limit = auth_time
                .saturating_add(i64::try_from(max).unwrap_or(i64::MAX))
                .saturating_add(skew);
            if now > limit {
                return Err(Error::AuthTimeStale {
                    auth_time,
                    max_age: max,
                    now,
                });
            }
        }
        Ok(IdToken {
            alg: jwt.alg,
            kid: jwt.kid.clone(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            expires_at: exp,
            issued_at: iat,
            auth_time,
            claims,
        })
    }

    fn check_issuer(&self, claims: &Map<String, Value>, issuer: &str) -> Result<(), Error> {
        match &self.issuer {
            IssuerPolicy::Exact(expected)
                if expected == issuer || is_google_bare_issuer(expected, issuer) =>
            {
                Ok(())
            }
            IssuerPolicy::Exact(expected) => Err(Error::Issuer {
                expected: expected.clone(),
                actual: issuer.to_owned(),
            }),
            IssuerPolicy::Tenant { template, tenants } => {
                let tid = string_claim(claims, "tid")?;
                let Some(tid) = tid.filter(|t| tenants.iter().any(|a| a == t)) else {
                    return Err(Error::TenantNotAllowed {
                        allowed: tenants.clone(),
                        actual: tid.map(str::to_owned),
                    });
                };
                let expected = template.replace("{tenantid}", tid);
                if expected == issuer {
                    Ok(())
                } else {
                    Err(Error::Issuer {
                        expected,
                        actual: issuer.to_owned(),
                    })
                }
            }
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), Error> {
        let audiences: Vec<&str> = match claims.get("aud") {
            None => return Err(Error::ClaimMissing { claim: "aud" }),
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or(Error::ClaimType {
                    claim: "aud",
                    expected: "a string or an array of strings",
                })?,
            Some(_) => {
                return Err(Error::ClaimType {
                    claim: "aud",
                    expected: "a string or an array of strings",
                });
            }
        };
        if !audiences.contains(&self.client_id.as_str()) {
            return Err(Error::Audience {
                expected: self.client_id.clone(),
                actual: audiences.iter().map(|a| (*a).to_owned()).collect(),
            });
        }
        let untrusted: Vec<String> = audiences
            .iter()
            .filter(|a| **a != self.client_id && !self.trusted_audiences.iter().any(|t| t == *a))
            .map(|a| (*a).to_owned())
            .collect();
        if !untrusted.is_empty() {
            return Err(Error::UntrustedAudience { untrusted });
        }
        let azp = string_claim(claims, "azp")?;
        if (audiences.len() > 1 || azp.is_some()) && azp != Some(self.client_id.as_str()) {
            return Err(Error::AuthorizedParty {
                expected: self.client_id.clone(),
                actual: azp.map(str::to_owned),
            });
        }
        Ok(())
    }
}

/// Compares without an early exit (nonces and hashes).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Seconds since the epoch (negative before it).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// A string claim; present with another type is an error.
fn string_claim<'c>(
    claims: &'c Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'c str>, Error> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::ClaimType {
            claim,
            expected: "a string",
        }),
    }
}

/// A NumericDate claim: a JSON number (fractions are truncated). A string, even one of
/// digits, is refused: some libraries skipped such claims and accepted expired tokens.
fn time_claim(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, Error> {
    let wrong = Error::ClaimType {
        claim,
        expected: "a number (seconds since the epoch)",
    };
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "checked to be finite and in range; fractions of a second are dropped"
                    )]
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
                    _ => Err(wrong),
                }
            }
        }
        Some(_) => Err(wrong),
    }
}

/// Google documents that its ID tokens carry `iss` as `https://accounts.google.com` or as
/// `accounts.google.com` (without the scheme); both name the one issuer its discovery
/// document announces. This is the only spelling accepted besides the exact one.
fn is_google_bare_issuer(expected: &str, actual: &str) -> bool {
    expected == "https://accounts.google.com" && actual == "accounts.google.com"
}
