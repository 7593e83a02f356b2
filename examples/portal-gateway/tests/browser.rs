//! The gateway in a real browser: headless Chromium driven over WebDriver (chromedriver),
//! against the demo on 127.0.0.1 — SAML sign-in -> portal list -> request raised (seen in
//! JSM in memory), a denied domain sees the policy's reason, TOTP enrolment with the code
//! computed from the page's otpauth URI, then the admin audit page shows the events.
//! A second test signs in through the real Node `oidc-provider` peer
//! (`JSM_SSO_OIDC_PROVIDER_URL`, started by `scripts/peers.d/oidc-provider.sh`; its
//! `jsm-gateway` client): the OP's own login and consent pages, then the portal list; an
//! account whose email the OP does not vouch for is refused.
//! Screenshots of each page go to `target/browser-artifacts/`.
//!
//! Without `chromium` and `chromedriver` on PATH the test prints a skip line and passes,
//! unless `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which installs them).
//! Chromium runs with its background services off and every host name but 127.0.0.1
//! unresolvable, so nothing but loopback is contacted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test; the skip line goes to stderr"
)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use common::{enrolment_secret, peer_url, totp_code};
use jsm_sso_gateway::demo::{Demo, DemoOptions, ExternalOidc};
use serde_json::{Value, json};

fn on_path(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(cmd))
            .find(|p| p.is_file())
    })
}

struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    http: reqwest::Client,
    base: String,
    artifacts: PathBuf,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let text = request.send().await.unwrap().text().await.unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(value["value"].get("error").is_none(), "{path}: {text}");
        value["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self
                .http
                .post(format!("{}/element", self.base))
                .header("content-type", "application/json")
                .body(json!({"using": "css selector", "value": css}).to_string())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            if let Some(id) = value["value"]
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css}: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clears a field (the OP pre-fills its login field from the gateway's `login_hint`).
    async fn clear(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let source = self.source().await;
            if source.contains(needle) {
                return source;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {needle:?} at {}: {source}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(self.artifacts.join(format!("{name}.png")), bytes).unwrap();
    }

    async fn forget_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Email-first sign-in, then the persona at the demo IdP.
    async fn sign_in(&self, demo: &Demo, email: &str, shot: &str) {
        self.forget_cookies().await;
        self.go(&format!("{}/login", demo.url())).await;
        self.type_into("#email", email).await;
        self.screenshot(&format!("{shot}-1-sign-in")).await;
        self.click("#continue").await;
        self.wait_for(email).await;
        self.screenshot(&format!("{shot}-2-idp")).await;
        self.click(&format!("[id=\"persona-{email}\"]")).await;
    }
}

/// One browser session over a chromedriver of its own; the session is closed (and
/// Chromium with it) when dropped, then chromedriver is stopped.
struct Session {
    browser: Browser,
    _driver: Driver,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Blocking delete: Drop cannot await, and the runtime may be shutting down.
        let base = self.browser.base.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let _ = reqwest::Client::new().delete(base).send().await;
            });
        })
        .join();
    }
}

