//! `[mfa]` with `[redis]`: two `portal-gateway --config` processes behind one public URL (the
//! load balancer's) share one Redis. A customer enrols on instance A, is challenged (not
//! offered a new enrolment) on instance B, the code already used on A is refused on B (one
//! replay guard), and the next code passes. Redis holds only sealed text under
//! `<key_prefix>mfa:factor:`. And `--check` names `secrets_file` with `[redis]` as a conflict.
//!
//! The fleet test needs the `redis-server` peer (`JSM_SSO_REDIS_URL`); it skips without it
//! unless `JSM_SSO_REQUIRE_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test; the skip line goes to stderr"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use jsm_sso_jira::memory::{MemoryJsm, Served};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};
use redis::AsyncCommands;

const IDP_ENTITY: &str = "https://idp.acme.test/metadata";
const SESSION_KEY: &str = "c2Vzc2lvbi1rZXktZm9yLWNvbmZpZy1zZXJ2ZS10ZXN0cyE=";
const MFA_KEY: &str = "bWZhLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHMtMzI=";
const KEY: &str = include_str!("vectors/idp-ec.key");
const CERT: &str = include_str!("vectors/idp-ec.crt");

fn redis_url() -> Option<String> {
    match std::env::var("JSM_SSO_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("JSM_SSO_REQUIRE_PEERS").as_deref() != Ok("1"),
                "JSM_SSO_REQUIRE_PEERS=1 but JSM_SSO_REDIS_URL is not set; source scripts/peers.d/redis.sh"
            );
            eprintln!(
                "skipped: JSM_SSO_REDIS_URL is not set (scripts/test.sh starts redis-server)"
            );
            None
        }
    }
}

