//! `portal-gateway --config FILE` serves: the binary started with a configuration file for
//! a SAML IdP (metadata file written here; responses signed with its key) and a JSM site
//! (jsm-sso-jira's `MemoryJsm` behind its HTTP face on 127.0.0.1, reached by the real REST
//! client), secrets in environment variables. Over real HTTP: sign-in -> portal list ->
//! request raised in JSM. And `--check` against the site reports every start-time problem at
//! once with its code (an undeclared portal, a required field neither shown nor filled,
//! metadata that does not parse, a missing variable, a template it cannot fill, a portal the
//! site does not have, an unreachable Redis). With `JSM_SSO_REDIS_URL` (the `redis-server`
//! peer) the sign-in also runs with `[redis]` stores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests: a failed unwrap is a failed test; the skip line goes to stderr"
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{
    Browser, CERT, IDP_ENTITY, KEY, Process, command, enrolment_secret, free_port, hidden,
    http_location as location, idp_metadata as metadata, jsm_site, peer_url, spawn, totp_code,
};
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};

struct Setup {
    dir: tempfile::TempDir,
    jsm: MemoryJsm,
    site: String,
    desk: String,
    request_type: String,
}

async fn setup() -> Setup {
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help Center");
    let request_type = jsm
        .add_request_type(
            &desk,
            "Get IT help",
            &[
                ("summary", "Summary", true),
                ("description", "Description", false),
                ("customfield_10050", "Company domain", true),
            ],
        )
        .unwrap();
    jsm.add_organization("Acme Corp");
    let site = jsm_site(jsm.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idp.xml"), metadata()).unwrap();
    let (_, audit_pem) = jsm_sso_audit::SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("audit.pem"), audit_pem).unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        format!(
            r#"version = 1
default = "deny"

[portals]
"{desk}" = "Help Center"

[organizations]
acme = "Acme Corp"

[[rule]]
name = "acme-staff"
email_domain = ["acme.example"]
organizations = ["acme"]
portals = ["{desk}"]
"#
        ),
    )
    .unwrap();
    Setup {
        dir,
        jsm,
        site,
        desk,
        request_type,
    }
}

fn config(s: &Setup, base: &str, portal_block: &str) -> String {
    let d = s.dir.path().display();
    format!(
        r#"[server]
base_url = "{base}"
listen = "{listen}"

[session]
key_env = "TEST_GATEWAY_SESSION_KEY"

[jsm]
kind = "cloud"
site_url = "{site}"
email = "bot@acme.example"
api_token_env = "TEST_GATEWAY_JSM_TOKEN"

[policy]
file = "{d}/policy.toml"

[audit]
dir = "{d}/audit"
signing_key_file = "{d}/audit.pem"
[audit.privacy]
email = "keep"

[[idp]]
id = "acme"
display_name = "Acme staff"
protocol = "saml"
domains = ["acme.example"]
metadata_file = "{d}/idp.xml"
{portal_block}"#,
        listen = base.trim_start_matches("http://"),
        site = s.site,
    )
}

/// The problems with `code` in `--check`'s JSON, in order.
fn problems<'j>(json: &'j serde_json::Value, code: &str) -> Vec<&'j serde_json::Value> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == code)
        .collect()
}

