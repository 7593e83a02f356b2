//! The authorization-code flow against the in-process OpenID Provider of jsm-sso-testkit:
//! discovery, JWKS caching and rotation, state, PKCE, callback checks (error, RFC 9207 iss,
//! mix-up), code exchange with each client authentication, userinfo, claims to identity.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::memory::MemoryStateStore;
use jsm_sso_core::{Clock, Secret};
use jsm_sso_oidc::{
    AuthorizationOptions, Callback, ClientKey, CodedError, Expectations, JwksCache, KeySet,
    OAuth2Claims, Profile, Provider, ProviderConfig, ProviderMetadata, RelyingParty, ResponseMode,
};
use jsm_sso_testkit::oidc::{TestIssuer, TestKey, TestOp, TestUser};
use serde_json::json;

const ISS: &str = "https://op.test";
const CLIENT: &str = "portal";
const REDIRECT: &str = "https://portal.example/oidc/callback";

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

fn op_at(issuer: &str, clock: &Arc<FixedClock>) -> TestOp {
    TestOp::new(TestIssuer::new(issuer, CLIENT, clock.clone()))
}

async fn config(op: &TestOp, issuer: &str) -> jsm_sso_oidc::ProviderConfigBuilder {
    let metadata = ProviderMetadata::discover(op, issuer).await.unwrap();
    ProviderConfig::builder("op")
        .metadata(metadata)
        .client_id(CLIENT)
        .client_secret_basic(Secret::new("secret"))
        .redirect_uri(REDIRECT)
}

fn rp(op: &TestOp, clock: &Arc<FixedClock>) -> RelyingParty {
    let store = Arc::new(MemoryStateStore::new(clock.clone(), 1000));
    RelyingParty::new(Arc::new(op.clone()), store, clock.clone())
}

/// begin, the OP's authorization endpoint, then the callback as the browser brings it.
async fn sign_in(rp: &RelyingParty, op: &TestOp, idp: &str) -> (Callback, String) {
    let request = rp
        .begin(&IdpId::from(idp), &AuthorizationOptions::default())
        .await
        .unwrap();
    let redirect = op.authorize(&request.url).unwrap();
    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    (Callback::from_url(&redirect).unwrap(), request.state)
}

fn code<T>(result: Result<T, jsm_sso_oidc::Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn full_flow_yields_the_identity() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let config = config(&op, ISS).await.fetch_userinfo(true).build().unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let request = rp
        .begin(
            &IdpId::from("op"),
            &AuthorizationOptions::default()
                .login_hint("alice@example.com")
                .prompt("login"),
        )
        .await
        .unwrap();
    let url = url::Url::parse(&request.url).unwrap();
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["login_hint"], "alice@example.com");
    assert_eq!(params["prompt"], "login");
    assert_eq!(params["state"], request.state);
    assert!(params["nonce"].len() >= 43 && params["state"].len() >= 43);
    assert!(!params.contains_key("code_verifier"));

    let redirect = op.authorize(&request.url).unwrap();
    let callback = Callback::from_url(&redirect).unwrap();
    assert_eq!(callback.iss.as_deref(), Some(ISS));
    let identity = rp
        .finish(&callback, Some(&IdpId::from("op")))
        .await
        .unwrap();
    assert_eq!(identity.idp.as_str(), "op");
    assert_eq!(identity.protocol, Protocol::Oidc);
    assert_eq!(identity.subject.value, "alice");
    assert_eq!(
        identity.verified_email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(identity.groups, ["customers"]);
    assert_eq!(identity.attribute("name"), ["Alice Example"]);
    assert_eq!(op.hits("/token"), 1);
    assert_eq!(op.hits("/userinfo"), 1);

    // The state is single use: the same callback again is refused before any exchange.
    assert_eq!(code(rp.finish(&callback, None).await), "oidc.state.unknown");
    assert_eq!(op.hits("/token"), 1);
}

#[tokio::test]
async fn unknown_or_missing_state_is_refused() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp = rp(&op, &clock).with_provider(config(&op, ISS).await.build().unwrap());
    let (mut callback, _) = sign_in(&rp, &op, "op").await;
    callback.state = Some("forged".into());
    assert_eq!(code(rp.finish(&callback, None).await), "oidc.state.unknown");
    callback.state = None;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.callback.malformed"
    );
    // Expired pending requests are gone.
    let (callback, _) = sign_in(&rp, &op, "op").await;
    clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(code(rp.finish(&callback, None).await), "oidc.state.unknown");
}

