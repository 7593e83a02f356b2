//! Serving from a configuration file: the broker and the gateway built from a validated
//! [`File`] (`docs/gateway.md`), with the start-time checks that need the files, the
//! variables and the network (IdP metadata, OIDC discovery, Redis, the JSM site's request
//! types), every problem reported at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jsm_sso_broker::gate::RateLimit;
use jsm_sso_broker::jira::PropertyLedger;
use jsm_sso_broker::scim::ScimProvisioning;
use jsm_sso_broker::totp::TotpFactor;
use jsm_sso_broker::{Broker, OidcIdp, SamlIdp, Seams, SessionClaims, SessionKeys};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::identity::Protocol;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{AccessPolicy, Clock, CodedError, HttpClient, ReplayCache, Secret, StateStore};
use jsm_sso_jira::{Auth, JiraClient, JsmDirectory, Site};
use jsm_sso_mfa::{Sealer, SealingKey};
use jsm_sso_oidc::{ProviderConfig, ResponseMode};
use jsm_sso_saml::MetadataOptions;
use jsm_sso_saml::{AttributeProfile, ServiceProvider, ServiceProviderConfig};
use jsm_sso_scim::{MemoryStore, ScimService};

use crate::config::{File, Problem};
use crate::gateway::{AdminSettings, IdpButton, Parts, PortalForms, RequestForm};
use crate::reload::PolicyReloader;
use crate::security::origin_of;
use crate::{Gateway, Settings};
use jsm_sso_policy::PolicyHandle;

mod audit;
mod oidc;

/// A gateway built from a configuration file, and where it listens.
#[derive(Debug)]
pub struct Built {
    /// The gateway.
    pub gateway: Gateway,
    /// Re-reads the policy file (on `SIGHUP`).
    pub reloader: PolicyReloader,
    /// `server.listen`.
    pub listen: SocketAddr,
}

fn problem(code: &'static str, at: &str, message: String, hint: &'static str) -> Problem {
    Problem::new(code, at.to_owned(), message, hint)
}

/// A library's refusal, keeping its code and hint.
fn coded(at: &str, e: &(impl CodedError + std::fmt::Display)) -> Problem {
    Problem::new(e.code(), at.to_owned(), e.to_string(), e.hint())
}

fn string<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table.get(key).and_then(toml::Value::as_str)
}

/// Collects problems while building, so every one is reported at once.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn env(&mut self, at: &str, var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
            _ => {
                self.0.push(problem(
                    "config.env.missing",
                    at,
                    format!("variable {var} is unset or empty"),
                    "export the variable before starting the gateway",
                ));
                None
            }
        }
    }

    fn required<'a>(
        &mut self,
        table: &'a toml::Table,
        section: &str,
        key: &str,
    ) -> Option<&'a str> {
        let value = string(table, key);
        if value.is_none() {
            self.0.push(problem(
                "config.key.missing",
                &format!("{section}.{key}"),
                format!("{key} is required"),
                "see docs/gateway.md for the section's keys",
            ));
        }
        value
    }

    fn read(&mut self, at: &str, path: &str) -> Option<Vec<u8>> {
        match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.0.push(problem(
                    "config.file.unreadable",
                    at,
                    format!("{path}: {e}"),
                    "check the path and its permissions",
                ));
                None
            }
        }
    }

    fn unknown_keys(&mut self, table: &toml::Table, section: &str, known: &[&str]) {
        for key in table.keys().filter(|k| !known.contains(&k.as_str())) {
            self.0.push(problem(
                "config.key.unknown",
                &format!("{section}.{key}"),
                format!("unknown key {key}"),
                "see docs/gateway.md for the section's keys",
            ));
        }
    }
}

fn base64_key(
    problems: &mut Problems,
    at: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Option<Vec<u8>> {
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) if (min..=max).contains(&bytes.len()) => Some(bytes),
        Ok(bytes) => {
            problems.0.push(problem(
                "config.env.invalid",
                at,
                format!("the key is {} bytes, {min} to {max} needed", bytes.len()),
                "generate one with `openssl rand -base64 32`",
            ));
            None
        }
        Err(e) => {
            problems.0.push(problem(
                "config.env.invalid",
                at,
                format!("not base64: {e}"),
                "generate one with `openssl rand -base64 32`",
            ));
            None
        }
    }
}

/// HMAC-derived sub-key, so one configured secret gives independent keys (the CSRF key is
/// the same on every instance because the session key is).
fn derive(key: &[u8], label: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, label.as_bytes()).as_ref().to_vec()
}

fn http_client(plain_loopback: bool) -> Result<Arc<dyn HttpClient>, Problem> {
    jsm_sso_core::transport::ReqwestHttpClient::builder()
        .allow_plain_http(plain_loopback)
        .build()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| problem("config.invalid", "http", e.to_string(), "see the message"))
}

