//! The SimpleSAMLphp IdP that `scripts/peers.d/simplesamlphp.sh` starts on 127.0.0.1, and a
//! driver that signs a user in there over real HTTP, the way a browser would, without one.
//!
//! [`Peer::from_env`] reads the `JSM_SSO_SIMPLESAMLPHP_*` variables the peer script exports
//! (skipping, or failing under `JSM_SSO_REQUIRE_PEERS=1`, when they are absent).
//! [`login`] then takes the SP's first request — an HTTP-Redirect URL (`SSO?SAMLRequest=
//! <deflated, base64>&RelayState=..`) or an HTTP-POST form — and plays the browser: GET (or
//! POST) it, follow the redirects to the `exampleauth:UserPass` login form, POST the user name
//! and password with the form's hidden fields (`AuthState`) and the session cookies, follow the
//! redirects back to the IdP, and read `SAMLResponse` and `RelayState` out of the
//! auto-submitting form that would have POSTed them to our ACS. Nothing is sent to the ACS.
//!
//! For Single Logout the same browser (one cookie jar, so one IdP session) is kept in a
//! [`Browser`]: [`Browser::login`] signs in, [`Browser::walk`] GETs a URL at the IdP and follows
//! its redirects until the IdP sends the browser elsewhere (our SLO endpoint, a `ReturnTo`),
//! which is reported, not requested, or until a page.
//!
//! Only 127.0.0.1 is ever contacted: a redirect anywhere else is an error.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

use super::html::{self, Form};

/// The SAML 2.0 protocol namespace.
pub(crate) const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace.
pub(crate) const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The HTTP-POST binding, the one SimpleSAMLphp answers our ACS with.
pub(crate) const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// The emailAddress NameID format the peer is configured for.
pub(crate) const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// At most this many requests per login (redirects included); SimpleSAMLphp 1.19 needs three
/// (SSO request -> 303 to the login form, the form, the POST that answers with the Response form).
const MAX_REQUESTS: usize = 12;

/// A test user of the peer's `exampleauth:UserPass` source.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Login name.
    pub(crate) username: String,
    /// Password.
    pub(crate) password: String,
    /// The `mail` attribute, also the emailAddress NameID.
    pub(crate) email: String,
    /// The `groups` attribute values, in the order the IdP sends them.
    pub(crate) groups: Vec<String>,
    /// The `displayName` attribute.
    pub(crate) display_name: String,
}

/// The running SimpleSAMLphp IdP, as described by the peer script's environment.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// Base URL, `http://127.0.0.1:<port>`.
    pub(crate) base_url: Url,
    /// SingleSignOnService (both the Redirect and the POST binding are served here).
    pub(crate) sso_url: Url,
    /// The IdP's entity ID.
    pub(crate) idp_entity_id: String,
    /// The IdP metadata XML as fetched from `/saml2/idp/metadata.php`.
    pub(crate) idp_metadata: PathBuf,
    /// The IdP's signing certificate (PEM).
    pub(crate) idp_cert: PathBuf,
    /// Our SP's entity ID as registered at the IdP.
    pub(crate) sp_entity_id: String,
    /// Our ACS URL as registered at the IdP (HTTP-POST binding).
    pub(crate) acs_url: String,
    /// alice@acme.example, groups staff and portal-users.
    pub(crate) alice: User,
    /// bob@partner.example, group partners.
    pub(crate) bob: User,
    /// The Debian package version of SimpleSAMLphp.
    pub(crate) version: String,
    /// The IdP's SingleLogoutService (HTTP-Redirect).
    pub(crate) idp_slo_url: Url,
    /// Our SP's SingleLogoutService as registered at the IdP (HTTP-Redirect).
    pub(crate) slo_url: String,
    /// Our SP's signing key (PEM), whose certificate the IdP trusts for logout messages.
    pub(crate) sp_key: PathBuf,
    /// That certificate (PEM).
    pub(crate) sp_cert: PathBuf,
}

