//! The troubleshooting page explains a failed OIDC sign-in with the refused ID token's
//! decoded, UNVERIFIED claims: an extra OpenID provider (the testkit OP served over HTTP on
//! 127.0.0.1) issues ID tokens for another audience; the customer sees an opaque failure
//! page with a reference, and the admin sees, for that reference, the error code, the
//! callback parameters and the token's header and claims (`aud`, `iss`, the email), never
//! the access token nor the authorization code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use common::{Client, between, location, path_of, text, unescape};
use http::StatusCode;
use jsm_sso_core::clock::SystemClock;
use jsm_sso_gateway::demo::{ADMIN_EMAIL, Demo, DemoOptions, ExternalOidc};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp, TestUser};

const IDP: &str = "initech-oidc";
const EMAIL: &str = "dave@initech.example";

impl Client {
    /// The admin signs in at the demo's SAML IdP.
    async fn admin_sign_in(&mut self) {
        let done = self.saml_sign_in(ADMIN_EMAIL).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
    }
}

/// The testkit OP served over HTTP on 127.0.0.1 (issuer `http://127.0.0.1:PORT/op`), with
/// every access token it issues recorded.
async fn serve_op() -> (TestOp, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/op", listener.local_addr().unwrap());
    let op = TestOp::new(TestIssuer::new(
        issuer.as_str(),
        "portal",
        Arc::new(SystemClock),
    ));
    let issued = Arc::new(Mutex::new(Vec::new()));
    let (serving, seen) = (op.clone(), issued.clone());
    let app = Router::new().fallback(move |request: axum::extract::Request| {
        let (op, seen) = (serving.clone(), seen.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let response = op.handle(&http::Request::from_parts(parts, body.to_vec()));
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(response.body())
                && let Some(token) = json.get("access_token").and_then(|t| t.as_str())
            {
                seen.lock().unwrap().push(token.to_owned());
            }
            response.map(Body::from)
        }
    });
    tokio::spawn(async move {
        let _ended = axum::serve(listener, app).await;
    });
    (op, issued)
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_id_token_claims_are_on_the_troubleshooting_page() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let (op, issued) = serve_op().await;
    let mut dave = TestUser::alice();
    dave.sub = "dave".into();
    dave.claims.insert("email".into(), EMAIL.into());
    op.set_user(dave);
    // The OP issues its ID tokens for another client than the gateway's.
    op.on_id_token(|b| b.claim("aud", "another-client"));
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let demo = Demo::start(DemoOptions {
        external_oidc: Some(ExternalOidc {
            id: IDP.into(),
            display_name: "Initech (OIDC)".into(),
            issuer: issuer.clone(),
            client_id: "portal".into(),
            client_secret: "secret".into(),
            domains: vec!["initech.example".into()],
        }),
        ..DemoOptions::default()
    })
    .await
    .unwrap();

    // The customer: to the OP, back to the callback, refused with an opaque page.
    let mut customer = Client::new(&demo);
    let begun = customer.begin(EMAIL).await;
    assert_eq!(begun.status(), StatusCode::SEE_OTHER);
    let authorize = location(&begun);
    assert!(authorize.starts_with(&issuer), "{authorize}");
    let callback = op.authorize(&authorize).unwrap();
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "code")
        .unwrap()
        .1
        .into_owned();
    let refused = customer.get(path_of(&callback)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.headers()["x-jsm-sso-error"],
        "oidc.id_token.audience"
    );
    let page = text(refused).await;
    assert!(
        !page.contains("another-client") && !page.contains(EMAIL),
        "the customer sees no claims: {page}"
    );
    let reference = between(&page, "<code id=\"reference\">", "</code>").to_owned();
    let access_tokens = issued.lock().unwrap().clone();
    assert_eq!(access_tokens.len(), 1, "one code exchange");

    // The admin: the code, then the callback parameters and the UNVERIFIED claims.
    let mut admin = Client::new(&demo);
    admin.admin_sign_in().await;
    let detail = admin
        .get(&format!("/admin/troubleshoot?reference={reference}"))
        .await;
    assert_eq!(detail.status(), StatusCode::OK);
    let detail = text(detail).await;
    assert!(detail.contains("oidc.id_token.audience"), "{detail}");
    let decoded = unescape(between(&detail, "<pre id=\"decoded\">", "</pre>"));
    assert!(decoded.contains("code = (present, not shown)"), "{decoded}");
    assert!(decoded.contains(&format!("iss = {issuer}")), "{decoded}");
    assert!(decoded.contains("UNVERIFIED"), "{decoded}");
    for claim in [
        "\"aud\": \"another-client\"".to_owned(),
        format!("\"iss\": \"{issuer}\""),
        format!("\"email\": \"{EMAIL}\""),
        "\"alg\": \"RS256\"".to_owned(),
    ] {
        assert!(decoded.contains(&claim), "{claim} not in {decoded}");
    }
    assert!(!detail.contains(&access_tokens[0]), "access token shown");
    assert!(!detail.contains(&code), "authorization code shown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_before_the_token_response_shows_only_the_callback() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let (op, _issued) = serve_op().await;
    // The gateway's secret no longer works at the OP: the code exchange is refused.
    op.set_client_secret("rotated");
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let demo = Demo::start(DemoOptions {
        external_oidc: Some(ExternalOidc {
            id: IDP.into(),
            display_name: "Initech (OIDC)".into(),
            issuer,
            client_id: "portal".into(),
            client_secret: "secret".into(),
            domains: vec!["initech.example".into()],
        }),
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    let mut customer = Client::new(&demo);
    let begun = customer.begin(EMAIL).await;
    let callback = op.authorize(&location(&begun)).unwrap();
    let refused = customer.get(path_of(&callback)).await;
    assert_eq!(refused.headers()["x-jsm-sso-error"], "oidc.token.error");
    let page = text(refused).await;
    let reference = between(&page, "<code id=\"reference\">", "</code>").to_owned();
    let mut admin = Client::new(&demo);
    admin.admin_sign_in().await;
    let detail = text(
        admin
            .get(&format!("/admin/troubleshoot?reference={reference}"))
            .await,
    )
    .await;
    assert!(detail.contains("oidc.token.error"), "{detail}");
    let decoded = unescape(between(&detail, "<pre id=\"decoded\">", "</pre>"));
    assert!(decoded.contains("code = (present, not shown)"), "{decoded}");
    assert!(
        !decoded.contains("UNVERIFIED"),
        "no token, no claims: {decoded}"
    );
}
