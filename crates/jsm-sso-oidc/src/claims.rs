//! Claims to [`VerifiedIdentity`], per provider [`Profile`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsm_sso_core::identity::{IdpId, Protocol, Subject};
use jsm_sso_core::{Email, VerifiedIdentity};
use serde_json::{Map, Value};

use crate::Error;
use crate::provider::OAuth2Claims;

/// How a provider's claims are read: which emails are trusted and where groups are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// Standard claims: `email` trusted only with `email_verified: true`; groups from
    /// `groups`.
    #[default]
    Generic,
    /// Okta: groups from `groups` (a groups claim configured on the app).
    Okta,
    /// Microsoft Entra ID: `email` is never verified (any tenant admin can set it) unless
    /// the optional claim `xms_edov` (email domain owner verified) is true; groups from
    /// `groups` and app roles from `roles`; a groups overage (`_claim_names.groups`) is
    /// an error, `oidc.claims.groups_overage`.
    Entra,
    /// Google: email trusted with `email_verified`, or when `hd` (a Workspace domain) is
    /// one of `hosted_domains` and the email is in it.
    Google {
        /// Workspace domains whose addresses are trusted.
        hosted_domains: Vec<String>,
    },
    /// AWS Cognito: groups from `cognito:groups`; `email_verified` may be the string
    /// `"true"`.
    Cognito,
    /// Keycloak: groups from `groups`, plus realm roles from `realm_access.roles`.
    Keycloak,
    /// A provider that only issues verified emails (say so only if it is true).
    VerifiedEmails,
    /// Azure AD B2C user flows: the address comes as `emails` (an array) rather than
    /// `email`; the first one is used. Trusted with `email_verified: true`, or for a local
    /// account (no `idp` claim), whose address B2C verified with a one-time code at sign-up
    /// (the user-flow default). An address from a federated account (`idp` present, a social
    /// provider) is not trusted without `email_verified`. Groups from `groups`.
    AzureB2C,
}

/// Builds the identity from validated claims (ID token, merged with userinfo).
pub(crate) fn identity(
    idp: &IdpId,
    protocol: Protocol,
    profile: &Profile,
    subject: String,
    claims: &Map<String, Value>,
    authn_instant: SystemTime,
) -> Result<VerifiedIdentity, Error> {
    let mut identity =
        VerifiedIdentity::new(idp.clone(), protocol, Subject::new(subject), authn_instant);
    let email = claims.get("email").and_then(Value::as_str).or_else(|| {
        if *profile == Profile::AzureB2C {
            claims
                .get("emails")
                .and_then(Value::as_array)
                .and_then(|emails| emails.first())
                .and_then(Value::as_str)
        } else {
            None
        }
    });
    if let Some(email) = email {
        let parsed = Email::parse(email).map_err(|_| Error::EmailInvalid {
            value: email.to_owned(),
        })?;
        identity.email_verified = email_trusted(profile, claims, &parsed);
        identity.email = Some(parsed);
    }
    identity.groups = groups(profile, claims)?;
    identity.attributes = attributes(claims);
    Ok(identity)
}

fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
        || value
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