#[tokio::test]
async fn error_responses_keep_their_code() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp = rp(&op, &clock).with_provider(config(&op, ISS).await.build().unwrap());
    let request = rp
        .begin(&IdpId::from("op"), &AuthorizationOptions::default())
        .await
        .unwrap();
    // The OP refuses a request without PKCE with invalid_request.
    let without_pkce = request
        .url
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let redirect = op.authorize(&without_pkce).unwrap();
    let err = rp
        .finish(&Callback::from_url(&redirect).unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oidc.authorization.invalid_request");
    assert!(err.to_string().contains("PKCE S256 is required"), "{err}");

    let request = rp
        .begin(&IdpId::from("op"), &AuthorizationOptions::default())
        .await
        .unwrap();
    let denied = format!(
        "{REDIRECT}?error=access_denied&state={}&iss={ISS}",
        request.state
    );
    assert_eq!(
        code(rp.finish(&Callback::from_url(&denied).unwrap(), None).await),
        "oidc.authorization.access_denied"
    );
    // An error without state is still reported with its code.
    let stateless = format!("{REDIRECT}?error=login_required");
    assert_eq!(
        code(
            rp.finish(&Callback::from_url(&stateless).unwrap(), None)
                .await
        ),
        "oidc.authorization.login_required"
    );
}

#[tokio::test]
async fn rfc9207_iss_is_checked() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp = rp(&op, &clock).with_provider(config(&op, ISS).await.build().unwrap());
    let (mut callback, _) = sign_in(&rp, &op, "op").await;
    callback.iss = Some("https://attacker.test".into());
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.callback.issuer"
    );
    // The OP advertises iss on every response, so its absence is refused too.
    let (mut callback, _) = sign_in(&rp, &op, "op").await;
    callback.iss = None;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.callback.issuer"
    );
}

#[tokio::test]
async fn mix_up_the_callback_is_bound_to_the_provider_the_request_went_to() {
    let clock = clock();
    let honest = op_at(ISS, &clock);
    let evil_iss = "https://evil-op.test";
    let evil = op_at(evil_iss, &clock);
    // One HttpClient that routes by host to the two OPs.
    #[derive(Clone)]
    struct Both(TestOp, TestOp);
    #[async_trait::async_trait]
    impl jsm_sso_core::HttpClient for Both {
        async fn send(
            &self,
            r: http::Request<Vec<u8>>,
        ) -> Result<http::Response<Vec<u8>>, jsm_sso_core::transport::HttpError> {
            if r.uri().host() == Some("evil-op.test") {
                self.1.send(r).await
            } else {
                self.0.send(r).await
            }
        }
    }
    let both = Both(honest.clone(), evil.clone());
    let store = Arc::new(MemoryStateStore::new(clock.clone(), 1000));
    let honest_cfg = config(&honest, ISS).await.build().unwrap();
    let evil_cfg = ProviderConfig::builder("evil")
        .metadata(ProviderMetadata::discover(&evil, evil_iss).await.unwrap())
        .client_id(CLIENT)
        .client_secret_basic(Secret::new("secret"))
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
    let rp = RelyingParty::new(Arc::new(both), store, clock.clone())
        .with_provider(honest_cfg)
        .with_provider(evil_cfg);

    // The user starts at the honest OP; the evil OP answers the callback (its iss).
    let request = rp
        .begin(&IdpId::from("op"), &AuthorizationOptions::default())
        .await
        .unwrap();
    let evil_request = rp
        .begin(&IdpId::from("evil"), &AuthorizationOptions::default())
        .await
        .unwrap();
    let evil_redirect = evil.authorize(&evil_request.url).unwrap();
    let mut forged = Callback::from_url(&evil_redirect).unwrap();
    forged.state = Some(request.state.clone());
    assert_eq!(code(rp.finish(&forged, None).await), "oidc.callback.issuer");
    assert_eq!(honest.hits("/token") + evil.hits("/token"), 0);

    // Routed to the evil provider's callback while the request went to the honest one.
    let (callback, _) = sign_in(&rp, &honest, "op").await;
    assert_eq!(
        code(rp.finish(&callback, Some(&IdpId::from("evil"))).await),
        "oidc.callback.provider_mismatch"
    );
}

