//! A sign-in refused after the token response arrived carries the ID token's decoded,
//! UNVERIFIED header and claims (and userinfo) for diagnosis: the error code, message and
//! hint stay those of the failed check; a token that does not decode gives no dump; the
//! access token and the signature are never in it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsm_sso_core::Secret;
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::memory::MemoryStateStore;
use jsm_sso_core::transport::HttpError;
use jsm_sso_oidc::{
    AuthorizationOptions, Callback, CodedError, Error, OAuth2Claims, ProviderConfig,
    ProviderConfigBuilder, ProviderMetadata, RelyingParty, TokenDump, UNVERIFIED_BANNER,
};
use jsm_sso_testkit::oidc::{IdTokenBuilder, TestIssuer, TestOp, TestUser};
use serde_json::{Map, Value, json};

const ISS: &str = "https://op.test";
const CLIENT: &str = "portal";
const REDIRECT: &str = "https://portal.example/oidc/callback";

type Rewrite = fn(&mut Map<String, Value>);
type Configure = fn(ProviderConfigBuilder) -> ProviderConfigBuilder;

/// The test OP, with every token response recorded and optionally rewritten on the way.
#[derive(Clone)]
struct Recording {
    op: TestOp,
    responses: Arc<Mutex<Vec<Map<String, Value>>>>,
    rewrite: Option<Rewrite>,
}

#[async_trait::async_trait]
impl jsm_sso_core::HttpClient for Recording {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let token = request.uri().path().ends_with("/token");
        let response = self.op.send(request).await?;
        if !token || !response.status().is_success() {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let mut json: Map<String, Value> = serde_json::from_slice(&body).unwrap();
        if let Some(rewrite) = self.rewrite {
            rewrite(&mut json);
        }
        self.responses.lock().unwrap().push(json.clone());
        Ok(http::Response::from_parts(
            parts,
            serde_json::to_vec(&json).unwrap(),
        ))
    }
}

struct Setup {
    op: TestOp,
    http: Recording,
    rp: RelyingParty,
}

impl Setup {
    async fn new(rewrite: Option<Rewrite>, configure: Configure) -> Self {
        let clock = Arc::new(FixedClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ));
        let op = TestOp::new(TestIssuer::new(ISS, CLIENT, clock.clone()));
        let http = Recording {
            op: op.clone(),
            responses: Arc::default(),
            rewrite,
        };
        let config = ProviderConfig::builder("op")
            .metadata(ProviderMetadata::discover(&op, ISS).await.unwrap())
            .client_id(CLIENT)
            .client_secret_basic(Secret::new("secret"))
            .redirect_uri(REDIRECT);
        let store = Arc::new(MemoryStateStore::new(clock.clone(), 1000));
        let rp = RelyingParty::new(Arc::new(http.clone()), store, clock)
            .with_provider(configure(config).build().unwrap());
        Self { op, http, rp }
    }

    async fn plain() -> Self {
        Self::new(None, |c| c).await
    }

    /// One sign-in through the OP; the error it ends with.
    async fn refused(&self) -> Error {
        let request = self
            .rp
            .begin(&IdpId::from("op"), &AuthorizationOptions::default())
            .await
            .unwrap();
        let callback = Callback::from_url(&self.op.authorize(&request.url).unwrap()).unwrap();
        self.rp
            .finish(&callback, Some(&IdpId::from("op")))
            .await
            .unwrap_err()
    }

    /// The last token response the OP sent.
    fn last_response(&self) -> Map<String, Value> {
        self.http.responses.lock().unwrap().last().cloned().unwrap()
    }
}

/// Neither the access token nor the ID token's signature is anywhere in the dump.
fn assert_no_secrets(dump: &TokenDump, response: &Map<String, Value>) {
    let text = dump.to_text();
    let access = response["access_token"].as_str().unwrap();
    assert!(!text.contains(access), "access token shown: {text}");
    if let Some(signature) = response
        .get("id_token")
        .and_then(Value::as_str)
        .and_then(|t| t.rsplit('.').next())
        .filter(|s| !s.is_empty())
    {
        assert!(!text.contains(signature), "signature shown: {text}");
    }
}

#[tokio::test]
async fn wrong_audience_exposes_the_claims_and_keeps_its_code() {
    let setup = Setup::plain().await;
    setup.op.on_id_token(|b| b.claim("aud", "another-client"));
    let err = setup.refused().await;
    assert_eq!(err.code(), "oidc.id_token.audience");
    assert_eq!(
        err.hint(),
        "check the client id: the token was issued to another client"
    );
    assert_eq!(
        err.to_string(),
        "id token audience is [another-client], expected it to contain \"portal\""
    );
    assert!(matches!(err.inner(), Error::Audience { expected, .. } if expected == CLIENT));
    let dump = err.unverified_token().expect("the refused token's claims");
    let claims = dump.claims().unwrap();
    assert_eq!(claims["aud"], "another-client");
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(dump.header().unwrap()["alg"], "RS256");
    assert!(dump.userinfo().is_none() && !dump.clipped());
    let text = dump.to_text();
    assert!(text.starts_with(UNVERIFIED_BANNER), "{text}");
    assert!(text.contains("\"aud\": \"another-client\""), "{text}");
    assert_eq!(dump.to_json()["unverified"], true);
    assert_no_secrets(dump, &setup.last_response());
    // The claims stay out of the error's Debug (logs), only their names are there.
    let debug = format!("{err:?}");
    assert!(
        debug.contains("\"email\"") && !debug.contains("alice@example.com"),
        "{debug}"
    );
}