impl Peer {
    /// The peer from the environment, or `None` after printing a skip line; panics instead
    /// when `JSM_SSO_REQUIRE_PEERS=1`.
    pub(crate) fn from_env(test: &str) -> Option<Self> {
        let required = std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        let Ok(base) = std::env::var("JSM_SSO_SIMPLESAMLPHP_URL") else {
            assert!(
                !required,
                "JSM_SSO_SIMPLESAMLPHP_URL is not set but JSM_SSO_REQUIRE_PEERS=1; start the peer \
                 with scripts/peers.d/simplesamlphp.sh (scripts/test.sh does)"
            );
            eprintln!(
                "skip: JSM_SSO_SIMPLESAMLPHP_URL not set; {test} did not run (start \
                 scripts/peers.d/simplesamlphp.sh, or set JSM_SSO_REQUIRE_PEERS=1 to make this \
                 a failure)"
            );
            return None;
        };
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("JSM_SSO_SIMPLESAMLPHP_URL is set but {name} is not (peer script broken?)")
            })
        };
        let user = |n: u8, groups: &[&str], display_name: &str| User {
            username: var(&format!("JSM_SSO_SIMPLESAMLPHP_USER{n}")),
            password: var(&format!("JSM_SSO_SIMPLESAMLPHP_PASSWORD{n}")),
            email: var(&format!("JSM_SSO_SIMPLESAMLPHP_EMAIL{n}")),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            display_name: display_name.to_owned(),
        };
        Some(Self {
            base_url: Url::parse(&base).expect("JSM_SSO_SIMPLESAMLPHP_URL is a URL"),
            sso_url: Url::parse(&var("JSM_SSO_SIMPLESAMLPHP_SSO_URL")).expect("SSO URL"),
            idp_entity_id: var("JSM_SSO_SIMPLESAMLPHP_IDP_ENTITY_ID"),
            idp_metadata: var("JSM_SSO_SIMPLESAMLPHP_IDP_METADATA").into(),
            idp_cert: var("JSM_SSO_SIMPLESAMLPHP_IDP_CERT").into(),
            sp_entity_id: var("JSM_SSO_SIMPLESAMLPHP_SP_ENTITY_ID"),
            acs_url: var("JSM_SSO_SIMPLESAMLPHP_ACS_URL"),
            alice: user(1, &["staff", "portal-users"], "Alice Example"),
            bob: user(2, &["partners"], "Bob Partner"),
            version: std::env::var("JSM_SSO_SIMPLESAMLPHP_VERSION").unwrap_or_default(),
            idp_slo_url: Url::parse(&var("JSM_SSO_SIMPLESAMLPHP_IDP_SLO_URL")).expect("SLO URL"),
            slo_url: var("JSM_SSO_SIMPLESAMLPHP_SLO_URL"),
            sp_key: var("JSM_SSO_SIMPLESAMLPHP_SP_KEY").into(),
            sp_cert: var("JSM_SSO_SIMPLESAMLPHP_SP_CERT").into(),
        })
    }

    /// A minimal AuthnRequest of our own (until the crate builds them): ID, IssueInstant,
    /// Destination, ACS URL, HTTP-POST protocol binding, Issuer and an emailAddress
    /// NameIDPolicy.
    pub(crate) fn authn_request_xml(&self, id: &str, issue_instant: &str) -> String {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" \
             Version=\"2.0\" IssueInstant=\"{issue_instant}\" Destination=\"{dest}\" \
             AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{HTTP_POST}\">\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <samlp:NameIDPolicy Format=\"{NAMEID_EMAIL}\" AllowCreate=\"true\"/>\
             </samlp:AuthnRequest>",
            dest = self.sso_url,
            acs = self.acs_url,
            issuer = self.sp_entity_id,
        )
    }

    /// The HTTP-Redirect binding URL for `request_xml`: DEFLATE (raw, RFC 1951), base64,
    /// URL-encoded as `SAMLRequest`, with `RelayState` when given. Unsigned (the peer does not
    /// ask for signed requests).
    pub(crate) fn redirect_url(&self, request_xml: &str, relay_state: Option<&str>) -> Url {
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflater.write_all(request_xml.as_bytes()).unwrap();
        let deflated = deflater.finish().unwrap();
        let mut url = self.sso_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("SAMLRequest", &BASE64.encode(deflated));
            if let Some(relay_state) = relay_state {
                query.append_pair("RelayState", relay_state);
            }
        }
        url
    }
}

/// How the SP sends the user to the IdP.
#[derive(Debug, Clone)]
pub(crate) enum Start {
    /// HTTP-Redirect binding: the browser GETs this URL.
    Redirect(Url),
    /// HTTP-POST binding: the browser POSTs these form fields (`SAMLRequest` = base64 of the
    /// XML, not deflated; `RelayState`) to `url`.
    Post {
        /// The IdP's SSO URL.
        url: Url,
        /// The form fields.
        fields: Vec<(String, String)>,
    },
}

/// What the IdP handed the browser to POST to the ACS.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The form's `action`, resolved: where the browser would POST (our ACS URL).
    pub(crate) destination: Url,
    /// The `SAMLResponse` form value exactly as received (base64).
    pub(crate) saml_response: String,
    /// The `RelayState` form value, when there was one.
    pub(crate) relay_state: Option<String>,
    /// Every request made, as `METHOD URL -> STATUS`, for failure messages.
    pub(crate) trace: Vec<String>,
}