/// Starts chromedriver and a headless Chromium session, or `None` (after the skip line)
/// when they are not installed and peers are not required.
async fn start_browser() -> Option<Session> {
    let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
    else {
        assert!(
            std::env::var("JSM_SSO_REQUIRE_PEERS").as_deref() != Ok("1"),
            "JSM_SSO_REQUIRE_PEERS=1 but chromium or chromedriver is not on PATH"
        );
        eprintln!(
            "skipped: chromium and chromedriver are not installed (scripts/test.sh installs them)"
        );
        return None;
    };
    let _already = rustls::crypto::ring::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver {
        child: Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let http = reqwest::Client::new();
    let root = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{root}/status")).send().await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--window-size=1200,900",
    ];
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": chromium, "args": args}
    }}});
    let created: Value = serde_json::from_str(
        &http
            .post(format!("{root}/session"))
            .header("content-type", "application/json")
            .body(caps.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let artifacts =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    Some(Session {
        browser: Browser {
            http,
            base: format!("{root}/session/{session}"),
            artifacts,
        },
        _driver: driver,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_request_denial_mfa_and_audit() {
    let Some(session) = start_browser().await else {
        return;
    };
    let browser = &session.browser;
    let demo = Demo::start(DemoOptions::default()).await.unwrap();

    // SAML sign-in -> portal list -> request raised.
    browser.sign_in(&demo, "alice@acme.example", "saml").await;
    browser.wait_for("id=\"portals\"").await;
    browser.screenshot("saml-3-portals").await;
    browser.click("a[id^=\"raise-\"]").await;
    browser
        .type_into("#f-summary", "Laptop will not boot")
        .await;
    browser
        .type_into("#f-description", "Since this morning.")
        .await;
    browser.screenshot("saml-4-request-form").await;
    browser.click("#send").await;
    let done = browser.wait_for("id=\"request-key\"").await;
    browser.screenshot("saml-5-request-raised").await;
    let requests = demo.jsm().unwrap().requests();
    assert_eq!(requests.len(), 1);
    assert!(done.contains(&requests[0].issue_key));
    assert_eq!(requests[0].fields["summary"], "Laptop will not boot");

    // Sign-out with SAML Single Logout: the POST redirects to the IdP's logout endpoint
    // (allowed by the CSP's form-action), whose signed answer posts back to BASE/saml/slo.
    browser.click("#sign-out").await;
    browser
        .wait_for("You are signed out here and at your sign-in provider.")
        .await;
    browser.screenshot("saml-6-signed-out").await;
    browser.go(&format!("{}/portals", demo.url())).await;
    browser.wait_for("id=\"email-form\"").await;

    // A denied domain sees the policy's reason.
    browser
        .sign_in(&demo, "mallory@evil.example", "denied")
        .await;
    browser
        .wait_for("Accounts from evil.example cannot use this portal.")
        .await;
    browser.screenshot("denied-3-reason").await;

    // MFA: enrolment with the code from the page's otpauth URI, then the portals.
    browser.sign_in(&demo, "frank@acme.example", "mfa").await;
    let page = browser.wait_for("otpauth://").await;
    browser.screenshot("mfa-3-enrol").await;
    let code = totp_code(&enrolment_secret(&page), SystemTime::now());
    browser.type_into("#code", &code).await;
    browser.click("#verify").await;
    browser.wait_for("Billing").await;
    browser.screenshot("mfa-4-portals").await;

    // The admin audit page shows the events and the chain status.
    browser.sign_in(&demo, "ada@acme.example", "admin").await;
    browser.wait_for("id=\"portals\"").await;
    browser.go(&format!("{}/admin/audit", demo.url())).await;
    let audit = browser.wait_for("Hash chain intact").await;
    browser.screenshot("admin-3-audit").await;
    for needle in [
        "signin.succeeded",
        "broker.policy.denied",
        "request.raised",
        "mfa.enrolled",
        "alice@acme.example",
    ] {
        assert!(audit.contains(needle), "{needle} not on the audit page");
    }
    browser.go(&format!("{}/admin/customers", demo.url())).await;
    browser.wait_for("frank@acme.example").await;
    browser.screenshot("admin-4-customers").await;
}

/// The `oidc-provider` peer's URL, or `None` after the skip line (a failure when
/// `JSM_SSO_REQUIRE_PEERS=1`).
fn oidc_provider_url() -> Option<String> {
    peer_url("JSM_SSO_OIDC_PROVIDER_URL", "oidc-provider.sh")
}

/// Signs in at the real Node `oidc-provider` (its own devInteractions login and consent
/// pages) through the gateway's email-first page, as the OP's `jsm-gateway` client.
async fn oidc_provider_sign_in(
    browser: &Browser,
    demo: &Demo,
    login: &str,
    email: &str,
    shot: &str,
) {
    browser.forget_cookies().await;
    browser.go(&format!("{}/login", demo.url())).await;
    browser.type_into("#email", email).await;
    browser.screenshot(&format!("{shot}-1-sign-in")).await;
    browser.click("#continue").await;
    // The OP's own login page: any password.
    browser.wait_for("name=\"password\"").await;
    let at = browser.url().await;
    assert!(
        at.starts_with(&std::env::var("JSM_SSO_OIDC_PROVIDER_URL").unwrap()),
        "not at the OP: {at}"
    );
    browser.clear("input[name=\"login\"]").await;
    browser.type_into("input[name=\"login\"]", login).await;
    browser
        .type_into("input[name=\"password\"]", "any password")
        .await;
    browser.screenshot(&format!("{shot}-2-op-login")).await;
    browser.click("button[type=\"submit\"]").await;
    // Its consent page.
    browser.wait_for("value=\"consent\"").await;
    browser.screenshot(&format!("{shot}-3-op-consent")).await;
    browser.click("button[type=\"submit\"]").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_oidc_sign_in_at_oidc_provider() {
    let Some(issuer) = oidc_provider_url() else {
        return;
    };
    let Some(session) = start_browser().await else {
        return;
    };
    let browser = &session.browser;
    let demo = Demo::start(DemoOptions {
        external_oidc: Some(ExternalOidc {
            id: "oidc-provider".into(),
            display_name: "oidc-provider (Node)".into(),
            issuer,
            client_id: "jsm-gateway".into(),
            client_secret: "jsm-secret".into(),
            domains: vec!["example.com".into()],
        }),
        ..DemoOptions::default()
    })
    .await
    .unwrap();

    // alice has a verified email at the OP: the policy's partner rule lets her in.
    oidc_provider_sign_in(browser, &demo, "alice", "alice@example.com", "oidc").await;
    let portals = browser.wait_for("id=\"portals\"").await;
    browser.screenshot("oidc-4-portals").await;
    assert!(portals.contains("Help Center"), "{portals}");
    assert!(!portals.contains("Billing"), "{portals}");
    assert!(
        demo.jsm()
            .unwrap()
            .customers()
            .iter()
            .any(|(_, email)| email == "alice@example.com"),
        "alice is not a JSM customer: {:?}",
        demo.jsm().unwrap().customers()
    );

    // bob's email is unverified at the OP: the email-domain rule does not match him.
    oidc_provider_sign_in(browser, &demo, "bob", "bob@example.com", "oidc-unverified").await;
    let refused = browser.wait_for("id=\"reference\"").await;
    browser.screenshot("oidc-unverified-4-refused").await;
    assert!(refused.contains("Access denied"), "{refused}");
    assert!(!refused.contains("id=\"portals\""), "{refused}");
    assert!(
        !demo
            .jsm()
            .unwrap()
            .customers()
            .iter()
            .any(|(_, email)| email == "bob@example.com"),
        "a refused sign-in made a customer"
    );
}