#[tokio::test]
async fn each_refused_check_keeps_its_code_and_exposes_the_claims() {
    type Break = fn(IdTokenBuilder) -> IdTokenBuilder;
    let cases: [(&str, Break); 6] = [
        ("oidc.id_token.expired", |b| b.shift_times(-3600)),
        ("oidc.id_token.issuer", |b| {
            b.claim("iss", "https://evil.test")
        }),
        ("oidc.id_token.signature", IdTokenBuilder::corrupt_signature),
        ("oidc.nonce.mismatch", |b| b.claim("nonce", "replayed")),
        ("oidc.id_token.alg_none", IdTokenBuilder::unsigned),
        ("oidc.jwks.unknown_kid", |b| b.header("kid", "made-up")),
    ];
    let setup = Setup::plain().await;
    for (expected, hook) in cases {
        setup.op.on_id_token(hook);
        let err = setup.refused().await;
        assert_eq!(err.code(), expected);
        assert_eq!(err.inner().code(), expected);
        assert_eq!(err.to_string(), err.inner().to_string());
        let dump = err
            .unverified_token()
            .unwrap_or_else(|| panic!("{expected}: no dump"));
        let claims = dump.claims().unwrap();
        assert_eq!(claims["email"], "alice@example.com", "{expected}");
        assert_no_secrets(dump, &setup.last_response());
    }
    // The expired token's times are there to compare with the clock.
    setup.op.on_id_token(|b| b.shift_times(-3600));
    let err = setup.refused().await;
    let claims = err.unverified_token().unwrap().claims().unwrap();
    assert_eq!(claims["exp"], 1_700_000_000 - 3600 + 300);
}

#[tokio::test]
async fn a_token_that_cannot_be_decoded_exposes_nothing() {
    let cases: [(&str, Rewrite); 4] = [
        ("oidc.jwt.malformed", |r| {
            r.insert("id_token".into(), "not-a-jwt".into());
        }),
        ("oidc.id_token.signature", |r| {
            // Three parts, but the payload is not base64url JSON (the signature, checked
            // first, no longer fits either).
            let t = r["id_token"].as_str().unwrap().to_owned();
            let mut parts = t.split('.');
            let header = parts.next().unwrap().to_owned();
            r.insert("id_token".into(), format!("{header}.!!!.c2ln").into());
        }),
        ("oidc.jwt.encrypted", |r| {
            r.insert("id_token".into(), "a.b.c.d.e".into());
        }),
        ("oidc.token.id_token_missing", |r| {
            r.remove("id_token");
        }),
    ];
    for (expected, rewrite) in cases {
        let setup = Setup::new(Some(rewrite), |c| c).await;
        let err = setup.refused().await;
        assert_eq!(err.code(), expected);
        assert!(err.unverified_token().is_none(), "{expected}: {err:?}");
        assert!(!matches!(err, Error::TokenRefused(_)));
    }
}

#[tokio::test]
async fn refusals_before_the_token_response_expose_nothing() {
    let setup = Setup::plain().await;
    setup.op.set_client_secret("rotated");
    let err = setup.refused().await;
    assert_eq!(err.code(), "oidc.token.error");
    assert!(err.unverified_token().is_none());
    let forged = Callback::from_url(&format!("{REDIRECT}?code=x&state=forged")).unwrap();
    let err = setup.rp.finish(&forged, None).await.unwrap_err();
    assert_eq!(err.code(), "oidc.state.unknown");
    assert!(err.unverified_token().is_none());
}

#[tokio::test]
async fn userinfo_refusal_shows_the_token_and_the_userinfo() {
    let setup = Setup::new(None, |c| c.fetch_userinfo(true)).await;
    setup.op.on_id_token(|b| b.claim("sub", "someone-else"));
    let err = setup.refused().await;
    assert_eq!(err.code(), "oidc.userinfo.sub_mismatch");
    let dump = err.unverified_token().unwrap();
    assert_eq!(dump.claims().unwrap()["sub"], "someone-else");
    assert_eq!(dump.userinfo().unwrap()["sub"], "alice");
    assert_no_secrets(dump, &setup.last_response());
}

#[tokio::test]
async fn plain_oauth2_refusal_shows_the_userinfo() {
    let setup = Setup::new(None, |c| {
        c.scopes(["read:user"]).oauth2_claims(OAuth2Claims {
            subject: "login".into(),
            email: Some("email".into()),
            email_verified: None,
            emails_verified: false,
            groups: None,
        })
    })
    .await;
    let mut user = TestUser::alice();
    user.userinfo_only.insert("id".into(), json!(4242));
    setup.op.set_user(user);
    let err = setup.refused().await;
    assert_eq!(err.code(), "oidc.claims.path_missing");
    assert!(matches!(err.inner(), Error::ClaimPathMissing { path } if path == "login"));
    let dump = err.unverified_token().unwrap();
    assert!(dump.header().is_none() && dump.claims().is_none());
    let info = dump.userinfo().unwrap();
    assert_eq!(
        (info["id"].clone(), info["email"].clone()),
        (json!(4242), json!("alice@example.com"))
    );
    assert_no_secrets(dump, &setup.last_response());
}
