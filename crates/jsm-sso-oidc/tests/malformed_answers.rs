//! What the relying party does when a provider endpoint answers something that is not a
//! well-formed answer (token, userinfo, Graph), when the callback names a provider that is
//! not configured, and when the pending request in the state store is unreadable: each is
//! refused with its own code, never accepted and never a panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::memory::MemoryStateStore;
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{Clock, HttpClient, Secret, StateStore};
use jsm_sso_oidc::{
    AuthorizationOptions, Callback, CodedError, Profile, ProviderConfig, ProviderMetadata,
    RelyingParty,
};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp};
use serde_json::json;

const ISS: &str = "https://op.test";
const CLIENT: &str = "portal";
const REDIRECT: &str = "https://portal.example/oidc/callback";
const GRAPH: &str = "https://graph.test/v1.0/me/getMemberObjects";

/// The test OP, except that requests whose path ends with `path` get `body` back.
#[derive(Clone)]
struct Answering {
    op: TestOp,
    path: &'static str,
    body: Vec<u8>,
}

#[async_trait::async_trait]
impl HttpClient for Answering {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        if request.uri().path().ends_with(self.path) {
            return Ok(http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(self.body.clone())
                .expect("a valid response"));
        }
        self.op.send(request).await
    }
}

struct Setup {
    op: TestOp,
    clock: Arc<FixedClock>,
    store: Arc<MemoryStateStore>,
}

