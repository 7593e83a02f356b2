//! The gateway's TOML configuration (`docs/gateway.md`): loading and start-time validation.

/// Whether `host` is a loopback host (`127.0.0.1` and the rest of 127/8, `::1`,
/// `localhost`), where a plain-`http` base URL is allowed.
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The code (`config.key.missing`, ...).
    pub code: &'static str,
    /// Where: `file:line:column` or the key's path.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub hint: &'static str,
}

impl Problem {
    /// A problem.
    #[must_use]
    pub fn new(code: &'static str, location: String, message: String, hint: &'static str) -> Self {
        Self {
            code,
            location,
            message,
            hint,
        }
    }
}

/// The file, as TOML gives it (unknown keys refused).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[server]`.
    pub server: Server,
    /// `[session]`.
    pub session: Session,
    /// `[jsm]`.
    pub jsm: toml::Table,
    /// `[policy]`.
    pub policy: PolicySection,
    /// `[audit]`.
    pub audit: toml::Table,
    /// `[mfa]`.
    pub mfa: Option<toml::Table>,
    /// `[redis]`.
    pub redis: Option<toml::Table>,
    /// `[saml]`.
    pub saml: Option<toml::Table>,
    /// `[admin]`.
    pub admin: Option<Admin>,
    /// `[gate]`.
    pub gate: Option<toml::Table>,
    /// `[[idp]]`.
    #[serde(default)]
    pub idp: Vec<Idp>,
    /// `[[portal]]`.
    #[serde(default)]
    pub portal: Vec<Portal>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The public base URL.
    pub base_url: String,
    /// The listen address.
    pub listen: Option<String>,
    /// Trust the last `X-Forwarded-For` entry.
    #[serde(default)]
    pub forwarded_for: bool,
}

/// `[session]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Variable holding the session key.
    pub key_env: String,
    /// Variable holding retired keys.
    pub previous_keys_env: Option<String>,
    /// Session lifetime.
    pub lifetime_secs: Option<u64>,
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// The policy file.
    pub file: String,
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// IdPs admins sign in through.
    pub idps: Vec<String>,
    /// Admin emails.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Admin groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Require the second factor.
    pub require_mfa: Option<bool>,
}

/// `[[idp]]`: the common keys are checked here; protocol keys stay a table for the
/// protocol crates.
#[derive(Debug, Clone, Deserialize)]
pub struct Idp {
    /// The IdP id.
    pub id: String,
    /// `saml` or `oidc`.
    pub protocol: String,
    /// Discovery domains.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The rest of the entry.
    #[serde(flatten)]
    pub rest: BTreeMap<String, toml::Value>,
}

/// `[[portal]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// The service desk id.
    pub id: String,
    /// IdPs allowed for this portal.
    pub idps: Option<Vec<String>>,
    /// The request forms.
    #[serde(default)]
    pub request_type: Vec<PortalRequestType>,
}

/// `[[portal.request_type]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalRequestType {
    /// The request type id.
    pub id: String,
    /// Fields asked.
    pub show: Vec<String>,
    /// Fields filled from the identity.
    #[serde(default)]
    pub fill: BTreeMap<String, String>,
}

const SAML_KEYS: &[&str] = &[
    "display_name",
    "fallback",
    "scim_token_env",
    "metadata_file",
    "entity_id",
    "metadata_signing_cert_file",
    "certificates",
    "sso_url",
    "slo_url",
    "profile",
];
const OIDC_KEYS: &[&str] = &[
    "display_name",
    "fallback",
    "scim_token_env",
    "issuer",
    "discovery_url",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "client_id",
    "client_auth",
    "client_secret_env",
    "private_key_file",
    "private_key_kid",
    "certificate_file",
    "scopes",
    "profile",
    "hosted_domains",
    "tenants",
    "graph_groups",
    "response_mode",
    "fetch_userinfo",
    "max_age_secs",
    "leeway_secs",
    "algorithms",
    "allow_hmac",
    "trusted_audiences",
    "oauth2",
];

fn env_value(problems: &mut Vec<Problem>, key: &str, var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            problems.push(Problem::new(
                "config.env.missing",
                key.to_owned(),
                format!("variable {var} is unset or empty"),
                "export the variable before starting the gateway",
            ));
            None
        }
    }
}

