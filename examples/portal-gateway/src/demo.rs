//! `jsm-sso demo`: the gateway with an embedded default, no set-up. A SAML IdP (the
//! testkit's `TestIdp`) and an OIDC issuer (the testkit's `TestOp`) served in-process on
//! 127.0.0.1 with a persona-picking login page each, JSM in memory (the real REST client
//! against `MemoryJsm`) or a real JSM site ([`JsmSite`], from `JSM_BASE_URL` and
//! credentials), a sample policy (one denied domain, one group that needs a second factor),
//! TOTP, SCIM and an audit log in a temporary directory.

mod site;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use jsm_sso_audit::sink::{FileSink, FileSinkOptions};
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_broker::gate::RateLimit;
use jsm_sso_broker::jira::PropertyLedger;
use jsm_sso_broker::scim::ScimProvisioning;
use jsm_sso_broker::totp::{MemoryFactorStore, TotpFactor};
use jsm_sso_broker::{Broker, OidcIdp, SamlIdp, Seams, SessionKeys};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::identity::Protocol;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{AccessPolicy, Clock, HttpClient, Secret};
use jsm_sso_jira::JsmDirectory;
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_mfa::{Sealer, SealingKey};
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
use jsm_sso_saml::{ServiceProvider, ServiceProviderConfig};
use jsm_sso_scim::{MemoryStore, ScimService};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp, TestUser};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::gateway::{
    AdminSettings, AuditFiles, IdpButton, Parts, PortalForms, RequestForm, Settings,
};
use crate::html::{esc, page};
use crate::respond::{form_fields, html, see_other};
use crate::security::{origin_of, random_value};
use crate::{Error, Gateway};

pub use site::{ACCESS_TOKEN, API_TOKEN, BASE_URL, EMAIL, JsmSite, PAT, PORTALS};
use site::{ORGANIZATIONS, Portal};

/// The demo SAML IdP's id.
pub const SAML_IDP: &str = "acme-saml";
/// The demo OIDC issuer's id.
pub const OIDC_IDP: &str = "globex-oidc";
/// The admin persona's email.
pub const ADMIN_EMAIL: &str = "ada@acme.example";

/// The environment the demo reads, for `--help` (`jsm-sso demo`, `portal-gateway --demo`).
pub const ENV_HELP: &str = "\
Environment (all optional; without JSM_BASE_URL, JSM is in memory):
  JSM_BASE_URL      a real JSM site: https://SITE.atlassian.net, a Data Center base URL,
                    or https://api.atlassian.com/ex/jira/CLOUD_ID with JSM_ACCESS_TOKEN
  JSM_EMAIL         with JSM_API_TOKEN: the Atlassian account (a JSM agent) the demo acts as
  JSM_API_TOKEN     that account's API token (Jira Cloud)
  JSM_PAT           or: a Data Center personal access token
  JSM_ACCESS_TOKEN  or: an OAuth 2.0 access token (Jira Cloud through api.atlassian.com)
  JSM_DEMO_PORTALS  one or two service desk ids the sample policy grants (default: the
                    site's first two); organizations Acme Corp and Globex are created if absent";

/// Reads the environment ([`JsmSite::from_env`]), then runs [`Demo::serve`]: what
/// `jsm-sso demo` and `portal-gateway --demo` do. Problems are printed on stderr as
/// `PROGRAM: error[CODE]: ...` with a hint; the status is 2 for the environment or the
/// site it names, 1 for anything else.
#[expect(
    clippy::print_stderr,
    reason = "a command-line program's start-up errors"
)]
pub async fn run(program: &str, listen: SocketAddr) -> std::process::ExitCode {
    let result = match JsmSite::from_env() {
        Ok(jsm_site) => {
            Demo::serve(DemoOptions {
                listen,
                jsm_site,
                ..DemoOptions::default()
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            use jsm_sso_core::CodedError as _;
            eprintln!("{program}: error[{}]: {e}\nhint: {}", e.code(), e.hint());
            std::process::ExitCode::from(if matches!(e, Error::Config(_)) { 2 } else { 1 })
        }
    }
}

/// A demo person at one of the embedded IdPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// The name shown.
    pub name: &'static str,
    /// The email (SAML NameID / OIDC `email`, verified).
    pub email: &'static str,
    /// Groups.
    pub groups: &'static [&'static str],
    /// The `department` attribute.
    pub department: &'static str,
}