fn email_trusted(profile: &Profile, claims: &Map<String, Value>, email: &Email) -> bool {
    let verified = is_true(claims.get("email_verified"));
    match profile {
        Profile::Entra => is_true(claims.get("xms_edov")),
        Profile::Google { hosted_domains } => {
            verified
                || claims.get("hd").and_then(Value::as_str).is_some_and(|hd| {
                    hosted_domains.iter().any(|d| d.eq_ignore_ascii_case(hd))
                        && email.domain().eq_ignore_ascii_case(hd)
                })
        }
        Profile::VerifiedEmails => true,
        Profile::AzureB2C => verified || claims.get("idp").is_none(),
        Profile::Generic | Profile::Okta | Profile::Cognito | Profile::Keycloak => verified,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn groups(profile: &Profile, claims: &Map<String, Value>) -> Result<Vec<String>, Error> {
    let mut groups = match profile {
        Profile::Cognito => strings(claims.get("cognito:groups")),
        Profile::Entra => {
            let overage = claims
                .get("_claim_names")
                .and_then(|n| n.get("groups"))
                .is_some()
                || claims.get("hasgroups").is_some_and(|v| is_true(Some(v)));
            if overage {
                return Err(Error::GroupsOverage);
            }
            let mut g = strings(claims.get("groups"));
            g.extend(strings(claims.get("roles")));
            g
        }
        Profile::Keycloak => {
            let mut g = strings(claims.get("groups"));
            g.extend(strings(
                claims.get("realm_access").and_then(|r| r.get("roles")),
            ));
            g
        }
        Profile::Generic
        | Profile::Okta
        | Profile::Google { .. }
        | Profile::VerifiedEmails
        | Profile::AzureB2C => strings(claims.get("groups")),
    };
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// The claims that are not protocol plumbing, as multi-valued strings.
fn attributes(claims: &Map<String, Value>) -> BTreeMap<String, Vec<String>> {
    const PLUMBING: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "azp",
        "at_hash",
        "c_hash",
        "auth_time",
        "jti",
        "sid",
        "_claim_names",
        "_claim_sources",
    ];
    claims
        .iter()
        .filter(|(k, _)| !PLUMBING.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let values = match v {
                Value::String(s) => vec![s.clone()],
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                Value::Array(_) => strings(Some(v)),
                Value::Null | Value::Object(_) => return None,
            };
            Some((k.clone(), values))
        })
        .collect()
}

/// The value at a dot-separated path.
pub(crate) fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

/// A scalar at a path as text (numbers too: GitHub's user id is a number).
fn text_at(value: &Value, path: &str) -> Option<String> {
    match at_path(value, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Plain OAuth 2.0: the identity from a userinfo response and configured claim paths.
pub(crate) fn oauth2_identity(
    idp: &IdpId,
    paths: &OAuth2Claims,
    userinfo: &Map<String, Value>,
    now: SystemTime,
) -> Result<VerifiedIdentity, Error> {
    let root = Value::Object(userinfo.clone());
    let subject = text_at(&root, &paths.subject).ok_or_else(|| Error::ClaimPathMissing {
        path: paths.subject.clone(),
    })?;
    let mut identity =
        VerifiedIdentity::new(idp.clone(), Protocol::OAuth2, Subject::new(subject), now);
    if let Some(email_path) = &paths.email
        && let Some(email) = text_at(&root, email_path)
    {
        let parsed = Email::parse(&email).map_err(|_| Error::EmailInvalid { value: email })?;
        identity.email_verified = paths.emails_verified
            || paths
                .email_verified
                .as_deref()
                .is_some_and(|p| is_true(at_path(&root, p)));
        identity.email = Some(parsed);
    }
    if let Some(groups_path) = &paths.groups {
        identity.groups = strings(at_path(&root, groups_path));
    }
    identity.attributes = attributes(userinfo);
    Ok(identity)
}

/// Seconds since the epoch to a time (negative clamps to the epoch).
pub(crate) fn from_unix(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn id(profile: &Profile, c: Value) -> Result<VerifiedIdentity, Error> {
        identity(
            &IdpId::from("p"),
            Protocol::Oidc,
            profile,
            "s".into(),
            &claims(c),
            UNIX_EPOCH,
        )
    }

    #[test]
    fn email_trust_per_profile() {
        let unverified = json!({"email":"a@example.com","email_verified":false});
        let verified = json!({"email":"a@example.com","email_verified":true});
        assert!(
            !id(&Profile::Generic, unverified.clone())
                .unwrap()
                .email_verified
        );
        assert!(
            id(&Profile::Generic, verified.clone())
                .unwrap()
                .email_verified
        );
        // Entra: email_verified is ignored, only xms_edov counts.
        assert!(!id(&Profile::Entra, verified).unwrap().email_verified);
        assert!(
            id(
                &Profile::Entra,
                json!({"email":"a@example.com","xms_edov":true})
            )
            .unwrap()
            .email_verified
        );
        // Cognito's string "true".
        assert!(
            id(
                &Profile::Cognito,
                json!({"email":"a@example.com","email_verified":"true"})
            )
            .unwrap()
            .email_verified
        );
        let google = Profile::Google {
            hosted_domains: vec!["example.com".into()],
        };
        assert!(
            id(&google, json!({"email":"a@example.com","hd":"example.com"}))
                .unwrap()
                .email_verified
        );
        assert!(
            !id(&google, json!({"email":"a@other.test","hd":"example.com"}))
                .unwrap()
                .email_verified
        );
        assert!(
            id(&Profile::VerifiedEmails, unverified)
                .unwrap()
                .email_verified
        );
        assert_eq!(
            id(&Profile::Generic, json!({"email":"not an email"}))
                .unwrap_err()
                .code(),
            "oidc.claims.email_invalid"
        );
    }

    #[test]
    fn azure_b2c_reads_emails_and_trusts_local_accounts_only() {
        let local = id(
            &Profile::AzureB2C,
            json!({"emails":["a@example.com","b@x.test"]}),
        )
        .unwrap();
        assert_eq!(local.email.unwrap().as_str(), "a@example.com");
        assert!(
            local.email_verified,
            "a local account's address was verified at sign-up"
        );
        let social = id(
            &Profile::AzureB2C,
            json!({"emails":["a@example.com"],"idp":"facebook.com"}),
        )
        .unwrap();
        assert!(
            !social.email_verified,
            "a federated account's address is not"
        );
        let verified_social = id(
            &Profile::AzureB2C,
            json!({"emails":["a@example.com"],"idp":"facebook.com","email_verified":true}),
        )
        .unwrap();
        assert!(verified_social.email_verified);
        // `email` wins over `emails`; a malformed first address is refused.
        let both = id(
            &Profile::AzureB2C,
            json!({"email":"c@example.com","emails":["a@example.com"]}),
        )
        .unwrap();
        assert_eq!(both.email.unwrap().as_str(), "c@example.com");
        assert_eq!(
            id(&Profile::AzureB2C, json!({"emails":["no at sign"]}))
                .unwrap_err()
                .code(),
            "oidc.claims.email_invalid"
        );
        // Other profiles do not read `emails`.
        assert!(
            id(&Profile::Generic, json!({"emails":["a@example.com"]}))
                .unwrap()
                .email
                .is_none()
        );
    }

    #[test]
    fn groups_per_profile() {
        let c = json!({"groups":["b","a"],"roles":["admin"],"cognito:groups":["cg"],
                       "realm_access":{"roles":["rr"]}});
        assert_eq!(id(&Profile::Okta, c.clone()).unwrap().groups, ["a", "b"]);
        assert_eq!(
            id(&Profile::Entra, c.clone()).unwrap().groups,
            ["a", "admin", "b"]
        );
        assert_eq!(id(&Profile::Cognito, c.clone()).unwrap().groups, ["cg"]);
        assert_eq!(id(&Profile::Keycloak, c).unwrap().groups, ["a", "b", "rr"]);
        let overage = json!({"_claim_names":{"groups":"src1"},
            "_claim_sources":{"src1":{"endpoint":"https://graph.windows.net/x/getMemberObjects"}}});
        assert_eq!(
            id(&Profile::Entra, overage).unwrap_err().code(),
            "oidc.claims.groups_overage"
        );
        assert_eq!(
            id(&Profile::Entra, json!({"hasgroups":true}))
                .unwrap_err()
                .code(),
            "oidc.claims.groups_overage"
        );
    }

    #[test]
    fn oauth2_paths() {
        let paths = OAuth2Claims {
            subject: "id".into(),
            email: Some("email".into()),
            email_verified: None,
            emails_verified: false,
            groups: Some("org.teams".into()),
        };
        let info = claims(json!({"id":12345,"email":"dev@example.com","org":{"teams":["core"]}}));
        let identity = oauth2_identity(&IdpId::from("gh"), &paths, &info, UNIX_EPOCH).unwrap();
        assert_eq!(identity.subject.value, "12345");
        assert_eq!(identity.protocol, Protocol::OAuth2);
        assert!(!identity.email_verified);
        assert_eq!(identity.groups, ["core"]);
        let missing = claims(json!({"login":"dev"}));
        assert_eq!(
            oauth2_identity(&IdpId::from("gh"), &paths, &missing, UNIX_EPOCH)
                .unwrap_err()
                .code(),
            "oidc.claims.path_missing"
        );
    }
}
