//! Every check of Response validation, each broken on its own, with the exact error code;
//! and the flow through the StateStore and ReplayCache seams.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsm_sso_core::CodedError;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_saml::decrypt::{DecryptionKey, EncryptOptions, encrypt_assertion};
use jsm_sso_saml::{
    AuthnRequestOptions, Expect, IdentityProvider, RequestBinding, ServiceProvider,
    ServiceProviderConfig, SignaturePolicy,
};
use jsm_sso_testkit::saml::{ResponseSpec, Signing, TestIdp, attacks};

const SP: &str = "https://portal.example.test/saml/metadata";
const ACS: &str = "https://portal.example.test/saml/acs";
const IDP: &str = "https://idp.example.test/metadata";
const REQ: &str = "_req0123456789abcdef";

fn vectors() -> String {
    format!("{}/tests/vectors/peerbench", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn test_idp() -> TestIdp {
    let dir = vectors();
    TestIdp::from_pem(
        IDP,
        &std::fs::read(format!("{dir}/idp-rsa.key")).unwrap(),
        &std::fs::read(format!("{dir}/idp-rsa.crt")).unwrap(),
    )
    .unwrap()
}

fn sp_with(f: impl FnOnce(&mut ServiceProviderConfig)) -> ServiceProvider {
    let mut config = ServiceProviderConfig::new(SP, ACS);
    f(&mut config);
    ServiceProvider::new(config).unwrap()
}

fn idp_config(test: &TestIdp) -> IdentityProvider {
    IdentityProvider::new(
        "acme-idp",
        IDP,
        test.trusted_keys(),
        Some("https://idp.example.test/sso".into()),
    )
    .unwrap()
}

fn spec() -> ResponseSpec {
    ResponseSpec::new(SP, ACS, now()).in_response_to(REQ)
}

fn expect() -> Expect<'static> {
    Expect {
        now: now(),
        request_id: Some(REQ),
    }
}

/// Validates the response built from `spec` with the default SP; returns the error code.
fn code_of(spec: &ResponseSpec) -> &'static str {
    let idp = test_idp();
    let xml = idp.response(spec).unwrap();
    match sp_with(|_| {}).validate_response(&idp_config(&idp), xml.as_bytes(), expect()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn code_of_xml(xml: &str) -> &'static str {
    let idp = test_idp();
    match sp_with(|_| {}).validate_response(&idp_config(&idp), xml.as_bytes(), expect()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn a_valid_response_yields_the_identity() {
    let idp = test_idp();
    let s = spec()
        .attribute("groups", ["staff", "portal-users", "staff"])
        .attribute("department", ["Finance"]);
    let xml = idp.response(&s).unwrap();
    let login = sp_with(|_| {})
        .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
        .unwrap();
    assert_eq!(login.identity.subject.value, "alice@acme.example");
    assert_eq!(
        login.identity.email.as_ref().unwrap().as_str(),
        "alice@acme.example"
    );
    assert!(login.identity.email_verified);
    assert_eq!(login.identity.groups, ["portal-users", "staff"]);
    assert_eq!(login.identity.attribute("department"), ["Finance"]);
    assert_eq!(login.issuer, IDP);
    assert_eq!(login.signatures.len(), 1);
    assert_eq!(login.signatures[0].element, "Assertion");
    assert!(login.session_index.is_some());
    assert_eq!(code_of(&spec().signing(Signing::Response)), "ok");
    assert_eq!(code_of(&spec().signing(Signing::Both)), "ok");
}

#[test]
fn each_broken_check_has_its_code() {
    let mut cases: Vec<(&str, ResponseSpec)> = Vec::new();
    let mut s = spec();
    s.destination = Some("https://evil.example/acs".into());
    cases.push(("saml.destination.mismatch", s));
    let mut s = spec().signing(Signing::Response);
    s.destination = None;
    cases.push(("saml.destination.missing", s));
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    s.status_detail = Some((
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into(),
        "user not assigned".into(),
    ));
    cases.push(("saml.status.responder", s));
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
    cases.push(("saml.status.requester", s));
    let mut s = spec();
    s.issuer = Some("https://other-idp.example/".into());
    cases.push(("saml.issuer.mismatch", s));
    cases.push(("saml.signature.missing", spec().signing(Signing::None)));
    let mut s = spec();
    s.recipient = Some("https://evil.example/acs".into());
    cases.push(("saml.subject_confirmation.recipient", s));
    let mut s = spec();
    s.confirmation_not_on_or_after = Some(now() - Duration::from_secs(61));
    cases.push(("saml.subject_confirmation.expired", s));
    let mut s = spec();
    s.confirmation_not_on_or_after = None;
    cases.push(("saml.subject_confirmation.expired", s));
    let mut s = spec();
    s.confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key".into();
    cases.push(("saml.subject_confirmation.missing", s));
    cases.push((
        "saml.in_response_to.mismatch",
        spec().in_response_to("_someone_elses_request"),
    ));
    let mut s = spec();
    s.not_before = Some(now() + Duration::from_secs(120));
    cases.push(("saml.conditions.not_yet_valid", s));
    cases.push((
        "saml.conditions.expired",
        spec().conditions_not_on_or_after(now() - Duration::from_secs(61)),
    ));
    let mut s = spec();
    s.audience = Some("https://another-sp.example/".into());
    cases.push(("saml.audience.mismatch", s));
    let mut s = spec();
    s.audience = None;
    cases.push(("saml.audience.missing", s));
    let mut s = spec();
    s.conditions = false;
    cases.push(("saml.audience.missing", s));
    let mut s = spec();
    s.authn_statement = false;
    cases.push(("saml.authn_statement.missing", s));
    let mut s = spec();
    s.session_not_on_or_after = Some(now() - Duration::from_secs(1));
    cases.push(("saml.authn_statement.session_expired", s));
    cases.push((
        "saml.attribute.duplicate",
        spec()
            .attribute("mail", ["a@x.example"])
            .attribute("mail", ["b@x.example"]),
    ));
    let mut s = spec();
    s.version = "1.1".into();
    cases.push(("saml.message.version", s));
    for (code, s) in &cases {
        assert_eq!(code_of(s), *code, "case {code}");
    }
    // Within the skew the same times pass.
    let mut s = spec();
    s.confirmation_not_on_or_after = Some(now() - Duration::from_secs(59));
    assert_eq!(code_of(&s), "ok");
    let mut s = spec();
    s.not_before = Some(now() + Duration::from_secs(59));
    assert_eq!(code_of(&s), "ok");
}

#[test]
fn status_error_carries_the_codes_and_message() {
    let idp = test_idp();
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    s.status_detail = Some((
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into(),
        "user not assigned".into(),
    ));
    let err = sp_with(|_| {})
        .validate_response(
            &idp_config(&idp),
            idp.response(&s).unwrap().as_bytes(),
            expect(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("AuthnFailed") && text.contains("user not assigned"),
        "{text}"
    );
}

#[test]
fn signature_failures_name_the_cause() {
    let idp = test_idp();
    let xml = idp.response(&spec()).unwrap();
    // Tampered signed content: digest.
    let tampered = xml.replace("alice@acme.example", "mallory@acme.example");
    assert_eq!(code_of_xml(&tampered), "saml.signature.digest_mismatch");
    // A key the SP does not trust.
    let other = TestIdp::generate(IDP).unwrap();
    let foreign = other.response(&spec()).unwrap();
    let err = sp_with(|_| {})
        .validate_response(&idp_config(&idp), foreign.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.signature.untrusted_key");
    assert!(
        err.to_string().contains("trusted keys tried: sha256:"),
        "{err}"
    );
    // Tampered SignatureValue.
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut broken = xml.clone();
    let flip = if &broken[start..start + 1] == "A" {
        "B"
    } else {
        "A"
    };
    broken.replace_range(start..start + 1, flip);
    assert_eq!(code_of_xml(&broken), "saml.signature.invalid");
}

#[test]
fn signature_wrapping_variants_are_refused() {
    let idp = test_idp();
    let xml = idp.response(&spec()).unwrap();
    let variants = attacks::wrapping_variants(&xml, "ceo@acme.example");
    assert!(variants.len() >= 6);
    for (name, forged) in variants {
        let code = code_of_xml(&forged);
        assert_ne!(code, "ok", "{name} was accepted");
        assert!(
            matches!(
                code,
                "saml.assertion.multiple"
                    | "saml.signature.reference"
                    | "saml.signature.digest_mismatch"
                    | "saml.signature.missing"
                    | "xml.malformed"
                    | "saml.signature.malformed"
            ),
            "{name}: {code}"
        );
    }
}

#[test]
fn assertion_policy_requires_a_signature_on_the_assertion() {
    let idp = test_idp();
    let xml = idp.response(&spec().signing(Signing::Response)).unwrap();
    let strict = sp_with(|c| c.signature_policy = SignaturePolicy::Assertion);
    let err = strict
        .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.signature.missing");
}

#[test]
fn unsolicited_responses_need_the_opt_in_and_no_in_response_to() {
    let idp = test_idp();
    let mut s = spec();
    s.in_response_to = None;
    let xml = idp.response(&s).unwrap();
    let unsolicited = Expect {
        now: now(),
        request_id: None,
    };
    let err = sp_with(|_| {})
        .validate_response(&idp_config(&idp), xml.as_bytes(), unsolicited)
        .unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.unsolicited");
    let open = sp_with(|c| c.allow_unsolicited = true);
    assert!(
        open.validate_response(&idp_config(&idp), xml.as_bytes(), unsolicited)
            .is_ok()
    );
    // A response to a request we do not know is not unsolicited.
    let answering = idp.response(&spec()).unwrap();
    let err = open
        .validate_response(&idp_config(&idp), answering.as_bytes(), unsolicited)
        .unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.unsolicited");
    // Expecting a request but the response answers none.
    let err = sp_with(|_| {})
        .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.mismatch");
}

#[test]
fn envelope_errors() {
    assert_eq!(code_of_xml("<notsaml/>"), "saml.message.malformed");
    assert_eq!(
        code_of_xml("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"),
        "xml.doctype"
    );
    assert_eq!(code_of_xml("not xml"), "xml.malformed");
    let idp = test_idp();
    let xml = idp.response(&spec()).unwrap();
    let two = xml.replacen(
        "</samlp:Status>",
        &format!(
            "</samlp:Status>{}",
            &xml[xml.find("<saml:Assertion").unwrap()..xml.find("</saml:Assertion>").unwrap() + 17]
        ),
        1,
    );
    assert_eq!(code_of_xml(&two), "saml.assertion.multiple");
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Success".into();
    let none = idp.wrap_response(&s, "_r1", "");
    assert_eq!(code_of_xml(&none), "saml.assertion.missing");
    let sp = sp_with(|c| c.max_message_bytes = 1000);
    let err = sp
        .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "xml.too_large");
    let err = sp
        .validate_post(&idp_config(&idp), "!!!not base64!!!", expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.encoding.base64");
}

#[test]
fn comment_inside_name_id_keeps_the_full_text() {
    // The comment is inserted before signing, so the signature covers it (with exclusive
    // c14n without comments the comment is not even digested): the NameID read is the whole
    // text, never the part before the comment.
    let idp = test_idp();
    let s = spec().name_id("victim@acme.example.evil<!---->.example");
    let raw = idp
        .assertion_xml(&s, "_a1")
        .replace("&lt;!----&gt;", "<!---->");
    let signed = idp.sign(&raw, "_a1").unwrap();
    let response = idp.wrap_response(
        &s,
        "_r1",
        signed
            .trim_start_matches(|c| c != '<')
            .split_once("?>")
            .map_or(signed.as_str(), |(_, r)| r),
    );
    let login = sp_with(|_| {})
        .validate_response(&idp_config(&idp), response.as_bytes(), expect())
        .unwrap();
    assert_eq!(
        login.identity.subject.value,
        "victim@acme.example.evil.example"
    );
}

#[test]
fn encrypted_assertions_are_decrypted_and_validated() {
    let idp = test_idp();
    let dir = format!("{}/tests/vectors/decrypt", env!("CARGO_MANIFEST_DIR"));
    let Ok(sp_key_pem) = std::fs::read(format!("{dir}/sp-rsa2048.key")) else {
        panic!("missing SP test key in {dir}");
    };
    let sp_cert_pem = std::fs::read(format!("{dir}/sp-rsa2048.crt")).unwrap();
    let s = spec();
    let assertion = idp.assertion_xml(&s, "_enc1");
    let signed = idp.sign(&assertion, "_enc1").unwrap();
    let encrypted =
        encrypt_assertion(signed.as_bytes(), &sp_cert_pem, &EncryptOptions::default()).unwrap();
    let response = idp.wrap_response(&s, "_r1", &encrypted);
    let sp = sp_with(|c| {
        c.decryption_keys
            .push(DecryptionKey::from_pem(&sp_key_pem).unwrap())
    });
    let login = sp
        .validate_response(&idp_config(&idp), response.as_bytes(), expect())
        .unwrap();
    assert!(login.was_encrypted);
    assert_eq!(login.identity.subject.value, "alice@acme.example");
    // No key configured.
    let err = sp_with(|_| {})
        .validate_response(&idp_config(&idp), response.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.decrypt.no_key");
}

#[test]
fn config_is_validated() {
    let mut c = ServiceProviderConfig::new(SP, ACS);
    c.clock_skew = Duration::from_secs(301);
    assert_eq!(ServiceProvider::new(c).unwrap_err().code(), "saml.config");
    assert_eq!(
        ServiceProvider::new(ServiceProviderConfig::new("", ACS))
            .unwrap_err()
            .code(),
        "saml.config"
    );
    assert_eq!(
        ServiceProvider::new(ServiceProviderConfig::new(SP, "not a url"))
            .unwrap_err()
            .code(),
        "saml.config"
    );
}

#[tokio::test]
async fn login_flow_through_the_seams_refuses_replay_and_unknown_state() {
    let idp = test_idp();
    let sp = sp_with(|_| {});
    let clock = std::sync::Arc::new(jsm_sso_core::clock::FixedClock::new(now()));
    let store = MemoryStateStore::new(clock.clone(), 1000);
    let replay = MemoryReplayCache::new(clock, 1000);
    let idps = [idp_config(&idp)];
    let request = sp
        .begin_login(&idps[0], &AuthnRequestOptions::default(), &store, now())
        .await
        .unwrap();
    let url = request.redirect_url.clone().unwrap();
    assert!(
        url.starts_with("https://idp.example.test/sso?SAMLRequest="),
        "{url}"
    );
    let relay = request.relay_state.clone().unwrap();
    let response = idp
        .response_base64(&spec().in_response_to(&request.id))
        .unwrap();
    let login = sp
        .finish_login(&idps, &response, Some(&relay), &store, &replay, now())
        .await
        .unwrap();
    assert_eq!(login.in_response_to.as_deref(), Some(request.id.as_str()));
    // The state was single use.
    let err = sp
        .finish_login(&idps, &response, Some(&relay), &store, &replay, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.request.unknown");
    // A replay of the same assertion through a fresh request is refused by the cache.
    let second = sp
        .begin_login(&idps[0], &AuthnRequestOptions::default(), &store, now())
        .await
        .unwrap();
    let mut s = spec().in_response_to(&second.id);
    s.assertion_id = Some(login.assertion_id.clone());
    let again = idp.response_base64(&s).unwrap();
    let err = sp
        .finish_login(
            &idps,
            &again,
            second.relay_state.as_deref(),
            &store,
            &replay,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.assertion.replayed");
    // No RelayState and no opt-in: unsolicited.
    let err = sp
        .finish_login(&idps, &response, None, &store, &replay, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.in_response_to.unsolicited");
}

#[test]
fn post_binding_request_is_signed_and_redirect_query_signature_verifies() {
    let dir = vectors();
    let key = jsm_sso_xmldsig::SigningKey::from_pem(
        &std::fs::read(format!("{dir}/idp-rsa.key")).unwrap(),
    )
    .unwrap();
    let sp = sp_with(|c| c.signing_key = Some(key));
    let idp = test_idp();
    let mut idp_cfg = idp_config(&idp);
    idp_cfg.sso.push(jsm_sso_saml::Endpoint {
        binding: jsm_sso_saml::bindings::POST.into(),
        location: "https://idp.example.test/sso-post".into(),
        response_location: None,
    });
    let post = sp
        .authn_request(
            &idp_cfg,
            &AuthnRequestOptions {
                binding: RequestBinding::Post,
                ..Default::default()
            },
            Some("rs"),
            now(),
        )
        .unwrap();
    assert!(post.xml.contains("SignatureValue"));
    let html = post.post_form.unwrap().to_html(None);
    assert!(html.contains("name=\"SAMLRequest\"") && html.contains("value=\"rs\""));
    let redirect = sp
        .authn_request(&idp_cfg, &AuthnRequestOptions::default(), Some("rs"), now())
        .unwrap();
    let url = redirect.redirect_url.unwrap();
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 100_000).unwrap();
    assert!(
        String::from_utf8(message.xml.clone())
            .unwrap()
            .contains(&redirect.id)
    );
    // The SP key is the test IdP's key here, so the IdP's trusted keys verify the query.
    message.verify(&idp.trusted_keys(), false).unwrap();
    // Lower-case percent-encoding as ADFS sends it still verifies (raw bytes are signed).
    let tampered = query.replacen("RelayState=rs", "RelayState=rt", 1);
    let err = jsm_sso_saml::binding::RedirectMessage::from_query(&tampered, 100_000)
        .unwrap()
        .verify(&idp.trusted_keys(), false)
        .unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid");
    let unsigned = query.split("&SigAlg").next().unwrap();
    let err = jsm_sso_saml::binding::RedirectMessage::from_query(unsigned, 100_000)
        .unwrap()
        .verify(&idp.trusted_keys(), false)
        .unwrap_err();
    assert_eq!(err.code(), "saml.signature.missing");
}

#[test]
fn metadata_round_trip_and_expiry() {
    let dir = vectors();
    let key = jsm_sso_xmldsig::SigningKey::from_pem(
        &std::fs::read(format!("{dir}/idp-rsa.key")).unwrap(),
    )
    .unwrap();
    let cert = jsm_sso_saml::certificate_der_from_pem(
        &std::fs::read(format!("{dir}/idp-rsa.crt")).unwrap(),
    )
    .unwrap();
    let sp = sp_with(|c| {
        c.signing_key = Some(key);
        c.slo_url = Some("https://portal.example.test/saml/slo".into());
    });
    let md = sp
        .metadata(
            &jsm_sso_saml::SpCertificates {
                signing: Some(cert.clone()),
                encryption: None,
            },
            true,
        )
        .unwrap();
    assert!(md.contains("SPSSODescriptor") && md.contains("SignatureValue") && md.contains(ACS));
    // IdP metadata in the same shape: an IDPSSODescriptor with the certificate.
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&cert)
    };
    let idp_md = format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" validUntil="2030-01-01T00:00:00Z"><md:EntityDescriptor entityID="{IDP}" cacheDuration="PT6H"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/slo"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor><md:EntityDescriptor entityID="https://sp-only.example"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor></md:EntitiesDescriptor>"#
    );
    let options = jsm_sso_saml::MetadataOptions::new(
        now().min(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
    );
    let parsed = IdentityProvider::from_metadata(idp_md.as_bytes(), None, &options).unwrap();
    assert_eq!(parsed.entity_id, IDP);
    assert!(parsed.want_authn_requests_signed);
    assert_eq!(parsed.keys.len(), 1);
    assert_eq!(parsed.cache_duration, Some(Duration::from_secs(6 * 3600)));
    assert_eq!(parsed.slo.len(), 1);
    let late = jsm_sso_saml::MetadataOptions::new(UNIX_EPOCH + Duration::from_secs(1_900_000_000));
    assert_eq!(
        IdentityProvider::from_metadata(idp_md.as_bytes(), None, &late)
            .unwrap_err()
            .code(),
        "saml.metadata.expired"
    );
    assert_eq!(
        IdentityProvider::from_metadata(idp_md.as_bytes(), Some("https://nobody"), &options)
            .unwrap_err()
            .code(),
        "saml.metadata.entity_not_found"
    );
    // Signed metadata: verified against a pinned key, tampering refused.
    let mut signed_opts = jsm_sso_saml::MetadataOptions::new(now());
    signed_opts.signed_by = Some(test_idp().trusted_keys());
    let signed_sp_md_as_idp = md.clone();
    let err = jsm_sso_saml::read_idp_metadata(
        signed_sp_md_as_idp.replace(ACS, "https://evil").as_bytes(),
        &signed_opts,
    )
    .unwrap_err();
    assert_eq!(err.code(), "saml.signature.digest_mismatch");
    assert!(
        jsm_sso_saml::read_idp_metadata(md.as_bytes(), &signed_opts)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn diagnose_lists_every_check_and_goes_on_after_failures() {
    let idp = test_idp();
    let mut s = spec();
    s.audience = Some("https://wrong-sp".into());
    s.destination = Some("https://wrong-acs".into());
    let xml = idp.response(&s).unwrap();
    let d = sp_with(|_| {}).diagnose(&idp_config(&idp), xml.as_bytes(), expect());
    assert!(!d.passed());
    let failed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| !c.passed)
        .filter_map(|c| c.code)
        .collect();
    assert_eq!(
        failed,
        ["saml.destination.mismatch", "saml.audience.mismatch"]
    );
    assert!(
        d.checks
            .iter()
            .any(|c| c.name == "assertion_signature" && c.passed)
    );
    assert!(d.login.is_none());
    let ok = sp_with(|_| {}).diagnose(
        &idp_config(&idp),
        idp.response(&spec()).unwrap().as_bytes(),
        expect(),
    );
    assert!(ok.passed() && ok.login.is_some());
}

#[test]
fn decrypted_garbage_is_the_same_error_as_a_failed_decryption() {
    // A CBC ciphertext whose plaintext is not XML: no oracle, the one decryption error.
    let idp = test_idp();
    let dir = format!("{}/tests/vectors/decrypt", env!("CARGO_MANIFEST_DIR"));
    let sp_key_pem = std::fs::read(format!("{dir}/sp-rsa2048.key")).unwrap();
    let sp_cert_pem = std::fs::read(format!("{dir}/sp-rsa2048.crt")).unwrap();
    let options =
        EncryptOptions::default().content(jsm_sso_saml::decrypt::ContentAlgorithm::Aes128Cbc);
    let sp = sp_with(|c| {
        c.decryption_keys
            .push(DecryptionKey::from_pem(&sp_key_pem).unwrap())
    });
    for plaintext in [
        "<not closed",
        "<saml:Other xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
    ] {
        let encrypted = encrypt_assertion(plaintext.as_bytes(), &sp_cert_pem, &options).unwrap();
        let response = idp.wrap_response(&spec(), "_r1", &encrypted);
        let err = sp
            .validate_response(&idp_config(&idp), response.as_bytes(), expect())
            .unwrap_err();
        assert_eq!(err.code(), "saml.decrypt.failed", "{plaintext}");
        assert_eq!(
            err.to_string(),
            jsm_sso_saml::decrypt::DecryptError::Failed.to_string()
        );
    }
}

/// A response whose assertion is edited (before signing) by `assertion_edit`, signed, and
/// wrapped with `wrapper` (another spec may give the Response other values than the assertion).
fn edited(
    spec: &ResponseSpec,
    wrapper: &ResponseSpec,
    assertion_edit: impl Fn(String) -> String,
) -> String {
    let idp = test_idp();
    let raw = assertion_edit(idp.assertion_xml(spec, "_edited"));
    let signed = idp.sign(&raw, "_edited").unwrap();
    let body = signed
        .split_once("?>")
        .map_or(signed.as_str(), |(_, r)| r)
        .trim_start();
    idp.wrap_response(wrapper, "_r1", body)
}

#[test]
fn every_other_check_breaks_alone_with_its_code() {
    let s = spec();
    let cases: Vec<(&str, String)> = vec![
        // Issuer: absent from the assertion (the Response's is right).
        (
            "saml.issuer.missing",
            edited(&s, &s, |a| {
                let start = a.find("<saml:Issuer>").unwrap();
                let end = a.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
                format!("{}{}", &a[..start], &a[end..])
            }),
        ),
        // Issuer: the assertion's alone is wrong.
        (
            "saml.issuer.mismatch",
            edited(&s, &s, |a| a.replacen(IDP, "https://other-idp.example/", 1)),
        ),
        // Issuer: the Response's alone is wrong.
        ("saml.issuer.mismatch", {
            let mut w = spec();
            w.issuer = Some("https://other-idp.example/".into());
            edited(&s, &w, |a| a)
        }),
        // InResponseTo: the Response's alone is wrong.
        (
            "saml.in_response_to.mismatch",
            edited(&s, &spec().in_response_to("_other_request"), |a| a),
        ),
        // InResponseTo: the SubjectConfirmationData's alone is wrong.
        (
            "saml.in_response_to.mismatch",
            edited(&s, &s, |a| {
                a.replace(
                    &format!("InResponseTo=\"{REQ}\""),
                    "InResponseTo=\"_other\"",
                )
            }),
        ),
        // A timestamp that is not an xs:dateTime.
        (
            "saml.message.time",
            edited(&s, &s, |a| {
                let start = a.find("IssueInstant=\"").unwrap() + 14;
                let end = start + a[start..].find('"').unwrap();
                format!("{}yesterday{}", &a[..start], &a[end..])
            }),
        ),
        (
            "saml.message.time",
            edited(&s, &s, |a| {
                a.replacen("NotOnOrAfter=\"", "NotOnOrAfter=\"2030-01-01T00:00:00", 1)
            }),
        ),
        // Subject: none at all, an EncryptedID, an empty NameID.
        (
            "saml.subject.missing",
            edited(&s, &s, |a| {
                let start = a.find("<saml:Subject>").unwrap();
                let end = a.find("</saml:Subject>").unwrap() + "</saml:Subject>".len();
                format!("{}{}", &a[..start], &a[end..])
            }),
        ),
        (
            "saml.subject.encrypted_id",
            edited(&s, &s, |a| {
                let start = a.find("<saml:NameID").unwrap();
                let end = a.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
                format!(
                    "{}<saml:EncryptedID><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedID>{}",
                    &a[..start],
                    &a[end..]
                )
            }),
        ),
        (
            "saml.subject.missing",
            edited(&s.clone().name_id(" "), &s, |a| a),
        ),
        // Bearer confirmation: NotBefore in the future; Recipient absent; no data at all.
        (
            "saml.subject_confirmation.not_yet_valid",
            edited(&s, &s, |a| {
                a.replacen(
                    "<saml:SubjectConfirmationData",
                    "<saml:SubjectConfirmationData NotBefore=\"2027-01-15T08:03:20Z\"",
                    1,
                )
            }),
        ),
        ("saml.subject_confirmation.recipient", {
            let mut r = spec();
            r.recipient = None;
            edited(&r, &s, |a| a)
        }),
        (
            "saml.subject_confirmation.missing",
            edited(&s, &s, |a| {
                let start = a.find("<saml:SubjectConfirmationData").unwrap();
                let end = start + a[start..].find("/>").unwrap() + 2;
                format!("{}{}", &a[..start], &a[end..])
            }),
        ),
        // A second AudienceRestriction that does not name us (restrictions are conjunctive).
        (
            "saml.audience.mismatch",
            edited(&s, &s, |a| {
                a.replacen(
                    "</saml:Conditions>",
                    "<saml:AudienceRestriction><saml:Audience>https://another-sp.example/</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
                    1,
                )
            }),
        ),
        // A condition the SP does not understand (core §2.5.1.5: the assertion is invalid).
        (
            "saml.conditions.unsupported",
            edited(&s, &s, |a| {
                a.replacen(
                    "</saml:Conditions>",
                    "<saml:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:x=\"urn:example:conditions\" xsi:type=\"x:OnlyOnTuesdays\"/></saml:Conditions>",
                    1,
                )
            }),
        ),
        (
            "saml.conditions.unsupported",
            edited(&s, &s, |a| {
                a.replacen(
                    "</saml:Conditions>",
                    "<x:Geofence xmlns:x=\"urn:example:conditions\"/></saml:Conditions>",
                    1,
                )
            }),
        ),
        // AuthnStatement without AuthnInstant.
        (
            "saml.message.malformed",
            edited(&s, &s, |a| {
                let start = a.find("AuthnInstant=\"").unwrap();
                let end = start + 14 + a[start + 14..].find('"').unwrap() + 1;
                format!("{}{}", &a[..start], &a[end..])
            }),
        ),
        // Statuses other than Requester/Responder.
        ("saml.status.version_mismatch", {
            let mut w = spec();
            w.status = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch".into();
            edited(&s, &w, |a| a)
        }),
        ("saml.status.unknown", {
            let mut w = spec();
            w.status = "urn:example:status:Maybe".into();
            edited(&s, &w, |a| a)
        }),
    ];
    for (code, xml) in &cases {
        assert_eq!(code_of_xml(xml), *code, "case {code}: {xml}");
    }
    // The same construction with no edit passes: each case above broke one thing only.
    assert_eq!(code_of_xml(&edited(&s, &s, |a| a)), "ok");
}

#[test]
fn one_time_use_and_proxy_restriction_are_honoured_and_address_is_not_checked() {
    let s = spec();
    // OneTimeUse and ProxyRestriction are understood: accepted (the replay cache makes every
    // assertion one-time anyway, see the login flow test).
    let xml = edited(&s, &s, |a| {
        a.replacen(
            "</saml:Conditions>",
            "<saml:OneTimeUse/><saml:ProxyRestriction Count=\"0\"/></saml:Conditions>",
            1,
        )
    });
    let idp = test_idp();
    let d = sp_with(|_| {}).diagnose(&idp_config(&idp), xml.as_bytes(), expect());
    assert!(d.passed(), "{:?}", d.checks);
    let other = d
        .checks
        .iter()
        .find(|c| c.name == "conditions_other")
        .unwrap();
    assert_eq!(other.detail, "OneTimeUse, ProxyRestriction (honoured)");
    // Address in the bearer confirmation is not compared with the client (the profile makes
    // it optional; behind proxies and NAT the SP does not see the address the IdP saw).
    let xml = edited(&s, &s, |a| {
        a.replacen(
            "<saml:SubjectConfirmationData",
            "<saml:SubjectConfirmationData Address=\"203.0.113.9\"",
            1,
        )
    });
    assert_eq!(code_of_xml(&xml), "ok");
}

#[test]
fn clock_skew_is_the_configured_one() {
    // 100 s late: refused with the default 60 s skew, accepted with 120 s.
    let mut s = spec();
    s.confirmation_not_on_or_after = Some(now() - Duration::from_secs(100));
    let idp = test_idp();
    let xml = idp.response(&s).unwrap();
    let err = sp_with(|_| {})
        .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.subject_confirmation.expired");
    assert!(err.to_string().contains("clock skew 60 s"), "{err}");
    let lenient = sp_with(|c| c.clock_skew = Duration::from_secs(120));
    assert!(
        lenient
            .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
            .is_ok()
    );
    // SessionNotOnOrAfter gets no skew: it is the IdP's session policy, not a clock bound.
    let mut s = spec();
    s.session_not_on_or_after = Some(now());
    let xml = idp.response(&s).unwrap();
    assert_eq!(
        lenient
            .validate_response(&idp_config(&idp), xml.as_bytes(), expect())
            .unwrap_err()
            .code(),
        "saml.authn_statement.session_expired"
    );
}

#[test]
fn errors_carry_expected_and_actual_values() {
    let idp = test_idp();
    let mut s = spec();
    s.audience = Some("https://another-sp.example/".into());
    let err = sp_with(|_| {})
        .validate_response(
            &idp_config(&idp),
            idp.response(&s).unwrap().as_bytes(),
            expect(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(SP) && text.contains("https://another-sp.example/"),
        "{text}"
    );
    assert!(err.hint().contains("entity ID"), "{}", err.hint());
    let mut s = spec();
    s.destination = Some("https://evil.example/acs".into());
    let err = sp_with(|_| {})
        .validate_response(
            &idp_config(&idp),
            idp.response(&s).unwrap().as_bytes(),
            expect(),
        )
        .unwrap_err();
    assert!(err.to_string().contains(ACS) && err.to_string().contains("evil.example"));
    assert!(err.hint().contains("ACS"), "{}", err.hint());
}

#[test]
fn expired_pinned_certificate_is_refused_only_when_asked() {
    let idp = test_idp();
    let xml = idp.response(&spec()).unwrap();
    let mut cfg = idp_config(&idp);
    let expiry = cfg.keys.iter().next().unwrap().not_after().unwrap();
    let after = Expect {
        now: expiry + Duration::from_secs(1),
        request_id: Some(REQ),
    };
    // Past the certificate's notAfter, the response itself is also expired: check the
    // signature step alone through diagnose.
    let d = sp_with(|_| {}).diagnose(&cfg, xml.as_bytes(), after);
    assert!(
        d.checks
            .iter()
            .any(|c| c.name == "assertion_signature" && c.passed)
    );
    cfg.check_certificate_expiry = true;
    let d = sp_with(|_| {}).diagnose(&cfg, xml.as_bytes(), after);
    let signature = d
        .checks
        .iter()
        .find(|c| c.name == "assertion_signature")
        .unwrap();
    assert_eq!(signature.code, Some("saml.signature.certificate_expired"));
    // Before expiry the same setting accepts.
    assert!(
        sp_with(|_| {})
            .validate_response(&cfg, xml.as_bytes(), expect())
            .is_ok()
    );
}

#[tokio::test]
async fn finish_login_refuses_unknown_idps_long_relay_state_and_oversized_posts() {
    let idp = test_idp();
    let clock = std::sync::Arc::new(jsm_sso_core::clock::FixedClock::new(now()));
    let store = MemoryStateStore::new(clock.clone(), 1000);
    let replay = MemoryReplayCache::new(clock, 1000);
    let open = sp_with(|c| c.allow_unsolicited = true);
    let mut s = spec();
    s.in_response_to = None;
    let other = TestIdp::generate("https://stranger.example/idp").unwrap();
    let stranger = other.response_base64(&s).unwrap();
    let err = open
        .finish_login(&[idp_config(&idp)], &stranger, None, &store, &replay, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.issuer.unknown");
    assert!(err.to_string().contains("stranger.example"));
    let long = "r".repeat(257);
    let err = open
        .finish_login(
            &[idp_config(&idp)],
            &stranger,
            Some(&long),
            &store,
            &replay,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.relay_state.too_long");
    let err = open
        .authn_request(
            &idp_config(&idp),
            &AuthnRequestOptions::default(),
            Some(&long),
            now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "saml.relay_state.too_long");
    // The base64 form value is refused from its length, before decoding.
    let small = sp_with(|c| c.max_message_bytes = 1000);
    let big = idp.response_base64(&spec()).unwrap();
    let err = small
        .finish_login(&[idp_config(&idp)], &big, None, &store, &replay, now())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "saml.message.too_large");
    let err = small
        .validate_post(&idp_config(&idp), &big, expect())
        .unwrap_err();
    assert_eq!(err.code(), "saml.message.too_large");
}
