//! [`TestOp`]: the provider's endpoints, in process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use jsm_sso_core::HttpClient;
use jsm_sso_core::transport::HttpError;
use serde_json::{Map, Value, json};

use super::b64;
use super::token::{IdTokenBuilder, TestIssuer};

/// The signed-in user of the authorization endpoint: `sub` and the claims put in ID
/// tokens and userinfo.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// `sub`.
    pub sub: String,
    /// Claims for the ID token (and userinfo).
    pub claims: Map<String, Value>,
    /// Claims only userinfo returns.
    pub userinfo_only: Map<String, Value>,
    /// Group ids a Microsoft Graph `getMemberObjects` call returns (`POST
    /// .../getMemberObjects` with the access token), for groups-overage tests.
    pub graph_groups: Vec<String>,
}

impl TestUser {
    /// `alice` with a verified `alice@example.com`, name and groups `customers`.
    #[must_use]
    pub fn alice() -> Self {
        let mut claims = Map::new();
        claims.insert("email".into(), "alice@example.com".into());
        claims.insert("email_verified".into(), true.into());
        claims.insert("name".into(), "Alice Example".into());
        claims.insert("groups".into(), json!(["customers"]));
        Self {
            sub: "alice".into(),
            claims,
            userinfo_only: Map::new(),
            graph_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    max_age: bool,
}

type TokenHook = Arc<dyn Fn(IdTokenBuilder) -> IdTokenBuilder + Send + Sync>;

struct State {
    issuer: TestIssuer,
    user: TestUser,
    client_secret: String,
    redirect_uris: Vec<String>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, String>,
    hits: BTreeMap<String, usize>,
    jwks_cache_control: Option<String>,
    send_iss: bool,
    hook: Option<TokenHook>,
    counter: u64,
}

/// An OpenID Provider in process: discovery, JWKS (with rotation), authorization, token
/// (client_secret_basic / client_secret_post / private_key_jwt, PKCE S256 required) and
/// userinfo endpoints, on paths under the issuer URL.
///
/// Use it as the relying party's [`HttpClient`], and call [`Self::authorize`] where a
/// browser would follow the redirect: it signs the configured user in and returns the
/// redirect back to the relying party.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use jsm_sso_core::{HttpClient, clock::SystemClock};
/// use jsm_sso_testkit::oidc::{TestIssuer, TestOp};
///
/// let op = TestOp::new(TestIssuer::new("https://op.test", "portal", Arc::new(SystemClock)));
/// let request = http::Request::get("https://op.test/.well-known/openid-configuration")
///     .body(Vec::new()).unwrap();
/// let response = op.send(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # });
/// ```
#[derive(Clone)]
pub struct TestOp {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TestOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestOp")
            .field("issuer", &self.lock().issuer.issuer().to_owned())
            .finish_non_exhaustive()
    }
}

impl TestOp {
    /// A provider for `issuer`, signing in [`TestUser::alice`], client secret `secret`,
    /// any redirect URI until [`Self::redirect_uris`] restricts them.
    #[must_use]
    pub fn new(issuer: TestIssuer) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                issuer,
                user: TestUser::alice(),
                client_secret: "secret".into(),
                redirect_uris: Vec::new(),
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                hits: BTreeMap::new(),
                jwks_cache_control: None,
                send_iss: true,
                hook: None,
                counter: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the issuer (rotate keys, publish junk) in place.
    pub fn with_issuer<R>(&self, change: impl FnOnce(&mut TestIssuer) -> R) -> R {
        change(&mut self.lock().issuer)
    }

    /// The user signed in by [`Self::authorize`].
    pub fn set_user(&self, user: TestUser) {
        self.lock().user = user;
    }

    /// The client secret the token endpoint checks (default `secret`).
    pub fn set_client_secret(&self, secret: impl Into<String>) {
        self.lock().client_secret = secret.into();
    }

    /// Only these redirect URIs are accepted.
    pub fn redirect_uris<S: Into<String>>(&self, uris: impl IntoIterator<Item = S>) {
        self.lock().redirect_uris = uris.into_iter().map(Into::into).collect();
    }

    /// The `Cache-Control` header on JWKS responses.
    pub fn jwks_cache_control(&self, value: Option<&str>) {
        self.lock().jwks_cache_control = value.map(str::to_owned);
    }

    /// Whether authorization responses carry RFC 9207 `iss` (default yes).
    pub fn send_iss(&self, send: bool) {
        self.lock().send_iss = send;
    }

    /// Adjusts every ID token the token endpoint issues (break it for a negative test).
    pub fn on_id_token(
        &self,
        hook: impl Fn(IdTokenBuilder) -> IdTokenBuilder + Send + Sync + 'static,
    ) {
        self.lock().hook = Some(Arc::new(hook));
    }