/// The SAML IdP's people (Acme Corp, and one from a denied domain).
pub const SAML_PERSONAS: &[Persona] = &[
    Persona {
        name: "Alice Acme",
        email: "alice@acme.example",
        groups: &["staff"],
        department: "Sales",
    },
    Persona {
        name: "Frank Finance",
        email: "frank@acme.example",
        groups: &["staff", "finance"],
        department: "Finance",
    },
    Persona {
        name: "Ada Admin",
        email: ADMIN_EMAIL,
        groups: &["it-admins"],
        department: "IT",
    },
    Persona {
        name: "Mallory Evil",
        email: "mallory@evil.example",
        groups: &[],
        department: "None",
    },
];

/// The OIDC issuer's people (Globex).
pub const OIDC_PERSONAS: &[Persona] = &[
    Persona {
        name: "Bob Globex",
        email: "bob@globex.example",
        groups: &["customers"],
        department: "Purchasing",
    },
    Persona {
        name: "Carol Globex",
        email: "carol@globex.example",
        groups: &["customers", "finance"],
        department: "Finance",
    },
];

/// An extra OpenID provider to offer (for example the `oidc-provider` peer in the browser
/// tests), reached over HTTP with discovery.
#[derive(Debug, Clone)]
pub struct ExternalOidc {
    /// Its IdP id (callback `BASE/oidc/callback/{id}`).
    pub id: String,
    /// The button label.
    pub display_name: String,
    /// The issuer.
    pub issuer: String,
    /// The client id registered there.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Email domains discovered to it.
    pub domains: Vec<String>,
}

/// How to start the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the gateway listens (the base URL is `http://` this address); port 0 picks one.
    pub listen: SocketAddr,
    /// Requests one customer may raise per hour.
    pub rate_limit: u32,
    /// An extra OpenID provider.
    pub external_oidc: Option<ExternalOidc>,
    /// A real JSM site instead of JSM in memory ([`JsmSite::from_env`] reads it from
    /// `JSM_BASE_URL` and credentials).
    pub jsm_site: Option<JsmSite>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate_limit: 10,
            external_oidc: None,
            jsm_site: None,
        }
    }
}

/// A running demo: the gateway and the IdPs, served until dropped.
pub struct Demo {
    url: String,
    idp_url: String,
    saml_idp: Arc<TestIdp>,
    gateway: Gateway,
    jsm: Option<MemoryJsm>,
    jsm_site: String,
    scim_token: String,
    audit_dir: tempfile::TempDir,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn startup<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Startup(format!("{what}: {e}"))
}