fn check_id(id: &str) -> bool {
    let mut chars = id.chars();
    (1..=64).contains(&id.len())
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks the base URL: absolute `https` (or `http` on loopback), no query or fragment.
///
/// # Errors
///
/// The reason, for a `config.value.invalid` problem.
pub fn check_base_url(text: &str) -> Result<String, String> {
    let url =
        url::Url::parse(text).map_err(|e| format!("{text:?} is not an absolute URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?} has a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url.host_str().unwrap_or_default()) => {}
        _ => {
            return Err(format!(
                "{text:?} must be https (http only on a loopback host)"
            ));
        }
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Reads and validates a configuration file, reporting every problem at once.
///
/// # Errors
///
/// Every problem found (`config.io`, `config.syntax`, `config.key.unknown`, ...).
pub fn load(path: &Path) -> Result<File, Vec<Problem>> {
    match load_partial(path)? {
        (file, problems) if problems.is_empty() => Ok(file),
        (_, problems) => Err(problems),
    }
}

/// As [`load`], but a file that parses is returned with its problems, so that the checks
/// needing it (`crate::serve::build`) can add theirs to the same report.
///
/// # Errors
///
/// `config.io`, or a file that does not parse (`config.syntax`, `config.key.*`).
pub fn load_partial(path: &Path) -> Result<(File, Vec<Problem>), Vec<Problem>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem::new(
            "config.io",
            name.clone(),
            e.to_string(),
            "check the path and its permissions",
        )]
    })?;
    parse_partial(&text, &name)
}

/// Validates configuration text named `name` (see [`load`]).
///
/// # Errors
///
/// Every problem found.
pub fn parse(text: &str, name: &str) -> Result<File, Vec<Problem>> {
    match parse_partial(text, name)? {
        (file, problems) if problems.is_empty() => Ok(file),
        (_, problems) => Err(problems),
    }
}

