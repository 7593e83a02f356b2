//! Every route of the gateway through `tower::ServiceExt::oneshot`, on the demo's parts
//! (the embedded SAML IdP and OIDC issuer answer over HTTP on 127.0.0.1), with each
//! refusal: bad CSRF, no session, missing login binding, wrong portal, rate limit, not an
//! admin, denied domain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::time::SystemTime;

use axum::body::Body;
use common::{Client, code, enrolment_secret, hidden, location, text, totp_code};
use http::{Request, StatusCode, header};
use jsm_sso_gateway::demo::{Demo, DemoOptions};
use tower::ServiceExt as _;

async fn demo() -> Demo {
    let _already = rustls::crypto::ring::default_provider().install_default();
    Demo::start(DemoOptions::default()).await.unwrap()
}

fn help(demo: &Demo) -> (String, String) {
    let forms = &demo.gateway().settings().portals[0];
    (forms.id.clone(), forms.request_types[0].id.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn login_page_sets_the_binding_cookie_and_strict_headers() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let response = c.get("/login").await;
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe")
    );
    assert!(csp.contains(&format!("form-action 'self' {}", demo.idp_url())));
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(
        h.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
        "no HSTS on loopback http"
    );
    let cookie = h[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("jsm-sso-login=n.")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    assert!(!cookie.contains("Secure"), "loopback http: no Secure");
    let body = text(response).await;
    assert!(!body.contains("<script"), "no script on the sign-in page");
    assert!(body.contains("idp-acme-saml") && body.contains("idp-globex-oidc"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_form_refuses_a_bad_csrf_token() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let _page = c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[("csrf", "forged"), ("email", "alice@acme.example")],
        )
        .await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "gateway.csrf")
    );
    // A token from another browser's binding is refused too.
    let mut other = Client::new(&demo);
    let token = other.csrf_of("/login").await;
    let r = c
        .post(
            "/login",
            &[("csrf", &token), ("email", "alice@acme.example")],
        )
        .await;
    assert_eq!(code(&r), "gateway.csrf");
    // And no binding cookie at all.
    c.cookies.clear();
    let r = c
        .post(
            "/login",
            &[("csrf", &token), ("email", "alice@acme.example")],
        )
        .await;
    assert_eq!(code(&r), "gateway.csrf");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_domain_stays_on_the_sign_in_page() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.begin("someone@nowhere.example").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        text(r)
            .await
            .contains("No sign-in is set up for that email domain.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn saml_sign_in_lists_portals_and_raises_a_request_with_filled_fields() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let signed = c.saml_sign_in("alice@acme.example").await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER, "{}", code(&signed));
    assert_eq!(location(&signed), "/portals");
    let set: Vec<_> = signed
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(set.iter().any(|s| s.starts_with("jsm-sso=")
        && s.contains("HttpOnly")
        && s.contains("SameSite=Lax")));
    assert!(
        c.cookie("jsm-sso-login").is_none(),
        "the login binding is cleared"
    );
    let (portal, request_type) = help(&demo);
    let list = text(c.get("/portals").await).await;
    assert!(list.contains("Help Center") && !list.contains("Billing"));
    let path = format!("/portals/{portal}/request/{request_type}");
    let form = text(c.get(&path).await).await;
    assert!(form.contains("name=\"summary\"") && !form.contains("name=\"customfield_10050\""));
    assert!(form.contains("Company domain: acme.example"));
    let csrf = hidden(&form, "csrf");
    let r = c
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("summary", "Printer on fire"),
                ("description", "3rd floor"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", code(&r));
    assert!(text(r).await.contains("HELP-"));
    let requests = demo.jsm().unwrap().requests();
    assert_eq!(requests.len(), 1);
    let raised = &requests[0];
    assert_eq!(raised.fields["summary"], "Printer on fire");
    assert_eq!(raised.fields["customfield_10050"], "acme.example");
    let customers = demo.jsm().unwrap().customers();
    let alice = customers
        .iter()
        .find(|(_, e)| e == "alice@acme.example")
        .unwrap();
    assert_eq!(raised.reporter, alice.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_refusals_csrf_extra_field_no_session_wrong_portal() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let _ = c.saml_sign_in("alice@acme.example").await;
    let (portal, request_type) = help(&demo);
    let path = format!("/portals/{portal}/request/{request_type}");
    let r = c.post(&path, &[("csrf", "nope"), ("summary", "x")]).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "gateway.csrf")
    );
    let csrf = c.csrf_of(&path).await;
    let r = c
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("summary", "x"),
                ("customfield_10050", "forged.example"),
            ],
        )
        .await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::BAD_REQUEST, "gateway.request.field")
    );
    let r = c.post(&path, &[("csrf", &csrf), ("summary", " ")]).await;
    assert_eq!(code(&r), "gateway.request.field");
    // Alice has Help Center only: Billing is refused by the gate.
    let billing = &demo.gateway().settings().portals[1];
    let other = format!(
        "/portals/{}/request/{}",
        billing.id, billing.request_types[0].id
    );
    let r = c.get(&other).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "broker.gate.portal_denied")
    );
    let r = c.post(&other, &[("csrf", &csrf), ("summary", "x")]).await;
    assert_eq!(code(&r), "broker.gate.portal_denied");
    let r = c.get(&format!("/portals/{portal}/request/999")).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::NOT_FOUND, "gateway.portal.no_form")
    );
    assert!(demo.jsm().unwrap().requests().is_empty());
    // Without the session: pages redirect to sign-in, posts are refused.
    c.cookies.retain(|(n, _)| n != "jsm-sso");
    let r = c.get("/portals").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/login".to_owned())
    );
    let r = c.get(&path).await;
    assert_eq!(location(&r), format!("/login?portal={portal}"));
    let r = c.post(&path, &[("csrf", &csrf), ("summary", "x")]).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::UNAUTHORIZED, "gateway.session.missing")
    );
    // A forged session cookie is no session.
    c.cookies.push(("jsm-sso".into(), "v1.forged.token".into()));
    let r = c.get("/portals").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_refuses_the_second_request() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let demo = Demo::start(DemoOptions {
        rate_limit: 1,
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    let mut c = Client::new(&demo);
    let _ = c.saml_sign_in("alice@acme.example").await;
    let (portal, request_type) = help(&demo);
    let path = format!("/portals/{portal}/request/{request_type}");
    let csrf = c.csrf_of(&path).await;
    let r = c.post(&path, &[("csrf", &csrf), ("summary", "one")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.post(&path, &[("csrf", &csrf), ("summary", "two")]).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::TOO_MANY_REQUESTS, "broker.gate.rate_limited")
    );
    assert_eq!(demo.jsm().unwrap().requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn acs_refuses_a_callback_without_the_login_binding() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let begun = c.begin("alice@acme.example").await;
    let form = c
        .saml_response(&location(&begun), "alice@acme.example")
        .await;
    let pairs: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    // Another browser (no binding cookie) posts the response: refused, nothing provisioned.
    let mut attacker = Client::new(&demo);
    let r = attacker.post("/saml/acs", &pairs).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "gateway.login.binding")
    );
    assert!(demo.jsm().unwrap().customers().is_empty());
    // The failure is on the troubleshooting list with the decoded response.
    let failure = &demo.gateway().failures()[0];
    assert_eq!(failure.code, "gateway.login.binding");
    assert!(
        failure
            .decoded
            .as_deref()
            .unwrap()
            .contains("alice@acme.example")
    );
    // Junk at the ACS.
    let r = c
        .post(
            "/saml/acs",
            &[
                ("SAMLResponse", "@@@"),
                ("RelayState", "x"),
                ("RelayState", "y"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_domain_sees_the_policys_reason() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.saml_sign_in("mallory@evil.example").await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "broker.policy.denied")
    );
    let body = text(r).await;
    assert!(
        body.contains("Accounts from evil.example cannot use this portal."),
        "{body}"
    );
    assert!(c.cookie("jsm-sso").is_none());
    assert!(
        demo.jsm().unwrap().customers().is_empty(),
        "nothing provisioned"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_sign_in_through_the_demo_issuer() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.oidc_sign_in("bob@globex.example").await;
    assert_eq!((r.status(), code(&r)), (StatusCode::SEE_OTHER, ""));
    let list = text(c.get("/portals").await).await;
    assert!(
        list.contains("Help Center") && list.contains("Billing"),
        "{list}"
    );
    // The callback of one provider does not finish a sign-in begun at another.
    let mut c = Client::new(&demo);
    let begun = c.begin("bob@globex.example").await;
    let state = url::Url::parse(&location(&begun))
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "state")
        .unwrap()
        .1
        .into_owned();
    let r = c
        .get(&format!("/oidc/callback/acme-saml?code=x&state={state}"))
        .await;
    assert_eq!(code(&r), "broker.callback.idp_mismatch");
}

fn totp(page: &str) -> String {
    totp_code(&enrolment_secret(page), SystemTime::now())
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_enrolment_then_challenge() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.saml_sign_in("frank@acme.example").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", code(&r));
    assert_eq!(location(&r), "/mfa/enrol");
    assert!(
        c.cookie("jsm-sso").is_none(),
        "no session before the second factor"
    );
    let page = text(c.get("/mfa/enrol").await).await;
    assert!(page.contains("<svg") && page.contains("otpauth://totp/"));
    let csrf = hidden(&page, "csrf");
    let r = c.post("/mfa", &[("csrf", "bad"), ("code", "000000")]).await;
    assert_eq!(code(&r), "gateway.csrf");
    let code_now = totp(&page);
    let wrong = if code_now == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = c.post("/mfa", &[("csrf", &csrf), ("code", wrong)]).await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::BAD_REQUEST, "broker.mfa.refused")
    );
    let r = c
        .post("/mfa", &[("csrf", &csrf), ("code", &code_now)])
        .await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/portals".to_owned()),
        "{}",
        code(&r)
    );
    let list = text(c.get("/portals").await).await;
    assert!(list.contains("Billing"));
    // Next sign-in: a challenge, no enrolment.
    let mut again = Client::new(&demo);
    let r = again.saml_sign_in("frank@acme.example").await;
    assert_eq!(location(&r), "/mfa");
    let r = again.get("/mfa/enrol").await;
    assert_eq!(location(&r), "/mfa");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_pages_for_admins_only() {
    let demo = demo().await;
    let mut alice = Client::new(&demo);
    let r = alice.get("/admin/audit").await;
    assert_eq!(location(&r), "/login");
    let _ = alice.saml_sign_in("alice@acme.example").await;
    let r = alice.get("/admin/audit").await;
    assert_eq!(
        (r.status(), code(&r)),
        (StatusCode::FORBIDDEN, "gateway.admin.denied")
    );
    let mut mallory = Client::new(&demo);
    let _ = mallory.saml_sign_in("mallory@evil.example").await;
    let mut ada = Client::new(&demo);
    let _ = ada.saml_sign_in("ada@acme.example").await;
    let audit = text(ada.get("/admin/audit").await).await;
    assert!(audit.contains("Hash chain intact"), "{audit}");
    assert!(
        audit.contains("alice@acme.example"),
        "emails are kept in the demo log"
    );
    assert!(audit.contains("signin.succeeded") && audit.contains("broker.policy.denied"));
    let failures = text(ada.get("/admin/audit?outcome=failure").await).await;
    assert!(
        failures.contains("broker.policy.denied") && !failures.contains("<td class=\"ok\">ok</td>")
    );
    let r = ada.get("/admin/audit?kind=nonsense").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let customers = text(ada.get("/admin/customers").await).await;
    assert!(
        customers.contains("alice@acme.example") && customers.contains("Acme Corp"),
        "{customers}"
    );
    assert!(customers.contains("created by broker"));
    let explain = text(
        ada.get("/admin/troubleshoot?email=mallory%40evil.example&idp=acme-saml")
            .await,
    )
    .await;
    assert!(explain.contains("block-evil"), "{explain}");
    assert!(
        explain.contains("broker.policy.denied"),
        "the failed sign-in is listed"
    );
    let reference = demo.gateway().failures()[0].reference.clone();
    let detail = text(
        ada.get(&format!("/admin/troubleshoot?reference={reference}"))
            .await,
    )
    .await;
    assert!(detail.contains("id=\"decoded\"") && detail.contains("mallory@evil.example"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_needs_csrf_and_clears_the_session() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let _ = c.saml_sign_in("alice@acme.example").await;
    let r = c.post("/logout", &[("csrf", "bad")]).await;
    assert_eq!(code(&r), "gateway.csrf");
    let csrf = c.csrf_of("/portals").await;
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    // A SAML session: the local session ends and the browser goes to the IdP's SLO
    // endpoint with our LogoutRequest (Single Logout).
    assert!(c.cookie("jsm-sso").is_none());
    let slo = location(&r);
    assert!(
        slo.starts_with(&format!("{}/saml/slo?SAMLRequest=", demo.idp_url())),
        "{slo}"
    );
    // The demo IdP answers with a signed LogoutResponse, posted back to BASE/saml/slo.
    let page = c.idp.get(&slo).send().await.unwrap().text().await.unwrap();
    let answer = [
        ("SAMLResponse", hidden(&page, "SAMLResponse")),
        ("RelayState", hidden(&page, "RelayState")),
    ];
    let pairs: Vec<(&str, &str)> = answer.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let r = c.post("/saml/slo", &pairs).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", code(&r));
    assert!(
        text(r)
            .await
            .contains("signed out here and at your sign-in provider")
    );
    // The same answer again is refused: the pending logout was single use.
    let r = c.post("/saml/slo", &pairs).await;
    assert_eq!(code(&r), "broker.logout.unknown");
    let r = c.get("/portals").await;
    assert_eq!(location(&r), "/login");
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_sign_out_ends_only_the_local_session() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.oidc_sign_in("bob@globex.example").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", code(&r));
    let csrf = c.csrf_of("/portals").await;
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/login");
    assert!(c.cookie("jsm-sso").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_initiated_logout_is_validated_and_answered() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let _ = c.saml_sign_in("alice@acme.example").await;
    assert!(c.cookie("jsm-sso").is_some());
    // A LogoutRequest signed by a key the gateway does not trust is refused; the session
    // stays.
    let stranger =
        jsm_sso_testkit::saml::TestIdp::generate(&format!("{}/saml/metadata", demo.idp_url()))
            .unwrap();
    let slo = format!("{}/saml/slo", demo.url());
    let now = std::time::SystemTime::now();
    let (_, forged) = stranger
        .logout_request_base64(&slo, "alice@acme.example", None, now)
        .unwrap();
    let r = c.post("/saml/slo", &[("SAMLRequest", &forged)]).await;
    assert_eq!(code(&r), "saml.signature.invalid");
    assert!(c.cookie("jsm-sso").is_some());
    // The demo IdP's own request ends the session and is answered at its SLO endpoint.
    let (id, request) = demo
        .saml_idp()
        .logout_request_base64(&slo, "alice@acme.example", None, now)
        .unwrap();
    let r = c
        .post(
            "/saml/slo",
            &[("SAMLRequest", &request), ("RelayState", "r1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", code(&r));
    let answer = location(&r);
    assert!(answer.starts_with(&format!("{}/saml/slo?SAMLResponse=", demo.idp_url())));
    let query = answer.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    assert!(
        String::from_utf8(message.xml)
            .unwrap()
            .contains(&format!("InResponseTo=\"{id}\""))
    );
    assert_eq!(message.relay_state.as_deref(), Some("r1"));
    assert!(c.cookie("jsm-sso").is_none());
    // Garbage at the SLO endpoint.
    let r = c.get("/saml/slo?SAMLRequest=%25%25").await;
    assert_eq!(code(&r), "broker.logout.unknown");
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_static_health_and_scim() {
    let demo = demo().await;
    let mut c = Client::new(&demo);
    let r = c.get("/saml/metadata").await;
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = text(r).await;
    assert!(xml.contains(&format!("entityID=\"{}/saml/metadata\"", demo.url())));
    assert!(xml.contains(&format!("Location=\"{}/saml/acs\"", demo.url())));
    assert!(xml.contains(&format!("Location=\"{}/saml/slo\"", demo.url())));
    let r = c.get("/static/autosubmit.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(text(c.get("/healthz").await).await, "ok");
    let r = c.get("/scim/v2/Users").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let request = Request::get("/scim/v2/ServiceProviderConfig")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", demo.scim_token()),
        )
        .body(Body::empty())
        .unwrap();
    let r = demo.gateway().router().oneshot(request).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