/// The sample policy: `help` for every company, `billing` (when the site has a second
/// portal) for Globex and, with a second factor, the finance group.
fn policy_text(help: &Portal, billing: Option<&Portal>, extra_domains: &[String]) -> String {
    let name = |p: &Portal| toml::Value::String(p.name.clone()).to_string();
    let (billing_portal, globex, finance) = match billing {
        Some(b) => (
            format!("\"{}\" = {}\n", b.id, name(b)),
            format!("[\"{}\", \"{}\"]", help.id, b.id),
            format!(
                "\n[[rule]]\nname = \"finance-needs-mfa\"\ngroup = [\"finance\"]\nportals = [\"{}\"]\nrequire_mfa = true\n",
                b.id
            ),
        ),
        None => (String::new(), format!("[\"{}\"]", help.id), String::new()),
    };
    let [acme, globex_org] = ORGANIZATIONS;
    let extra = if extra_domains.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = extra_domains.iter().map(|d| format!("{d:?}")).collect();
        format!(
            "\n[[rule]]\nname = \"partner-customers\"\nemail_domain = [{}]\nportals = [\"{}\"]\n",
            list.join(", "),
            help.id
        )
    };
    format!(
        r#"version = 1
default = "deny"

[portals]
"{help_id}" = {help_name}
{billing_portal}
[organizations]
acme = "{acme}"
globex = "{globex_org}"

[[rule]]
name = "block-evil"
effect = "deny"
email_domain = ["evil.example"]
reason = "Accounts from evil.example cannot use this portal."

[[rule]]
name = "acme-staff"
email_domain = ["acme.example"]
organizations = ["acme"]
portals = ["{help_id}"]

[[rule]]
name = "globex-customers"
email_domain = ["globex.example"]
organizations = ["globex"]
portals = {globex}
{finance}{extra}"#,
        help_id = help.id,
        help_name = name(help),
    )
}

/// JSM in memory: two portals, their request types, the policy's organizations.
fn memory_portals(jsm: &MemoryJsm) -> Result<Vec<Portal>, Error> {
    let help = jsm.add_service_desk("HELP", "Help Center");
    let billing = jsm.add_service_desk("BILL", "Billing");
    let help_type = jsm
        .add_request_type(
            &help,
            "Get IT help",
            &[
                ("summary", "Summary", true),
                ("description", "Description", false),
                ("customfield_10050", "Company domain", false),
            ],
        )
        .ok_or_else(|| Error::Startup("request type".into()))?;
    let billing_type = jsm
        .add_request_type(
            &billing,
            "Billing question",
            &[
                ("summary", "Summary", true),
                ("description", "Description", false),
            ],
        )
        .ok_or_else(|| Error::Startup("request type".into()))?;
    for name in ORGANIZATIONS {
        jsm.add_organization(name);
    }
    Ok(vec![
        Portal {
            id: help,
            name: "Help Center".into(),
            forms: vec![RequestForm {
                id: help_type,
                name: "Get IT help".into(),
                show: vec!["summary".into(), "description".into()],
                fill: [("customfield_10050".to_owned(), "{email.domain}".to_owned())]
                    .into_iter()
                    .collect(),
            }],
        },
        Portal {
            id: billing,
            name: "Billing".into(),
            forms: vec![RequestForm {
                id: billing_type,
                name: "Billing question".into(),
                show: vec!["summary".into(), "description".into()],
                fill: Default::default(),
            }],
        },
    ])
}

