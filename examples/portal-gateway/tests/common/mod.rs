//! What the gateway's integration tests share: reading pages, a cookie-keeping client on
//! the gateway's router (the demo, in process) and one over HTTP (a `portal-gateway
//! --config` process), the process guard, the JSM site and the SAML IdP of the config-file
//! tests, and the peer switch.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test helpers: each test file uses part of them; a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use jsm_sso_gateway::demo::{Demo, OIDC_PERSONAS, SAML_PERSONAS};
use jsm_sso_jira::memory::{MemoryJsm, Served};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};
use tower::ServiceExt as _;

/// The config-file tests' SAML IdP entity ID (its key and certificate are in `vectors/`).
pub const IDP_ENTITY: &str = "https://idp.acme.test/metadata";
/// The session key the config-file tests put in `TEST_GATEWAY_SESSION_KEY`.
pub const SESSION_KEY: &str = "c2Vzc2lvbi1rZXktZm9yLWNvbmZpZy1zZXJ2ZS10ZXN0cyE=";
/// The IdP's signing key (P-256).
pub const KEY: &str = include_str!("../vectors/idp-ec.key");
/// The IdP's certificate.
pub const CERT: &str = include_str!("../vectors/idp-ec.crt");

// ---- pages ----

/// HTML-unescapes attribute text.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text between `start` and the next `end`.
pub fn between<'t>(text: &'t str, start: &str, end: &str) -> &'t str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let to = from + text[from..].find(end).unwrap();
    &text[from..to]
}

/// The value of the hidden (or any) input `name`.
pub fn hidden(html: &str, name: &str) -> String {
    unescape(between(html, &format!("name=\"{name}\" value=\""), "\""))
}

/// The path of a URL (`/x?y`).
pub fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

/// The `ID` attribute and the `RelayState` of an HTTP-Redirect binding URL's message.
pub fn redirect_message(url: &str) -> (String, Option<String>) {
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml).unwrap();
    (
        between(&xml, " ID=\"", "\"").to_owned(),
        message.relay_state,
    )
}

/// The secret of the `otpauth://` URI on an enrolment page.
pub fn enrolment_secret(page: &str) -> String {
    let uri = unescape(between(page, "otpauth://", "<"));
    url::Url::parse(&format!("otpauth://{uri}"))
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "secret")
        .unwrap()
        .1
        .into_owned()
}

/// The TOTP code of a base32 `secret` (default parameters) at `at`.
pub fn totp_code(secret: &str, at: SystemTime) -> String {
    jsm_sso_mfa::TotpSecret::from_base32(secret, jsm_sso_mfa::TotpParams::default())
        .unwrap()
        .totp(at)
        .unwrap()
}

// ---- a client on the gateway's router ----

/// The body of a router response.
pub async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The `x-jsm-sso-error` header ("" without one).
pub fn code(response: &Response<Body>) -> &str {
    response
        .headers()
        .get("x-jsm-sso-error")
        .map_or("", |v| v.to_str().unwrap())
}

/// The `Location` header ("" without one).
pub fn location(response: &Response<Body>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned())
}

/// Keeps `Set-Cookie`s: a cleared or expired cookie is dropped.
fn absorb(cookies: &mut Vec<(String, String)>, headers: &http::HeaderMap) {
    for value in headers.get_all(header::SET_COOKIE) {
        let text = value.to_str().unwrap();
        let (pair, _) = text.split_once(';').unwrap_or((text, ""));
        let (name, value) = pair.split_once('=').unwrap();
        cookies.retain(|(n, _)| n != name);
        if !value.is_empty() && !text.contains("Max-Age=0") {
            cookies.push((name.to_owned(), value.to_owned()));
        }
    }
}

