//! The `[[idp]]` OIDC keys beyond discovery: manual endpoints, `graph_groups` and the
//! `[idp.oauth2]` table of a plain OAuth 2.0 provider (`docs/gateway.md`).

use jsm_sso_core::HttpClient;
use jsm_sso_oidc::{OAuth2Claims, ProviderMetadata};

use super::{Problems, problem, string, strings};

/// Microsoft Graph's "groups of the signed-in user" call, asked when an Entra token says
/// the user is in more groups than it carries.
pub(super) const GRAPH_MEMBER_OBJECTS: &str =
    "https://graph.microsoft.com/v1.0/me/getMemberObjects";

/// Scopes (with or without the `https://graph.microsoft.com/` prefix) whose access token
/// may call `getMemberObjects`: `GroupMember.Read.All` is the one Microsoft names; the
/// broader read permissions and `.default` (the app's consented permissions) also do.
const GRAPH_SCOPES: &[&str] = &[
    "groupmember.read.all",
    "group.read.all",
    "directory.read.all",
    ".default",
];

/// The manual endpoint keys: given, they replace discovery as a set.
const ENDPOINTS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
];

/// Keys that only mean something for an ID token, so not with `[idp.oauth2]`.
const ID_TOKEN_KEYS: &[&str] = &[
    "jwks_uri",
    "profile",
    "hosted_domains",
    "tenants",
    "graph_groups",
    "fetch_userinfo",
    "max_age_secs",
    "algorithms",
    "allow_hmac",
    "trusted_audiences",
];

/// An endpoint URL: absolute `https`, or `http` on a loopback host (like `base_url`).
fn endpoint(problems: &mut Problems, at: &str, key: &str, url: &str) -> Option<String> {
    let scheme_ok = url::Url::parse(url).ok().is_some_and(|u| match u.scheme() {
        "https" => u.host_str().is_some(),
        "http" => crate::config::is_loopback(u.host_str().unwrap_or_default()),
        _ => false,
    });
    if scheme_ok {
        return Some(url.to_owned());
    }
    problems.0.push(problem(
        "config.value.invalid",
        &format!("{at}.{key}"),
        format!("{url:?} is not an absolute https URL (http only on a loopback host)"),
        "copy the endpoint from the provider's documentation or discovery document",
    ));
    None
}

fn missing(problems: &mut Problems, at: &str, key: &str, message: String, hint: &'static str) {
    problems.0.push(problem(
        "config.key.missing",
        &format!("{at}.{key}"),
        message,
        hint,
    ));
}