impl Demo {
    /// Starts the IdPs and the gateway.
    ///
    /// # Errors
    ///
    /// `gateway.startup` when a listener cannot be bound or a part does not build; with a
    /// [`JsmSite`], [`Error::Config`] with the site's code (`jira.*`) when its portals or
    /// organizations cannot be read or created.
    pub async fn start(options: DemoOptions) -> Result<Self, Error> {
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(startup("listen"))?;
        let addr = listener.local_addr().map_err(startup("listen"))?;
        let base = format!("http://{addr}");
        let idp_listener = TcpListener::bind((addr.ip(), 0))
            .await
            .map_err(startup("IdP listen"))?;
        let idp_addr = idp_listener.local_addr().map_err(startup("IdP listen"))?;
        let idp_base = format!("http://{idp_addr}");

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(MemoryStateStore::new(clock.clone(), 100_000));
        let seams = Seams::new(
            store.clone(),
            Arc::new(MemoryReplayCache::new(clock.clone(), 100_000)),
            clock.clone(),
        );

        // JSM: a real site when one is given (its portals read now, which also proves the
        // credentials), else in memory behind the same REST client.
        let (memory, client, portals, jsm_site) = match &options.jsm_site {
            Some(site) => (
                None,
                site.client.clone(),
                site::discover(site).await?,
                site.describe(),
            ),
            None => {
                let jsm = MemoryJsm::new();
                let portals = memory_portals(&jsm)?;
                let client = jsm.client();
                (Some(jsm), client, portals, "in memory".to_owned())
            }
        };
        let (help, billing) = match portals.as_slice() {
            [help] => (help, None),
            [help, billing, ..] => (help, Some(billing)),
            [] => return Err(Error::Startup("no portal".into())),
        };

        let extra_domains = options
            .external_oidc
            .as_ref()
            .map(|e| e.domains.clone())
            .unwrap_or_default();
        let policy = Arc::new(jsm_sso_policy::PolicyHandle::new(
            jsm_sso_policy::load_str(
                &policy_text(help, billing, &extra_domains),
                jsm_sso_policy::Format::Toml,
                "demo-policy.toml",
            )
            .map_err(startup("policy"))?,
        ));

        let audit_dir = tempfile::tempdir().map_err(startup("audit directory"))?;
        let sink = Arc::new(FileSink::new(audit_dir.path(), FileSinkOptions::default()));
        let (audit_key, _) = SigningKey::generate().map_err(startup("audit key"))?;
        let verifying = audit_key.verifying_key().clone();
        // A demo keeps emails in the log so the admin pages show them (the default drops them).
        let privacy = jsm_sso_audit::Privacy::builder()
            .rule(
                jsm_sso_audit::PersonalField::Email,
                jsm_sso_audit::FieldRule::Keep,
            )
            .build()
            .map_err(startup("audit privacy"))?;
        let audit = AuditLog::builder(sink.clone(), audit_key)
            .privacy(privacy)
            .start()
            .await
            .map_err(startup("audit log"))?;

        // The SAML IdP and the one service provider.
        let saml = Arc::new(
            TestIdp::generate(&format!("{idp_base}/saml/metadata")).map_err(startup("SAML IdP"))?,
        );
        let mut sp_config =
            ServiceProviderConfig::new(format!("{base}/saml/metadata"), format!("{base}/saml/acs"));
        sp_config.slo_url = Some(format!("{base}/saml/slo"));
        let sp = Arc::new(ServiceProvider::new(sp_config).map_err(startup("SAML SP"))?);
        let mut saml_config = jsm_sso_saml::IdentityProvider::new(
            SAML_IDP,
            saml.entity_id(),
            saml.trusted_keys(),
            Some(format!("{idp_base}/saml/sso")),
        )
        .map_err(startup("SAML IdP"))?;
        saml_config.slo.push(jsm_sso_saml::Endpoint {
            binding: jsm_sso_saml::bindings::REDIRECT.to_owned(),
            location: format!("{idp_base}/saml/slo"),
            response_location: None,
        });
        let saml_idp =
            SamlIdp::new(sp.clone(), saml_config, seams.clone()).display_name("Acme Corp (SAML)");

        // The OIDC issuer, reached in process.
        let issuer = format!("{idp_base}/oidc");
        let op = TestOp::new(TestIssuer::new(issuer.as_str(), "portal", clock.clone()));
        let metadata = ProviderMetadata::discover(&op, &issuer)
            .await
            .map_err(startup("OIDC discovery"))?;
        let oidc_config = ProviderConfig::builder(OIDC_IDP)
            .metadata(metadata)
            .client_id("portal")
            .client_secret_basic(Secret::new("secret"))
            .redirect_uri(format!("{base}/oidc/callback/{OIDC_IDP}"))
            .build()
            .map_err(startup("OIDC provider"))?;
        let oidc_idp =
            OidcIdp::new(oidc_config, Arc::new(op.clone()), &seams).display_name("Globex (OIDC)");

        let (sealing, _) = SealingKey::generate().map_err(startup("MFA key"))?;
        let totp = TotpFactor::new(
            "jsm-sso demo",
            Sealer::new(sealing),
            Arc::new(MemoryFactorStore::new()),
            &seams,
        );

        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| Error::Startup("random".into()))?;
        let mut builder = Broker::builder(
            seams.clone(),
            policy.clone() as Arc<dyn AccessPolicy>,
            Arc::new(JsmDirectory::new(client.clone()).with_home_portal(help.id.as_str())),
            audit.clone(),
            SessionKeys::new(&key).map_err(startup("session key"))?,
        )
        .idp(Arc::new(saml_idp))
        .idp(Arc::new(oidc_idp))
        .domain("acme.example", SAML_IDP)
        .domain("evil.example", SAML_IDP)
        .domain("globex.example", OIDC_IDP)
        .ledger(Arc::new(PropertyLedger::new(client.clone())))
        .request_desk(Arc::new(client.clone()))
        .second_factor(Arc::new(totp))
        .rate_limit(RateLimit {
            limit: options.rate_limit,
            window: Duration::from_secs(3600),
        });

