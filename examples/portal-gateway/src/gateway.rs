//! [`Gateway`]: the parts it runs on, its settings and its axum [`Router`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::routing::{any, get, post};
use jsm_sso_audit::sink::{FileSink, PostgresSink};
use jsm_sso_audit::{AuditLog, VerifyingKey};
use jsm_sso_broker::Broker;
use jsm_sso_core::StateStore;
use jsm_sso_jira::JiraClient;
use jsm_sso_policy::PolicyHandle;
use jsm_sso_saml::ServiceProvider;
use jsm_sso_scim::ScimService;

use crate::security::{Cookies, Csrf, content_security_policy};
use crate::{admin, pages, signin, slo};

/// How many failed sign-ins the troubleshooting page keeps (newest first).
pub const MAX_FAILURES: usize = 200;

/// An IdP button on the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpButton {
    /// The IdP id (sent as the explicit pick).
    pub id: String,
    /// The label.
    pub display_name: String,
    /// The origin of its SSO or authorization endpoint, for the CSP's `form-action`.
    pub origin: Option<String>,
}

/// One request type's form on a portal: which fields are asked and which are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestForm {
    /// The request type id.
    pub id: String,
    /// The label on the portal list (the request type's name).
    pub name: String,
    /// Field ids the form asks for, in order.
    pub show: Vec<String>,
    /// Field id -> template filled from the session (`{email}`, `{email.domain}`,
    /// `{email.local}`, `{idp}`, `{subject}`).
    pub fill: BTreeMap<String, String>,
}

/// A portal's forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalForms {
    /// The service desk id.
    pub id: String,
    /// Its request types.
    pub request_types: Vec<RequestForm>,
}

/// Who may use the admin pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// IdPs admins sign in through.
    pub idps: Vec<String>,
    /// Admin email addresses (compared case-insensitively).
    pub emails: Vec<String>,
    /// Admin groups, as the IdP names them (the broker's `SessionClaims` must keep them).
    pub groups: Vec<String>,
    /// Whether admins must have passed the second factor.
    pub require_mfa: bool,
}

/// What the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The public base URL (`https://support.acme.example`, or `http://127.0.0.1:8080`
    /// for the demo), without a trailing slash.
    pub base_url: String,
    /// The sign-in page's IdP buttons.
    pub idps: Vec<IdpButton>,
    /// Portal (service desk) id -> name.
    pub portal_names: BTreeMap<String, String>,
    /// The request forms per portal.
    pub portals: Vec<PortalForms>,
    /// The admin pages; `None` answers 404 there.
    pub admin: Option<AdminSettings>,
    /// More origins forms may lead to, for the CSP's `form-action`: IdPs' Single Logout
    /// endpoints on another origin than their sign-in endpoint.
    pub form_origins: Vec<String>,
    /// Take the client address from the last `X-Forwarded-For` entry (`[server]
    /// forwarded_for`): only behind a proxy that appends it.
    pub forwarded_for: bool,
}

/// The audit files the admin pages read and verify.
#[derive(Debug, Clone)]
pub struct AuditFiles {
    /// The file sink the log writes to.
    pub sink: Arc<FileSink>,
    /// The key that verifies its signatures.
    pub key: VerifyingKey,
}

/// The PostgreSQL audit table the admin pages read and verify (`[audit]
/// postgres_url_env`), when the log is kept there without a directory or besides one.
#[derive(Debug, Clone)]
pub struct AuditTable {
    /// The table sink the log writes to.
    pub sink: Arc<PostgresSink>,
    /// The key that verifies its signatures.
    pub key: VerifyingKey,
}

/// Everything the gateway runs on.
#[derive(Clone)]
#[non_exhaustive]
pub struct Parts {
    /// The broker.
    pub broker: Broker,
    /// The broker's state store (the gateway keeps MFA enrolment offers there).
    pub store: Arc<dyn StateStore>,
    /// The JSM client: request type fields, organizations for the admin pages.
    pub jira: JiraClient,
    /// The audit log the broker writes to.
    pub audit: AuditLog,
    /// The audit files, for the admin audit page.
    pub audit_files: Option<AuditFiles>,
    /// The audit table, read by the admin pages when there are no audit files.
    pub audit_table: Option<AuditTable>,
    /// The policy in force (the broker decides with the same handle), for the
    /// troubleshooting page.
    pub policy: Option<Arc<PolicyHandle>>,
    /// The SAML service provider, for `BASE/saml/metadata`.
    pub saml_sp: Option<Arc<ServiceProvider>>,
    /// The certificates `BASE/saml/metadata` publishes (signing, encryption).
    pub saml_certificates: jsm_sso_saml::SpCertificates,
    /// The SCIM service mounted at `BASE/scim/v2`.
    pub scim: Option<Arc<ScimService>>,
    /// The configured Redis, which `BASE/healthz` pings (503 when it does not answer).
    pub redis: Option<Arc<jsm_sso_redis::RedisStore>>,
    /// The key CSRF tokens are derived from (the same on every instance).
    pub csrf_key: Vec<u8>,
    /// The settings.
    pub settings: Settings,
}

