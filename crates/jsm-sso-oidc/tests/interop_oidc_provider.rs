//! Interop with a real OpenID Provider: Node's `oidc-provider` (OpenID Certified), started
//! by `scripts/peers.d/oidc-provider.sh` on 127.0.0.1 (`JSM_SSO_OIDC_PROVIDER_URL`).
//!
//! Over real HTTP, through the core `ReqwestHttpClient`: discovery, JWKS, the authorization
//! request with PKCE S256, the OP's login and consent pages (driven like a browser with a
//! cookie jar, redirects followed by hand), the callback with RFC 9207 `iss`, the code
//! exchange (client_secret_basic), ID token validation for RS256, ES256 and EdDSA clients,
//! userinfo; then a key rotation at the OP (new kids) handled without restarting the relying
//! party, within the one-refetch-a-minute rule.
//!
//! Without the variable the test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which starts the OP).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and the \
              skip line goes to stderr"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsm_sso_core::identity::IdpId;
use jsm_sso_core::memory::MemoryStateStore;
use jsm_sso_core::transport::{HttpError, ReqwestHttpClient};
use jsm_sso_core::{Clock, HttpClient, Secret, VerifiedIdentity};
use jsm_sso_oidc::{
    AuthorizationOptions, Callback, CodedError, Error, ProviderConfig, ProviderMetadata,
    RelyingParty, ResponseMode,
};

const REDIRECT: &str = "http://127.0.0.1:1/callback";

/// The rotation test changes the OP's keys (and loses its sign-ins in progress): it runs
/// alone, the others share.
static OP_KEYS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The OP's URL, or `None` after printing why the test skips (or panicking when
/// `JSM_SSO_REQUIRE_PEERS=1`).
fn op_url() -> Option<String> {
    let required = std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    match std::env::var("JSM_SSO_OIDC_PROVIDER_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required => panic!(
            "JSM_SSO_REQUIRE_PEERS=1 but JSM_SSO_OIDC_PROVIDER_URL is not set; \
             source scripts/peers.d/oidc-provider.sh"
        ),
        _ => {
            eprintln!(
                "skipping oidc-provider interop: JSM_SSO_OIDC_PROVIDER_URL is not set \
                 (scripts/test.sh starts the peer)"
            );
            None
        }
    }
}

/// The system clock moved forward by a settable number of seconds (to pass the JWKS
/// refetch interval without waiting a minute).
#[derive(Debug, Default)]
struct AheadClock(AtomicU64);

impl Clock for AheadClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// The real HTTP client, counting requests per path.
struct Counting {
    inner: ReqwestHttpClient,
    hits: Mutex<BTreeMap<String, usize>>,
}

impl Counting {
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl HttpClient for Counting {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        *self
            .hits
            .lock()
            .unwrap()
            .entry(request.uri().path().to_owned())
            .or_default() += 1;
        self.inner.send(request).await
    }
}