        let mut idps = vec![
            IdpButton {
                id: SAML_IDP.into(),
                display_name: "Acme Corp (SAML)".into(),
                origin: Some(idp_base.clone()),
            },
            IdpButton {
                id: OIDC_IDP.into(),
                display_name: "Globex (OIDC)".into(),
                origin: Some(idp_base.clone()),
            },
        ];
        if let Some(ext) = &options.external_oidc {
            let http: Arc<dyn HttpClient> = Arc::new(
                jsm_sso_core::transport::ReqwestHttpClient::builder()
                    .allow_plain_http(true)
                    .build()
                    .map_err(startup("HTTP client"))?,
            );
            let metadata = ProviderMetadata::discover(http.as_ref(), &ext.issuer)
                .await
                .map_err(startup("external OIDC discovery"))?;
            let origin = origin_of(&metadata.authorization_endpoint);
            let config = ProviderConfig::builder(ext.id.as_str())
                .metadata(metadata)
                .client_id(ext.client_id.as_str())
                .client_secret_basic(Secret::new(ext.client_secret.clone()))
                .redirect_uri(format!("{base}/oidc/callback/{}", ext.id))
                .build()
                .map_err(startup("external OIDC provider"))?;
            builder = builder.idp(Arc::new(
                OidcIdp::new(config, http, &seams).display_name(ext.display_name.as_str()),
            ));
            for domain in &ext.domains {
                builder = builder.domain(domain, ext.id.as_str());
            }
            idps.push(IdpButton {
                id: ext.id.clone(),
                display_name: ext.display_name.clone(),
                origin,
            });
        }
        let broker = builder.build().map_err(startup("broker"))?;

        let scim_token = random_value();
        let scim = ScimService::builder(format!("{base}/scim/v2"), Arc::new(MemoryStore::new()))
            .token(OIDC_IDP, Secret::new(scim_token.clone()))
            .hook(Arc::new(
                ScimProvisioning::new(&broker, policy.clone()).idp(OIDC_IDP, Protocol::Oidc, true),
            ))
            .audit(audit.clone())
            .build()
            .map_err(startup("SCIM"))?;