    /// How many requests reached `path` (for example `/jwks`).
    #[must_use]
    pub fn hits(&self, path: &str) -> usize {
        self.lock().hits.get(path).copied().unwrap_or(0)
    }

    /// The discovery document.
    #[must_use]
    pub fn discovery(&self) -> Value {
        let state = self.lock();
        let iss = state.issuer.issuer().trim_end_matches('/').to_owned();
        json!({
            "issuer": state.issuer.issuer(),
            "authorization_endpoint": format!("{iss}/authorize"),
            "token_endpoint": format!("{iss}/token"),
            "userinfo_endpoint": format!("{iss}/userinfo"),
            "jwks_uri": format!("{iss}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "authorization_response_iss_parameter_supported": state.send_iss,
            "scopes_supported": ["openid", "email", "profile", "groups"],
        })
    }

    fn next_secret(state: &mut State, prefix: &str) -> String {
        state.counter += 1;
        let mut random = [0u8; 16];
        let _ignored =
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        format!("{prefix}-{}-{}", state.counter, b64(&random))
    }

    /// The authorization endpoint: takes the full authorization URL the relying party
    /// built and returns the URL the browser is redirected to (`redirect_uri` with `code`,
    /// `state` and `iss`, or with `error`). A missing `code_challenge` is refused with
    /// `invalid_request` as a real OP with PKCE required does.
    ///
    /// # Errors
    ///
    /// A text saying why no redirect is possible (bad URL, unknown client, redirect URI
    /// not registered): a real OP shows an error page then.
    pub fn authorize(&self, url: &str) -> Result<String, String> {
        let url = url::Url::parse(url).map_err(|e| e.to_string())?;
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let mut state = self.lock();
        *state.hits.entry("/authorize".into()).or_insert(0) += 1;
        let get = |n: &str| params.get(n).cloned();
        let client_id = get("client_id").ok_or("no client_id")?;
        if client_id != state.issuer.client_id() {
            return Err(format!("unknown client {client_id}"));
        }
        let redirect_uri = get("redirect_uri").ok_or("no redirect_uri")?;
        if !state.redirect_uris.is_empty() && !state.redirect_uris.contains(&redirect_uri) {
            return Err(format!("redirect_uri {redirect_uri} is not registered"));
        }
        let mut back = url::Url::parse(&redirect_uri).map_err(|e| e.to_string())?;
        let iss = state.issuer.issuer().to_owned();
        let send_iss = state.send_iss;
        let respond = |back: &mut url::Url, pairs: &[(&str, String)]| {
            let mut q = back.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if send_iss {
                q.append_pair("iss", &iss);
            }
        };
        let rp_state = get("state").unwrap_or_default();
        let challenge = get("code_challenge");
        let ok_method = get("code_challenge_method").as_deref() == Some("S256");
        let (Some(challenge), true) = (challenge, ok_method) else {
            respond(
                &mut back,
                &[
                    ("error", "invalid_request".into()),
                    ("error_description", "PKCE S256 is required".into()),
                    ("state", rp_state),
                ],
            );
            return Ok(back.into());
        };
        if get("response_type").as_deref() != Some("code") {
            respond(
                &mut back,
                &[
                    ("error", "unsupported_response_type".into()),
                    ("state", rp_state),
                ],
            );
            return Ok(back.into());
        }
        let code = Self::next_secret(&mut state, "code");
        state.codes.insert(
            code.clone(),
            Grant {
                client_id,
                redirect_uri,
                nonce: get("nonce"),
                challenge,
                max_age: get("max_age").is_some(),
            },
        );
        respond(&mut back, &[("code", code), ("state", rp_state)]);
        Ok(back.into())
    }

    /// Serves one request to the discovery, JWKS, token or userinfo endpoint (paths under
    /// the issuer URL: `/.well-known/openid-configuration`, `/jwks`, `/token`,
    /// `/userinfo`).
    #[must_use]
    pub fn handle(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let issuer_path = {
            let state = self.lock();
            url::Url::parse(state.issuer.issuer())
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default()
        };
        let path = request.uri().path();
        // Under the issuer's path; a request elsewhere (a multi-tenant provider's
        // `/common/v2.0/...` discovery URL) is routed by its endpoint name.
        let local = match path.strip_prefix(issuer_path.as_str()) {
            Some(local) => local.to_owned(),
            None if path.ends_with("/.well-known/openid-configuration") => {
                "/.well-known/openid-configuration".to_owned()
            }
            None => path
                .rsplit_once('/')
                .map_or_else(|| path.to_owned(), |(_, last)| format!("/{last}")),
        };
        *self.lock().hits.entry(local.clone()).or_insert(0) += 1;
        match (request.method().as_str(), local.as_str()) {
            ("GET", "/.well-known/openid-configuration") => {
                json_response(200, &self.discovery(), None)
            }
            ("GET", "/jwks") => {
                let state = self.lock();
                json_response(
                    200,
                    &state.issuer.jwks(),
                    state.jwks_cache_control.as_deref(),
                )
            }
            ("POST", "/token") => self.token(request),
            ("GET" | "POST", "/userinfo") => self.userinfo(request),
            ("POST", p) if p.ends_with("/getMemberObjects") => self.member_objects(request),
            _ => json_response(404, &json!({"error": "not_found"}), None),
        }
    }

    fn token(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let form: HashMap<String, String> = url::form_urlencoded::parse(request.body())
            .into_owned()
            .collect();
        let mut state = self.lock();
        let oauth_error = |error: &str, description: &str| {
            json_response(
                400,
                &json!({"error": error, "error_description": description}),
                None,
            )
        };
        // Client authentication.
        let basic = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok());
        let (client_id, authenticated) = if let Some(basic) = basic {
            let (id, secret) = basic.split_once(':').unwrap_or((&basic, ""));
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (decode(id), decode(secret) == state.client_secret)
        } else if let Some(secret) = form.get("client_secret") {
            (
                form.get("client_id").cloned().unwrap_or_default(),
                *secret == state.client_secret,
            )
        } else if form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            // The assertion's claims are checked, its signature is not (the test OP has no
            // registered client keys).
            let id = form.get("client_id").cloned().unwrap_or_default();
            let ok = form
                .get("client_assertion")
                .and_then(|a| a.split('.').nth(1).map(str::to_owned))
                .and_then(|p| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
                .is_some_and(|c| {
                    c.get("iss") == Some(&Value::from(id.as_str()))
                        && c.get("sub") == Some(&Value::from(id.as_str()))
                        && c.get("jti").is_some_and(Value::is_string)
                });
            (id, ok)
        } else {
            (form.get("client_id").cloned().unwrap_or_default(), false)
        };
        if client_id != state.issuer.client_id() || !authenticated {
            return oauth_error("invalid_client", "client authentication failed");
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return oauth_error("unsupported_grant_type", "only authorization_code");
        }
        let Some(grant) = form.get("code").and_then(|c| state.codes.remove(c)) else {
            return oauth_error("invalid_grant", "unknown or used code");
        };
        if grant.client_id != client_id || form.get("redirect_uri") != Some(&grant.redirect_uri) {
            return oauth_error("invalid_grant", "redirect_uri or client mismatch");
        }
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let challenge =
            b64(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
        if challenge != grant.challenge {
            return oauth_error("invalid_grant", "PKCE verification failed");
        }
        let access_token = Self::next_secret(&mut state, "at");
        let sub = state.user.sub.clone();
        state.access_tokens.insert(access_token.clone(), sub);
        let mut builder = state
            .issuer
            .id_token()
            .claim("sub", state.user.sub.clone())
            .claim(
                "at_hash",
                super::token::half_hash(state.issuer.active_key().alg(), &access_token),
            );
        for (name, value) in &state.user.claims {
            builder = builder.claim(name, value.clone());
        }
        if let Some(nonce) = grant.nonce {
            builder = builder.claim("nonce", nonce);
        }
        if !grant.max_age {
            builder = builder.without("auth_time");
        }
        if let Some(hook) = &state.hook {
            builder = hook(builder);
        }
        json_response(
            200,
            &json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "id_token": builder.build(),
                "scope": "openid email profile",
            }),
            None,
        )
    }

    fn member_objects(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let state = self.lock();
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !token.is_some_and(|t| state.access_tokens.contains_key(t)) {
            return json_response(
                401,
                &json!({"error": {"code": "InvalidAuthenticationToken"}}),
                None,
            );
        }
        json_response(200, &json!({ "value": state.user.graph_groups }), None)
    }

    fn userinfo(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let state = self.lock();
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(sub) = token.and_then(|t| state.access_tokens.get(t)) else {
            return json_response(401, &json!({"error": "invalid_token"}), None);
        };
        let mut claims = state.user.claims.clone();
        claims.extend(state.user.userinfo_only.clone());
        claims.insert("sub".into(), sub.clone().into());
        json_response(200, &Value::Object(claims), None)
    }
}

fn json_response(
    status: u16,
    body: &Value,
    cache_control: Option<&str>,
) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body.to_string().into_bytes());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(value) = cache_control.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, value);
    }
    response
}

#[async_trait]
impl HttpClient for TestOp {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        Ok(self.handle(&request))
    }
}