#[tokio::test]
async fn tokens_from_the_op_are_fully_checked() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp = rp(&op, &clock).with_provider(config(&op, ISS).await.build().unwrap());
    type Builder = jsm_sso_testkit::oidc::IdTokenBuilder;
    type Break = fn(Builder) -> Builder;
    let cases: [(&str, Break); 5] = [
        ("oidc.nonce.mismatch", |b| b.claim("nonce", "replayed")),
        ("oidc.nonce.missing", |b| b.without("nonce")),
        ("oidc.id_token.at_hash", |b| {
            b.claim("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")
        }),
        ("oidc.id_token.audience", |b| b.claim("aud", "another")),
        ("oidc.id_token.alg_none", Builder::unsigned),
    ];
    for (expected, hook) in cases {
        op.on_id_token(hook);
        let (callback, _) = sign_in(&rp, &op, "op").await;
        assert_eq!(code(rp.finish(&callback, None).await), expected);
    }
}

#[tokio::test]
async fn max_age_requires_a_fresh_auth_time() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let config = config(&op, ISS)
        .await
        .max_age(Duration::from_secs(300))
        .build()
        .unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let (callback, _) = sign_in(&rp, &op, "op").await;
    assert_eq!(code(rp.finish(&callback, None).await), "ok");
    op.on_id_token(|b| b.claim("auth_time", 1_700_000_000 - 1000));
    let (callback, _) = sign_in(&rp, &op, "op").await;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.id_token.auth_time_stale"
    );
    op.on_id_token(|b| b.without("auth_time"));
    let (callback, _) = sign_in(&rp, &op, "op").await;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.id_token.auth_time_missing"
    );
}

#[tokio::test]
async fn client_authentication_methods() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    for builder in [
        config(&op, ISS)
            .await
            .client_secret_post(Secret::new("secret")),
        config(&op, ISS).await.private_key_jwt(
            ClientKey::p256_pkcs8(TestKey::es256().pkcs8_der(), Some("client-key".into())).unwrap(),
        ),
        config(&op, ISS)
            .await
            .private_key_jwt(ClientKey::rsa_pkcs8(TestKey::rs256_b().pkcs8_der(), None).unwrap()),
    ] {
        let rp = rp(&op, &clock).with_provider(builder.build().unwrap());
        let (callback, _) = sign_in(&rp, &op, "op").await;
        assert_eq!(code(rp.finish(&callback, None).await), "ok");
    }
    let rp = rp(&op, &clock).with_provider(
        config(&op, ISS)
            .await
            .client_secret_basic(Secret::new("wrong"))
            .build()
            .unwrap(),
    );
    let (callback, _) = sign_in(&rp, &op, "op").await;
    let err = rp.finish(&callback, None).await.unwrap_err();
    assert_eq!(err.code(), "oidc.token.error");
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn form_post_and_hints_are_requested() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let config = config(&op, ISS)
        .await
        .response_mode(ResponseMode::FormPost)
        .build()
        .unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let request = rp
        .begin(
            &IdpId::from("op"),
            &AuthorizationOptions::default().domain_hint("example.com"),
        )
        .await
        .unwrap();
    assert!(request.url.contains("response_mode=form_post"));
    assert!(request.url.contains("domain_hint=example.com"));
    // The form body the browser would POST.
    let redirect = op.authorize(&request.url).unwrap();
    let body = url::Url::parse(&redirect)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let callback = Callback::parse(body.as_bytes()).unwrap();
    assert_eq!(code(rp.finish(&callback, None).await), "ok");
}

#[tokio::test]
async fn userinfo_subject_must_match() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp =
        rp(&op, &clock).with_provider(config(&op, ISS).await.fetch_userinfo(true).build().unwrap());
    op.on_id_token(|b| b.claim("sub", "someone-else"));
    let (callback, _) = sign_in(&rp, &op, "op").await;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.userinfo.sub_mismatch"
    );
}

#[tokio::test]
async fn unverified_email_is_not_trusted_and_profiles_map_groups() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let mut user = TestUser::alice();
    user.claims.insert("email_verified".into(), false.into());
    user.claims.insert("cognito:groups".into(), json!(["gold"]));
    op.set_user(user);
    let rp = rp(&op, &clock).with_provider(
        config(&op, ISS)
            .await
            .profile(Profile::Cognito)
            .build()
            .unwrap(),
    );
    let (callback, _) = sign_in(&rp, &op, "op").await;
    let identity = rp.finish(&callback, None).await.unwrap();
    assert_eq!(
        identity.email.as_ref().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert!(!identity.email_verified);
    assert_eq!(identity.verified_email(), None);
    assert_eq!(identity.groups, ["gold"]);
}