fn cookie_header(cookies: &[(String, String)]) -> String {
    cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A browser on the demo gateway's router (requests answered in process), with a plain
/// HTTP client for the demo's IdPs.
pub struct Client {
    router: Router,
    /// The HTTP client for the IdPs (follows no redirects).
    pub idp: reqwest::Client,
    /// The cookies kept.
    pub cookies: Vec<(String, String)>,
}

impl Client {
    /// A client without cookies.
    pub fn new(demo: &Demo) -> Self {
        Self {
            router: demo.gateway().router(),
            idp: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Sends a request with the cookies; keeps the answer's.
    pub async fn send(&mut self, request: http::request::Builder, body: String) -> Response<Body> {
        let request = request
            .header(header::COOKIE, cookie_header(&self.cookies))
            .body(Body::from(body))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        absorb(&mut self.cookies, response.headers());
        response
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Response<Body> {
        self.send(Request::get(path), String::new()).await
    }

    /// `POST path` with a form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response<Body> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            body,
        )
        .await
    }

    /// The email-first form; the redirect to the IdP.
    pub async fn begin(&mut self, email: &str) -> Response<Body> {
        let page = text(self.get("/login").await).await;
        let csrf = hidden(&page, "csrf");
        self.post("/login", &[("csrf", &csrf), ("email", email)])
            .await
    }

    /// The demo SAML IdP's signed response for the persona `email`, as the ACS form.
    pub async fn saml_response(&self, sso_url: &str, email: &str) -> Vec<(String, String)> {
        let page = self
            .idp
            .get(sso_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let persona = SAML_PERSONAS.iter().position(|p| p.email == email).unwrap();
        let form = [
            ("request", hidden(&page, "request")),
            ("relay", hidden(&page, "relay")),
            ("persona", persona.to_string()),
        ];
        let idp_base = sso_url.split("/saml/").next().unwrap();
        let posted = self
            .idp
            .post(format!("{idp_base}/saml/sso"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        vec![
            ("SAMLResponse".to_owned(), hidden(&posted, "SAMLResponse")),
            ("RelayState".to_owned(), hidden(&posted, "RelayState")),
        ]
    }

    /// Email-first sign-in, the demo SAML IdP's persona, then the ACS; the ACS's answer.
    pub async fn saml_sign_in(&mut self, email: &str) -> Response<Body> {
        let begun = self.begin(email).await;
        assert_eq!(begun.status(), StatusCode::SEE_OTHER, "{}", code(&begun));
        let form = self.saml_response(&location(&begun), email).await;
        let pairs: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        self.post("/saml/acs", &pairs).await
    }

    /// Email-first sign-in at the demo OIDC issuer's persona; the callback's answer.
    pub async fn oidc_sign_in(&mut self, email: &str) -> Response<Body> {
        let begun = self.begin(email).await;
        assert_eq!(begun.status(), StatusCode::SEE_OTHER, "{}", code(&begun));
        let authorize = location(&begun);
        let (base, query) = authorize.split_once('?').unwrap();
        let persona = OIDC_PERSONAS.iter().position(|p| p.email == email).unwrap();
        let back = self
            .idp
            .post(base)
            .form(&[("query", query), ("persona", &persona.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        let callback = back.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        self.get(path_of(&callback)).await
    }

    /// The CSRF token on the page at `path`.
    pub async fn csrf_of(&mut self, path: &str) -> String {
        let page = text(self.get(path).await).await;
        hidden(&page, "csrf")
    }
}

// ---- `portal-gateway --config` processes ----

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `portal-gateway`, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `portal-gateway --config FILE` with the session key and the JSM token the configs name.
pub fn command(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal-gateway"));
    command
        .arg("--config")
        .arg(config)
        .env("TEST_GATEWAY_SESSION_KEY", SESSION_KEY)
        .env("TEST_GATEWAY_JSM_TOKEN", "jsm-api-token")
        .stdin(Stdio::null());
    command
}

/// Starts `command` (stderr shown) and waits until `health_url` answers.
pub async fn spawn(mut command: Command, health_url: &str) -> Process {
    let process = Process(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(health_url).await.is_err() {
        assert!(Instant::now() < deadline, "portal-gateway did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    process
}

/// A cookie-keeping HTTP client that follows no redirects, on one gateway address.
pub struct Browser {
    http: reqwest::Client,
    /// Where requests go (`http://127.0.0.1:PORT`).
    pub base: String,
    /// The cookies kept.
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    /// A client for the gateway at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    /// Sends with the cookies, a fixed `User-Agent` and a forged `X-Forwarded-For` (which a
    /// gateway without `forwarded_for` must ignore); keeps the answer's cookies.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .header(reqwest::header::COOKIE, cookie_header(&self.cookies))
            .header(reqwest::header::USER_AGENT, "jsm-sso-test")
            .header("x-forwarded-for", "6.6.6.6")
            .send()
            .await
            .unwrap();
        absorb(&mut self.cookies, response.headers());
        response
    }

    /// `GET base+path`.
    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.send(self.http.get(url)).await
    }

    /// `POST base+path` with a form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.send(self.http.post(url).form(form)).await
    }

    /// Email-first sign-in and the test IdP's signed response for the gateway whose public
    /// URL is `public`, posted to its ACS; the ACS's answer.
    pub async fn saml_sign_in(&mut self, public: &str, email: &str) -> reqwest::Response {
        self.cookies.clear();
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let redirect = self
            .post("/login", &[("csrf", &csrf), ("email", email)])
            .await;
        let (request_id, relay) = redirect_message(&http_location(&redirect));
        let idp = TestIdp::from_pem(IDP_ENTITY, KEY.as_bytes(), CERT.as_bytes()).unwrap();
        let spec = ResponseSpec::new(
            &format!("{public}/saml/metadata"),
            &format!("{public}/saml/acs"),
            SystemTime::now(),
        )
        .in_response_to(&request_id)
        .name_id(email);
        let response = idp.response_base64(&spec).unwrap();
        self.post(
            "/saml/acs",
            &[("SAMLResponse", &response), ("RelayState", &relay.unwrap())],
        )
        .await
    }
}

/// The `Location` header of an HTTP response ("" without one).
pub fn http_location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

// ---- the JSM site and the SAML IdP of the config files ----

/// `MemoryJsm` over HTTP on 127.0.0.1; its URL.
pub async fn jsm_site(jsm: MemoryJsm) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let jsm = jsm.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 22).await.unwrap();
            match jsm.serve(&http::Request::from_parts(parts, body.to_vec())) {
                Served::Respond(response) | Served::Delayed(_, response) => {
                    response.map(axum::body::Body::from)
                }
                _ => http::Response::builder()
                    .status(503)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The test IdP's metadata: its certificate and an HTTP-Redirect SSO URL.
pub fn idp_metadata() -> String {
    let der: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.acme.test/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

// ---- peers ----

/// A peer's URL from `variable`, or `None` after the skip line (a failure when
/// `JSM_SSO_REQUIRE_PEERS=1`).
pub fn peer_url(variable: &str, script: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("JSM_SSO_REQUIRE_PEERS").as_deref() != Ok("1"),
                "JSM_SSO_REQUIRE_PEERS=1 but {variable} is not set; source scripts/peers.d/{script}"
            );
            eprintln!(
                "skipped: {variable} is not set (scripts/test.sh runs scripts/peers.d/{script})"
            );
            None
        }
    }
}