/// The provider's metadata: the manual endpoints when `authorization_endpoint` is given
/// (discovery skipped; `token_endpoint` and, for OIDC, `jwks_uri` required; for plain
/// OAuth 2.0, `userinfo_endpoint` required and `jwks_uri` refused), else discovery at
/// `discovery_url` or under the issuer. `None` after reporting why.
pub(super) async fn metadata(
    problems: &mut Problems,
    at: &str,
    table: &toml::Table,
    issuer: &str,
    http: &dyn HttpClient,
) -> Option<ProviderMetadata> {
    let oauth2 = table.contains_key("oauth2");
    let Some(authorization) = string(table, "authorization_endpoint") else {
        let mut half = false;
        for key in ENDPOINTS.iter().filter(|k| table.contains_key(**k)) {
            half = true;
            missing(
                problems,
                at,
                "authorization_endpoint",
                format!("{key} is set without authorization_endpoint"),
                "manual endpoints replace discovery as a set: add authorization_endpoint, or remove them to use discovery",
            );
        }
        if oauth2 {
            missing(
                problems,
                at,
                "authorization_endpoint",
                "[idp.oauth2] needs authorization_endpoint, token_endpoint and userinfo_endpoint"
                    .into(),
                "copy the three endpoints from the provider's OAuth app documentation",
            );
            return None;
        }
        if half {
            return None;
        }
        let url = string(table, "discovery_url").unwrap_or(issuer);
        return match ProviderMetadata::discover(http, url).await {
            Ok(m) => Some(m),
            Err(e) => {
                problems.0.push(super::coded(&format!("{at}.issuer"), &e));
                None
            }
        };
    };
    if table.contains_key("discovery_url") {
        problems.0.push(problem(
            "config.key.conflict",
            &format!("{at}.discovery_url"),
            "discovery_url and authorization_endpoint exclude each other".into(),
            "use discovery, or the manual endpoints",
        ));
    }
    let authorization = endpoint(problems, at, "authorization_endpoint", authorization);
    let url_of =
        |problems: &mut Problems, key: &str, needed: bool, why: &str| match string(table, key) {
            Some(url) => endpoint(problems, at, key, url),
            None => {
                if needed {
                    missing(
                        problems,
                        at,
                        key,
                        format!("{key} is required with authorization_endpoint{why}"),
                        "copy the endpoint from the provider's documentation or discovery document",
                    );
                }
                None
            }
        };
    let token = url_of(problems, "token_endpoint", true, "");
    let userinfo = url_of(problems, "userinfo_endpoint", oauth2, " and [idp.oauth2]");
    let jwks = if oauth2 {
        None
    } else {
        url_of(problems, "jwks_uri", true, " for OpenID Connect")
    };
    let (authorization, token) = (authorization?, token?);
    if oauth2 && userinfo.is_none() {
        return None;
    }
    if !oauth2 && jwks.is_none() {
        return None;
    }
    let mut metadata =
        ProviderMetadata::manual(issuer, authorization, token, jwks.unwrap_or_default());
    if oauth2 {
        // No ID token, so no keys to fetch.
        metadata.jwks_uri = None;
    }
    Some(match userinfo {
        Some(url) => metadata.with_userinfo(url),
        None => metadata,
    })
}

/// A dot-separated claim path (`id`, `data.user.id`): no empty segment.
fn path(problems: &mut Problems, at: &str, key: &str, value: &toml::Value) -> Option<String> {
    match value.as_str() {
        Some(p) if !p.is_empty() && p.split('.').all(|s| !s.is_empty()) => Some(p.to_owned()),
        _ => {
            problems.0.push(problem(
                "config.value.invalid",
                &format!("{at}.oauth2.{key}"),
                format!("{value} is not a dot-separated claim path"),
                "write the path of the value in the userinfo JSON, like \"id\" or \"data.user.id\"",
            ));
            None
        }
    }
}