#[tokio::test]
async fn plain_oauth2_provider_through_userinfo() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let mut user = TestUser::alice();
    user.userinfo_only.insert("id".into(), json!(4242));
    op.set_user(user);
    let metadata = ProviderMetadata::discover(&op, ISS).await.unwrap();
    let config = ProviderConfig::builder("gh")
        .metadata(metadata)
        .client_id(CLIENT)
        .client_secret_post(Secret::new("secret"))
        .redirect_uri(REDIRECT)
        .scopes(["read:user", "user:email"])
        .oauth2_claims(OAuth2Claims {
            subject: "id".into(),
            email: Some("email".into()),
            email_verified: Some("email_verified".into()),
            emails_verified: false,
            groups: Some("groups".into()),
        })
        .build()
        .unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let request = rp
        .begin(&IdpId::from("gh"), &AuthorizationOptions::default())
        .await
        .unwrap();
    assert!(!request.url.contains("nonce="));
    let callback = Callback::from_url(&op.authorize(&request.url).unwrap()).unwrap();
    let identity = rp.finish(&callback, None).await.unwrap();
    assert_eq!(identity.protocol, Protocol::OAuth2);
    assert_eq!(identity.subject.value, "4242");
    assert!(identity.email_verified);
    assert_eq!(identity.groups, ["customers"]);
}

// ---- discovery and configuration ----------------------------------------------------------

#[tokio::test]
async fn discovery_issuer_must_match() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let doc = op.discovery().to_string();
    assert_eq!(
        code(ProviderMetadata::from_discovery(
            doc.as_bytes(),
            "https://op.test/"
        )),
        "oidc.discovery.issuer_mismatch"
    );
    assert_eq!(
        code(ProviderMetadata::from_discovery(b"{\"issuer\":1}", ISS)),
        "oidc.discovery.malformed"
    );
    // The document is found, but it is another issuer's.
    let other = op_at("https://other.test", &clock);
    assert_eq!(
        code(ProviderMetadata::discover(&other, "https://other.test").await),
        "ok"
    );
    assert_eq!(
        code(ProviderMetadata::discover(&other, "https://other.test/tenant").await),
        "oidc.http.status"
    );
}

#[test]
fn builder_refuses_unsafe_or_incomplete_configurations() {
    let metadata = ProviderMetadata::manual(
        ISS,
        format!("{ISS}/authorize"),
        format!("{ISS}/token"),
        format!("{ISS}/jwks"),
    );
    let base = ProviderConfig::builder("op")
        .metadata(metadata.clone())
        .client_id(CLIENT)
        .redirect_uri(REDIRECT);
    assert_eq!(code(base.clone().build()), "ok");
    assert_eq!(
        code(base.clone().allow_hmac(true).build()),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(
            base.clone()
                .algorithms([jsm_sso_oidc::Algorithm::HS256])
                .client_secret_basic(Secret::new("s"))
                .build()
        ),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(
            base.clone()
                .algorithms([jsm_sso_oidc::Algorithm::HS256])
                .client_secret_basic(Secret::new("s"))
                .allow_hmac(true)
                .build()
        ),
        "ok"
    );
    assert_eq!(
        code(base.clone().leeway(Duration::from_secs(301)).build()),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(base.clone().issuer("https://elsewhere.test").build()),
        "oidc.discovery.issuer_mismatch"
    );
    assert_eq!(
        code(
            base.clone()
                .issuer("https://login.test/{tenantid}/v2.0")
                .build()
        ),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(base.clone().redirect_uri("/relative").build()),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(base.clone().scopes(["profile"]).build()),
        "oidc.config.invalid"
    );
    assert_eq!(
        code(
            ProviderConfig::builder("op")
                .metadata(metadata)
                .redirect_uri(REDIRECT)
                .build()
        ),
        "oidc.config.invalid"
    );
}

// ---- JWKS cache ---------------------------------------------------------------------------

#[tokio::test]
async fn jwks_is_cached_per_cache_control() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    op.jwks_cache_control(Some("public, max-age=600"));
    let cache = JwksCache::new(format!("{ISS}/jwks"), Arc::new(op.clone()), clock.clone());
    cache.keys().await.unwrap();
    cache.keys().await.unwrap();
    assert_eq!(op.hits("/jwks"), 1);
    clock.advance(Duration::from_secs(599));
    cache.keys().await.unwrap();
    assert_eq!(op.hits("/jwks"), 1);
    clock.advance(Duration::from_secs(2));
    cache.keys().await.unwrap();
    assert_eq!(op.hits("/jwks"), 2);
}