fn http_client() -> ReqwestHttpClient {
    ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A browser: a cookie jar and redirects followed by hand.
struct Browser {
    http: ReqwestHttpClient,
    cookies: BTreeMap<String, String>,
    steps: AtomicUsize,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: http_client(),
            cookies: BTreeMap::new(),
            steps: AtomicUsize::new(0),
        }
    }

    async fn request(
        &mut self,
        method: &str,
        url: &str,
        form: Option<&str>,
    ) -> http::Response<Vec<u8>> {
        assert!(
            self.steps.fetch_add(1, Ordering::SeqCst) < 30,
            "too many steps"
        );
        let mut builder = http::Request::builder().method(method).uri(url);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.header(http::header::COOKIE, jar.join("; "));
        }
        if form.is_some() {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let request = builder
            .body(form.unwrap_or("").as_bytes().to_vec())
            .unwrap();
        let response = self.http.send(request).await.unwrap();
        for value in response.headers().get_all(http::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        response
    }

    /// Follows the authorization URL through login and consent until the OP sends the
    /// browser back to the relying party: a redirect (query response mode) or an
    /// auto-submitting form (form_post); returns the authorization response.
    async fn authorize(&mut self, op: &str, url: &str, user: &str) -> Callback {
        let mut response = self.request("GET", url, None).await;
        loop {
            let status = response.status();
            let body = String::from_utf8_lossy(response.body()).into_owned();
            if status.is_success() && body.contains(&format!("action=\"{REDIRECT}\"")) {
                return Callback::parse(form_post_inputs(&body).as_bytes()).unwrap();
            }
            assert!(
                status.is_redirection(),
                "status {status}: {}",
                String::from_utf8_lossy(response.body())
            );
            let location = response.headers()[http::header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            let next = if location.starts_with('/') {
                format!("{op}{location}")
            } else {
                location
            };
            if next.starts_with(REDIRECT) {
                return Callback::from_url(&next).unwrap();
            }
            if next.contains("/interaction/") {
                let page = self.request("GET", &next, None).await;
                let html = String::from_utf8_lossy(page.body()).into_owned();
                let form = if html.contains("name=\"prompt\" value=\"login\"") {
                    format!("prompt=login&login={user}&password=any")
                } else if html.contains("name=\"prompt\" value=\"consent\"") {
                    "prompt=consent".to_owned()
                } else {
                    panic!("unexpected interaction page: {html}");
                };
                response = self.request("POST", &next, Some(&form)).await;
            } else {
                response = self.request("GET", &next, None).await;
            }
        }
    }
}

/// The hidden inputs of a form_post page, form-encoded.
fn form_post_inputs(html: &str) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for input in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = input.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            let len = input[start..].find('"').unwrap();
            input[start..start + len]
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        form.append_pair(&attr("name"), &attr("value"));
    }
    form.finish()
}

struct Setup {
    op: String,
    http: Arc<Counting>,
    clock: Arc<AheadClock>,
    rp: RelyingParty,
}

async fn setup(op: &str) -> Setup {
    let http = Arc::new(Counting {
        inner: http_client(),
        hits: Mutex::new(BTreeMap::new()),
    });
    let clock = Arc::new(AheadClock::default());
    let store = Arc::new(MemoryStateStore::new(clock.clone(), 1000));
    let metadata = ProviderMetadata::discover(&*http, op).await.unwrap();
    assert!(metadata.authorization_response_iss_parameter_supported);
    let mut rp = RelyingParty::new(http.clone(), store, clock.clone());
    for alg in ["rs256", "es256", "eddsa"] {
        let config = ProviderConfig::builder(alg)
            .metadata(metadata.clone())
            .client_id(format!("jsm-{alg}"))
            .client_secret_basic(Secret::new("jsm-secret"))
            .redirect_uri(REDIRECT)
            .scopes(["openid", "email", "profile", "groups"])
            .fetch_userinfo(true)
            .build()
            .unwrap();
        rp = rp.with_provider(config);
    }
    let form_post = ProviderConfig::builder("rs256-form-post")
        .metadata(metadata)
        .client_id("jsm-rs256")
        .client_secret_basic(Secret::new("jsm-secret"))
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "groups"])
        .response_mode(ResponseMode::FormPost)
        .build()
        .unwrap();
    rp = rp.with_provider(form_post);
    Setup {
        op: op.to_owned(),
        http,
        clock,
        rp,
    }
}

async fn sign_in(s: &Setup, idp: &str, user: &str) -> Result<VerifiedIdentity, Error> {
    let request =
        s.rp.begin(&IdpId::from(idp), &AuthorizationOptions::default())
            .await?;
    let callback = Browser::new().authorize(&s.op, &request.url, user).await;
    assert_eq!(callback.iss.as_deref(), Some(s.op.as_str()), "RFC 9207 iss");
    s.rp.finish(&callback, Some(&IdpId::from(idp))).await
}

