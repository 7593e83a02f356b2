//! Interop with a real SAML IdP: SimpleSAMLphp (Debian's `simplesamlphp`, run by
//! `scripts/peers.d/simplesamlphp.sh` on 127.0.0.1) signs users in through its
//! `exampleauth:UserPass` login form, driven over real HTTP by `support::simplesamlphp::login`.
//!
//! jsm-sso-saml as the SP, end to end:
//! - **alice, `begin_login` / `finish_login`** (HTTP-Redirect binding, RelayState-bound pending
//!   request in a `MemoryStateStore`): the IdP and its SSO endpoint read from the metadata
//!   SimpleSAMLphp serves, the Response validated into a `VerifiedIdentity` (subject, email,
//!   sorted groups, `displayName`, session expiry, two signatures); posting the same form again
//!   is refused (`saml.request.unknown`).
//! - **bob, HTTP-POST binding** (`authn_request` + `validate_post`); the same Response checked
//!   against another request ID is refused (`saml.in_response_to.mismatch`).
//! - **tampering** after capture (NameID swapped, a group added): `saml.signature.digest_mismatch`.
//! - **Single Logout, SP-initiated**: alice signed in (a second AuthnRequest is answered at
//!   once: the IdP session is alive), our signed LogoutRequest (`logout_request`, HTTP-Redirect)
//!   GET at the IdP in the same browser, the IdP's signed LogoutResponse read from its redirect to
//!   our SLO URL and accepted by `validate_logout_response`; afterwards an AuthnRequest meets
//!   the login form. That LogoutResponse for another request: `saml.in_response_to.mismatch`;
//!   its query signature altered or a signed parameter changed: `saml.signature.invalid`; its
//!   signature removed: `saml.signature.missing`. The IdP in turn refuses our LogoutRequest
//!   unsigned or with an altered signature (error page, session kept).
//! - **Single Logout, IdP-initiated** (`SingleLogoutService.php?ReturnTo=`, the traditional
//!   handler's redirects): the IdP's LogoutRequest accepted by `validate_logout_request`,
//!   matched to the Login by `check_session` (bob's NameID or another SessionIndex:
//!   `saml.logout.subject_mismatch`), answered with our signed `logout_response`, after which the
//!   IdP finishes at ReturnTo and its session is gone.
//! - **the captured login** in `tests/vectors/simplesamlphp/` (no peer needed): accepted at its
//!   time, refused past NotOnOrAfter, before NotBefore, for another request and unsolicited,
//!   each with its exact code.
//!
//! The peer and the driver on their own, independent of the crate's validation:
//! - **alice over HTTP-Redirect, bob over HTTP-POST** with a hand-built AuthnRequest: Response
//!   and Assertion signatures (RSA-SHA256, exclusive c14n) verified by jsm-sso-xmldsig against
//!   the certificate from the metadata (which must equal the PEM the peer script made),
//!   InResponseTo, Destination, Issuer, Audience, the emailAddress NameID, exactly the `mail`,
//!   `groups` and `displayName` attributes, RelayState returned unchanged.
//! - the signed NameID changed: `xmldsig.digest.mismatch` on both signatures; a wrong password:
//!   the login form again and no Response; an unregistered SP: an IdP error page.
//! - the form parser the driver relies on, against the HTML shapes IdPs produce.
//!
//! - **the captured logout messages** in `tests/vectors/simplesamlphp-slo/` (no peer needed):
//!   the LogoutResponse accepted for its request only, refused with RelayState changed, at
//!   another SP's SLO URL, under another IdP key and at the LogoutRequest endpoint; the
//!   IdP-initiated LogoutRequest accepted until NotOnOrAfter plus skew, then
//!   `saml.conditions.expired`.
//!
//! With `JSM_SSO_SIMPLESAMLPHP_CAPTURE_DIR=<dir>` the alice Redirect login also writes its
//! Response, AuthnRequest, IdP metadata and certificate there (how the vectors were made);
//! `JSM_SSO_SIMPLESAMLPHP_SLO_CAPTURE_DIR=<dir>` does the same for the two logout messages.
//!
//! Without the peer's variables each peer test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which starts the peer).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and skip \
              lines go to stderr"
)]

mod support;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jsm_sso_core::clock::{Clock, SystemClock};
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_saml::{
    AuthnRequestOptions, Expect, IdentityProvider, Inbound, Login, MetadataOptions, OutboundLogout,
    RequestBinding, ServiceProvider, ServiceProviderConfig, bindings,
};

use jsm_sso_xmldsig::{
    CodedError, Document, Element, Limits, SignatureMethod, SigningKey, TrustedKeys, Verifier,
    VerifyOptions,
};
use support::html;
use support::simplesamlphp::{
    Browser, HTTP_POST, LoginError, NAMEID_EMAIL, Outcome, Peer, SAML, SAMLP, Start, Stop, User,
    login,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A fresh request ID (an NCName, as SAML requires) and the instant it is issued.
fn new_request() -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("_jsmsso{:x}{:x}", std::process::id(), nanos);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    (id, now)
}

/// The IdP's signing certificate as published in its metadata (not the PEM file: the metadata
/// is what an admin would configure).
fn trusted_keys_from_metadata(peer: &Peer) -> TrustedKeys {
    let xml = std::fs::read(&peer.idp_metadata).unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(MD, "EntityDescriptor"));
    assert_eq!(
        root.attribute("entityID"),
        Some(peer.idp_entity_id.as_str())
    );
    let idp = root.child(MD, "IDPSSODescriptor").unwrap();
    let signing = idp
        .children_named(MD, "KeyDescriptor")
        .find(|k| k.attribute("use").is_none_or(|u| u == "signing"))
        .unwrap();
    let cert = signing
        .child(DS, "KeyInfo")
        .and_then(|k| k.child(DS, "X509Data"))
        .and_then(|d| d.child(DS, "X509Certificate"))
        .unwrap()
        .text()
        .into_owned();
    let from_metadata = TrustedKeys::from_certificate_base64(&cert).unwrap();
    let from_pem = TrustedKeys::from_pem(&std::fs::read(&peer.idp_cert).unwrap()).unwrap();
    let fingerprints = |k: &TrustedKeys| k.iter().map(|k| k.fingerprint()).collect::<Vec<_>>();
    assert_eq!(fingerprints(&from_metadata), fingerprints(&from_pem));
    from_metadata
}

fn text(e: Option<Element<'_>>) -> String {
    e.unwrap().text().trim().to_owned()
}