#[tokio::test]
async fn key_rotation_at_the_op_is_handled_without_restart() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    op.jwks_cache_control(Some("max-age=86400"));
    let config = config(&op, ISS).await.build().unwrap();
    let provider = Provider::new(
        config,
        Arc::new(op.clone()),
        clock.clone() as Arc<dyn Clock>,
    );
    let expect = |clock: &FixedClock| Expectations::at(clock.now());
    let token = op.with_issuer(|i| i.id_token().build());
    provider
        .validate_id_token(&token, &expect(&clock))
        .await
        .unwrap();
    assert_eq!(op.hits("/jwks"), 1);

    // The OP rotates to a new kid well after the last fetch: one refetch, accepted.
    clock.advance(Duration::from_secs(120));
    op.with_issuer(|i| i.rotate(TestKey::rs256_b()));
    let token = op.with_issuer(|i| i.id_token().build());
    let verified = provider
        .validate_id_token(&token, &expect(&clock))
        .await
        .unwrap();
    assert_eq!(verified.kid.as_deref(), Some("rsa-b"));
    assert_eq!(op.hits("/jwks"), 2);

    // Another rotation within a minute of that fetch: no refetch, the kid is unknown ...
    clock.advance(Duration::from_secs(10));
    op.with_issuer(|i| i.rotate(TestKey::es256()));
    let token = op.with_issuer(|i| i.id_token().build());
    assert_eq!(
        code(provider.validate_id_token(&token, &expect(&clock)).await),
        "oidc.jwks.unknown_kid"
    );
    assert_eq!(op.hits("/jwks"), 2);
    // ... until the minute has passed.
    clock.advance(Duration::from_secs(51));
    assert_eq!(
        code(provider.validate_id_token(&token, &expect(&clock)).await),
        "ok"
    );
    assert_eq!(op.hits("/jwks"), 3);
}

#[tokio::test]
async fn made_up_kids_cause_at_most_one_fetch_a_minute() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    op.jwks_cache_control(Some("max-age=86400"));
    let provider = Provider::new(
        config(&op, ISS).await.build().unwrap(),
        Arc::new(op.clone()),
        clock.clone() as Arc<dyn Clock>,
    );
    for i in 0..100 {
        let token = op.with_issuer(|iss| {
            iss.id_token()
                .header("kid", format!("attacker-{i}"))
                .build()
        });
        assert_eq!(
            code(
                provider
                    .validate_id_token(&token, &Expectations::at(clock.now()))
                    .await
            ),
            "oidc.jwks.unknown_kid"
        );
        clock.advance(Duration::from_secs(1));
    }
    // 100 s of made-up kids: the first fetch, one refetch at once (no fetch was recent),
    // and one after 60 s.
    assert!(op.hits("/jwks") <= 3, "{} fetches", op.hits("/jwks"));
}

#[tokio::test]
async fn jwks_fetch_failures() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let cache = JwksCache::new(
        format!("{ISS}/missing"),
        Arc::new(op.clone()),
        clock.clone(),
    );
    assert_eq!(code(cache.keys().await), "oidc.http.status");
    assert_eq!(op.hits("/missing"), 1);
    // No keys held: tokens arriving right after a failed fetch do not fetch again.
    for _ in 0..50 {
        assert_eq!(code(cache.keys().await), "oidc.jwks.unavailable");
        assert_eq!(
            code(cache.keys_with_kid("made-up").await),
            "oidc.jwks.unavailable"
        );
    }
    assert_eq!(op.hits("/missing"), 1);
    clock.advance(Duration::from_secs(10));
    assert_eq!(code(cache.keys().await), "oidc.http.status");
    assert_eq!(op.hits("/missing"), 2);
    op.with_issuer(|i| i.publish_raw(json!({"kty": "RSA"})));
    let keys = KeySet::from_json(op.with_issuer(|i| i.jwks()).to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
}