/// `[idp.oauth2]`: the userinfo claim paths of a plain OAuth 2.0 provider, with the
/// scopes checked (given, without `openid`) and ID-token keys refused. `Ok(None)` for an
/// OpenID provider; `Err(())` after reporting a problem.
pub(super) fn oauth2_claims(
    problems: &mut Problems,
    at: &str,
    table: &toml::Table,
) -> Result<Option<OAuth2Claims>, ()> {
    let openid = strings(table.get("scopes")).iter().any(|s| s == "openid");
    let Some(value) = table.get("oauth2") else {
        if table.contains_key("scopes") && !openid {
            missing(
                problems,
                at,
                "oauth2",
                "scopes without openid make a plain OAuth 2.0 provider, which needs [idp.oauth2]"
                    .into(),
                "add openid to scopes, or an [idp.oauth2] table with the userinfo claim paths",
            );
            return Err(());
        }
        return Ok(None);
    };
    let Some(oauth2) = value.as_table() else {
        problems.0.push(problem(
            "config.value.invalid",
            &format!("{at}.oauth2"),
            "oauth2 is not a table".into(),
            "write it as an [idp.oauth2] table under its [[idp]]",
        ));
        return Err(());
    };
    let before = problems.0.len();
    if !table.contains_key("scopes") {
        missing(
            problems,
            at,
            "scopes",
            "[idp.oauth2] needs scopes (the default asks for openid)".into(),
            "list the provider's scopes, without openid (GitHub: [\"read:user\", \"user:email\"])",
        );
    } else if openid {
        problems.0.push(problem(
            "config.key.conflict",
            &format!("{at}.scopes"),
            "scopes contain openid, and [idp.oauth2] is for providers without an ID token".into(),
            "remove openid from scopes, or remove [idp.oauth2] to use OpenID Connect",
        ));
    }
    for key in ID_TOKEN_KEYS.iter().filter(|k| table.contains_key(**k)) {
        problems.0.push(problem(
            "config.key.conflict",
            &format!("{at}.{key}"),
            format!("{key} concerns ID tokens, and an [idp.oauth2] provider issues none"),
            "remove the key (the identity comes from userinfo through the [idp.oauth2] paths)",
        ));
    }
    let known = [
        "subject",
        "email",
        "email_verified",
        "emails_verified",
        "groups",
    ];
    problems.unknown_keys(oauth2, &format!("{at}.oauth2"), &known);
    let subject = match oauth2.get("subject") {
        Some(v) => path(problems, at, "subject", v),
        None => {
            missing(
                problems,
                at,
                "oauth2.subject",
                "subject is required".into(),
                "name the userinfo field holding the stable user id (GitHub: \"id\")",
            );
            None
        }
    };
    let mut optional = |key: &str| oauth2.get(key).and_then(|v| path(problems, at, key, v));
    let (email, email_verified, groups) = (
        optional("email"),
        optional("email_verified"),
        optional("groups"),
    );
    let emails_verified = match oauth2.get("emails_verified") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            problems.0.push(problem(
                "config.value.invalid",
                &format!("{at}.oauth2.emails_verified"),
                format!("{other} is not true or false"),
                "write true only for a provider that returns verified emails only",
            ));
            false
        }
    };
    if emails_verified && email_verified.is_some() {
        problems.0.push(problem(
            "config.key.conflict",
            &format!("{at}.oauth2.email_verified"),
            "email_verified and emails_verified = true exclude each other".into(),
            "keep email_verified (the provider says per email) or emails_verified (all are)",
        ));
    }
    if problems.0.len() > before {
        return Err(());
    }
    let subject = subject.ok_or(())?;
    Ok(Some(OAuth2Claims {
        subject,
        email,
        email_verified,
        emails_verified,
        groups,
    }))
}

/// `graph_groups = true`: the Graph endpoint, for the `entra` profile with a scope whose
/// access token may call it. `Ok(None)` when off; `Err(())` after reporting a problem.
pub(super) fn graph_groups(
    problems: &mut Problems,
    at: &str,
    table: &toml::Table,
) -> Result<Option<&'static str>, ()> {
    match table.get("graph_groups") {
        None | Some(toml::Value::Boolean(false)) => return Ok(None),
        Some(toml::Value::Boolean(true)) => {}
        Some(other) => {
            problems.0.push(problem(
                "config.value.invalid",
                &format!("{at}.graph_groups"),
                format!("{other} is not true or false"),
                "write graph_groups = true or remove the key",
            ));
            return Err(());
        }
    }
    let profile = string(table, "profile").unwrap_or("generic");
    if profile != "entra" {
        problems.0.push(problem(
            "config.key.conflict",
            &format!("{at}.graph_groups"),
            format!("graph_groups is for the entra profile, and this IdP's profile is {profile}"),
            "set profile = \"entra\" (Microsoft Entra ID), or remove graph_groups",
        ));
        return Err(());
    }
    let scopes = strings(table.get("scopes"));
    let graph = scopes.iter().any(|s| {
        let lower = s.to_ascii_lowercase();
        let name = lower
            .strip_prefix("https://graph.microsoft.com/")
            .unwrap_or(&lower);
        GRAPH_SCOPES.contains(&name)
    });
    if !graph {
        problems.0.push(problem(
            "config.value.invalid",
            &format!("{at}.scopes"),
            format!(
                "graph_groups calls Microsoft Graph getMemberObjects, and scopes {scopes:?} ask for no Graph permission that allows it"
            ),
            "add GroupMember.Read.All to scopes (and grant it admin consent), e.g. [\"openid\", \"email\", \"profile\", \"GroupMember.Read.All\"]",
        ));
        return Err(());
    }
    Ok(Some(GRAPH_MEMBER_OBJECTS))
}