fn setup() -> Setup {
    let clock = Arc::new(FixedClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let op = TestOp::new(TestIssuer::new(ISS, CLIENT, clock.clone()));
    let store = Arc::new(MemoryStateStore::new(clock.clone(), 1000));
    Setup { op, clock, store }
}

async fn provider(
    setup: &Setup,
    change: impl FnOnce(ProviderConfigBuilder) -> ProviderConfigBuilder,
) -> ProviderConfig {
    let metadata = ProviderMetadata::discover(&setup.op, ISS).await.unwrap();
    change(
        ProviderConfig::builder("op")
            .metadata(metadata)
            .client_id(CLIENT)
            .client_secret_basic(Secret::new("secret"))
            .redirect_uri(REDIRECT),
    )
    .build()
    .unwrap()
}

type ProviderConfigBuilder = jsm_sso_oidc::ProviderConfigBuilder;

/// Signs in through a relying party whose HTTP client answers `path` with `body`, and
/// returns the code `finish` refused the callback with.
async fn refused_with(
    path: &'static str,
    body: &[u8],
    change: impl FnOnce(ProviderConfigBuilder) -> ProviderConfigBuilder,
) -> &'static str {
    let setup = setup();
    let config = provider(&setup, change).await;
    let http = Answering {
        op: setup.op.clone(),
        path,
        body: body.to_vec(),
    };
    let rp = RelyingParty::new(Arc::new(http), setup.store.clone(), setup.clock.clone())
        .with_provider(config);
    let request = rp
        .begin(&IdpId::from("op"), &AuthorizationOptions::default())
        .await
        .unwrap();
    let redirect = setup.op.authorize(&request.url).unwrap();
    let callback = Callback::from_url(&redirect).unwrap();
    match rp.finish(&callback, None).await {
        Ok(identity) => panic!("accepted: {identity:?}"),
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn token_endpoint_answers_that_are_not_token_responses() {
    let same = |b| b;
    assert_eq!(
        refused_with("/token", b"<html>gateway</html>", same).await,
        "oidc.token.malformed"
    );
    assert_eq!(
        refused_with("/token", br#"{"token_type":"Bearer"}"#, same).await,
        "oidc.token.malformed",
        "no access_token"
    );
    assert_eq!(
        refused_with(
            "/token",
            br#"{"access_token":"a","token_type":"MAC","id_token":"x.y.z"}"#,
            same
        )
        .await,
        "oidc.token.malformed",
        "not a bearer token"
    );
    assert_eq!(
        refused_with(
            "/token",
            br#"{"access_token":"a","token_type":"Bearer","id_token":42}"#,
            same
        )
        .await,
        "oidc.token.malformed",
        "id_token not a string"
    );
    let oversized = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(2 << 20));
    assert_eq!(
        refused_with("/token", oversized.as_bytes(), same).await,
        "oidc.token.malformed",
        "oversized answer"
    );
}

#[tokio::test]
async fn an_openid_provider_must_return_an_id_token() {
    assert_eq!(
        refused_with(
            "/token",
            br#"{"access_token":"a","token_type":"Bearer"}"#,
            |b| b
        )
        .await,
        "oidc.token.id_token_missing"
    );
}

#[tokio::test]
async fn userinfo_answers_that_are_not_json_objects() {
    for body in [&b"not json"[..], b"[1,2]", b"\"a string\""] {
        assert_eq!(
            refused_with("/userinfo", body, |b| b.fetch_userinfo(true)).await,
            "oidc.userinfo.malformed",
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn graph_answers_that_are_not_member_lists() {
    let setup_overage = |op: &TestOp| {
        op.on_id_token(|b| {
            b.without("groups")
                .claim("_claim_names", json!({"groups": "src1"}))
                .claim(
                    "_claim_sources",
                    json!({"src1": {"endpoint": "https://graph.test/x"}}),
                )
        });
    };
    for body in [
        &b"not json"[..],
        br#"{"value": "not a list"}"#,
        br#"{"value": [1, 2]}"#,
    ] {
        let setup = setup();
        setup_overage(&setup.op);
        let config = provider(&setup, |b| {
            b.profile(Profile::Entra).graph_groups_endpoint(GRAPH)
        })
        .await;
        let http = Answering {
            op: setup.op.clone(),
            path: "/getMemberObjects",
            body: body.to_vec(),
        };
        let rp = RelyingParty::new(Arc::new(http), setup.store.clone(), setup.clock.clone())
            .with_provider(config);
        let request = rp
            .begin(&IdpId::from("op"), &AuthorizationOptions::default())
            .await
            .unwrap();
        let callback = Callback::from_url(&setup.op.authorize(&request.url).unwrap()).unwrap();
        let err = rp.finish(&callback, None).await.unwrap_err();
        assert_eq!(
            err.code(),
            "oidc.claims.graph_malformed",
            "{}: {err}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn an_unconfigured_provider_is_refused() {
    let setup = setup();
    let rp = RelyingParty::new(
        Arc::new(setup.op.clone()),
        setup.store.clone(),
        setup.clock.clone(),
    )
    .with_provider(provider(&setup, |b| b).await);
    let err = rp
        .begin(&IdpId::from("nobody"), &AuthorizationOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oidc.config.unknown_provider");
}

#[tokio::test]
async fn an_unreadable_pending_request_is_refused() {
    let setup = setup();
    let rp = RelyingParty::new(
        Arc::new(setup.op.clone()),
        setup.store.clone(),
        setup.clock.clone(),
    )
    .with_provider(provider(&setup, |b| b).await);
    // A store shared with something else that wrote under the same key.
    let expires = setup.clock.now() + Duration::from_secs(60);
    setup
        .store
        .put("oidc:planted", b"{not json".to_vec(), expires)
        .await
        .unwrap();
    let callback = Callback::from_url(&format!("{REDIRECT}?code=c&state=planted")).unwrap();
    let err = rp.finish(&callback, None).await.unwrap_err();
    assert_eq!(err.code(), "oidc.state.malformed");
    // Taken once: the same state is now unknown.
    let err = rp.finish(&callback, None).await.unwrap_err();
    assert_eq!(err.code(), "oidc.state.unknown");
}

#[tokio::test]
async fn every_standard_authorization_error_keeps_its_own_code() {
    let setup = setup();
    let rp = RelyingParty::new(
        Arc::new(setup.op.clone()),
        setup.store.clone(),
        setup.clock.clone(),
    )
    .with_provider(provider(&setup, |b| b).await);
    for (error, expected) in [
        ("access_denied", "oidc.authorization.access_denied"),
        ("invalid_request", "oidc.authorization.invalid_request"),
        (
            "unauthorized_client",
            "oidc.authorization.unauthorized_client",
        ),
        (
            "unsupported_response_type",
            "oidc.authorization.unsupported_response_type",
        ),
        ("invalid_scope", "oidc.authorization.invalid_scope"),
        ("server_error", "oidc.authorization.server_error"),
        (
            "temporarily_unavailable",
            "oidc.authorization.temporarily_unavailable",
        ),
        (
            "interaction_required",
            "oidc.authorization.interaction_required",
        ),
        ("login_required", "oidc.authorization.login_required"),
        (
            "account_selection_required",
            "oidc.authorization.account_selection_required",
        ),
        ("consent_required", "oidc.authorization.consent_required"),
        ("made_up_by_the_provider", "oidc.authorization.error"),
    ] {
        let callback = Callback::from_url(&format!("{REDIRECT}?error={error}")).unwrap();
        let err = rp.finish(&callback, None).await.unwrap_err();
        assert_eq!(err.code(), expected, "{error}");
    }
}