fn jira_client(problems: &mut Problems, jsm: &toml::Table) -> Option<JiraClient> {
    problems.unknown_keys(
        jsm,
        "jsm",
        &[
            "kind",
            "site_url",
            "email",
            "email_env",
            "api_token_env",
            "cloud_id",
            "access_token_env",
            "token_env",
        ],
    );
    let kind = problems.required(jsm, "jsm", "kind")?;
    let (site, auth) = match kind {
        "cloud" => {
            let url = problems.required(jsm, "jsm", "site_url");
            let email = match (string(jsm, "email"), string(jsm, "email_env")) {
                (Some(_), Some(_)) => {
                    problems.0.push(problem(
                        "config.key.conflict",
                        "jsm",
                        "email and email_env exclude each other".into(),
                        "keep one of them",
                    ));
                    None
                }
                (Some(e), None) => Some(e.to_owned()),
                (None, Some(var)) => problems.env("jsm.email_env", var),
                (None, None) => {
                    problems.required(jsm, "jsm", "email");
                    None
                }
            };
            let token = problems
                .required(jsm, "jsm", "api_token_env")
                .and_then(|var| problems.env("jsm.api_token_env", var));
            let site = url.and_then(|u| {
                Site::cloud(u)
                    .map_err(|e| problems.0.push(coded("jsm.site_url", &e)))
                    .ok()
            });
            (site?, Auth::basic(email?, Secret::new(token?)))
        }
        "data_center" => {
            let url = problems.required(jsm, "jsm", "site_url");
            let token = problems
                .required(jsm, "jsm", "token_env")
                .and_then(|var| problems.env("jsm.token_env", var));
            let site = url.and_then(|u| {
                Site::data_center(u)
                    .map_err(|e| problems.0.push(coded("jsm.site_url", &e)))
                    .ok()
            });
            (site?, Auth::PersonalAccessToken(Secret::new(token?)))
        }
        "cloud_oauth" => {
            let cloud_id = problems.required(jsm, "jsm", "cloud_id");
            let token = problems
                .required(jsm, "jsm", "access_token_env")
                .and_then(|var| problems.env("jsm.access_token_env", var));
            let site = cloud_id.and_then(|c| {
                Site::oauth(c)
                    .map_err(|e| problems.0.push(coded("jsm.cloud_id", &e)))
                    .ok()
            });
            (site?, Auth::Bearer(Secret::new(token?)))
        }
        other => {
            problems.0.push(problem(
                "config.value.invalid",
                "jsm.kind",
                format!("{other:?} is not cloud, cloud_oauth or data_center"),
                "set kind = \"cloud\", \"cloud_oauth\" or \"data_center\"",
            ));
            return None;
        }
    };
    JiraClient::builder(site, auth)
        .build_with_reqwest()
        .map_err(|e| problems.0.push(coded("jsm", &e)))
        .ok()
}

/// The client a `[jsm]` table describes, or every problem with it: shared with the demo,
/// which describes a real site from `JSM_*` variables the same way.
pub(crate) fn jira_client_from(jsm: &toml::Table) -> Result<JiraClient, Vec<Problem>> {
    let mut problems = Problems::default();
    match jira_client(&mut problems, jsm) {
        Some(client) if problems.0.is_empty() => Ok(client),
        _ => Err(problems.0),
    }
}

/// A SAML IdP configured by hand: `entity_id`, `sso_url` and the PEM files in
/// `certificates` (only their keys are trusted).
/// What sessions must carry for this configuration: the attributes the portal forms' fill
/// templates name, and the admin groups.
fn session_claims(portals: &[PortalForms], admin: Option<&crate::config::Admin>) -> SessionClaims {
    let mut claims = SessionClaims::new();
    let templates = portals
        .iter()
        .flat_map(|p| &p.request_types)
        .flat_map(|rt| rt.fill.values())
        .filter_map(|t| jsm_sso_policy::Template::parse(t).ok());
    for template in templates {
        for name in template.attributes() {
            claims = claims.attribute(name);
        }
    }
    for group in admin.iter().flat_map(|a| &a.groups) {
        claims = claims.group(group.as_str());
    }
    claims
}

fn manual_saml_idp(
    problems: &mut Problems,
    at: &str,
    id: &str,
    table: &toml::Table,
) -> Option<jsm_sso_saml::IdentityProvider> {
    let entity_id = problems.required(table, at, "entity_id");
    let sso_url = problems.required(table, at, "sso_url");
    let mut pem = Vec::new();
    let paths = strings(table.get("certificates"));
    if paths.is_empty() {
        problems.0.push(problem(
            "config.key.missing",
            &format!("{at}.certificates"),
            "certificates is required with sso_url".into(),
            "name the IdP's signing certificate files (PEM)",
        ));
    }
    for path in &paths {
        pem.extend(problems.read(&format!("{at}.certificates"), path)?);
        pem.push(b'\n');
    }
    let keys = jsm_sso_xmldsig::TrustedKeys::from_pem(&pem)
        .map_err(|e| problems.0.push(coded(&format!("{at}.certificates"), &e)))
        .ok()?;
    jsm_sso_saml::IdentityProvider::new(id, entity_id?, keys, Some(sso_url?.to_owned()))
        .map_err(|e| problems.0.push(coded(at, &e)))
        .ok()
}