fn redis_url() -> Option<String> {
    peer_url("JSM_SSO_REDIS_URL", "redis.sh")
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_from_a_config_file_sign_in_portals_and_request() {
    sign_in_through_a_config_file(None, false).await;
}

/// A manually configured IdP, and the `[saml]` SP keys.
#[tokio::test(flavor = "multi_thread")]
async fn serves_a_manually_configured_saml_idp() {
    sign_in_through_a_config_file(None, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_with_redis_stores_and_health_pings_redis() {
    let Some(url) = redis_url() else {
        return;
    };
    sign_in_through_a_config_file(Some(url), false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_an_unreachable_redis() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let base = format!("http://127.0.0.1:{}", free_port());
    let path = s.dir.path().join("gateway.toml");
    // [mfa] with [redis] is a valid fleet set-up (factors in Redis, tests/fleet_mfa.rs):
    // only the unreachable Redis is reported for it.
    let text = config(&s, &base, "")
        + "\n[redis]\nurl_env = \"TEST_GATEWAY_REDIS_URL\"\n"
        + "\n[mfa]\nsealing_key_env = \"TEST_GATEWAY_SESSION_KEY\"\nissuer = \"Acme\"\n";
    std::fs::write(&path, text).unwrap();
    let output = command(&path)
        .arg("--check")
        .env(
            "TEST_GATEWAY_REDIS_URL",
            format!("redis://127.0.0.1:{}", free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<&str> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.iter().any(|c| c.starts_with("redis.")), "{codes:?}");
    assert!(
        !json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["location"] == "mfa"),
        "{json}"
    );
}

/// `manual`: the IdP by `entity_id`, `sso_url` and `certificates` instead of metadata.
async fn sign_in_through_a_config_file(redis: Option<String>, manual: bool) {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut block = format!(
        "\n[[portal]]\nid = \"{}\"\n[[portal.request_type]]\nid = \"{}\"\nshow = [\"summary\", \"description\"]\nfill = {{ customfield_10050 = \"{{attr.department}} @ {{email.domain}}\" }}\n\n[admin]\nidps = [\"acme\"]\ngroups = [\"staff\"]\nrequire_mfa = false\n",
        s.desk, s.request_type
    );
    if redis.is_some() {
        // A prefix of its own: the peer is shared with other tests.
        block.push_str(&format!(
            "\n[redis]\nurl_env = \"TEST_GATEWAY_REDIS_URL\"\nkey_prefix = \"gw-test-{}:\"\n",
            free_port()
        ));
    }
    let path = s.dir.path().join("gateway.toml");
    let mut text = config(&s, &base, &block);
    if manual {
        let d = s.dir.path().display();
        std::fs::write(s.dir.path().join("idp.crt"), CERT).unwrap();
        std::fs::remove_file(s.dir.path().join("idp.xml")).unwrap();
        text = text.replace(
            &format!("metadata_file = \"{d}/idp.xml\""),
            &format!(
                "entity_id = \"{IDP_ENTITY}\"\nsso_url = \"https://idp.acme.test/sso\"\nslo_url = \"https://idp.acme.test/slo\"\ncertificates = [\"{d}/idp.crt\"]"
            ),
        );
        assert!(!text.contains("metadata_file"));
        // With it, a signing SP: signed AuthnRequests, its certificate in the metadata, and
        // only responses whose assertion is itself signed.
        std::fs::write(s.dir.path().join("sp.key"), KEY).unwrap();
        text.push_str(&format!(
            "\n[saml]\nsigning_key_file = \"{d}/sp.key\"\nsigning_cert_file = \"{d}/idp.crt\"\nrequire_signed_assertion = true\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let mut command = command(&path);
    if let Some(url) = &redis {
        command.env("TEST_GATEWAY_REDIS_URL", url);
    }
    let _gateway = spawn(command, &format!("{base}/healthz")).await;
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let mut browser = Browser::new(&base);

    // Email-first sign-in: discovery sends alice to the IdP of the metadata file.
    let page = browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("Acme staff"), "{page}");
    let csrf = hidden(&page, "csrf");
    let redirect = browser
        .post(
            "/login",
            &[("csrf", &csrf), ("email", "alice@acme.example")],
        )
        .await;
    assert_eq!(redirect.status(), 303);
    let to = location(&redirect);
    assert!(to.starts_with("https://idp.acme.test/sso?"), "{to}");
    let query = to.split_once('?').unwrap().1;
    if manual {
        assert!(
            query.contains("SigAlg=") && query.contains("Signature="),
            "unsigned AuthnRequest: {query}"
        );
        let metadata = browser.get("/saml/metadata").await.text().await.unwrap();
        let der: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(metadata.contains(&der), "{metadata}");
        assert!(
            metadata.contains("AuthnRequestsSigned=\"true\""),
            "{metadata}"
        );
    } else {
        assert!(!query.contains("Signature="), "{query}");
    }
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml.clone()).unwrap();
    let id_at = xml.find(" ID=\"").unwrap() + 5;
    let request_id = &xml[id_at..id_at + xml[id_at..].find('"').unwrap()];
    assert!(
        xml.contains(&format!("AssertionConsumerServiceURL=\"{base}/saml/acs\"")),
        "{xml}"
    );
    let relay = url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == "RelayState")
        .unwrap()
        .1
        .into_owned();

    // The IdP's signed response, posted to the ACS.
    let idp = TestIdp::from_pem(IDP_ENTITY, KEY.as_bytes(), CERT.as_bytes()).unwrap();
    let spec = ResponseSpec::new(
        &format!("{base}/saml/metadata"),
        &format!("{base}/saml/acs"),
        SystemTime::now(),
    )
    .in_response_to(request_id)
    .name_id("alice@acme.example")
    .attribute("groups", ["staff", "other"])
    .attribute("department", ["Sales"]);
    let response = idp.response_base64(&spec).unwrap();
    let acs = browser
        .post(
            "/saml/acs",
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await;
    assert_eq!(acs.status(), 303, "{:?}", acs.headers());
    assert!(location(&acs).ends_with("/portals"), "{}", location(&acs));

    // The portal list, from the policy's [portals], and the form of the [[portal]] entry.
    let portals = browser.get("/portals").await.text().await.unwrap();
    assert!(
        portals.contains("id=\"portals\"") && portals.contains("Help Center"),
        "{portals}"
    );
    assert!(
        portals.contains(&format!(
            "id=\"raise-{}-{}\">Get IT help</a>",
            s.desk, s.request_type
        )),
        "the request type's name from JSM: {portals}"
    );
    let form_path = format!("/portals/{}/request/{}", s.desk, s.request_type);
    let form = browser.get(&form_path).await.text().await.unwrap();
    assert!(form.contains("id=\"f-summary\""), "{form}");
    assert!(
        !form.contains("id=\"f-customfield_10050\""),
        "a filled field is asked: {form}"
    );
    let csrf = hidden(&form, "csrf");
    let raised = browser
        .post(
            &form_path,
            &[
                ("csrf", &csrf),
                ("summary", "VPN is down"),
                ("description", "Since noon."),
            ],
        )
        .await;
    let raised_status = raised.status();
    let raised = raised.text().await.unwrap();
    assert!(
        raised.contains("id=\"request-key\""),
        "{raised_status}: {raised}"
    );
    let requests = s.jsm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].fields["summary"], "VPN is down");
    // Filled from an identity attribute the session kept for the template.
    assert_eq!(
        requests[0].fields["customfield_10050"],
        "Sales @ acme.example"
    );
    // An admin by IdP group.
    let admin = browser.get("/admin/customers").await;
    assert_eq!(admin.status(), 200, "{:?}", admin.headers());

    // Sign-out: with the manual IdP's slo_url, Single Logout (a signed LogoutRequest, as
    // the SP has a key); the metadata file's IdP has no SLO endpoint, so only the local
    // session ends.
    let portals_page = browser.get("/portals").await.text().await.unwrap();
    let csrf = hidden(&portals_page, "csrf");
    let out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    let to = location(&out);
    if manual {
        assert!(
            to.starts_with("https://idp.acme.test/slo?SAMLRequest="),
            "{to}"
        );
        let query = to.split_once('?').unwrap().1;
        assert!(
            query.contains("Signature="),
            "unsigned LogoutRequest: {query}"
        );
        let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
        let xml = String::from_utf8(message.xml.clone()).unwrap();
        let id_at = xml.find(" ID=\"").unwrap() + 5;
        let logout_id = &xml[id_at..id_at + xml[id_at..].find('"').unwrap()];
        let answer = idp
            .logout_response_base64(&format!("{base}/saml/slo"), logout_id, SystemTime::now())
            .unwrap();
        let relay = message.relay_state.unwrap();
        let done = browser
            .post(
                "/saml/slo",
                &[("SAMLResponse", &answer), ("RelayState", &relay)],
            )
            .await;
        assert_eq!(done.status(), 200, "{:?}", done.headers());
        let metadata = browser.get("/saml/metadata").await.text().await.unwrap();
        assert!(
            metadata.contains(&format!("Location=\"{base}/saml/slo\"")),
            "{metadata}"
        );
    } else {
        assert!(to.ends_with("/login"), "{to}");
    }
    let after = browser.get("/portals").await;
    assert_eq!(after.status(), 303);
    assert!(
        s.jsm
            .customers()
            .iter()
            .any(|(_, e)| e == "alice@acme.example")
    );

    if manual {
        // require_signed_assertion: a response signed around an unsigned assertion is refused.
        browser.cookies.clear();
        let page = browser.get("/login").await.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let redirect = browser
            .post(
                "/login",
                &[("csrf", &csrf), ("email", "alice@acme.example")],
            )
            .await;
        let to = location(&redirect);
        let query = to.split_once('?').unwrap().1;
        let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
        let xml = String::from_utf8(message.xml.clone()).unwrap();
        let id_at = xml.find(" ID=\"").unwrap() + 5;
        let request_id = &xml[id_at..id_at + xml[id_at..].find('"').unwrap()];
        let relay = url::form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == "RelayState")
            .unwrap()
            .1
            .into_owned();
        let spec = ResponseSpec::new(
            &format!("{base}/saml/metadata"),
            &format!("{base}/saml/acs"),
            SystemTime::now(),
        )
        .in_response_to(request_id)
        .name_id("alice@acme.example")
        .signing(jsm_sso_testkit::saml::Signing::Response);
        let response = idp.response_base64(&spec).unwrap();
        let acs = browser
            .post(
                "/saml/acs",
                &[("SAMLResponse", &response), ("RelayState", &relay)],
            )
            .await;
        assert!(acs.status().is_client_error(), "{}", acs.status());
        let code = acs.headers()["x-jsm-sso-error"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(code.starts_with("saml.signature"), "{code}");
    }

    // The audit log went to the configured directory, with where each sign-in came from
    // (the TCP peer: this file does not set forwarded_for, so a forged header is ignored).
    let audit = s.dir.path().join("audit");
    let mut succeeded = Vec::new();
    for entry in std::fs::read_dir(&audit).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            if record["event"]["kind"] == "signin.succeeded" {
                succeeded.push(record["event"]["source"].clone());
            }
        }
    }
    assert!(!succeeded.is_empty(), "no signin.succeeded event");
    for source in &succeeded {
        assert_eq!(source["ip"], "127.0.0.1", "{source}");
        assert_eq!(source["user_agent"], "jsm-sso-test", "{source}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_every_start_time_problem_with_its_code() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let base = format!("http://127.0.0.1:{}", free_port());
    // Portal "999" is not in the policy; the request type leaves a required field out; the
    // metadata file is not metadata; a SCIM token variable is unset; a fill template names
    // no attribute; the policy asks for a second factor and admins need one by default,
    // with no [mfa].
    let block = format!(
        "scim_token_env = \"TEST_GATEWAY_UNSET_SCIM_TOKEN\"\n\n[[portal]]\nid = \"999\"\n\n[[portal]]\nid = \"{}\"\n[[portal.request_type]]\nid = \"{}\"\nshow = [\"summary\"]\nfill = {{ description = \"{{attr.}}\" }}\n\n[admin]\nidps = [\"acme\"]\nemails = [\"ada@acme.example\"]\n",
        s.desk, s.request_type
    );
    let path = s.dir.path().join("gateway.toml");
    std::fs::write(&path, config(&s, &base, &block)).unwrap();
    std::fs::write(s.dir.path().join("idp.xml"), "<not-metadata/>").unwrap();
    // The policy declares a portal the JSM site does not have.
    let policy = std::fs::read_to_string(s.dir.path().join("policy.toml")).unwrap();
    let with_ghost =
        policy.replace("[portals]\n", "[portals]\n\"777\" = \"Ghost\"\n") + "require_mfa = true\n";
    std::fs::write(s.dir.path().join("policy.toml"), &with_ghost).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["code"], "config.invalid");
    let codes: Vec<&str> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "config.env.missing",
        "config.portal.unknown",
        "config.portal.field_required",
        "saml.metadata.invalid",
        "config.value.invalid",
        "jira.not_found",
    ] {
        assert!(codes.contains(&code), "{code} not in {codes:?}");
    }
    let mfa: Vec<&str> = problems(&json, "config.mfa.missing")
        .iter()
        .map(|e| e["location"].as_str().unwrap())
        .collect();
    assert_eq!(mfa, ["mfa", "admin.require_mfa"], "{json}");
    let field = problems(&json, "config.portal.field_required")[0];
    assert!(
        field["message"]
            .as_str()
            .unwrap()
            .contains("customfield_10050"),
        "{field}"
    );

    let template = problems(&json, "config.value.invalid")[0];
    assert!(
        template["location"]
            .as_str()
            .unwrap()
            .ends_with(".fill.description")
            && template["message"]
                .as_str()
                .unwrap()
                .contains("names no attribute"),
        "{template}"
    );

    // The same file with the problems fixed passes --check.
    let block = format!(
        "\n[[portal]]\nid = \"{}\"\n[[portal.request_type]]\nid = \"{}\"\nshow = [\"summary\", \"customfield_10050\"]\n",
        s.desk, s.request_type
    );
    std::fs::write(&path, config(&s, &base, &block)).unwrap();
    std::fs::write(s.dir.path().join("idp.xml"), metadata()).unwrap();
    std::fs::write(s.dir.path().join("policy.toml"), policy).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // Federation metadata must be signed by metadata_signing_cert_file: this one is not.
    std::fs::write(s.dir.path().join("federation.crt"), CERT).unwrap();
    let d = s.dir.path().display();
    let text = config(&s, &base, &block).replace(
        "metadata_file = ",
        &format!("metadata_signing_cert_file = \"{d}/federation.crt\"\nmetadata_file = "),
    );
    std::fs::write(&path, text).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["location"], "idp[0].metadata_file");
    let code = errors[0]["code"].as_str().unwrap();
    assert!(
        code.starts_with("saml.signature") || code.starts_with("xmldsig."),
        "{code}"
    );
}