/// As [`parse`], returning a file that parses with its problems.
///
/// # Errors
///
/// A file that does not parse.
pub fn parse_partial(text: &str, name: &str) -> Result<(File, Vec<Problem>), Vec<Problem>> {
    let file: File = toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        let location = e
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{name}:{line}:{column}")
            })
            .unwrap_or_else(|| name.to_owned());
        let code = if message.contains("unknown field") {
            "config.key.unknown"
        } else if message.contains("missing field") {
            "config.key.missing"
        } else {
            "config.syntax"
        };
        vec![Problem::new(
            code,
            location,
            message,
            "see docs/gateway.md for the keys and their types",
        )]
    })?;
    let mut problems = Vec::new();
    if let Err(message) = check_base_url(&file.server.base_url) {
        problems.push(Problem::new(
            "config.value.invalid",
            "server.base_url".into(),
            message,
            "use https://your.domain (http only for 127.0.0.1, ::1, localhost)",
        ));
    }
    if let Some(listen) = &file.server.listen
        && listen.parse::<std::net::SocketAddr>().is_err()
    {
        problems.push(Problem::new(
            "config.value.invalid",
            "server.listen".into(),
            format!("{listen:?} is not a socket address"),
            "write host:port, e.g. 0.0.0.0:8080",
        ));
    }
    if let Some(key) = env_value(&mut problems, "session.key_env", &file.session.key_env) {
        use base64::Engine as _;
        match base64::engine::general_purpose::STANDARD.decode(key.trim()) {
            Ok(bytes) if bytes.len() >= 32 => {}
            Ok(bytes) => problems.push(Problem::new(
                "config.env.invalid",
                "session.key_env".into(),
                format!("the key is {} bytes, at least 32 needed", bytes.len()),
                "generate one with `openssl rand -base64 32`",
            )),
            Err(e) => problems.push(Problem::new(
                "config.env.invalid",
                "session.key_env".into(),
                format!("not base64: {e}"),
                "generate one with `openssl rand -base64 32`",
            )),
        }
    }
    if let Some(secs) = file.session.lifetime_secs
        && !(300..=604_800).contains(&secs)
    {
        problems.push(Problem::new(
            "config.value.invalid",
            "session.lifetime_secs".into(),
            format!("{secs} is outside 300 to 604800"),
            "choose a lifetime between five minutes and seven days",
        ));
    }
    if !Path::new(&file.policy.file).is_file() {
        problems.push(Problem::new(
            "config.file.unreadable",
            "policy.file".into(),
            format!("{} cannot be read", file.policy.file),
            "check the path and its permissions",
        ));
    }
    if file.idp.is_empty() {
        problems.push(Problem::new(
            "config.key.missing",
            "idp".into(),
            "no [[idp]] entry".into(),
            "configure at least one identity provider",
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, idp) in file.idp.iter().enumerate() {
        let at = format!("idp[{i}]");
        if !check_id(&idp.id) {
            problems.push(Problem::new(
                "config.value.invalid",
                format!("{at}.id"),
                format!("{:?} is not an IdP id", idp.id),
                "1 to 64 of a-z, 0-9, - and _, starting with a letter or digit",
            ));
        }
        if !ids.insert(idp.id.clone()) {
            problems.push(Problem::new(
                "config.idp.duplicate",
                format!("{at}.id"),
                format!("IdP {} is configured twice", idp.id),
                "give every [[idp]] its own id",
            ));
        }
        let known = match idp.protocol.as_str() {
            "saml" => SAML_KEYS,
            "oidc" => OIDC_KEYS,
            other => {
                problems.push(Problem::new(
                    "config.value.invalid",
                    format!("{at}.protocol"),
                    format!("{other:?} is not saml or oidc"),
                    "set protocol = \"saml\" or \"oidc\"",
                ));
                continue;
            }
        };
        for key in idp.rest.keys().filter(|k| !known.contains(&k.as_str())) {
            problems.push(Problem::new(
                "config.key.unknown",
                format!("{at}.{key}"),
                format!("unknown key {key} for protocol {}", idp.protocol),
                "see docs/gateway.md for the keys of this protocol",
            ));
        }
        let has = |k: &str| idp.rest.contains_key(k);
        if idp.protocol == "saml" {
            if has("metadata_file") && has("sso_url") {
                problems.push(Problem::new(
                    "config.key.conflict",
                    at.clone(),
                    "metadata_file and sso_url exclude each other".into(),
                    "use the metadata file, or the manual keys",
                ));
            } else if !(has("metadata_file")
                || (has("sso_url") && has("entity_id") && has("certificates")))
            {
                problems.push(Problem::new(
                    "config.key.missing",
                    at.clone(),
                    "neither metadata_file nor entity_id, sso_url and certificates".into(),
                    "download the IdP's metadata and name it in metadata_file",
                ));
            }
            if let Some(toml::Value::String(path)) = idp.rest.get("metadata_file")
                && !Path::new(path).is_file()
            {
                problems.push(Problem::new(
                    "config.file.unreadable",
                    format!("{at}.metadata_file"),
                    format!("{path} cannot be read"),
                    "check the path and its permissions",
                ));
            }
        } else {
            for key in ["issuer", "client_id"] {
                if !has(key) {
                    problems.push(Problem::new(
                        "config.key.missing",
                        format!("{at}.{key}"),
                        format!("{key} is required"),
                        "copy it from the provider's application registration",
                    ));
                }
            }
            if let Some(toml::Value::String(var)) = idp.rest.get("client_secret_env") {
                env_value(&mut problems, &format!("{at}.client_secret_env"), var);
            }
        }
        if let Some(toml::Value::String(var)) = idp.rest.get("scim_token_env")
            && let Some(token) = env_value(&mut problems, &format!("{at}.scim_token_env"), var)
            && token.split(',').any(|t| t.trim().len() < 32)
        {
            problems.push(Problem::new(
                "config.env.invalid",
                format!("{at}.scim_token_env"),
                "a SCIM token is shorter than 32 characters".into(),
                "generate one with `openssl rand -base64 32`",
            ));
        }
    }
    if let Some(admin) = &file.admin {
        for idp in admin.idps.iter().filter(|i| !ids.contains(*i)) {
            problems.push(Problem::new(
                "config.idp.unknown",
                "admin.idps".into(),
                format!("IdP {idp} is not configured"),
                "name an [[idp]] id",
            ));
        }
        if admin.emails.is_empty() && admin.groups.is_empty() {
            problems.push(Problem::new(
                "config.key.missing",
                "admin".into(),
                "neither emails nor groups".into(),
                "list the admins' emails or groups",
            ));
        }
    }
    for (i, portal) in file.portal.iter().enumerate() {
        for idp in portal.idps.iter().flatten().filter(|i| !ids.contains(*i)) {
            problems.push(Problem::new(
                "config.idp.unknown",
                format!("portal[{i}].idps"),
                format!("IdP {idp} is not configured"),
                "name an [[idp]] id",
            ));
        }
        for (j, rt) in portal.request_type.iter().enumerate() {
            for field in rt.fill.keys().filter(|f| rt.show.contains(f)) {
                problems.push(Problem::new(
                    "config.key.conflict",
                    format!("portal[{i}].request_type[{j}]"),
                    format!("field {field} is both shown and filled"),
                    "put the field in show or in fill, not both",
                ));
            }
        }
    }
    Ok((file, problems))
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI contract: problems on stderr, JSON on stdout"
)]
fn report(problems: &[Problem]) -> std::process::ExitCode {
    for p in problems {
        eprintln!("{}: {} [{}]", p.location, p.message, p.code);
    }
    let json = serde_json::json!({
        "error": {"code": "config.invalid", "message": format!("{} problem(s) in the configuration", problems.len()), "hint": "fix each problem listed in errors"},
        "errors": problems,
    });
    println!("{json}");
    std::process::ExitCode::from(2)
}