impl Parts {
    /// The required parts; the optional ones are `None`.
    #[must_use]
    pub fn new(
        broker: Broker,
        store: Arc<dyn StateStore>,
        jira: JiraClient,
        audit: AuditLog,
        csrf_key: Vec<u8>,
        settings: Settings,
    ) -> Self {
        Self {
            broker,
            store,
            jira,
            audit,
            audit_files: None,
            audit_table: None,
            policy: None,
            saml_sp: None,
            saml_certificates: jsm_sso_saml::SpCertificates::default(),
            scim: None,
            redis: None,
            csrf_key,
            settings,
        }
    }
}

/// A failed sign-in, for the troubleshooting page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The reference shown to the customer.
    pub reference: String,
    /// When.
    pub at: SystemTime,
    /// The error code.
    pub code: &'static str,
    /// Its hint.
    pub hint: &'static str,
    /// The error's text.
    pub detail: String,
    /// The decoded SAML response, or the OIDC callback's parameters with the refused ID
    /// token's unverified header and claims.
    pub decoded: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) parts: Parts,
    pub(crate) cookies: Cookies,
    pub(crate) csrf: Csrf,
    pub(crate) csp: String,
    pub(crate) prefix: String,
    pub(crate) secure: bool,
    failures: Mutex<VecDeque<Failure>>,
}

/// The portal gateway: cheap to clone; [`router`](Self::router) serves it.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("base_url", &self.inner.parts.settings.base_url)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway on `parts`.
    ///
    /// # Errors
    ///
    /// `gateway.startup` when the base URL is not absolute `https`, or `http` on a
    /// loopback host.
    pub fn new(mut parts: Parts) -> Result<Self, crate::Error> {
        let base = parts.settings.base_url.trim_end_matches('/').to_owned();
        let url = url::Url::parse(&base)
            .map_err(|e| crate::Error::Startup(format!("base URL {base}: {e}")))?;
        let secure = match url.scheme() {
            "https" => true,
            "http" if crate::config::is_loopback(url.host_str().unwrap_or_default()) => false,
            other => {
                return Err(crate::Error::Startup(format!(
                    "base URL {base}: scheme {other} (https, or http on a loopback host)"
                )));
            }
        };
        let prefix = url.path().trim_end_matches('/').to_owned();
        parts.settings.base_url = base;
        let origins: Vec<String> = parts
            .settings
            .idps
            .iter()
            .filter_map(|i| i.origin.clone())
            .chain(parts.settings.form_origins.iter().cloned())
            .collect();
        let csrf = Csrf::new(&parts.csrf_key);
        Ok(Self {
            inner: Arc::new(Inner {
                cookies: Cookies::new(secure, &prefix),
                csrf,
                csp: content_security_policy(&origins),
                prefix,
                secure,
                parts,
                failures: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.inner.parts.settings
    }

    /// The broker.
    #[must_use]
    pub fn broker(&self) -> &Broker {
        &self.inner.parts.broker
    }

    /// Remembers a failed sign-in for the troubleshooting page.
    pub fn record_failure(&self, failure: Failure) {
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        failures.push_front(failure);
        failures.truncate(MAX_FAILURES);
    }

    /// The failed sign-ins kept, newest first.
    #[must_use]
    pub fn failures(&self) -> Vec<Failure> {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// The axum router serving every URL of `docs/gateway.md` under the base URL's path.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/", get(pages::home))
            .route("/healthz", get(pages::healthz))
            .route("/static/style.css", get(pages::style))
            .route("/static/autosubmit.js", get(pages::script))
            .route("/login", get(signin::login_page).post(signin::login_submit))
            .route("/saml/acs", post(signin::saml_acs))
            .route("/saml/metadata", get(signin::saml_metadata))
            .route(
                "/oidc/callback/{idp}",
                get(signin::oidc_callback_get).post(signin::oidc_callback_post),
            )
            .route("/mfa", get(signin::mfa_page).post(signin::mfa_submit))
            .route(
                "/mfa/enrol",
                get(signin::mfa_enrol_page).post(signin::mfa_submit),
            )
            .route("/logout", post(slo::logout))
            .route("/saml/slo", get(slo::slo_get).post(slo::slo_post))
            .route("/portals", get(pages::portals))
            .route(
                "/portals/{portal}/request/{request_type}",
                get(pages::request_form).post(pages::request_submit),
            )
            .route("/scim/v2", any(pages::scim))
            .route("/scim/v2/{*rest}", any(pages::scim))
            .route("/admin", get(admin::index))
            .route("/admin/customers", get(admin::customers))
            .route("/admin/audit", get(admin::audit))
            .route("/admin/troubleshoot", get(admin::troubleshoot))
            .layer(axum::middleware::map_response_with_state(
                self.clone(),
                pages::security_headers,
            ))
            .with_state(self.clone());
        if self.inner.prefix.is_empty() {
            routes
        } else {
            Router::new().nest(&self.inner.prefix, routes)
        }
    }
}