impl Outcome {
    /// The decoded `SAMLResponse` (the Response XML).
    pub(crate) fn response_xml(&self) -> Vec<u8> {
        BASE64
            .decode(self.saml_response.trim())
            .expect("SAMLResponse is base64")
    }
}

/// Why a login did not end in a SAMLResponse form.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// The HTTP exchange itself failed.
    Http(reqwest::Error),
    /// A redirect or form pointed at a host other than 127.0.0.1.
    ForeignHost(Url),
    /// The IdP showed the login form again after the password was posted: wrong credentials.
    CredentialsRefused { trace: Vec<String> },
    /// A page that is neither a login form nor a SAMLResponse form (an IdP error page).
    UnexpectedPage(Box<UnexpectedPage>),
    /// More than [`MAX_REQUESTS`] requests.
    TooManyRequests { trace: Vec<String> },
}

/// What the driver saw instead of a form it knows.
#[derive(Debug)]
pub(crate) struct UnexpectedPage {
    /// HTTP status of the page.
    pub(crate) status: StatusCode,
    /// Where it was.
    pub(crate) url: Url,
    /// Its text without markup, shortened (or what was wrong with a redirect or form).
    pub(crate) excerpt: String,
    /// The requests up to it.
    pub(crate) trace: Vec<String>,
}

impl LoginError {
    fn page(status: StatusCode, url: &Url, excerpt: String, trace: &[String]) -> Self {
        Self::UnexpectedPage(Box::new(UnexpectedPage {
            status,
            url: url.clone(),
            excerpt,
            trace: trace.to_vec(),
        }))
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(e) => write!(f, "HTTP error: {e}"),
            Self::ForeignHost(url) => write!(f, "refusing to contact {url}: not 127.0.0.1"),
            Self::CredentialsRefused { trace } => {
                write!(
                    f,
                    "the IdP showed the login form again (wrong credentials?); trace: {trace:#?}"
                )
            }
            Self::UnexpectedPage(page) => write!(
                f,
                "unexpected page {} at {}: {}\ntrace: {:#?}",
                page.status, page.url, page.excerpt, page.trace
            ),
            Self::TooManyRequests { trace } => {
                write!(f, "more than {MAX_REQUESTS} requests; trace: {trace:#?}")
            }
        }
    }
}

impl std::error::Error for LoginError {}

impl From<reqwest::Error> for LoginError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e)
    }
}

/// A fresh browser: its own cookie jar, no redirects followed by reqwest (we follow them
/// ourselves, to keep the trace and to refuse other hosts), rustls on ring for the form's
/// sake though only plain HTTP on 127.0.0.1 is used.
fn browser() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("jsm-sso-saml interop test driver")
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

fn check_host(url: &Url) -> Result<(), LoginError> {
    if url.scheme() == "http" && url.host_str() == Some("127.0.0.1") {
        Ok(())
    } else {
        Err(LoginError::ForeignHost(url.clone()))
    }
}

/// Signs `username` in at the IdP, starting from the SP's request, and returns the
/// SAMLResponse form the IdP produced. Uses a fresh cookie jar (a new browser) each call.
pub(crate) async fn login(
    start: &Start,
    username: &str,
    password: &str,
) -> Result<Outcome, LoginError> {
    Browser::new().login(start, username, password).await
}

/// One browser, kept across requests: its cookie jar holds the IdP session.
pub(crate) struct Browser {
    client: reqwest::Client,
}

/// Where [`Browser::walk`] stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The IdP redirected the browser to this URL on another origin (not requested).
    Left {
        /// The redirect target, resolved.
        url: Url,
        /// The requests up to it.
        trace: Vec<String>,
    },
    /// A page at the IdP.
    Page {
        /// Its HTTP status.
        status: StatusCode,
        /// Its URL.
        url: Url,
        /// The forms on it (none unless HTML).
        forms: Vec<Form>,
        /// Its text without markup, shortened.
        excerpt: String,
        /// The requests up to it.
        trace: Vec<String>,
    },
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub(crate) fn new() -> Self {
        Self { client: browser() }
    }

    /// [`login`] in this browser: the IdP session it makes stays in the cookie jar (and an
    /// existing one is used: then the IdP answers without the login form).
    pub(crate) async fn login(
        &self,
        start: &Start,
        username: &str,
        password: &str,
    ) -> Result<Outcome, LoginError> {
        login_with(&self.client, start, username, password).await
    }

    /// GETs `url` and follows redirects while they stay on its origin (the IdP); stops at a
    /// redirect to another origin, which is returned without being requested, or at a page.
    pub(crate) async fn walk(&self, url: &Url) -> Result<Stop, LoginError> {
        let origin = url.origin();
        let mut url = url.clone();
        let mut trace = Vec::new();
        for _ in 0..MAX_REQUESTS {
            check_host(&url)?;
            let response = self.client.get(url.clone()).send().await?;
            let status = response.status();
            trace.push(format!("GET {url} -> {status}"));
            if status.is_redirection() {
                url = redirect_target(&response, &url, &trace)?;
                if url.origin() != origin {
                    check_host(&url)?;
                    return Ok(Stop::Left { url, trace });
                }
                continue;
            }
            let is_html = is_html(&response);
            let body = response.text().await?;
            let forms = if is_html {
                html::forms(&body)
            } else {
                Vec::new()
            };
            return Ok(Stop::Page {
                status,
                url,
                forms,
                excerpt: excerpt(&body),
                trace,
            });
        }
        Err(LoginError::TooManyRequests { trace })
    }
}