        let settings = Settings {
            form_origins: Vec::new(),
            forwarded_for: false,
            base_url: base.clone(),
            idps,
            portal_names: [Some(help), billing]
                .into_iter()
                .flatten()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect(),
            portals: [Some(help), billing]
                .into_iter()
                .flatten()
                .map(|p| PortalForms {
                    id: p.id.clone(),
                    request_types: p.forms.clone(),
                })
                .collect(),
            admin: Some(AdminSettings {
                idps: vec![SAML_IDP.into()],
                emails: vec![ADMIN_EMAIL.into()],
                groups: Vec::new(),
                require_mfa: false,
            }),
        };
        let mut csrf_key = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut csrf_key)
            .map_err(|_| Error::Startup("random".into()))?;
        let mut parts = Parts::new(broker, store, client, audit, csrf_key, settings);
        parts.audit_files = Some(AuditFiles {
            sink,
            key: verifying,
        });
        parts.policy = Some(policy);
        parts.saml_sp = Some(sp);
        parts.scim = Some(Arc::new(scim));
        let gateway = Gateway::new(parts)?;

        let idp_state = DemoIdps {
            saml: saml.clone(),
            sp_entity: format!("{base}/saml/metadata"),
            acs: format!("{base}/saml/acs"),
            slo: format!("{base}/saml/slo"),
            op,
            issuer,
            gateway_origin: base.clone(),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        let idp_router = Router::new()
            .route("/saml/sso", get(saml_sso).post(saml_pick))
            .route("/saml/slo", get(saml_slo))
            .route("/oidc/authorize", get(oidc_authorize).post(oidc_pick))
            .route("/static/autosubmit.js", get(crate::pages::script))
            .with_state(idp_state);
        // With the peer address, for the audit log's source.
        let router = gateway
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let tasks = vec![
            tokio::spawn(async move {
                let _ended = axum::serve(listener, router).await;
            }),
            tokio::spawn(async move {
                let _ended = axum::serve(idp_listener, idp_router).await;
            }),
        ];
        Ok(Self {
            url: base,
            idp_url: idp_base,
            saml_idp: saml,
            gateway,
            jsm: memory,
            jsm_site,
            scim_token,
            audit_dir,
            tasks,
        })
    }

    /// The gateway's URL (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The embedded IdPs' URL.
    #[must_use]
    pub fn idp_url(&self) -> &str {
        &self.idp_url
    }

    /// The embedded SAML IdP (its signing key), for tests that send IdP-initiated messages.
    #[must_use]
    pub fn saml_idp(&self) -> &TestIdp {
        &self.saml_idp
    }

    /// The gateway.
    #[must_use]
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// JSM in memory (customers, organizations, raised requests); `None` when the demo
    /// talks to a real site ([`DemoOptions::jsm_site`]).
    #[must_use]
    pub fn jsm(&self) -> Option<&MemoryJsm> {
        self.jsm.as_ref()
    }

    /// Which JSM the demo talks to: `in memory`, or the site's URL and kind of
    /// credentials (never a token).
    #[must_use]
    pub fn jsm_site(&self) -> &str {
        &self.jsm_site
    }

    /// The SCIM bearer token of the OIDC IdP.
    #[must_use]
    pub fn scim_token(&self) -> &str {
        &self.scim_token
    }

    /// Where the audit log is written.
    #[must_use]
    pub fn audit_dir(&self) -> &Path {
        self.audit_dir.path()
    }

    /// Waits until the servers stop (they do not, unless they fail).
    pub async fn wait(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            let _ended = task.await;
        }
    }

    /// Starts the demo, prints its banner and serves until the servers stop or Ctrl-C:
    /// what `jsm-sso demo` and `portal-gateway --demo` run.
    ///
    /// # Errors
    ///
    /// What [`Demo::start`] returns.
    pub async fn serve(options: DemoOptions) -> Result<(), Error> {
        use std::io::Write as _;
        let demo = Self::start(options).await?;
        // Whoever reads the banner may close the pipe after the URL line (`| head -1`, a
        // test): the demo keeps serving rather than panic on a failed print.
        let mut out = std::io::stdout().lock();
        let _unread = writeln!(out, "{}", demo.banner()).and_then(|()| out.flush());
        drop(out);
        tokio::select! {
            () = demo.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    }

    /// The text `jsm-sso demo` prints.
    #[must_use]
    pub fn banner(&self) -> String {
        let mut text = format!(
            "jsm-sso demo: open {}/login\nJSM: {}\n\nSign in with an email from one of these companies:\n",
            self.url, self.jsm_site
        );
        for p in SAML_PERSONAS.iter().chain(OIDC_PERSONAS) {
            text.push_str(&format!(
                "  {:<24} {} (groups: {})\n",
                p.email,
                p.name,
                p.groups.join(", ")
            ));
        }
        text.push_str(&format!(
            "\n{ADMIN_EMAIL} is an administrator: {}/admin/audit\nfinance group members need a second factor (TOTP); evil.example is denied.\n\
             SCIM: {}/scim/v2 with bearer token {}\nAudit log: {}\n",
            self.url,
            self.url,
            self.scim_token,
            PathBuf::from(self.audit_dir.path()).display()
        ));
        text
    }
}