#[tokio::test]
async fn entra_style_multi_tenant_issuer() {
    let clock = clock();
    let template = "https://login.test/{tenantid}/v2.0";
    let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let op = op_at(template, &clock);
    op.send_iss(false);
    let tenant_iss = format!("https://login.test/{tenant}/v2.0");
    let metadata = ProviderMetadata::discover_at(
        &op,
        "https://login.test/common/v2.0/.well-known/openid-configuration",
        template,
    )
    .await
    .unwrap();
    let config = ProviderConfig::builder("entra")
        .metadata(metadata)
        .issuer(template)
        .tenants([tenant])
        .client_id(CLIENT)
        .client_secret_basic(Secret::new("secret"))
        .redirect_uri(REDIRECT)
        .profile(Profile::Entra)
        .build()
        .unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let (iss, tid) = (tenant_iss.clone(), tenant.to_owned());
    op.on_id_token(move |b| {
        b.claim("iss", iss.clone())
            .claim("tid", tid.clone())
            .claim("roles", json!(["Portal.User"]))
    });
    let (callback, _) = sign_in(&rp, &op, "entra").await;
    let identity = rp.finish(&callback, None).await.unwrap();
    assert_eq!(identity.groups, ["Portal.User", "customers"]);
    // Entra's email claim is not verified (no xms_edov).
    assert!(!identity.email_verified);

    op.on_id_token(|b| {
        b.claim("iss", "https://login.test/other-tenant/v2.0")
            .claim("tid", "other-tenant")
    });
    let (callback, _) = sign_in(&rp, &op, "entra").await;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.id_token.tenant_not_allowed"
    );
    // Groups overage is reported, not silently dropped.
    let (iss, tid) = (tenant_iss, tenant.to_owned());
    op.on_id_token(move |b| {
        b.claim("iss", iss.clone())
            .claim("tid", tid.clone())
            .without("groups")
            .claim("_claim_names", json!({"groups": "src1"}))
            .claim(
                "_claim_sources",
                json!({"src1": {"endpoint": "https://graph.test/v1.0/users/x/getMemberObjects"}}),
            )
    });
    let (callback, _) = sign_in(&rp, &op, "entra").await;
    assert_eq!(
        code(rp.finish(&callback, None).await),
        "oidc.claims.groups_overage"
    );
}

#[tokio::test]
async fn entra_groups_overage_resolved_through_graph() {
    let clock = clock();
    let op = op_at(ISS, &clock);
    let mut user = TestUser::alice();
    user.graph_groups = vec!["0a1b-group".into(), "2c3d-group".into()];
    op.set_user(user);
    let overage = |b: jsm_sso_testkit::oidc::IdTokenBuilder| {
        b.without("groups")
            .claim("_claim_names", json!({"groups": "src1"}))
            .claim(
                "_claim_sources",
                json!({"src1": {"endpoint": "https://graph.test/x"}}),
            )
    };
    op.on_id_token(overage);
    let graph = "https://graph.test/v1.0/me/getMemberObjects";
    let config = config(&op, ISS)
        .await
        .profile(Profile::Entra)
        .graph_groups_endpoint(graph)
        .build()
        .unwrap();
    let rp = rp(&op, &clock).with_provider(config);
    let (callback, _) = sign_in(&rp, &op, "op").await;
    let identity = rp.finish(&callback, None).await.unwrap();
    assert_eq!(identity.groups, ["0a1b-group", "2c3d-group"]);
    assert_eq!(op.hits("/v1.0/me/getMemberObjects"), 1);

    // A Graph endpoint that answers something else is a clear error.
    let config = config_with_graph(&op, "https://graph.test/v1.0/me/jwks").await;
    let rp2 = rp_for(&op, &clock, config);
    let (callback, _) = sign_in(&rp2, &op, "op").await;
    assert_eq!(code(rp2.finish(&callback, None).await), "oidc.http.status");
}

async fn config_with_graph(op: &TestOp, graph: &str) -> ProviderConfig {
    config(op, ISS)
        .await
        .profile(Profile::Entra)
        .graph_groups_endpoint(graph)
        .build()
        .unwrap()
}

fn rp_for(op: &TestOp, clock: &Arc<FixedClock>, config: ProviderConfig) -> RelyingParty {
    rp(op, clock).with_provider(config)
}

/// Servers run the flow on multi-threaded runtimes (axum needs `Send` handlers).
#[test]
fn flow_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let clock = clock();
    let op = op_at(ISS, &clock);
    let rp = rp(&op, &clock);
    let callback = Callback::default();
    let finish = rp.finish(&callback, None);
    assert_send(&finish);
    let (idp, options) = (IdpId::from("op"), AuthorizationOptions::default());
    let begin = rp.begin(&idp, &options);
    assert_send(&begin);
}