/// The DER of the first `-----BEGIN {label}-----` block of a PEM text.
fn pem_block(text: &[u8], label: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let start = text.find(&begin)? + begin.len();
    let rest = text.get(start..)?;
    let body = rest.get(..rest.find("-----END")?)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The `private_key_jwt` key: PKCS#8 PEM, RSA (RS256) or P-256 (ES256), with its `kid`
/// and, when `certificate_file` is set, the certificate's thumbprints.
fn client_key(
    problems: &mut Problems,
    at: &str,
    table: &toml::Table,
) -> Option<jsm_sso_oidc::ClientKey> {
    let kid = problems
        .required(table, at, "private_key_kid")
        .map(str::to_owned);
    let path = problems.required(table, at, "private_key_file")?;
    let pem = problems.read(&format!("{at}.private_key_file"), path)?;
    let Some(der) = pem_block(&pem, "PRIVATE KEY") else {
        problems.0.push(problem(
            "config.value.invalid",
            &format!("{at}.private_key_file"),
            format!("{path} has no PKCS#8 PRIVATE KEY block"),
            "convert the key: openssl pkcs8 -topk8 -nocrypt -in KEY",
        ));
        return None;
    };
    let key = jsm_sso_oidc::ClientKey::rsa_pkcs8(&der, kid.clone())
        .or_else(|_| jsm_sso_oidc::ClientKey::p256_pkcs8(&der, kid.clone()))
        .map_err(|e| {
            problems
                .0
                .push(coded(&format!("{at}.private_key_file"), &e))
        })
        .ok()?;
    let key = match string(table, "certificate_file") {
        Some(path) => {
            let pem = problems.read(&format!("{at}.certificate_file"), path)?;
            match jsm_sso_saml::certificate_der_from_pem(&pem) {
                Ok(der) => key.with_certificate(&der),
                Err(e) => {
                    problems
                        .0
                        .push(coded(&format!("{at}.certificate_file"), &e));
                    return None;
                }
            }
        }
        None => key,
    };
    kid.map(|_| key)
}

/// The SP's signing key, from `signing_key_file` or `signing_key_env` (PEM).
fn sp_signing_key(
    problems: &mut Problems,
    saml: &toml::Table,
) -> Option<jsm_sso_xmldsig::SigningKey> {
    let pem = match (
        string(saml, "signing_key_file"),
        string(saml, "signing_key_env"),
    ) {
        (Some(_), Some(_)) => {
            problems.0.push(problem(
                "config.key.conflict",
                "saml",
                "signing_key_file and signing_key_env exclude each other".into(),
                "keep one of them",
            ));
            return None;
        }
        (Some(path), None) => problems.read("saml.signing_key_file", path)?,
        (None, Some(var)) => problems.env("saml.signing_key_env", var)?.into_bytes(),
        (None, None) => return None,
    };
    jsm_sso_xmldsig::SigningKey::from_pem(&pem)
        .map_err(|e| problems.0.push(coded("saml.signing_key", &e)))
        .ok()
}

fn saml_profile(name: Option<&str>) -> Option<AttributeProfile> {
    Some(match name.unwrap_or("generic") {
        "generic" => AttributeProfile::generic(),
        "entra" => AttributeProfile::entra(),
        "adfs" => AttributeProfile::adfs(),
        "okta" => AttributeProfile::okta(),
        "google" => AttributeProfile::google(),
        "keycloak" => AttributeProfile::keycloak(),
        "shibboleth" => AttributeProfile::shibboleth(),
        _ => return None,
    })
}

fn oidc_profile(name: Option<&str>, hosted_domains: Vec<String>) -> Option<jsm_sso_oidc::Profile> {
    use jsm_sso_oidc::Profile;
    Some(match name.unwrap_or("generic") {
        "generic" => Profile::Generic,
        "okta" => Profile::Okta,
        "entra" => Profile::Entra,
        "google" => Profile::Google { hosted_domains },
        "cognito" => Profile::Cognito,
        "keycloak" => Profile::Keycloak,
        "verified_emails" => Profile::VerifiedEmails,
        "azure_b2c" => Profile::AzureB2C,
        _ => return None,
    })
}

fn strings(value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the broker and the gateway from a validated file (see [`crate::config::load`]).
///
/// # Errors
///
/// Every problem found: variables, files, the policy, IdP metadata and discovery, Redis,
/// the JSM site (request types and their required fields), with the libraries' codes.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the file, in its section order"
)]
pub async fn build(file: &File) -> Result<Built, Vec<Problem>> {
    let mut problems = Problems::default();
    let base = crate::config::check_base_url(&file.server.base_url).map_err(|m| {
        vec![problem(
            "config.value.invalid",
            "server.base_url",
            m,
            "see docs/gateway.md",
        )]
    })?;
    let listen = file
        .server
        .listen
        .as_deref()
        .unwrap_or("127.0.0.1:8080")
        .parse::<SocketAddr>()
        .map_err(|e| {
            vec![problem(
                "config.value.invalid",
                "server.listen",
                e.to_string(),
                "write host:port",
            )]
        })?;
    let plain = base.starts_with("http://");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    // Session keys; the CSRF key is derived from the current one.
    let session_key = problems
        .env("session.key_env", &file.session.key_env)
        .and_then(|k| base64_key(&mut problems, "session.key_env", &k, 32, 1024));
    let mut session_keys = session_key.as_deref().and_then(|k| {
        SessionKeys::new(k)
            .map_err(|e| problems.0.push(coded("session.key_env", &e)))
            .ok()
    });
    if let Some(var) = &file.session.previous_keys_env
        && let Some(text) = problems.env("session.previous_keys_env", var)
    {
        for old in text.split(',') {
            if let Some(bytes) = base64_key(
                &mut problems,
                "session.previous_keys_env",
                old.trim(),
                32,
                1024,
            ) {
                session_keys = match session_keys.map(|k| k.with_previous(&bytes)) {
                    Some(Ok(k)) => Some(k),
                    Some(Err(e)) => {
                        problems.0.push(coded("session.previous_keys_env", &e));
                        None
                    }
                    None => None,
                };
            }
        }
    }

    // The policy.
    let policy = jsm_sso_policy::load_file(Path::new(&file.policy.file))
        .map_err(|e| problems.0.push(coded("policy.file", &e)))
        .ok();
    let declared: BTreeMap<String, String> = policy
        .as_ref()
        .map(|p| {
            p.portals()
                .map(|(id, name)| (id.to_owned(), name.to_owned()))
                .collect()
        })
        .unwrap_or_default();

    // Stores: Redis when configured, else memory.
    let mut stores: Option<(Arc<dyn StateStore>, Arc<dyn ReplayCache>)> = None;
    let mut redis_store = None;
    if let Some(redis) = &file.redis {
        problems.unknown_keys(redis, "redis", &["url_env", "key_prefix"]);
        if let Some(url) = problems
            .required(redis, "redis", "url_env")
            .and_then(|var| problems.env("redis.url_env", var))
        {
            let store = jsm_sso_redis::RedisStore::builder(url)
                .prefix(string(redis, "key_prefix").unwrap_or("jsm-sso:"))
                .clock(clock.clone())
                .connect()
                .await;
            match store {
                Ok(store) => {
                    let store = Arc::new(store);
                    stores = Some((store.clone(), store.clone()));
                    redis_store = Some(store);
                }
                Err(e) => problems.0.push(coded("redis", &e)),
            }
        }
    }
    let (store, replay) = stores.unwrap_or_else(|| {
        (
            Arc::new(MemoryStateStore::new(clock.clone(), 100_000)),
            Arc::new(MemoryReplayCache::new(clock.clone(), 100_000)),
        )
    });
    let seams = Seams::new(store.clone(), replay, clock.clone());

    let jira = jira_client(&mut problems, &file.jsm);
    let audit = audit::audit_log(&mut problems, &file.audit).await;

    // The one SAML service provider.
    let mut sp_certificates = jsm_sso_saml::SpCertificates::default();
    let mut sp_config =
        ServiceProviderConfig::new(format!("{base}/saml/metadata"), format!("{base}/saml/acs"));
    sp_config.slo_url = Some(format!("{base}/saml/slo"));
    if let Some(saml) = &file.saml {
        problems.unknown_keys(
            saml,
            "saml",
            &[
                "clock_skew_secs",
                "allow_unsolicited",
                "name_id_format",
                "signing_key_file",
                "signing_key_env",
                "signing_cert_file",
                "decryption_key_files",
                "encryption_cert_file",
                "require_signed_assertion",
            ],
        );
        sp_config.signing_key = sp_signing_key(&mut problems, saml);
        for path in strings(saml.get("decryption_key_files")) {
            if let Some(pem) = problems.read("saml.decryption_key_files", &path) {
                match jsm_sso_saml::decrypt::DecryptionKey::from_pem(&pem) {
                    Ok(key) => sp_config.decryption_keys.push(key),
                    Err(e) => problems.0.push(coded("saml.decryption_key_files", &e)),
                }
            }
        }
        for (key, slot) in [
            ("signing_cert_file", &mut sp_certificates.signing),
            ("encryption_cert_file", &mut sp_certificates.encryption),
        ] {
            if let Some(path) = string(saml, key)
                && let Some(pem) = problems.read(&format!("saml.{key}"), path)
            {
                match jsm_sso_saml::certificate_der_from_pem(&pem) {
                    Ok(der) => *slot = Some(der),
                    Err(e) => problems.0.push(coded(&format!("saml.{key}"), &e)),
                }
            }
        }
        if saml
            .get("require_signed_assertion")
            .and_then(toml::Value::as_bool)
            == Some(true)
        {
            sp_config.signature_policy = jsm_sso_saml::SignaturePolicy::Assertion;
        }
        if let Some(secs) = saml
            .get("clock_skew_secs")
            .and_then(toml::Value::as_integer)
        {
            match u64::try_from(secs) {
                Ok(s) if s <= 300 => sp_config.clock_skew = Duration::from_secs(s),
                _ => problems.0.push(problem(
                    "config.value.invalid",
                    "saml.clock_skew_secs",
                    format!("{secs} is outside 0 to 300"),
                    "allow at most five minutes of clock skew",
                )),
            }
        }
        sp_config.allow_unsolicited = saml
            .get("allow_unsolicited")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        sp_config.name_id_format = string(saml, "name_id_format").map(str::to_owned);
    }
    let sp = ServiceProvider::new(sp_config)
        .map(Arc::new)
        .map_err(|e| problems.0.push(coded("saml", &e)))
        .ok();

    // The IdPs.
    let http = http_client(plain).map_err(|p| vec![p])?;
    let mut idps: Vec<(Arc<dyn jsm_sso_broker::IdentityProvider>, IdpButton)> = Vec::new();
    let mut scim_tokens = Vec::new();
    let mut fallbacks = Vec::new();
    let mut form_origins: Vec<String> = Vec::new();
    for (i, idp) in file.idp.iter().enumerate() {
        let at = format!("idp[{i}]");
        let table: toml::Table = idp.rest.clone().into_iter().collect();
        let display = string(&table, "display_name").unwrap_or(&idp.id).to_owned();
        if table.get("fallback").and_then(toml::Value::as_bool) == Some(true) {
            fallbacks.push(idp.id.clone());
        }
        if let Some(var) = string(&table, "scim_token_env")
            && let Some(tokens) = problems.env(&format!("{at}.scim_token_env"), var)
        {
            // SCIM users of a plain OAuth 2.0 provider carry its protocol too.
            let protocol = match idp.protocol.as_str() {
                "saml" => Protocol::Saml2,
                _ if table.contains_key("oauth2") => Protocol::OAuth2,
                _ => Protocol::Oidc,
            };
            scim_tokens.push((idp.id.clone(), protocol, tokens));
        }
        if idp.protocol == "saml" {
            let Some(sp) = &sp else { continue };
            let Some(profile) = saml_profile(string(&table, "profile")) else {
                problems.0.push(problem(
                    "config.value.invalid",
                    &format!("{at}.profile"),
                    "unknown SAML attribute profile".into(),
                    "generic, entra, adfs, okta, google, keycloak or shibboleth",
                ));
                continue;
            };
            let slo_url = string(&table, "slo_url").and_then(|url| {
                let origin = origin_of(url);
                if origin.is_none() {
                    problems.0.push(problem(
                        "config.value.invalid",
                        &format!("{at}.slo_url"),
                        format!("{url:?} is not a URL"),
                        "the IdP's Single Logout URL (HTTP-Redirect binding), from its documentation or metadata",
                    ));
                }
                origin.map(|origin| (url.to_owned(), origin))
            });
            let config = match string(&table, "metadata_file") {
                Some(path) => {
                    let Some(xml) = problems.read(&format!("{at}.metadata_file"), path) else {
                        continue;
                    };
                    let mut options = MetadataOptions::new(clock.now());
                    // Federation metadata: only a document signed by this certificate.
                    if let Some(cert) = string(&table, "metadata_signing_cert_file") {
                        let at = format!("{at}.metadata_signing_cert_file");
                        let Some(pem) = problems.read(&at, cert) else {
                            continue;
                        };
                        match jsm_sso_xmldsig::TrustedKeys::from_pem(&pem) {
                            Ok(keys) => options.signed_by = Some(keys),
                            Err(e) => {
                                problems.0.push(coded(&at, &e));
                                continue;
                            }
                        }
                    }
                    jsm_sso_saml::IdentityProvider::from_metadata(
                        &xml,
                        string(&table, "entity_id"),
                        &options,
                    )
                    .map_err(|e| problems.0.push(coded(&format!("{at}.metadata_file"), &e)))
                    .ok()
                }
                // Manual: entity ID, pinned certificates (PEM files) and the SSO URL.
                None => manual_saml_idp(&mut problems, &at, &idp.id, &table),
            };
            if let Some(mut config) = config {
                config.id = idp.id.as_str().into();
                config.profile = profile;
                if let Some((url, _)) = &slo_url {
                    // The configured URL replaces what metadata says.
                    config.slo = vec![jsm_sso_saml::Endpoint {
                        binding: jsm_sso_saml::bindings::REDIRECT.to_owned(),
                        location: url.clone(),
                        response_location: None,
                    }];
                }
                let origin = config.sso.first().and_then(|e| origin_of(&e.location));
                form_origins.extend(
                    config
                        .slo
                        .iter()
                        .filter_map(|e| origin_of(&e.location))
                        .filter(|o| Some(o) != origin.as_ref()),
                );
                idps.push((
                    Arc::new(
                        SamlIdp::new(sp.clone(), config, seams.clone())
                            .display_name(display.as_str()),
                    ),
                    IdpButton {
                        id: idp.id.clone(),
                        display_name: display,
                        origin,
                    },
                ));
            }
        } else {
            let Some(issuer) = string(&table, "issuer") else {
                continue;
            };
            let Some(client_id) = string(&table, "client_id") else {
                continue;
            };
            let Some(profile) = oidc_profile(
                string(&table, "profile"),
                strings(table.get("hosted_domains")),
            ) else {
                problems.0.push(problem(
                    "config.value.invalid",
                    &format!("{at}.profile"),
                    "unknown OIDC claim profile".into(),
                    "generic, okta, entra, google, cognito, keycloak, azure_b2c or verified_emails",
                ));
                continue;
            };
            // Checked before the network, so every problem of the entry is reported.
            let oauth2 = oidc::oauth2_claims(&mut problems, &at, &table);
            let graph = oidc::graph_groups(&mut problems, &at, &table);
            let Some(metadata) =
                oidc::metadata(&mut problems, &at, &table, issuer, http.as_ref()).await
            else {
                continue;
            };
            let (Ok(oauth2), Ok(graph)) = (oauth2, graph) else {
                continue;
            };
            let origin = origin_of(&metadata.authorization_endpoint);
            let secret = string(&table, "client_secret_env")
                .and_then(|var| problems.env(&format!("{at}.client_secret_env"), var));
            let mut builder = ProviderConfig::builder(idp.id.as_str())
                .metadata(metadata)
                .client_id(client_id)
                .redirect_uri(format!("{base}/oidc/callback/{}", idp.id))
                .profile(profile);
            if let Some(claims) = oauth2 {
                builder = builder.oauth2_claims(claims);
            }
            if let Some(endpoint) = graph {
                builder = builder.graph_groups_endpoint(endpoint);
            }
            if table.contains_key("scopes") {
                builder = builder.scopes(strings(table.get("scopes")));
            }
            if table.contains_key("tenants") {
                builder = builder.tenants(strings(table.get("tenants")));
            }
            if table.contains_key("trusted_audiences") {
                builder = builder.trusted_audiences(strings(table.get("trusted_audiences")));
            }
            let secs = |key: &str| {
                table
                    .get(key)
                    .and_then(toml::Value::as_integer)
                    .and_then(|n| u64::try_from(n).ok())
                    .map(Duration::from_secs)
            };
            if let Some(leeway) = secs("leeway_secs") {
                builder = builder.leeway(leeway);
            }
            if let Some(max_age) = secs("max_age_secs") {
                builder = builder.max_age(max_age);
            }
            match string(&table, "response_mode") {
                None | Some("query") => {}
                Some("form_post") => builder = builder.response_mode(ResponseMode::FormPost),
                Some(other) => problems.0.push(problem(
                    "config.value.invalid",
                    &format!("{at}.response_mode"),
                    format!("{other:?} is not query or form_post"),
                    "write query or form_post",
                )),
            }
            if let Some(fetch) = table.get("fetch_userinfo").and_then(toml::Value::as_bool) {
                builder = builder.fetch_userinfo(fetch);
            }
            if let Some(allow) = table.get("allow_hmac").and_then(toml::Value::as_bool) {
                builder = builder.allow_hmac(allow);
            }
            if table.contains_key("algorithms") {
                let mut algorithms = Vec::new();
                for name in strings(table.get("algorithms")) {
                    match name.parse::<jsm_sso_oidc::Algorithm>() {
                        Ok(a) => algorithms.push(a),
                        Err(_) => problems.0.push(problem(
                            "config.value.invalid",
                            &format!("{at}.algorithms"),
                            format!("{name:?} is not an ID token algorithm"),
                            "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA",
                        )),
                    }
                }
                builder = builder.algorithms(algorithms);
            }
            if string(&table, "client_auth") == Some("private_key_jwt") {
                match client_key(&mut problems, &at, &table) {
                    Some(key) => builder = builder.private_key_jwt(key),
                    None => continue,
                }
            } else {
                for key in ["private_key_file", "private_key_kid", "certificate_file"] {
                    if table.contains_key(key) {
                        problems.0.push(problem(
                            "config.key.conflict",
                            &format!("{at}.{key}"),
                            format!("{key} is only used with client_auth = \"private_key_jwt\""),
                            "set client_auth = \"private_key_jwt\" or remove the key",
                        ));
                    }
                }
            }
            match (string(&table, "client_auth"), secret) {
                (Some("private_key_jwt"), None) => {}
                (None | Some("basic"), Some(s)) => {
                    builder = builder.client_secret_basic(Secret::new(s))
                }
                (Some("post"), Some(s)) => builder = builder.client_secret_post(Secret::new(s)),
                (None | Some("none"), None) => {}
                (Some(mode @ ("private_key_jwt" | "none")), Some(_)) => {
                    problems.0.push(problem(
                        "config.key.conflict",
                        &format!("{at}.client_secret_env"),
                        format!("client_auth = {mode:?} takes no client secret"),
                        "remove client_secret_env, or choose basic or post",
                    ));
                    continue;
                }
                (Some(mode @ ("basic" | "post")), None) => {
                    // An unset variable is already reported as config.env.missing.
                    if table.contains_key("client_secret_env") {
                        continue;
                    }
                    problems.0.push(problem(
                        "config.key.missing",
                        &format!("{at}.client_secret_env"),
                        format!("client_auth = {mode:?} needs client_secret_env"),
                        "name the variable holding the client secret",
                    ));
                    continue;
                }
                (Some(other), _) => {
                    problems.0.push(problem(
                        "config.value.invalid",
                        &format!("{at}.client_auth"),
                        format!("{other:?} is not basic, post, private_key_jwt or none"),
                        "write basic, post, private_key_jwt or none",
                    ));
                    continue;
                }
            }
            match builder.build() {
                Ok(config) => idps.push((
                    Arc::new(
                        OidcIdp::new(config, http.clone(), &seams).display_name(display.as_str()),
                    ),
                    IdpButton {
                        id: idp.id.clone(),
                        display_name: display,
                        origin,
                    },
                )),
                Err(e) => problems.0.push(coded(&at, &e)),
            }
        }
    }

    // The second factor.
    let mut totp = None;
    if let Some(mfa) = &file.mfa {
        // Where sealed factors live: with [redis] in Redis, shared by the fleet (a file per
        // instance would let a customer enrol again on each); else a file on one instance.
        let factors: Option<Arc<dyn jsm_sso_broker::totp::FactorStore>> = match (
            string(mfa, "secrets_file"),
            &file.redis,
        ) {
            (Some(_), Some(_)) => {
                problems.0.push(problem(
                    "config.key.conflict",
                    "mfa.secrets_file",
                    "with [redis], TOTP factors are kept in Redis (key_prefix + mfa:factor:), shared by every instance, not in a file".into(),
                    "remove secrets_file from [mfa] (to keep one instance's enrolments, run it without [redis])",
                ));
                None
            }
            // A [redis] that did not connect is reported already.
            (None, Some(_)) => redis_store.as_deref().map(|store| {
                Arc::new(jsm_sso_redis::RedisFactorStore::new(store))
                    as Arc<dyn jsm_sso_broker::totp::FactorStore>
            }),
            (Some(path), None) => crate::factors::FileFactorStore::open(Path::new(path))
                .map(|s| Arc::new(s) as Arc<dyn jsm_sso_broker::totp::FactorStore>)
                .map_err(|e| problems.0.push(coded("mfa.secrets_file", &e)))
                .ok(),
            (None, None) => {
                problems.required(mfa, "mfa", "secrets_file");
                None
            }
        };
        problems.unknown_keys(
            mfa,
            "mfa",
            &[
                "sealing_key_env",
                "previous_sealing_keys_env",
                "issuer",
                "secrets_file",
            ],
        );
        let key = problems
            .required(mfa, "mfa", "sealing_key_env")
            .and_then(|var| problems.env("mfa.sealing_key_env", var))
            .and_then(|text| {
                SealingKey::from_base64(&text)
                    .map_err(|e| problems.0.push(coded("mfa.sealing_key_env", &e)))
                    .ok()
            });
        let mut sealer = key.map(Sealer::new);
        if let Some(var) = string(mfa, "previous_sealing_keys_env")
            && let Some(text) = problems.env("mfa.previous_sealing_keys_env", var)
        {
            for old in text.split(',') {
                match SealingKey::from_base64(old.trim()) {
                    Ok(old) => sealer = sealer.map(|s| s.with_previous(old)),
                    Err(e) => problems.0.push(coded("mfa.previous_sealing_keys_env", &e)),
                }
            }
        }
        let issuer = problems.required(mfa, "mfa", "issuer");
        if let (Some(sealer), Some(issuer), Some(factors)) = (sealer, issuer, factors) {
            totp = Some(TotpFactor::new(issuer, sealer, factors, &seams));
        }
    }

    // A second factor asked for with none configured would lock those people out at
    // sign-in; stop the start instead.
    if file.mfa.is_none() {
        let rules: Vec<&str> = policy
            .iter()
            .flat_map(|p| p.rules_requiring_mfa())
            .collect();
        if !rules.is_empty() {
            problems.0.push(problem(
                "config.mfa.missing",
                "mfa",
                format!(
                    "the policy's rules {} require a second factor and there is no [mfa]",
                    rules.join(", ")
                ),
                "add an [mfa] section, or remove require_mfa from those rules",
            ));
        }
        if file
            .admin
            .as_ref()
            .is_some_and(|a| a.require_mfa != Some(false))
        {
            problems.0.push(problem(
                "config.mfa.missing",
                "admin.require_mfa",
                "admins must pass a second factor (the default) and there is no [mfa]".into(),
                "add an [mfa] section, or set [admin] require_mfa = false",
            ));
        }
    }

    // The JSM site is reached at start: every portal the policy declares must exist there
    // (which also proves the credentials), instead of failing the first sign-in.
    if let Some(jira) = &jira {
        for id in declared.keys() {
            if let Err(e) = jira.service_desk(id).await {
                problems.0.push(coded(&format!("policy.portals.{id}"), &e));
            }
        }
    }

    // Portals: declared by the policy; forms checked against the JSM site's fields.
    let mut portals = Vec::new();
    for (i, portal) in file.portal.iter().enumerate() {
        if policy.is_some() && !declared.contains_key(&portal.id) {
            problems.0.push(problem(
                "config.portal.unknown",
                &format!("portal[{i}].id"),
                format!(
                    "portal {} is not declared in the policy's [portals]",
                    portal.id
                ),
                "declare it in the policy or remove the [[portal]] entry",
            ));
            continue;
        }
        let mut forms = Vec::new();
        for (j, rt) in portal.request_type.iter().enumerate() {
            let at = format!("portal[{i}].request_type[{j}]");
            for (field, template) in &rt.fill {
                if let Err(error) = jsm_sso_policy::Template::parse(template) {
                    problems.0.push(problem(
                        "config.value.invalid",
                        &format!("{at}.fill.{field}"),
                        format!("{error} ({})", error.code()),
                        "use {email}, {email.domain}, {email.local}, {idp}, {subject} or {attr.NAME}",
                    ));
                }
            }
            let mut name = format!("Request type {}", rt.id);
            if let Some(jira) = &jira {
                match jira.request_type_fields(&portal.id, &rt.id).await {
                    Ok(fields) => {
                        for field in fields.request_type_fields.iter().filter(|f| {
                            f.required
                                && !rt.show.contains(&f.field_id)
                                && !rt.fill.contains_key(&f.field_id)
                        }) {
                            problems.0.push(problem(
                                "config.portal.field_required",
                                &at,
                                format!(
                                    "required field {} ({}) is neither shown nor filled",
                                    field.field_id, field.name
                                ),
                                "add the field to show or to fill",
                            ));
                        }
                        // The name the portal list shows (the fallback above stays only when Jira gives none).
                        match jira.request_type(&portal.id, &rt.id).await {
                            Ok(found) if !found.name.trim().is_empty() => name = found.name,
                            Ok(_) => {}
                            Err(e) => problems.0.push(coded(&at, &e)),
                        }
                    }
                    Err(e) => problems.0.push(coded(&at, &e)),
                }
            }
            forms.push(RequestForm {
                id: rt.id.clone(),
                name,
                show: rt.show.clone(),
                fill: rt.fill.clone(),
            });
        }
        portals.push(PortalForms {
            id: portal.id.clone(),
            request_types: forms,
        });
    }

    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    let (Some(policy), Some(jira), Some((audit, stored)), Some(keys), Some(session_key)) =
        (policy, jira, audit, session_keys, session_key)
    else {
        return Err(vec![problem(
            "config.invalid",
            "config",
            "a part did not build".into(),
            "see the other problems",
        )]);
    };

    // One handle for the broker, SCIM and the admin pages, so a reload reaches all three.
    let policy = Arc::new(PolicyHandle::new(policy));
    let reloader = PolicyReloader::new(
        policy.clone(),
        PathBuf::from(&file.policy.file),
        audit.clone(),
        file.mfa.is_some(),
    );
    let home = declared.keys().next().cloned();
    let mut directory = JsmDirectory::new(jira.clone());
    if let Some(home) = &home {
        directory = directory.with_home_portal(home.as_str());
    }
    let mut builder = Broker::builder(
        seams.clone(),
        policy.clone() as Arc<dyn AccessPolicy>,
        Arc::new(directory),
        audit.clone(),
        keys,
    )
    .ledger(Arc::new(PropertyLedger::new(jira.clone())))
    .request_desk(Arc::new(jira.clone()));
    let mut buttons = Vec::new();
    for (idp, button) in idps {
        builder = builder.idp(idp);
        buttons.push(button);
    }
    for idp in &file.idp {
        for domain in &idp.domains {
            builder = builder.domain(domain, idp.id.as_str());
        }
    }
    if !fallbacks.is_empty() {
        builder = builder.fallback_idps(fallbacks);
    }
    if let Some(totp) = totp {
        builder = builder.second_factor(Arc::new(totp));
    }
    if let Some(secs) = file.session.lifetime_secs {
        builder = builder.session_ttl(Duration::from_secs(secs));
    }
    builder = builder.session_claims(session_claims(&portals, file.admin.as_ref()));
    if let Some(gate) = &file.gate {
        let limit = gate
            .get("rate_limit")
            .and_then(toml::Value::as_integer)
            .unwrap_or(10);
        let window = gate
            .get("rate_window_secs")
            .and_then(toml::Value::as_integer)
            .unwrap_or(3600);
        builder = builder.rate_limit(RateLimit {
            limit: u32::try_from(limit.clamp(1, 1000)).unwrap_or(10),
            window: Duration::from_secs(u64::try_from(window.max(1)).unwrap_or(3600)),
        });
    }
    let broker = builder.build().map_err(|e| vec![coded("idp", &e)])?;

    let mut scim = None;
    if !scim_tokens.is_empty() {
        let mut hook = ScimProvisioning::new(&broker, policy.clone());
        let mut service =
            ScimService::builder(format!("{base}/scim/v2"), Arc::new(MemoryStore::new()));
        for (idp, protocol, tokens) in scim_tokens {
            hook = hook.idp(idp.as_str(), protocol, true);
            for token in tokens.split(',') {
                service = service.token(idp.as_str(), Secret::new(token.trim().to_owned()));
            }
        }
        scim = Some(Arc::new(
            service
                .hook(Arc::new(hook))
                .audit(audit.clone())
                .build()
                .map_err(|e| vec![coded("scim", &e)])?,
        ));
    }

    form_origins.sort();
    form_origins.dedup();
    let settings = Settings {
        form_origins,
        forwarded_for: file.server.forwarded_for,
        base_url: base,
        idps: buttons,
        portal_names: declared,
        portals,
        admin: file.admin.as_ref().map(|a| AdminSettings {
            idps: a.idps.clone(),
            emails: a.emails.clone(),
            groups: a.groups.clone(),
            require_mfa: a.require_mfa.unwrap_or(true),
        }),
    };
    let mut parts = Parts::new(
        broker,
        store,
        jira,
        audit,
        derive(&session_key, "jsm-sso gateway csrf"),
        settings,
    );
    parts.audit_files = stored.files;
    parts.audit_table = stored.table;
    parts.policy = Some(policy);
    parts.saml_sp = sp;
    parts.saml_certificates = sp_certificates;
    parts.scim = scim;
    parts.redis = redis_store;
    let gateway = Gateway::new(parts).map_err(|e| vec![coded("gateway", &e)])?;
    Ok(Built {
        gateway,
        reloader,
        listen,
    })
}