#[derive(Clone)]
struct DemoIdps {
    saml: Arc<TestIdp>,
    sp_entity: String,
    acs: String,
    slo: String,
    op: TestOp,
    issuer: String,
    gateway_origin: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl DemoIdps {
    fn page(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let mut response = html(
            status,
            page("", title, None, body).replace(
                "href=\"/static/style.css\"",
                &format!("href=\"{}/static/style.css\"", self.gateway_origin),
            ),
        );
        let csp = format!(
            "default-src 'none'; script-src 'self'; style-src {}; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
            self.gateway_origin, self.gateway_origin
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn persona_buttons(personas: &[Persona], action: &str, hidden: &str) -> String {
    personas
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "<form method=\"post\" action=\"{action}\" class=\"idp\">{hidden}\
                 <input type=\"hidden\" name=\"persona\" value=\"{i}\">\
                 <button type=\"submit\" id=\"persona-{}\">{} &lt;{}&gt;</button></form>",
                esc(p.email),
                esc(p.name),
                esc(p.email)
            )
        })
        .collect()
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

/// The AuthnRequest's `ID` attribute.
fn request_id(xml: &str) -> Option<String> {
    let start = xml.find(" ID=\"")? + 5;
    let rest = xml.get(start..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

/// `GET /saml/sso` at the demo IdP: who are you?
async fn saml_sso(State(idp): State<DemoIdps>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let parsed = jsm_sso_saml::binding::RedirectMessage::from_query(&query, 1 << 20);
    let Some(id) = parsed
        .ok()
        .and_then(|m| request_id(&String::from_utf8_lossy(&m.xml)))
    else {
        return idp.page(
            StatusCode::BAD_REQUEST,
            "Demo SAML IdP",
            "<p>No valid AuthnRequest.</p>",
        );
    };
    let relay = url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == "RelayState")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let fields = format!("{}{}", hidden("request", &id), hidden("relay", &relay));
    let body = format!(
        "<p>Acme Corp's demo SAML identity provider. Sign in as:</p><div class=\"idps\">{}</div>",
        persona_buttons(SAML_PERSONAS, "/saml/sso", &fields)
    );
    idp.page(StatusCode::OK, "Acme Corp sign-in", &body)
}

/// `POST /saml/sso`: the signed Response, posted to the ACS.
async fn saml_pick(State(idp): State<DemoIdps>, body: Bytes) -> Response {
    let fields = form_fields(&body).unwrap_or_default();
    let persona = fields
        .get("persona")
        .and_then(|p| p.parse::<usize>().ok())
        .and_then(|i| SAML_PERSONAS.get(i));
    let (Some(persona), Some(request)) = (persona, fields.get("request")) else {
        return idp.page(
            StatusCode::BAD_REQUEST,
            "Demo SAML IdP",
            "<p>Pick a person.</p>",
        );
    };
    let spec = ResponseSpec::new(&idp.sp_entity, &idp.acs, SystemTime::now())
        .in_response_to(request)
        .name_id(persona.email)
        .attribute("groups", persona.groups.iter().copied())
        .attribute("department", [persona.department])
        .attribute("displayName", [persona.name]);
    let Ok(response) = idp.saml.response_base64(&spec) else {
        return idp.page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Demo SAML IdP",
            "<p>Signing failed.</p>",
        );
    };
    let relay = fields.get("relay").cloned().unwrap_or_default();
    let body = format!(
        "<form method=\"post\" action=\"{}\" id=\"autosubmit\">{}{}<button type=\"submit\" id=\"continue\">Continue</button></form>\
         <script src=\"/static/autosubmit.js\"></script>",
        esc(&idp.acs),
        hidden("SAMLResponse", &response),
        hidden("RelayState", &relay)
    );
    idp.page(StatusCode::OK, "Signing in", &body)
}

/// `GET /saml/slo` at the demo IdP: the gateway's LogoutRequest ends the demo IdP's
/// "session" (it keeps none) and is answered with a signed LogoutResponse, posted back.
/// A real IdP also checks the request's signature; the demo SP has no signing key.
async fn saml_slo(State(idp): State<DemoIdps>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let parsed = jsm_sso_saml::binding::RedirectMessage::from_query(&query, 1 << 20);
    let Some((id, relay)) = parsed.ok().and_then(|m| {
        let xml = String::from_utf8_lossy(&m.xml);
        xml.contains("LogoutRequest")
            .then(|| request_id(&xml))
            .flatten()
            .map(|id| (id, m.relay_state.unwrap_or_default()))
    }) else {
        return idp.page(
            StatusCode::BAD_REQUEST,
            "Demo SAML IdP",
            "<p>No valid LogoutRequest.</p>",
        );
    };
    let Ok(response) = idp
        .saml
        .logout_response_base64(&idp.slo, &id, SystemTime::now())
    else {
        return idp.page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Demo SAML IdP",
            "<p>Signing failed.</p>",
        );
    };
    let body = format!(
        "<p>You are signed out of Acme Corp's demo identity provider.</p>\
         <form method=\"post\" action=\"{}\" id=\"autosubmit\">{}{}<button type=\"submit\" id=\"continue\">Continue</button></form>\
         <script src=\"/static/autosubmit.js\"></script>",
        esc(&idp.slo),
        hidden("SAMLResponse", &response),
        hidden("RelayState", &relay)
    );
    idp.page(StatusCode::OK, "Signing out", &body)
}

/// `GET /oidc/authorize` at the demo issuer: who are you?
async fn oidc_authorize(State(idp): State<DemoIdps>, RawQuery(query): RawQuery) -> Response {
    let fields = hidden("query", &query.unwrap_or_default());
    let body = format!(
        "<p>Globex's demo OpenID provider. Sign in as:</p><div class=\"idps\">{}</div>",
        persona_buttons(OIDC_PERSONAS, "/oidc/authorize", &fields)
    );
    idp.page(StatusCode::OK, "Globex sign-in", &body)
}

/// `POST /oidc/authorize`: the code, back to the gateway's callback.
async fn oidc_pick(State(idp): State<DemoIdps>, body: Bytes) -> Response {
    let fields = form_fields(&body).unwrap_or_default();
    let persona = fields
        .get("persona")
        .and_then(|p| p.parse::<usize>().ok())
        .and_then(|i| OIDC_PERSONAS.get(i));
    let Some(persona) = persona else {
        return idp.page(
            StatusCode::BAD_REQUEST,
            "Demo OpenID provider",
            "<p>Pick a person.</p>",
        );
    };
    let mut user = TestUser::alice();
    user.sub = persona.email.split('@').next().unwrap_or("user").to_owned();
    user.claims.insert("email".into(), persona.email.into());
    user.claims.insert("name".into(), persona.name.into());
    user.claims.insert(
        "groups".into(),
        serde_json::Value::from(
            persona
                .groups
                .iter()
                .map(|g| (*g).to_owned())
                .collect::<Vec<_>>(),
        ),
    );
    user.claims
        .insert("department".into(), persona.department.into());
    let url = format!(
        "{}/authorize?{}",
        idp.issuer,
        fields.get("query").map(String::as_str).unwrap_or_default()
    );
    // One sign-in at a time: the test OP has one current user.
    let _one = idp.lock.lock().await;
    idp.op.set_user(user);
    match idp.op.authorize(&url) {
        Ok(back) => see_other(&back),
        Err(e) => idp.page(
            StatusCode::BAD_REQUEST,
            "Demo OpenID provider",
            &format!("<p>{}</p>", esc(&e)),
        ),
    }
}