/// The resolved `Location` of a redirect response.
fn redirect_target(
    response: &reqwest::Response,
    url: &Url,
    trace: &[String],
) -> Result<Url, LoginError> {
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| {
            LoginError::page(status, url, "redirect without a Location".into(), trace)
        })?;
    url.join(location).map_err(|e| {
        LoginError::page(
            status,
            url,
            format!("bad Location {location:?}: {e}"),
            trace,
        )
    })
}

fn is_html(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"))
}

async fn login_with(
    client: &reqwest::Client,
    start: &Start,
    username: &str,
    password: &str,
) -> Result<Outcome, LoginError> {
    let mut trace = Vec::new();
    let (mut method, mut url, mut form) = match start {
        Start::Redirect(url) => (Method::GET, url.clone(), None),
        Start::Post { url, fields } => (Method::POST, url.clone(), Some(fields.clone())),
    };
    let mut posted_password = false;
    for _ in 0..MAX_REQUESTS {
        check_host(&url)?;
        let mut request = client.request(method.clone(), url.clone());
        if let Some(fields) = form.take() {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&fields)
                .finish();
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        trace.push(format!("{method} {url} -> {status}"));
        if status.is_redirection() {
            url = redirect_target(&response, &url, &trace)?;
            // 307/308 keep the method and body; the others turn into a GET, as in browsers.
            if !matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            ) {
                method = Method::GET;
            }
            continue;
        }
        let is_html = is_html(&response);
        let page_url = url.clone();
        let body = response.text().await?;
        let forms = if is_html {
            html::forms(&body)
        } else {
            Vec::new()
        };
        if let Some(saml_form) = forms.iter().find(|f| f.field("SAMLResponse").is_some()) {
            let destination = resolve_action(&page_url, saml_form)?;
            return Ok(Outcome {
                destination,
                saml_response: saml_form
                    .field("SAMLResponse")
                    .unwrap_or_default()
                    .to_owned(),
                relay_state: saml_form.field("RelayState").map(str::to_owned),
                trace,
            });
        }
        if let Some(login_form) = forms.iter().find(|f| f.has_password()) {
            if posted_password {
                return Err(LoginError::CredentialsRefused { trace });
            }
            posted_password = true;
            let mut fields = login_form.default_submission();
            fill(&mut fields, "username", username);
            fill(&mut fields, "password", password);
            url = resolve_action(&page_url, login_form)?;
            method = if login_form.method == "post" {
                Method::POST
            } else {
                Method::GET
            };
            if method == Method::GET {
                url.query_pairs_mut().clear().extend_pairs(&fields);
            } else {
                form = Some(fields);
            }
            continue;
        }
        return Err(LoginError::page(status, &page_url, excerpt(&body), &trace));
    }
    Err(LoginError::TooManyRequests { trace })
}

/// Sets the field `name` (adding it when the form lacks it).
fn fill(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => value.clone_into(v),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

/// The form's action resolved against the page URL (absent or empty: the page itself).
fn resolve_action(page: &Url, form: &Form) -> Result<Url, LoginError> {
    let action = form.action.as_deref().unwrap_or("");
    let url = page.join(action).map_err(|e| {
        let why = format!("form action {action:?} is not a URL: {e}");
        LoginError::page(StatusCode::OK, page, why, &[])
    })?;
    check_host(&url)?;
    Ok(url)
}

/// The page's text without markup, shortened: enough to read an IdP error message.
fn excerpt(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut joined = words.join(" ");
    if joined.len() > 600 {
        let cut = (0..=600)
            .rev()
            .find(|&i| joined.is_char_boundary(i))
            .unwrap_or(0);
        joined.truncate(cut);
        joined.push('…');
    }
    joined
}