/// The JSM site: `MemoryJsm` over HTTP on 127.0.0.1.
async fn jsm_site(jsm: MemoryJsm) -> String {
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

fn metadata() -> String {
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

/// A configuration directory (metadata, audit key, a policy asking for a second factor) and
/// the JSM site; `config` writes one instance's file.
struct Fleet {
    dir: tempfile::TempDir,
    site: String,
}

impl Fleet {
    async fn new() -> Self {
        let jsm = MemoryJsm::new();
        let desk = jsm.add_service_desk("HELP", "Help Center");
        jsm.add_request_type(&desk, "Get IT help", &[("summary", "Summary", true)])
            .unwrap();
        jsm.add_organization("Acme Corp");
        let site = jsm_site(jsm).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("idp.xml"), metadata()).unwrap();
        let (_, audit_pem) = jsm_sso_audit::SigningKey::generate().unwrap();
        std::fs::write(dir.path().join("audit.pem"), audit_pem).unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            format!(
                r#"version = 1
default = "deny"

[portals]
"{desk}" = "Help Center"

[organizations]
acme = "Acme Corp"

[[rule]]
name = "acme-staff"
email_domain = ["acme.example"]
organizations = ["acme"]
require_mfa = true
portals = ["{desk}"]
"#
            ),
        )
        .unwrap();
        Self { dir, site }
    }

    /// One instance's configuration: the fleet's public URL, its own listen address and
    /// audit directory, the shared Redis under `prefix`, and `[mfa]` (plus `mfa_extra`).
    fn config(&self, name: &str, public: &str, listen: &str, prefix: &str, extra: &str) -> String {
        let d = self.dir.path().display();
        let text = format!(
            r#"[server]
base_url = "{public}"
listen = "{listen}"

[session]
key_env = "TEST_GATEWAY_SESSION_KEY"

[jsm]
kind = "cloud"
site_url = "{site}"
email = "bot@acme.example"
api_token_env = "TEST_GATEWAY_JSM_TOKEN"

[policy]
file = "{d}/policy.toml"

[audit]
dir = "{d}/audit-{name}"
signing_key_file = "{d}/audit.pem"

[[idp]]
id = "acme"
display_name = "Acme staff"
protocol = "saml"
domains = ["acme.example"]
metadata_file = "{d}/idp.xml"

[redis]
url_env = "TEST_GATEWAY_REDIS_URL"
key_prefix = "{prefix}"

[mfa]
sealing_key_env = "TEST_GATEWAY_MFA_KEY"
issuer = "Acme Support"
{extra}"#,
            site = self.site,
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(config: &str, redis_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal-gateway"));
    command
        .arg("--config")
        .arg(config)
        .env("TEST_GATEWAY_SESSION_KEY", SESSION_KEY)
        .env("TEST_GATEWAY_JSM_TOKEN", "jsm-api-token")
        .env("TEST_GATEWAY_MFA_KEY", MFA_KEY)
        .env("TEST_GATEWAY_REDIS_URL", redis_url)
        .stdin(Stdio::null());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts one instance and waits until it answers on its own address.
async fn start(config: &str, redis_url: &str, listen: &str) -> Gateway {
    let gateway = Gateway(
        command(config, redis_url)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://{listen}/healthz"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "portal-gateway did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway
}

/// A cookie-keeping client that follows no redirects, talking to one instance directly
/// (what the load balancer would pick).
struct Browser {
    http: reqwest::Client,
    instance: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(listen: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            instance: format!("http://{listen}"),
            cookies: Vec::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let response = request
            .header(reqwest::header::COOKIE, cookies.join("; "))
            .send()
            .await
            .unwrap();
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() && !text.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        response
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.instance);
        self.send(self.http.get(url)).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("{}{path}", self.instance);
        self.send(self.http.post(url).form(form)).await
    }

    /// Email-first sign-in and the IdP's signed response (for the fleet's public ACS); the
    /// ACS's answer.
    async fn sign_in(&mut self, public: &str, email: &str) -> reqwest::Response {
        self.cookies.clear();
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let redirect = self
            .post("/login", &[("csrf", &csrf), ("email", email)])
            .await;
        let to = location(&redirect);
        let query = to.split_once('?').unwrap().1;
        let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
        let xml = String::from_utf8(message.xml.clone()).unwrap();
        let id_at = xml.find(" ID=\"").unwrap() + 5;
        let request_id = &xml[id_at..id_at + xml[id_at..].find('"').unwrap()];
        let relay = url::form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == "RelayState")
            .unwrap()
            .1
            .into_owned();
        let idp = TestIdp::from_pem(IDP_ENTITY, KEY.as_bytes(), CERT.as_bytes()).unwrap();
        let spec = ResponseSpec::new(
            &format!("{public}/saml/metadata"),
            &format!("{public}/saml/acs"),
            SystemTime::now(),
        )
        .in_response_to(request_id)
        .name_id(email);
        let response = idp.response_base64(&spec).unwrap();
        self.post(
            "/saml/acs",
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The secret of the `otpauth://` URI on an enrolment page.
fn enrolment_secret(page: &str) -> String {
    let start_at = page.find("otpauth://").unwrap();
    let uri = page[start_at..start_at + page[start_at..].find('<').unwrap()].replace("&amp;", "&");
    url::Url::parse(&uri)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "secret")
        .unwrap()
        .1
        .into_owned()
}

fn code_at(secret: &str, at: SystemTime) -> String {
    jsm_sso_mfa::TotpSecret::from_base32(secret, jsm_sso_mfa::TotpParams::default())
        .unwrap()
        .totp(at)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn enrol_on_one_instance_be_challenged_on_another() {
    let Some(redis_url) = redis_url() else {
        return;
    };
    let _already = rustls::crypto::ring::default_provider().install_default();
    let fleet = Fleet::new().await;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("test:fleet-mfa:{}:{nanos}:", std::process::id());
    // The load balancer's address: the SAML audience and ACS every instance names.
    let public = format!("http://127.0.0.1:{}", free_port());
    let (listen_a, listen_b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let config_a = fleet.config("a", &public, &listen_a, &prefix, "");
    let config_b = fleet.config("b", &public, &listen_b, &prefix, "");
    let _a = start(&config_a, &redis_url, &listen_a).await;
    let _b = start(&config_b, &redis_url, &listen_b).await;

    // Instance A: first sign-in, enrolment offered and confirmed.
    let mut on_a = Browser::new(&listen_a);
    let acs = on_a.sign_in(&public, "alice@acme.example").await;
    assert!(location(&acs).ends_with("/mfa/enrol"), "{}", location(&acs));
    let page = on_a.get("/mfa/enrol").await.text().await.unwrap();
    let secret = enrolment_secret(&page);
    let now = SystemTime::now();
    let used = code_at(&secret, now);
    let done = on_a
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &used)])
        .await;
    assert!(
        location(&done).ends_with("/portals"),
        "{:?}",
        done.headers()
    );

    // Redis holds the confirmed factor, sealed: one key under the prefix's mfa:factor:.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = raw.keys(format!("{prefix}mfa:factor:*")).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let value: String = raw.get(&keys[0]).await.unwrap();
    assert!(value.starts_with(r#"{"confirmed":"totp1.c."#), "{value}");
    assert!(!value.contains(&secret), "the clear secret is in Redis");
    let ttl: i64 = raw.ttl(&keys[0]).await.unwrap();
    assert_eq!(ttl, -1, "a factor must not expire");

    // Instance B: the same customer is challenged, not offered a new enrolment.
    let mut on_b = Browser::new(&listen_b);
    let acs = on_b.sign_in(&public, "alice@acme.example").await;
    let to = location(&acs);
    assert!(to.ends_with("/mfa") && !to.ends_with("/mfa/enrol"), "{to}");
    assert!(
        !on_b
            .get("/mfa/enrol")
            .await
            .text()
            .await
            .unwrap()
            .contains("otpauth://"),
        "instance B offered a new enrolment"
    );
    // The code A accepted is used up on B too (one replay guard in Redis).
    let page = on_b.get("/mfa").await.text().await.unwrap();
    let replayed = on_b
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &used)])
        .await;
    assert!(
        !location(&replayed).ends_with("/portals"),
        "a code used on A was accepted again on B"
    );
    // The next step's code (inside the ±1 step window) passes.
    let page = on_b.get("/mfa").await.text().await.unwrap();
    let next = code_at(&secret, now + Duration::from_secs(30));
    let done = on_b
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &next)])
        .await;
    assert!(
        location(&done).ends_with("/portals"),
        "{:?}",
        done.headers()
    );
    let portals = on_b.get("/portals").await;
    assert_eq!(portals.status(), 200);
    // Still one factor, still the confirmed one.
    let after: String = raw.get(&keys[0]).await.unwrap();
    assert_eq!(after, value);
}

#[test]
fn check_names_secrets_file_with_redis_as_a_conflict() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fleet = rt.block_on(Fleet::new());
    let listen = format!("127.0.0.1:{}", free_port());
    let d = fleet.dir.path().display().to_string();
    let config = fleet.config(
        "conflict",
        &format!("http://{listen}"),
        &listen,
        "jsm-sso:",
        &format!("secrets_file = \"{d}/factors.json\"\n"),
    );
    // Nothing listens there: the Redis problem is reported too, and does not hide this one.
    let unreachable = format!("redis://127.0.0.1:{}/", free_port());
    let output = command(&config, &unreachable)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let errors = json["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == "config.key.conflict" && e["location"] == "mfa.secrets_file"),
        "{json}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["code"].as_str().unwrap().starts_with("redis.")),
        "{json}"
    );
    assert!(!Path::new(&format!("{d}/factors.json")).exists());
}