/// Runs `portal-gateway --config FILE [--check]`: validates the file and reports every
/// problem (`file:line:column: message` on stderr, one JSON object on stdout, exit 2);
/// without `--check`, builds the gateway ([`crate::serve::build`], which makes the
/// start-time connections) and serves it until Ctrl-C.
#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program"
)]
pub async fn run(path: &std::path::Path, check: bool) -> std::process::ExitCode {
    let (file, mut problems) = match load_partial(path) {
        Ok(loaded) => loaded,
        Err(problems) => return report(&problems),
    };
    // The start-time checks run even when the file has problems: every one is reported.
    let built = match crate::serve::build(&file).await {
        Ok(built) if problems.is_empty() => built,
        Ok(_) => return report(&problems),
        Err(more) => {
            for p in more {
                if !problems
                    .iter()
                    .any(|q| q.code == p.code && q.location == p.location)
                {
                    problems.push(p);
                }
            }
            return report(&problems);
        }
    };
    if check {
        return std::process::ExitCode::SUCCESS;
    }
    let listener = match tokio::net::TcpListener::bind(built.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("portal-gateway: listen on {}: {e}", built.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "portal-gateway: serving {} on {}",
        file.server.base_url, built.listen
    );
    if let Err(e) = built.reloader.audit_current().await {
        eprintln!("portal-gateway: audit log: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let router = built
        .gateway
        .router()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::select! {
        served = axum::serve(listener, router) => match served {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("portal-gateway: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        () = reload_on_hangup(&built.reloader) => std::process::ExitCode::FAILURE,
        _ = tokio::signal::ctrl_c() => std::process::ExitCode::SUCCESS,
    }
}

/// Re-reads the policy file on every `SIGHUP`; returns only if the signal cannot be
/// watched (then the server stops rather than silently ignore reload requests).
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program reports reloads on its console"
)]
async fn reload_on_hangup(reloader: &crate::reload::PolicyReloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("portal-gateway: cannot watch SIGHUP: {e}");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match reloader.reload().await {
                Ok(crate::reload::Reloaded::Loaded { hash, rules }) => {
                    println!("portal-gateway: policy reloaded ({rules} rules, {hash})");
                }
                Ok(crate::reload::Reloaded::Refused { code, message }) => {
                    eprintln!(
                        "portal-gateway: policy reload refused, keeping the old one: {code}: {message}"
                    );
                }
                Err(e) => eprintln!("portal-gateway: policy reload: audit log: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        std::future::pending::<()>().await;
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<&'static str> {
        parse(text, "gateway.toml")
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.code)
            .collect()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[server]
base_url = "http://support.example.com"
listen = "nowhere"
[session]
key_env = "JSM_SSO_GATEWAY_TEST_UNSET_VARIABLE"
lifetime_secs = 5
[jsm]
[policy]
file = "/nonexistent/policy.toml"
[audit]
[admin]
idps = ["ghost"]
[[idp]]
id = "Bad Id"
protocol = "saml"
metadata_file = "/nonexistent/idp.xml"
sso_url = "https://idp.example/sso"
[[idp]]
id = "okta"
protocol = "oidc"
client_secret_env_typo = "X"
[[idp]]
id = "okta"
protocol = "ldap"
[[portal]]
id = "2"
[[portal.request_type]]
id = "10"
show = ["summary"]
fill = { summary = "{email}" }
"#;
        let found = codes(text);
        for code in [
            "config.value.invalid",
            "config.env.missing",
            "config.file.unreadable",
            "config.idp.unknown",
            "config.key.conflict",
            "config.key.unknown",
            "config.key.missing",
            "config.idp.duplicate",
        ] {
            assert!(found.contains(&code), "{code} not in {found:?}");
        }
        assert!(found.len() >= 12, "{found:?}");
    }

    #[test]
    fn syntax_and_unknown_top_level_keys_carry_a_position() {
        let problems = parse(
            "[server]\nbase_url = \"https://a.example\"\nbogus = 1\n",
            "g.toml",
        )
        .unwrap_err();
        assert_eq!(problems[0].code, "config.key.unknown");
        assert!(
            problems[0].location.starts_with("g.toml:3:"),
            "{:?}",
            problems[0]
        );
        assert_eq!(
            parse("not toml [", "g.toml").unwrap_err()[0].code,
            "config.syntax"
        );
        assert_eq!(
            load(Path::new("/nonexistent/gateway.toml")).unwrap_err()[0].code,
            "config.io"
        );
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            check_base_url("https://s.example/support/").unwrap(),
            "https://s.example/support"
        );
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://s.example").is_err());
        assert!(check_base_url("https://s.example/?q=1").is_err());
        assert!(check_base_url("/relative").is_err());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("example.com"));
    }
}