fn oidc_provider_url() -> Option<String> {
    peer_url("JSM_SSO_OIDC_PROVIDER_URL", "oidc-provider.sh")
}

fn p256_pem() -> String {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref());
    format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
}

/// OIDC IdPs by discovery at the real `oidc-provider`: a `private_key_jwt` client whose key
/// and certificate load passes `--check`; the client-authentication refusals and a wrong
/// issuer are each reported with their code.
#[tokio::test(flavor = "multi_thread")]
async fn check_oidc_idps_by_discovery_and_client_authentication() {
    let Some(issuer) = oidc_provider_url() else {
        return;
    };
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let d = s.dir.path().display().to_string();
    std::fs::write(s.dir.path().join("client.key"), p256_pem()).unwrap();
    std::fs::write(s.dir.path().join("client.crt"), CERT).unwrap();
    std::fs::write(s.dir.path().join("bad.key"), "not a key").unwrap();
    let base = format!("http://127.0.0.1:{}", free_port());
    let path = s.dir.path().join("gateway.toml");
    let oidc = |id: &str, extra: &str, issuer: &str| {
        format!(
            "\n[[idp]]\nid = \"{id}\"\nprotocol = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"jsm-gateway\"\n{extra}\n"
        )
    };
    let good = oidc(
        "op",
        &format!(
            "client_auth = \"private_key_jwt\"\nprivate_key_file = \"{d}/client.key\"\nprivate_key_kid = \"k1\"\ncertificate_file = \"{d}/client.crt\""
        ),
        &issuer,
    );
    std::fs::write(&path, config(&s, &base, &good)).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let bad = [
        oidc(
            "bad-key",
            &format!(
                "client_auth = \"private_key_jwt\"\nprivate_key_file = \"{d}/bad.key\"\nprivate_key_kid = \"k1\""
            ),
            &issuer,
        ),
        oidc("no-secret", "client_auth = \"basic\"", &issuer),
        oidc("magic", "client_auth = \"magic\"", &issuer),
        oidc("stray-key", &format!("private_key_file = \"{d}/client.key\""), &issuer),
        oidc("wrong-issuer", "", &format!("{issuer}/elsewhere")),
    ]
    .concat();
    std::fs::write(&path, config(&s, &base, &bad)).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, String)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["location"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (code, location) in [
        ("config.value.invalid", "idp[1].private_key_file"),
        ("config.key.missing", "idp[2].client_secret_env"),
        ("config.value.invalid", "idp[3].client_auth"),
        ("config.key.conflict", "idp[4].private_key_file"),
    ] {
        assert!(
            found.iter().any(|(c, l)| c == code && l == location),
            "{code} at {location} not in {found:?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|(c, l)| c.starts_with("oidc.") && l == "idp[5].issuer"),
        "no oidc.* problem for the wrong issuer: {found:?}"
    );
}

/// Starts `portal-gateway --config` and waits for `/healthz`.
async fn start(path: &Path, env: &[(&str, String)]) -> Process {
    let mut command = command(path);
    for (name, value) in env {
        command.env(name, value);
    }
    let text = std::fs::read_to_string(path).unwrap();
    let base = text
        .lines()
        .find_map(|l| l.strip_prefix("base_url = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    spawn(command, &format!("{base}/healthz")).await
}

/// `[mfa] secrets_file`: a factor enrolled before a restart is challenged after it.
#[tokio::test(flavor = "multi_thread")]
async fn mfa_factors_survive_a_restart_with_secrets_file() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let d = s.dir.path().display().to_string();
    let policy = std::fs::read_to_string(s.dir.path().join("policy.toml")).unwrap();
    std::fs::write(
        s.dir.path().join("policy.toml"),
        policy.replace("portals = [", "require_mfa = true\nportals = ["),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", free_port());
    let mfa = format!(
        "\n[mfa]\nsealing_key_env = \"TEST_GATEWAY_MFA_KEY\"\nissuer = \"Acme Support\"\nsecrets_file = \"{d}/factors.json\"\n"
    );
    let path = s.dir.path().join("gateway.toml");
    std::fs::write(&path, config(&s, &base, &mfa)).unwrap();
    let env = [(
        "TEST_GATEWAY_MFA_KEY",
        "bWZhLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHMtMzI=".to_owned(),
    )];
    let mut browser = Browser::new(&base);

    let gateway = start(&path, &env).await;
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    assert!(location(&acs).ends_with("/mfa/enrol"), "{}", location(&acs));
    let page = browser.get("/mfa/enrol").await.text().await.unwrap();
    let secret = enrolment_secret(&page);
    let code = totp_code(&secret, SystemTime::now());
    let csrf = hidden(&page, "csrf");
    let done = browser
        .post("/mfa", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert!(
        location(&done).ends_with("/portals"),
        "{:?}",
        done.headers()
    );
    let factors = std::fs::read_to_string(s.dir.path().join("factors.json")).unwrap();
    assert!(factors.contains("confirmed"), "{factors}");
    assert!(
        !factors.contains(&secret),
        "the clear secret is in the file"
    );
    drop(gateway);

    // Restarted: the factor is still there, so a challenge and no new enrolment.
    let _gateway = start(&path, &env).await;
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    let to = location(&acs);
    assert!(to.ends_with("/mfa") && !to.ends_with("/mfa/enrol"), "{to}");
}

/// The audit events of `kind` in the configured directory, in order.
fn audit_events(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|r| r["event"]["kind"] == kind)
        .map(|r| r["event"].clone())
        .collect()
}

/// `SIGHUP` re-reads the policy: a valid file takes effect at once, a broken one or one
/// asking for a second factor without `[mfa]` is refused and the old policy stays; every
/// outcome is audited.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_policy_or_keeps_the_old_one() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let base = format!("http://127.0.0.1:{}", free_port());
    let path = s.dir.path().join("gateway.toml");
    std::fs::write(&path, config(&s, &base, "")).unwrap();
    std::fs::write(s.dir.path().join("idp.xml"), metadata()).unwrap();
    let policy_path = s.dir.path().join("policy.toml");
    let original = std::fs::read_to_string(&policy_path).unwrap();
    let gateway = start(&path, &[]).await;
    let pid = gateway.0.id().to_string();
    let audit = s.dir.path().join("audit");
    let mut browser = Browser::new(&base);
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    assert!(location(&acs).ends_with("/portals"), "{}", location(&acs));
    assert_eq!(audit_events(&audit, "policy.loaded").len(), 1, "at start");

    let hangup = |expect_loaded: usize, expect_refused: usize| {
        let audit = audit.clone();
        let pid = pid.clone();
        async move {
            let status = std::process::Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap();
            assert!(status.success());
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let loaded = audit_events(&audit, "policy.loaded").len();
                let refused = audit_events(&audit, "policy.refused").len();
                if loaded == expect_loaded && refused == expect_refused {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{loaded} loaded, {refused} refused"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };

    // The rule now names another domain, and a second rule appears: alice matches none
    // and is refused by the default after the reload.
    let denying = format!(
        "{}\n[[rule]]\nname = \"evil-closed\"\neffect = \"deny\"\nemail_domain = [\"evil.example\"]\n",
        original.replace("[\"acme.example\"]", "[\"other.example\"]")
    );
    std::fs::write(&policy_path, &denying).unwrap();
    hangup(2, 0).await;
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    assert_eq!(
        acs.headers()["x-jsm-sso-error"].to_str().unwrap(),
        "broker.policy.denied"
    );
    let loaded = audit_events(&audit, "policy.loaded");
    assert_eq!(loaded[1]["details"]["rules"], 2);

    // A broken file: refused, and the deny rule stays in force.
    std::fs::write(&policy_path, "version = 1\n[[rule]\n").unwrap();
    hangup(2, 1).await;
    let refused = audit_events(&audit, "policy.refused");
    assert_eq!(refused[0]["outcome"]["status"], "failure");
    assert!(
        refused[0]["outcome"]["code"]
            .as_str()
            .unwrap()
            .starts_with("policy."),
        "{}",
        refused[0]
    );
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    assert_eq!(
        acs.headers()["x-jsm-sso-error"].to_str().unwrap(),
        "broker.policy.denied"
    );

    // A second factor without [mfa]: refused with the start-time code.
    std::fs::write(
        &policy_path,
        original.replace("portals = [", "require_mfa = true\nportals = ["),
    )
    .unwrap();
    hangup(2, 2).await;
    let refused = audit_events(&audit, "policy.refused");
    assert_eq!(refused[1]["outcome"]["code"], "config.mfa.missing");

    // The original again: alice is back in.
    std::fs::write(&policy_path, &original).unwrap();
    hangup(3, 2).await;
    let acs = browser.saml_sign_in(&base, "alice@acme.example").await;
    assert!(location(&acs).ends_with("/portals"), "{}", location(&acs));
    drop(gateway);
}