/// Everything the SP will have to check, checked here with jsm-sso-xmldsig and by hand.
fn check_response(peer: &Peer, outcome: &Outcome, request_id: &str, user: &User) {
    assert_eq!(
        outcome.destination.as_str(),
        peer.acs_url,
        "form posts to our ACS"
    );
    let xml = outcome.response_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let response = doc.root();
    assert!(response.is(SAMLP, "Response"), "root is samlp:Response");
    assert_eq!(response.attribute("InResponseTo"), Some(request_id));
    assert_eq!(
        response.attribute("Destination"),
        Some(peer.acs_url.as_str())
    );
    assert_eq!(text(response.child(SAML, "Issuer")), peer.idp_entity_id);
    let status = response
        .child(SAMLP, "Status")
        .and_then(|s| s.child(SAMLP, "StatusCode"))
        .unwrap();
    assert_eq!(status.attribute("Value"), Some(STATUS_SUCCESS));

    let verifier = Verifier::new(trusted_keys_from_metadata(peer), VerifyOptions::default());
    let signed_response = verifier.verify_enveloped(response).unwrap();
    assert_eq!(
        signed_response.info().signature_method,
        SignatureMethod::RsaSha256
    );
    let assertion = signed_response.element().child(SAML, "Assertion").unwrap();
    let signed_assertion = verifier.verify_enveloped(assertion).unwrap();
    assert_eq!(
        signed_assertion.info().signature_method,
        SignatureMethod::RsaSha256
    );
    let assertion = signed_assertion.element();

    assert_eq!(text(assertion.child(SAML, "Issuer")), peer.idp_entity_id);
    let subject = assertion.child(SAML, "Subject").unwrap();
    let name_id = subject.child(SAML, "NameID").unwrap();
    assert_eq!(name_id.attribute("Format"), Some(NAMEID_EMAIL));
    assert_eq!(name_id.text().trim(), user.email);
    let confirmation = subject
        .child(SAML, "SubjectConfirmation")
        .and_then(|c| c.child(SAML, "SubjectConfirmationData"))
        .unwrap();
    assert_eq!(confirmation.attribute("InResponseTo"), Some(request_id));
    assert_eq!(
        confirmation.attribute("Recipient"),
        Some(peer.acs_url.as_str())
    );
    assert!(confirmation.attribute("NotOnOrAfter").is_some());
    let audience = assertion
        .child(SAML, "Conditions")
        .and_then(|c| c.child(SAML, "AudienceRestriction"))
        .and_then(|a| a.child(SAML, "Audience"));
    assert_eq!(text(audience), peer.sp_entity_id);

    let statement = assertion.child(SAML, "AttributeStatement").unwrap();
    let values = |name: &str| -> Vec<String> {
        statement
            .children_named(SAML, "Attribute")
            .filter(|a| a.attribute("Name") == Some(name))
            .flat_map(|a| {
                a.children_named(SAML, "AttributeValue")
                    .map(|v| v.text().into_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(values("mail"), std::slice::from_ref(&user.email));
    assert_eq!(values("groups"), user.groups);
    assert_eq!(
        values("displayName"),
        std::slice::from_ref(&user.display_name)
    );
    // The SP remote metadata releases exactly these three.
    assert_eq!(statement.children_named(SAML, "Attribute").count(), 3);
}

/// With `JSM_SSO_SIMPLESAMLPHP_CAPTURE_DIR` set, keeps this login's artefacts there.
fn capture(peer: &Peer, outcome: &Outcome, request_xml: &str, request_id: &str, issued: &str) {
    let Ok(dir) = std::env::var("JSM_SSO_SIMPLESAMLPHP_CAPTURE_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("response.b64"),
        format!("{}\n", outcome.saml_response),
    )
    .unwrap();
    std::fs::write(dir.join("response.xml"), outcome.response_xml()).unwrap();
    std::fs::write(dir.join("authn-request.xml"), request_xml).unwrap();
    std::fs::copy(&peer.idp_metadata, dir.join("idp-metadata.xml")).unwrap();
    std::fs::copy(&peer.idp_cert, dir.join("idp-cert.pem")).unwrap();
    let captured_at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    std::fs::write(
        dir.join("capture.txt"),
        format!(
            "simplesamlphp_version = {}\nrequest_id = {request_id}\nrequest_issue_instant = \
             {issued}\nrelay_state = {}\ncaptured_at = {captured_at}\nsp_entity_id = {}\n\
             acs_url = {}\nidp_entity_id = {}\nuser = {}\n",
            peer.version,
            outcome.relay_state.as_deref().unwrap_or(""),
            peer.sp_entity_id,
            peer.acs_url,
            peer.idp_entity_id,
            peer.alice.username,
        ),
    )
    .unwrap();
    eprintln!("captured the SimpleSAMLphp login into {}", dir.display());
}

#[tokio::test]
async fn alice_signs_in_over_the_redirect_binding() {
    let Some(peer) = Peer::from_env("alice_signs_in_over_the_redirect_binding") else {
        return;
    };
    let (id, issued) = new_request();
    let request_xml = peer.authn_request_xml(&id, &issued);
    // A RelayState with characters that need escaping in both the URL and the HTML form.
    let relay_state = "portal/7?from=help&q=a+b \"c\"";
    let start = Start::Redirect(peer.redirect_url(&request_xml, Some(relay_state)));
    let outcome = login(&start, &peer.alice.username, &peer.alice.password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.relay_state.as_deref(), Some(relay_state));
    check_response(&peer, &outcome, &id, &peer.alice);
    capture(&peer, &outcome, &request_xml, &id, &issued);
}

#[tokio::test]
async fn bob_signs_in_over_the_post_binding() {
    let Some(peer) = Peer::from_env("bob_signs_in_over_the_post_binding") else {
        return;
    };
    use base64::Engine as _;
    let (id, issued) = new_request();
    let request_xml = peer.authn_request_xml(&id, &issued);
    let start = Start::Post {
        url: peer.sso_url.clone(),
        fields: vec![
            (
                "SAMLRequest".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(&request_xml),
            ),
            ("RelayState".to_owned(), "bob-relay".to_owned()),
        ],
    };
    let outcome = login(&start, &peer.bob.username, &peer.bob.password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.relay_state.as_deref(), Some("bob-relay"));
    check_response(&peer, &outcome, &id, &peer.bob);
}

#[tokio::test]
async fn a_response_tampered_after_capture_is_refused() {
    let Some(peer) = Peer::from_env("a_response_tampered_after_capture_is_refused") else {
        return;
    };
    let (id, issued) = new_request();
    let start = Start::Redirect(peer.redirect_url(&peer.authn_request_xml(&id, &issued), None));
    let outcome = login(&start, &peer.alice.username, &peer.alice.password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.relay_state, None);
    let xml = String::from_utf8(outcome.response_xml()).unwrap();
    let needle = format!(">{}</saml:NameID>", peer.alice.email);
    assert!(xml.contains(&needle), "NameID as SimpleSAMLphp writes it");
    let tampered = xml.replacen(&needle, ">mallory@acme.example</saml:NameID>", 1);

    let verifier = Verifier::new(trusted_keys_from_metadata(&peer), VerifyOptions::default());
    let doc = Document::parse(tampered.as_bytes(), &Limits::default()).unwrap();
    let err = verifier.verify_enveloped(doc.root()).unwrap_err();
    assert_eq!(err.code(), "xmldsig.digest.mismatch");
    let assertion = doc.root().child(SAML, "Assertion").unwrap();
    let err = verifier.verify_enveloped(assertion).unwrap_err();
    assert_eq!(err.code(), "xmldsig.digest.mismatch");
}

#[tokio::test]
async fn a_wrong_password_gets_no_response() {
    let Some(peer) = Peer::from_env("a_wrong_password_gets_no_response") else {
        return;
    };
    let (id, issued) = new_request();
    let start = Start::Redirect(peer.redirect_url(&peer.authn_request_xml(&id, &issued), None));
    let err = login(&start, &peer.alice.username, "not-alices-password")
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::CredentialsRefused { .. }),
        "expected the login form again, got {err}"
    );
}

#[tokio::test]
async fn an_unknown_sp_gets_an_error_page_not_a_response() {
    let Some(peer) = Peer::from_env("an_unknown_sp_gets_an_error_page_not_a_response") else {
        return;
    };
    let (id, issued) = new_request();
    let request_xml = peer
        .authn_request_xml(&id, &issued)
        .replace(&peer.sp_entity_id, "http://127.0.0.1/not-registered");
    let start = Start::Redirect(peer.redirect_url(&request_xml, None));
    let err = login(&start, &peer.alice.username, &peer.alice.password)
        .await
        .unwrap_err();
    let LoginError::UnexpectedPage(page) = &err else {
        panic!("expected an IdP error page, got {err}");
    };
    assert!(page.excerpt.contains("not-registered"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// jsm-sso-saml itself as the SP: its AuthnRequest out, its validation of what came back.

fn sp(peer: &Peer) -> ServiceProvider {
    ServiceProvider::new(ServiceProviderConfig::new(
        &peer.sp_entity_id,
        &peer.acs_url,
    ))
    .unwrap()
}

/// The IdP as an admin configures it: from the metadata SimpleSAMLphp serves.
fn idp_from_metadata(path: &std::path::Path, entity_id: &str, now: SystemTime) -> IdentityProvider {
    let xml = std::fs::read(path).unwrap();
    IdentityProvider::from_metadata(&xml, Some(entity_id), &MetadataOptions::new(now)).unwrap()
}

fn memory_stores() -> (MemoryStateStore, MemoryReplayCache) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    (
        MemoryStateStore::new(clock.clone(), 64),
        MemoryReplayCache::new(clock, 64),
    )
}

fn assert_identity(login: &Login, peer: &Peer, user: &User, request_id: &str) {
    let identity = &login.identity;
    assert_eq!(identity.subject.value, user.email);
    assert_eq!(identity.subject.format.as_deref(), Some(NAMEID_EMAIL));
    assert_eq!(
        identity.email.as_ref().map(ToString::to_string).as_deref(),
        Some(user.email.as_str())
    );
    let mut groups = user.groups.clone();
    groups.sort();
    assert_eq!(identity.groups, groups);
    assert_eq!(
        identity.attributes.get("displayName"),
        Some(&vec![user.display_name.clone()])
    );
    assert!(
        identity.session_expiry.is_some(),
        "SessionNotOnOrAfter is sent"
    );
    assert_eq!(login.issuer, peer.idp_entity_id);
    assert_eq!(login.in_response_to.as_deref(), Some(request_id));
    assert!(!login.was_encrypted);
    // Response and Assertion, both signed by the key from the metadata.
    assert_eq!(login.signatures.len(), 2, "{:?}", login.signatures);
}

#[tokio::test]
async fn the_crate_signs_alice_in_with_begin_and_finish_login() {
    let Some(peer) = Peer::from_env("the_crate_signs_alice_in_with_begin_and_finish_login") else {
        return;
    };
    let sp = sp(&peer);
    let idp = idp_from_metadata(&peer.idp_metadata, &peer.idp_entity_id, SystemTime::now());
    let (store, replay) = memory_stores();
    let request = sp
        .begin_login(
            &idp,
            &AuthnRequestOptions::default(),
            &store,
            SystemTime::now(),
        )
        .await
        .unwrap();
    let redirect = url::Url::parse(request.redirect_url.as_deref().unwrap()).unwrap();
    assert_eq!(
        redirect.as_str().split('?').next(),
        Some(peer.sso_url.as_str()),
        "the SSO endpoint from the metadata"
    );
    let outcome = login(
        &Start::Redirect(redirect),
        &peer.alice.username,
        &peer.alice.password,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.relay_state, request.relay_state);

    let idps = [idp];
    let finish = |now| {
        sp.finish_login(
            &idps,
            &outcome.saml_response,
            outcome.relay_state.as_deref(),
            &store,
            &replay,
            now,
        )
    };
    let signed_in = finish(SystemTime::now()).await.unwrap();
    assert_identity(&signed_in, &peer, &peer.alice, &request.id);

    // The same POST again (a replayed or double-submitted form): the pending request is gone.
    let err = finish(SystemTime::now()).await.unwrap_err();
    assert_eq!(err.code(), "saml.request.unknown", "{err}");
}

#[tokio::test]
async fn the_crate_signs_bob_in_over_the_post_binding() {
    let Some(peer) = Peer::from_env("the_crate_signs_bob_in_over_the_post_binding") else {
        return;
    };
    let sp = sp(&peer);
    let idp = idp_from_metadata(&peer.idp_metadata, &peer.idp_entity_id, SystemTime::now());
    let options = AuthnRequestOptions {
        binding: RequestBinding::Post,
        ..AuthnRequestOptions::default()
    };
    let request = sp
        .authn_request(&idp, &options, Some("bob-relay"), SystemTime::now())
        .unwrap();
    let form = request.post_form.clone().unwrap();
    let start = Start::Post {
        url: url::Url::parse(&form.action).unwrap(),
        fields: form.fields,
    };
    let outcome = login(&start, &peer.bob.username, &peer.bob.password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.relay_state.as_deref(), Some("bob-relay"));
    let expect = Expect {
        now: SystemTime::now(),
        request_id: Some(&request.id),
    };
    let signed_in = sp
        .validate_post(&idp, &outcome.saml_response, expect)
        .unwrap();
    assert_identity(&signed_in, &peer, &peer.bob, &request.id);

    // Answering a different request.
    let expect = Expect {
        now: SystemTime::now(),
        request_id: Some("_some-other-request"),
    };
    let err = sp
        .validate_post(&idp, &outcome.saml_response, expect)
        .unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.mismatch", "{err}");
}

#[tokio::test]
async fn the_crate_refuses_a_simplesamlphp_response_tampered_after_capture() {
    let Some(peer) =
        Peer::from_env("the_crate_refuses_a_simplesamlphp_response_tampered_after_capture")
    else {
        return;
    };
    let sp = sp(&peer);
    let idp = idp_from_metadata(&peer.idp_metadata, &peer.idp_entity_id, SystemTime::now());
    let request = sp
        .authn_request(
            &idp,
            &AuthnRequestOptions::default(),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let redirect = url::Url::parse(request.redirect_url.as_deref().unwrap()).unwrap();
    let outcome = login(
        &Start::Redirect(redirect),
        &peer.alice.username,
        &peer.alice.password,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let xml = String::from_utf8(outcome.response_xml()).unwrap();
    let expect = || Expect {
        now: SystemTime::now(),
        request_id: Some(&request.id),
    };
    // Untouched, it is accepted (so the refusals below are the tampering's doing).
    sp.validate_response(&idp, xml.as_bytes(), expect())
        .unwrap();

    let cases = [
        // The signed NameID changed to someone else.
        (
            format!(">{}</saml:NameID>", peer.alice.email),
            ">mallory@acme.example</saml:NameID>".to_owned(),
        ),
        // A group added to the signed attributes.
        (
            "<saml:AttributeValue xsi:type=\"xs:string\">staff</saml:AttributeValue>".to_owned(),
            "<saml:AttributeValue xsi:type=\"xs:string\">jira-administrators</saml:AttributeValue>"
                .to_owned(),
        ),
    ];
    for (from, to) in cases {
        assert!(xml.contains(&from), "{from} is in SimpleSAMLphp's response");
        let tampered = xml.replacen(&from, &to, 1);
        let err = sp
            .validate_response(&idp, tampered.as_bytes(), expect())
            .unwrap_err();
        assert_eq!(
            err.code(),
            "saml.signature.digest_mismatch",
            "{from}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Single Logout with SimpleSAMLphp, the crate as the SP, one browser (one IdP session) per test.

/// Where the IdP-initiated logout sends the browser in the end (nothing listens there).
const AFTER_LOGOUT: &str = "http://127.0.0.1:18080/after-logout?from=idp";

/// Our SP with its Single Logout endpoint and the signing key the IdP trusts for logout.
fn slo_sp(peer: &Peer) -> ServiceProvider {
    let key = SigningKey::from_pem(&std::fs::read(&peer.sp_key).unwrap())
        .unwrap()
        .with_certificate_pem(&std::fs::read(&peer.sp_cert).unwrap())
        .unwrap();
    let mut config = ServiceProviderConfig::new(&peer.sp_entity_id, &peer.acs_url);
    config.slo_url = Some(peer.slo_url.clone());
    config.signing_key = Some(key);
    ServiceProvider::new(config).unwrap()
}

/// The IdP from its metadata, whose Redirect SLO endpoint must be the one the script exported.
fn slo_idp(peer: &Peer) -> IdentityProvider {
    let idp = idp_from_metadata(&peer.idp_metadata, &peer.idp_entity_id, SystemTime::now());
    let slo = idp.slo_endpoint(bindings::REDIRECT).unwrap();
    assert_eq!(slo.location, peer.idp_slo_url.as_str());
    assert!(
        idp.require_signed_redirect,
        "the default: logout must be signed"
    );
    idp
}

/// With `JSM_SSO_SIMPLESAMLPHP_SLO_CAPTURE_DIR` set, keeps an IdP logout message there: the raw
/// query as `<name>.query`, the facts a fixed-time test needs as `<name>.txt`, and the IdP's
/// metadata and certificate of this run.
fn capture_slo(peer: &Peer, name: &str, query: &str, facts: &[(&str, &str)]) {
    let Ok(dir) = std::env::var("JSM_SSO_SIMPLESAMLPHP_SLO_CAPTURE_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{name}.query")), format!("{query}\n")).unwrap();
    std::fs::copy(&peer.idp_metadata, dir.join("idp-metadata.xml")).unwrap();
    std::fs::copy(&peer.idp_cert, dir.join("idp-cert.pem")).unwrap();
    let captured_at = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    let mut txt = format!(
        "simplesamlphp_version = {}\ncaptured_at = {captured_at}\n",
        peer.version
    );
    for (key, value) in facts {
        txt.push_str(&format!("{key} = {value}\n"));
    }
    std::fs::write(dir.join(format!("{name}.txt")), txt).unwrap();
    eprintln!("captured the SimpleSAMLphp {name} into {}", dir.display());
}

/// Whether `url` is `expected` plus a query (the IdP's redirect to one of our endpoints).
fn assert_at(url: &url::Url, expected: &str) {
    let mut bare = url.clone();
    bare.set_query(None);
    assert_eq!(bare.as_str(), expected, "redirected to {url}");
}

fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// Signs alice in with the crate's AuthnRequest in `browser` and validates the Response.
async fn crate_login(
    peer: &Peer,
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    browser: &Browser,
) -> Login {
    let request = sp
        .authn_request(
            idp,
            &AuthnRequestOptions::default(),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let start = Start::Redirect(url::Url::parse(request.redirect_url.as_deref().unwrap()).unwrap());
    let outcome = browser
        .login(&start, &peer.alice.username, &peer.alice.password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expect = Expect {
        now: SystemTime::now(),
        request_id: Some(&request.id),
    };
    let login = sp
        .validate_post(idp, &outcome.saml_response, expect)
        .unwrap();
    assert_eq!(login.name_id.value, peer.alice.email);
    assert!(
        login.session_index.is_some(),
        "SimpleSAMLphp sends a SessionIndex"
    );
    login
}

/// A new AuthnRequest in `browser`: `Some(Login)` when the IdP answered at once (its session
/// is alive), `None` when it showed the login form (no session). Anything else fails.
async fn sso_again(
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    browser: &Browser,
) -> Option<Login> {
    let request = sp
        .authn_request(
            idp,
            &AuthnRequestOptions::default(),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let url = url::Url::parse(request.redirect_url.as_deref().unwrap()).unwrap();
    let stop = browser.walk(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let Stop::Page {
        forms,
        excerpt,
        trace,
        ..
    } = stop
    else {
        panic!("the IdP sent the browser away instead of answering: {stop:?}");
    };
    if let Some(form) = forms.iter().find(|f| f.field("SAMLResponse").is_some()) {
        let expect = Expect {
            now: SystemTime::now(),
            request_id: Some(&request.id),
        };
        let response = form.field("SAMLResponse").unwrap();
        return Some(sp.validate_post(idp, response, expect).unwrap());
    }
    assert!(
        forms.iter().any(|f| f.has_password()),
        "neither a Response nor the login form: {excerpt}\n{trace:#?}"
    );
    None
}

/// Alice signed in, then logged out by our signed LogoutRequest: the SP, the IdP, the browser
/// that holds the IdP session, the request and where the IdP sent the browser afterwards.
struct SpInitiated {
    sp: ServiceProvider,
    idp: IdentityProvider,
    browser: Browser,
    request: OutboundLogout,
    back: url::Url,
}

async fn sp_initiated_logout(peer: &Peer) -> SpInitiated {
    let sp = slo_sp(peer);
    let idp = slo_idp(peer);
    let browser = Browser::new();
    let first = crate_login(peer, &sp, &idp, &browser).await;
    // The IdP session is alive: a second AuthnRequest is answered without the login form.
    // SimpleSAMLphp keeps the newest SessionIndex for our SP, so that is the one to end.
    let Some(login) = sso_again(&sp, &idp, &browser).await else {
        panic!("no IdP session after signing in");
    };
    assert_eq!(login.name_id, first.name_id);
    assert_ne!(login.session_index, first.session_index);

    let request = sp
        .logout_request(
            &idp,
            &login.name_id,
            login.session_index.as_deref(),
            Some("sp-logout-relay"),
            SystemTime::now(),
        )
        .unwrap();
    let url = url::Url::parse(request.redirect_url.as_deref().unwrap()).unwrap();
    assert_at(&url, peer.idp_slo_url.as_str());
    assert!(
        query_value(&url, "Signature").is_some(),
        "our LogoutRequest is signed"
    );
    let stop = browser.walk(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let Stop::Left { url: back, .. } = stop else {
        panic!("expected a redirect to our SLO endpoint, got {stop:?}");
    };
    assert_at(&back, &peer.slo_url);
    SpInitiated {
        sp,
        idp,
        browser,
        request,
        back,
    }
}

#[tokio::test]
async fn sp_initiated_logout_ends_the_simplesamlphp_session() {
    let Some(peer) = Peer::from_env("sp_initiated_logout_ends_the_simplesamlphp_session") else {
        return;
    };
    let done = sp_initiated_logout(&peer).await;
    let back = &done.back;
    assert!(query_value(back, "SAMLResponse").is_some(), "{back}");
    assert!(
        query_value(back, "Signature").is_some(),
        "the IdP signs (sign.logout)"
    );
    assert_eq!(
        query_value(back, "SigAlg").as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    assert_eq!(
        query_value(back, "RelayState").as_deref(),
        Some("sp-logout-relay")
    );
    let raw = back.query().unwrap().to_owned();
    capture_slo(
        &peer,
        "logout-response",
        &raw,
        &[
            ("in_response_to", &done.request.id),
            ("sp_logout_request_xml", &done.request.xml),
        ],
    );
    done.sp
        .validate_logout_response(
            &done.idp,
            &Inbound::Redirect(raw),
            &done.request.id,
            SystemTime::now(),
        )
        .unwrap();
    // The IdP session really ended: the next AuthnRequest meets the login form.
    assert!(
        sso_again(&done.sp, &done.idp, &done.browser)
            .await
            .is_none(),
        "the IdP still had a session after logout"
    );
}

#[tokio::test]
async fn a_simplesamlphp_logout_response_for_another_request_or_altered_is_refused() {
    let Some(peer) =
        Peer::from_env("a_simplesamlphp_logout_response_for_another_request_or_altered_is_refused")
    else {
        return;
    };
    let done = sp_initiated_logout(&peer).await;
    let raw = done.back.query().unwrap().to_owned();
    let validate = |query: &str, request_id: &str| {
        done.sp.validate_logout_response(
            &done.idp,
            &Inbound::Redirect(query.to_owned()),
            request_id,
            SystemTime::now(),
        )
    };
    // Untouched and for its own request it is accepted, so the refusals are the changes' doing.
    validate(&raw, &done.request.id).unwrap();
    let err = validate(&raw, "_another-logout-request").unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.mismatch", "{err}");

    // The query signature itself altered: one bit of the RSA signature flipped.
    let signature = query_value(&done.back, "Signature").unwrap();
    let mut bytes = BASE64.decode(&signature).unwrap();
    bytes[10] ^= 0x01;
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let altered = raw.replace(&encode(&signature), &encode(&BASE64.encode(&bytes)));
    assert_ne!(
        altered, raw,
        "the Signature parameter is where we looked for it"
    );
    let err = validate(&altered, &done.request.id).unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid", "{err}");

    // A signed parameter altered (RelayState): the signature no longer covers the query.
    let altered = raw.replace("RelayState=sp-logout-relay", "RelayState=elsewhere");
    assert_ne!(altered, raw);
    let err = validate(&altered, &done.request.id).unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid", "{err}");

    // The signature removed: the IdP's Redirect messages must be signed.
    let unsigned: Vec<&str> = raw
        .split('&')
        .filter(|p| !p.starts_with("Signature=") && !p.starts_with("SigAlg="))
        .collect();
    let err = validate(&unsigned.join("&"), &done.request.id).unwrap_err();
    assert_eq!(err.code(), "saml.signature.missing", "{err}");
}

#[tokio::test]
async fn simplesamlphp_refuses_an_unsigned_or_altered_logout_request() {
    let Some(peer) = Peer::from_env("simplesamlphp_refuses_an_unsigned_or_altered_logout_request")
    else {
        return;
    };
    let sp = slo_sp(&peer);
    let idp = slo_idp(&peer);
    let browser = Browser::new();
    let login = crate_login(&peer, &sp, &idp, &browser).await;
    let signed = sp
        .logout_request(
            &idp,
            &login.name_id,
            login.session_index.as_deref(),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let signed = url::Url::parse(signed.redirect_url.as_deref().unwrap()).unwrap();
    // The same SP without its key sends the request unsigned.
    let mut config = ServiceProviderConfig::new(&peer.sp_entity_id, &peer.acs_url);
    config.slo_url = Some(peer.slo_url.clone());
    let unsigned = ServiceProvider::new(config)
        .unwrap()
        .logout_request(
            &idp,
            &login.name_id,
            login.session_index.as_deref(),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let unsigned = url::Url::parse(unsigned.redirect_url.as_deref().unwrap()).unwrap();
    assert_eq!(query_value(&unsigned, "Signature"), None);
    // One bit of our RSA signature flipped.
    let signature = query_value(&signed, "Signature").unwrap();
    let mut bytes = BASE64.decode(&signature).unwrap();
    bytes[10] ^= 0x01;
    let mut altered = signed.clone();
    let pairs: Vec<(String, String)> = signed.query_pairs().into_owned().collect();
    altered
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(n, v)| {
            if n == "Signature" {
                (n.clone(), BASE64.encode(&bytes))
            } else {
                (n.clone(), v.clone())
            }
        }));

    for (what, url, because) in [
        ("unsigned", &unsigned, "no signature found"),
        (
            "altered",
            &altered,
            "Unable to validate signature on query string",
        ),
    ] {
        let stop = browser.walk(url).await.unwrap_or_else(|e| panic!("{e}"));
        let Stop::Page {
            status, excerpt, ..
        } = stop
        else {
            panic!("{what}: the IdP answered a LogoutRequest it must refuse: {stop:?}");
        };
        assert!(
            excerpt.contains(because),
            "{what}: expected an error page naming {because:?}, got {status}: {excerpt}"
        );
        // Refused: the IdP session is still there.
        assert!(
            sso_again(&sp, &idp, &browser).await.is_some(),
            "{what}: the IdP session ended after all"
        );
    }
}

#[tokio::test]
async fn idp_initiated_logout_from_simplesamlphp_is_answered_by_the_crate() {
    let Some(peer) =
        Peer::from_env("idp_initiated_logout_from_simplesamlphp_is_answered_by_the_crate")
    else {
        return;
    };
    let sp = slo_sp(&peer);
    let idp = slo_idp(&peer);
    let browser = Browser::new();
    let login = crate_login(&peer, &sp, &idp, &browser).await;

    // SimpleSAMLphp's own logout link: it ends its session, then (the traditional handler, plain
    // redirects) sends the browser to each SP with a LogoutRequest, then to ReturnTo.
    let mut start = peer.idp_slo_url.clone();
    start
        .query_pairs_mut()
        .append_pair("ReturnTo", AFTER_LOGOUT);
    let stop = browser.walk(&start).await.unwrap_or_else(|e| panic!("{e}"));
    let Stop::Left { url: at_sp, .. } = stop else {
        panic!("expected a LogoutRequest for our SLO endpoint, got {stop:?}");
    };
    assert_at(&at_sp, &peer.slo_url);
    assert!(query_value(&at_sp, "SAMLRequest").is_some(), "{at_sp}");
    assert!(
        query_value(&at_sp, "Signature").is_some(),
        "the IdP signs (sign.logout)"
    );
    let request = sp
        .validate_logout_request(
            &idp,
            &Inbound::Redirect(at_sp.query().unwrap().to_owned()),
            SystemTime::now(),
        )
        .unwrap();
    capture_slo(
        &peer,
        "logout-request",
        at_sp.query().unwrap(),
        &[
            ("name_id", &login.name_id.value),
            ("session_index", login.session_index.as_deref().unwrap()),
        ],
    );
    assert_eq!(request.name_id, login.name_id);
    assert_eq!(
        request.session_indexes,
        [login.session_index.clone().unwrap()]
    );
    assert!(
        request.relay_state.is_some(),
        "the IdP's logout state travels in RelayState"
    );
    request
        .check_session(&login.name_id, login.session_index.as_deref())
        .unwrap();
    // Not bob's session, nor another session of alice's.
    let bob = jsm_sso_saml::NameId {
        value: peer.bob.email.clone(),
        ..login.name_id.clone()
    };
    let err = request
        .check_session(&bob, login.session_index.as_deref())
        .unwrap_err();
    assert_eq!(err.code(), "saml.logout.subject_mismatch", "{err}");
    let err = request
        .check_session(&login.name_id, Some("_another-session"))
        .unwrap_err();
    assert_eq!(err.code(), "saml.logout.subject_mismatch", "{err}");

    // Our signed LogoutResponse back to the IdP, which then finishes at ReturnTo.
    let response = sp
        .logout_response(&idp, &request, SystemTime::now())
        .unwrap();
    let url = url::Url::parse(response.redirect_url.as_deref().unwrap()).unwrap();
    assert_at(&url, peer.idp_slo_url.as_str());
    assert_eq!(query_value(&url, "RelayState"), request.relay_state);
    assert!(
        query_value(&url, "Signature").is_some(),
        "our LogoutResponse is signed"
    );
    let stop = browser.walk(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let Stop::Left { url: done, .. } = stop else {
        panic!("expected the IdP to finish at ReturnTo, got {stop:?}");
    };
    assert_eq!(done.as_str(), AFTER_LOGOUT);
    assert!(
        sso_again(&sp, &idp, &browser).await.is_none(),
        "the IdP still had a session after logout"
    );
}

// ---------------------------------------------------------------------------------------------
// The captured login (tests/vectors/simplesamlphp, see its README), at fixed times: no peer.

fn vector(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/simplesamlphp")
        .join(name)
}

fn at(rfc3339: &str) -> SystemTime {
    OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap().into()
}

const CAPTURED_REQUEST_ID: &str = "_jsmsso584618eaba168e11f106";

fn captured() -> (ServiceProvider, IdentityProvider, String) {
    let sp = ServiceProvider::new(ServiceProviderConfig::new(
        "http://127.0.0.1/jsm-sso/sp",
        "http://127.0.0.1:18080/saml/acs",
    ))
    .unwrap();
    let idp = idp_from_metadata(
        &vector("idp-metadata.xml"),
        "http://127.0.0.1/jsm-sso/simplesamlphp-idp",
        at("2026-11-23T16:40:30Z"),
    );
    let b64 = std::fs::read_to_string(vector("response.b64")).unwrap();
    (sp, idp, b64.trim().to_owned())
}

#[test]
fn the_captured_simplesamlphp_response_validates_at_its_time() {
    let (sp, idp, b64) = captured();
    let expect = Expect {
        now: at("2026-11-23T16:40:30Z"),
        request_id: Some(CAPTURED_REQUEST_ID),
    };
    let login = sp.validate_post(&idp, &b64, expect).unwrap();
    let identity = &login.identity;
    assert_eq!(identity.subject.value, "alice@acme.example");
    assert_eq!(
        identity.email.as_ref().map(ToString::to_string).as_deref(),
        Some("alice@acme.example")
    );
    assert_eq!(identity.groups, ["portal-users", "staff"]);
    assert_eq!(
        identity.attributes.get("displayName"),
        Some(&vec!["Alice Example".to_owned()])
    );
    assert_eq!(identity.authn_instant, at("2026-11-23T16:40:07Z"));
    assert_eq!(identity.session_expiry, Some(at("2026-11-24T00:40:07Z")));
    assert_eq!(
        login.response_id,
        "_f095e866909e6ba7e4cccbff238208e6bfb08937a3"
    );
    assert_eq!(
        login.assertion_id,
        "_235b4e170517617c257b68bfc8db290fbc6e3d8e72"
    );
    assert_eq!(
        login.session_index.as_deref(),
        Some("_dc4408485d01dd97736dfd6f37ee880f36ba798518")
    );
    // The decoded file is the same message.
    let xml = std::fs::read(vector("response.xml")).unwrap();
    let again = sp.validate_response(&idp, &xml, expect).unwrap();
    assert_eq!(again.identity, login.identity);
}

#[test]
fn the_captured_simplesamlphp_response_is_refused_outside_its_time_or_request() {
    let (sp, idp, b64) = captured();
    let cases = [
        // 1 s past the 16:45:07 NotOnOrAfter of SubjectConfirmationData (and Conditions)
        // plus the default 60 s of clock skew.
        (
            "2026-11-23T16:46:08Z",
            Some(CAPTURED_REQUEST_ID),
            "saml.subject_confirmation.expired",
        ),
        // 1 s before the 16:39:37 NotBefore (SimpleSAMLphp back-dates it by 30 s) minus 60 s.
        (
            "2026-11-23T16:38:36Z",
            Some(CAPTURED_REQUEST_ID),
            "saml.conditions.not_yet_valid",
        ),
        (
            "2026-11-23T16:40:30Z",
            Some("_another-request"),
            "saml.in_response_to.mismatch",
        ),
        (
            "2026-11-23T16:40:30Z",
            None,
            "saml.in_response_to.unsolicited",
        ),
    ];
    for (now, request_id, code) in cases {
        let expect = Expect {
            now: at(now),
            request_id,
        };
        let err = sp.validate_post(&idp, &b64, expect).unwrap_err();
        assert_eq!(err.code(), code, "{now} {request_id:?}: {err}");
    }
    // The edges themselves are inside the windows.
    for now in ["2026-11-23T16:46:06Z", "2026-11-23T16:38:37Z"] {
        let expect = Expect {
            now: at(now),
            request_id: Some(CAPTURED_REQUEST_ID),
        };
        sp.validate_post(&idp, &b64, expect)
            .unwrap_or_else(|e| panic!("{now}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// The captured logout messages (tests/vectors/simplesamlphp-slo, see its README): no peer.

const SLO_REQUEST_ID: &str = "_ba9ff8b7e8d0de7e963d17119900a681";

fn slo_vector(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/simplesamlphp-slo")
        .join(name);
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

/// The SP as it was registered at the IdP when the messages were captured (no key needed to
/// read them) and the IdP from that run's metadata.
fn captured_slo(slo_url: &str) -> (ServiceProvider, IdentityProvider) {
    let mut config = ServiceProviderConfig::new(
        "http://127.0.0.1/jsm-sso/sp",
        "http://127.0.0.1:18080/saml/acs",
    );
    config.slo_url = Some(slo_url.to_owned());
    let sp = ServiceProvider::new(config).unwrap();
    let metadata = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/simplesamlphp-slo/idp-metadata.xml");
    let idp = idp_from_metadata(
        &metadata,
        "http://127.0.0.1/jsm-sso/simplesamlphp-idp",
        at("2026-11-23T21:21:22Z"),
    );
    (sp, idp)
}

#[test]
fn the_captured_simplesamlphp_logout_response_is_accepted_only_as_sent() {
    let (sp, idp) = captured_slo("http://127.0.0.1:18080/saml/slo");
    let raw = slo_vector("logout-response.query");
    let now = at("2026-11-23T21:21:22Z");
    let validate = |sp: &ServiceProvider, idp: &IdentityProvider, query: &str, id: &str| {
        sp.validate_logout_response(idp, &Inbound::Redirect(query.to_owned()), id, now)
    };
    validate(&sp, &idp, &raw, SLO_REQUEST_ID).unwrap();

    let err = validate(&sp, &idp, &raw, "_another-logout-request").unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.mismatch", "{err}");
    // RelayState is covered by the query signature.
    let moved = raw.replace("RelayState=sp-logout-relay", "RelayState=sp-logout-relax");
    assert_ne!(moved, raw);
    let err = validate(&sp, &idp, &moved, SLO_REQUEST_ID).unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid", "{err}");
    // Sent to another SP's SLO endpoint (the signed Destination is ours, not theirs).
    let (elsewhere, _) = captured_slo("http://127.0.0.1:18081/saml/slo");
    let err = validate(&elsewhere, &idp, &raw, SLO_REQUEST_ID).unwrap_err();
    assert_eq!(err.code(), "saml.destination.mismatch", "{err}");
    // Checked against another IdP key (the captured login's run): not trusted.
    let other_idp = captured().1;
    let err = validate(&sp, &other_idp, &raw, SLO_REQUEST_ID).unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid", "{err}");
    // A LogoutResponse where a LogoutRequest is expected.
    let err = sp
        .validate_logout_request(&idp, &Inbound::Redirect(raw.clone()), now)
        .unwrap_err();
    assert_eq!(err.code(), "saml.redirect.parameter", "{err}");
}

#[test]
fn the_captured_simplesamlphp_logout_request_validates_until_its_not_on_or_after() {
    let (sp, idp) = captured_slo("http://127.0.0.1:18080/saml/slo");
    let raw = slo_vector("logout-request.query");
    let validate =
        |now: &str| sp.validate_logout_request(&idp, &Inbound::Redirect(raw.clone()), at(now));
    let request = validate("2026-11-23T21:21:21Z").unwrap();
    assert_eq!(request.id, "_55780a37de775eb5952776a3e2b40cd2be020f017a");
    let alice = jsm_sso_saml::NameId {
        value: "alice@acme.example".to_owned(),
        format: Some(NAMEID_EMAIL.to_owned()),
        name_qualifier: None,
        sp_name_qualifier: Some("http://127.0.0.1/jsm-sso/sp".to_owned()),
    };
    assert_eq!(request.name_id, alice);
    let session = "_22738e2fe7a114f218b7dc4fef8c5263e41d0ea88c";
    assert_eq!(request.session_indexes, [session]);
    assert_eq!(
        request.relay_state.as_deref(),
        Some("_df941404602fd5124b963a6e192afeae5c4ab1978b")
    );
    request.check_session(&alice, Some(session)).unwrap();
    let err = request.check_session(&alice, None).unwrap_err();
    assert_eq!(err.code(), "saml.logout.subject_mismatch", "{err}");

    // NotOnOrAfter 21:26:21 plus the default 60 s of skew.
    validate("2026-11-23T21:27:20Z").unwrap();
    let err = validate("2026-11-23T21:27:21Z").unwrap_err();
    assert_eq!(err.code(), "saml.conditions.expired", "{err}");

    // The answer goes to the IdP's SLO endpoint of that run, signed when the SP has a key.
    let response = sp
        .logout_response(&idp, &request, at("2026-11-23T21:21:22Z"))
        .unwrap();
    let url = url::Url::parse(response.redirect_url.as_deref().unwrap()).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("http://127.0.0.1:50201/saml2/idp/SingleLogoutService.php")
    );
    assert_eq!(query_value(&url, "RelayState"), request.relay_state);
    assert!(
        response
            .xml
            .contains("InResponseTo=\"_55780a37de775eb5952776a3e2b40cd2be020f017a\""),
        "{}",
        response.xml
    );
}

// ---------------------------------------------------------------------------------------------
// The form parser, on the shapes the driver meets (no peer needed).

#[test]
fn forms_reads_simplesamlphp_login_form() {
    let page = r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x.dtd">
<html><head><script type="text/javascript">
  var s = '<form action="/evil"><input name="AuthState" value="wrong">';
</script></head><body>
<!-- <form action="/commented"><input type="password" name="p"></form> -->
    <form action="?" method="post" name="f">
      <input id="username"   type="text" name="username" value="" />
      <td><input id="password" type="password" tabindex="2" name="password" /></td>
      <button id="submit_button" class="btn" type="submit">Login</button>
      <input type="hidden" id="processing_trans" value="Processing..." />
      <input type="hidden" name="AuthState" value="_1842:http://127.0.0.1:1/saml2/idp/SSOService.php?spentityid=http%3A%2F%2Fsp&amp;RelayState=rs-1&amp;cookieTime=17" />    </form>
</body></html>"#;
    let forms = html::forms(page);
    assert_eq!(forms.len(), 1, "{forms:#?}");
    let form = &forms[0];
    assert_eq!(form.action.as_deref(), Some("?"));
    assert_eq!(form.method, "post");
    assert!(form.has_password());
    assert_eq!(
        form.default_submission(),
        [
            ("username".to_owned(), String::new()),
            ("password".to_owned(), String::new()),
            (
                "AuthState".to_owned(),
                "_1842:http://127.0.0.1:1/saml2/idp/SSOService.php?spentityid=http%3A%2F%2Fsp\
                 &RelayState=rs-1&cookieTime=17"
                    .to_owned()
            ),
        ]
    );
}

#[test]
fn forms_reads_auto_submit_form_with_any_quoting_and_references() {
    let page = "<html><body onload=\"document.forms[0].submit()\">\
        <FORM METHOD=POST ACTION='http://127.0.0.1:18080/saml/acs'>\
        <input type=submit id=postLoginSubmitButton>\
        <INPUT TYPE=\"HIDDEN\" NAME=\"SAMLResponse\" VALUE=\"PD94&#43;bWw&#x2B;/=\">\
        <input type='hidden' name='RelayState' value='a&amp;b &quot;c&quot; &lt;&#39;&apos;&gt; &unknown; & x'>\
        <input type=hidden name=Unquoted value=v1>\
        <noscript><button type=\"submit\">Yes</button></noscript></FORM></body></html>";
    let forms = html::forms(page);
    assert_eq!(forms.len(), 1);
    let form = &forms[0];
    assert_eq!(
        form.action.as_deref(),
        Some("http://127.0.0.1:18080/saml/acs")
    );
    assert_eq!(form.method, "post");
    assert!(!form.has_password());
    assert_eq!(form.field("SAMLResponse"), Some("PD94+bWw+/="));
    assert_eq!(
        form.field("RelayState"),
        Some("a&b \"c\" <''> &unknown; & x")
    );
    assert_eq!(form.field("Unquoted"), Some("v1"));
    assert_eq!(
        form.default_submission().len(),
        3,
        "the submit input is not sent"
    );
}

#[test]
fn forms_survives_hostile_and_truncated_markup() {
    for page in [
        "",
        "<",
        "a < b <3 <<>>",
        "<form",
        "<form action=\"unterminated",
        "<form><input name='x' value='y",
        "<!-- never closed <form>",
        "<script>never closed <form><input name=a>",
        "<form>&#xFFFFFFFF;&#55296;&#;&#x;<input name=\"&#0;\" value=\"&#1114112;\"></form>",
        "<form/><input/ name=/>",
        "<ｆｏｒｍ><input name=ü value=ß>",
    ] {
        let _ = html::forms(page);
    }
    let forms = html::forms("<form><input name='x' value='y");
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0].field("x"), Some("y"));
    assert_eq!(
        html::decode_entities("&#xFFFFFFFF;&#55296;x"),
        "&#xFFFFFFFF;&#55296;x"
    );
    assert!(html::forms("<script>never closed <form><input name=a>").is_empty());
}

#[test]
fn forms_keeps_several_forms_apart() {
    let page = "<form action=a><input name=one value=1></form>\
                <input name=outside value=o>\
                <form action=b method=GET><input name=two value=2><form action=c><input name=three>";
    let forms = html::forms(page);
    let actions: Vec<_> = forms.iter().map(|f| f.action.as_deref().unwrap()).collect();
    assert_eq!(actions, ["a", "b", "c"]);
    assert_eq!(forms[0].field("outside"), None);
    assert_eq!(forms[1].field("two"), Some("2"));
    assert_eq!(forms[1].method, "get");
    assert_eq!(forms[2].field("three"), Some(""));
}

#[test]
fn authn_request_redirect_url_inflates_to_the_request() {
    use std::io::Read as _;
    let peer = Peer {
        base_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        sso_url: url::Url::parse("http://127.0.0.1:9/saml2/idp/SSOService.php").unwrap(),
        idp_entity_id: "http://127.0.0.1/idp".to_owned(),
        idp_metadata: "unused".into(),
        idp_cert: "unused".into(),
        sp_entity_id: "http://127.0.0.1/jsm-sso/sp".to_owned(),
        acs_url: "http://127.0.0.1:18080/saml/acs".to_owned(),
        alice: User {
            username: String::new(),
            password: String::new(),
            email: String::new(),
            groups: Vec::new(),
            display_name: String::new(),
        },
        bob: User {
            username: String::new(),
            password: String::new(),
            email: String::new(),
            groups: Vec::new(),
            display_name: String::new(),
        },
        version: String::new(),
        idp_slo_url: url::Url::parse("http://127.0.0.1:9/saml2/idp/SingleLogoutService.php")
            .unwrap(),
        slo_url: "http://127.0.0.1:18080/saml/slo".to_owned(),
        sp_key: "unused".into(),
        sp_cert: "unused".into(),
    };
    let xml = peer.authn_request_xml("_abc", "2026-01-02T03:04:05Z");
    let url = peer.redirect_url(&xml, Some("r s&t"));
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0].0, "SAMLRequest");
    assert_eq!(pairs[1], ("RelayState".to_owned(), "r s&t".to_owned()));
    use base64::Engine as _;
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&pairs[0].1)
        .unwrap();
    let mut inflated = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, xml);
    let doc = Document::parse(inflated.as_bytes(), &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP, "AuthnRequest"));
    assert_eq!(root.attribute("ID"), Some("_abc"));
    assert_eq!(root.attribute("ProtocolBinding"), Some(HTTP_POST));
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some("http://127.0.0.1:18080/saml/acs")
    );
}