#[tokio::test]
async fn authorization_code_flow_with_each_algorithm() {
    let Some(op) = op_url() else { return };
    let _shared = OP_KEYS.read().await;
    let s = setup(&op).await;
    for idp in ["rs256", "es256", "eddsa"] {
        let identity = sign_in(&s, idp, "alice")
            .await
            .unwrap_or_else(|e| panic!("{idp}: {} {e}", e.code()));
        assert_eq!(identity.subject.value, "alice");
        assert_eq!(
            identity.verified_email().map(|e| e.as_str()),
            Some("alice@example.com")
        );
        assert_eq!(identity.groups, ["customers", "gold"]);
        assert_eq!(identity.attribute("name"), ["Alice Example"]);
    }
    // Keys fetched once per provider (each client is a provider), tokens and userinfo once
    // per sign-in.
    assert_eq!(s.http.hits("/jwks"), 3);
    assert_eq!(s.http.hits("/token"), 3);
    assert_eq!(s.http.hits("/me"), 3);

    // An unverified email is kept but not trusted.
    let bob = sign_in(&s, "rs256", "bob").await.unwrap();
    assert_eq!(
        bob.email.as_ref().map(|e| e.as_str()),
        Some("bob@example.com")
    );
    assert!(!bob.email_verified);
}

#[tokio::test]
async fn form_post_response_mode() {
    let Some(op) = op_url() else { return };
    let _shared = OP_KEYS.read().await;
    let s = setup(&op).await;
    let identity = sign_in(&s, "rs256-form-post", "alice").await.unwrap();
    assert_eq!(identity.subject.value, "alice");
    assert_eq!(identity.groups, ["customers", "gold"]);
}

#[tokio::test]
async fn the_op_refuses_a_request_without_pkce() {
    let Some(op) = op_url() else { return };
    let _shared = OP_KEYS.read().await;
    let s = setup(&op).await;
    let request =
        s.rp.begin(&IdpId::from("rs256"), &AuthorizationOptions::default())
            .await
            .unwrap();
    let mut url = url::Url::parse(&request.url).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let callback = Browser::new().authorize(&op, url.as_str(), "alice").await;
    let err = s.rp.finish(&callback, None).await.unwrap_err();
    assert_eq!(err.code(), "oidc.authorization.invalid_request", "{err}");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let Some(op) = op_url() else { return };
    let _shared = OP_KEYS.read().await;
    let s = setup(&op).await;
    let request =
        s.rp.begin(&IdpId::from("es256"), &AuthorizationOptions::default())
            .await
            .unwrap();
    let callback = Browser::new().authorize(&op, &request.url, "alice").await;
    s.rp.finish(&callback, None).await.unwrap();
    assert_eq!(
        s.rp.finish(&callback, None).await.unwrap_err().code(),
        "oidc.state.unknown"
    );
}

#[tokio::test]
async fn key_rotation_at_the_op_without_restart() {
    let Some(op) = op_url() else { return };
    let _alone = OP_KEYS.write().await;
    let s = setup(&op).await;
    sign_in(&s, "rs256", "alice").await.unwrap();
    assert_eq!(s.http.hits("/jwks"), 1);

    // The OP rotates: new kids first in its JWKS, tokens signed with them.
    let rotate = http::Request::post(format!("{op}/__test/rotate"))
        .body(Vec::new())
        .unwrap();
    let answer = http_client().send(rotate).await.unwrap();
    assert_eq!(answer.status(), 200);

    // Within a minute of the last fetch the new kid is not fetched for: refused, no storm.
    let err = sign_in(&s, "rs256", "alice").await.unwrap_err();
    assert_eq!(err.code(), "oidc.jwks.unknown_kid", "{err}");
    assert_eq!(s.http.hits("/jwks"), 1);

    // A minute later (the relying party's clock), one refetch and the new key verifies.
    s.clock.0.store(61, Ordering::SeqCst);
    let identity = sign_in(&s, "rs256", "alice").await.unwrap();
    assert_eq!(identity.subject.value, "alice");
    assert_eq!(s.http.hits("/jwks"), 2);
    // The other algorithms' new keys too (their providers fetch for the first time).
    for idp in ["es256", "eddsa"] {
        let identity = sign_in(&s, idp, "alice")
            .await
            .unwrap_or_else(|e| panic!("{idp}: {} {e}", e.code()));
        assert_eq!(identity.subject.value, "alice");
    }
    assert_eq!(s.http.hits("/jwks"), 4);
}
