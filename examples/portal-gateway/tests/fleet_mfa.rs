//! `[mfa]` with `[redis]`: two `portal-gateway --config` processes behind one public URL (the
//! load balancer's) share one Redis. A customer enrols on instance A, is challenged (not
//! offered a new enrolment) on instance B, the code already used on A is refused on B (one
//! replay guard), and the next code passes. Redis holds only sealed text under
//! `<key_prefix>mfa:factor:`. And `--check` names `secrets_file` with `[redis]` as a conflict.
//!
//! The fleet test needs the `redis-server` peer (`JSM_SSO_REDIS_URL`); it skips without it
//! unless `JSM_SSO_REQUIRE_PEERS=1`.
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
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{
    Browser, Process, enrolment_secret, free_port, hidden, http_location as location,
    idp_metadata as metadata, jsm_site, peer_url, spawn, totp_code,
};
use jsm_sso_jira::memory::MemoryJsm;
use redis::AsyncCommands;

const MFA_KEY: &str = "bWZhLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHMtMzI=";

fn redis_url() -> Option<String> {
    peer_url("JSM_SSO_REDIS_URL", "redis.sh")
}

/// A configuration directory (metadata, audit key, a policy asking for a second factor) and
/// the JSM site; `config` writes one instance's file.
struct Fleet {
    dir: tempfile::TempDir,
    site: String,
}

impl Fleet {
    async fn new() -> Self {
        let jsm = MemoryJsm::new();
        let desk = jsm.add_service_desk("HELP", "Help Center");
        jsm.add_request_type(&desk, "Get IT help", &[("summary", "Summary", true)])
            .unwrap();
        jsm.add_organization("Acme Corp");
        let site = jsm_site(jsm).await;
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
require_mfa = true
portals = ["{desk}"]
"#
            ),
        )
        .unwrap();
        Self { dir, site }
    }

    /// One instance's configuration: the fleet's public URL, its own listen address and
    /// audit directory, the shared Redis under `prefix`, and `[mfa]` (plus `mfa_extra`).
    fn config(&self, name: &str, public: &str, listen: &str, prefix: &str, extra: &str) -> String {
        let d = self.dir.path().display();
        let text = format!(
            r#"[server]
base_url = "{public}"
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
dir = "{d}/audit-{name}"
signing_key_file = "{d}/audit.pem"

[[idp]]
id = "acme"
display_name = "Acme staff"
protocol = "saml"
domains = ["acme.example"]
metadata_file = "{d}/idp.xml"

[redis]
url_env = "TEST_GATEWAY_REDIS_URL"
key_prefix = "{prefix}"

[mfa]
sealing_key_env = "TEST_GATEWAY_MFA_KEY"
issuer = "Acme Support"
{extra}"#,
            site = self.site,
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

fn command(config: &str, redis_url: &str) -> Command {
    let mut command = common::command(Path::new(config));
    command
        .env("TEST_GATEWAY_MFA_KEY", MFA_KEY)
        .env("TEST_GATEWAY_REDIS_URL", redis_url);
    command
}

/// Starts one instance and waits until it answers on its own address.
async fn start(config: &str, redis_url: &str, listen: &str) -> Process {
    spawn(
        command(config, redis_url),
        &format!("http://{listen}/healthz"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn enrol_on_one_instance_be_challenged_on_another() {
    let Some(redis_url) = redis_url() else {
        return;
    };
    let _already = rustls::crypto::ring::default_provider().install_default();
    let fleet = Fleet::new().await;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("test:fleet-mfa:{}:{nanos}:", std::process::id());
    // The load balancer's address: the SAML audience and ACS every instance names.
    let public = format!("http://127.0.0.1:{}", free_port());
    let (listen_a, listen_b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let config_a = fleet.config("a", &public, &listen_a, &prefix, "");
    let config_b = fleet.config("b", &public, &listen_b, &prefix, "");
    let _a = start(&config_a, &redis_url, &listen_a).await;
    let _b = start(&config_b, &redis_url, &listen_b).await;

    // Instance A: first sign-in, enrolment offered and confirmed.
    let mut on_a = Browser::new(&format!("http://{listen_a}"));
    let acs = on_a.saml_sign_in(&public, "alice@acme.example").await;
    assert!(location(&acs).ends_with("/mfa/enrol"), "{}", location(&acs));
    let page = on_a.get("/mfa/enrol").await.text().await.unwrap();
    let secret = enrolment_secret(&page);
    let now = SystemTime::now();
    let used = totp_code(&secret, now);
    let done = on_a
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &used)])
        .await;
    assert!(
        location(&done).ends_with("/portals"),
        "{:?}",
        done.headers()
    );

    // Redis holds the confirmed factor, sealed: one key under the prefix's mfa:factor:.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = raw.keys(format!("{prefix}mfa:factor:*")).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let value: String = raw.get(&keys[0]).await.unwrap();
    assert!(value.starts_with(r#"{"confirmed":"totp1.c."#), "{value}");
    assert!(!value.contains(&secret), "the clear secret is in Redis");
    let ttl: i64 = raw.ttl(&keys[0]).await.unwrap();
    assert_eq!(ttl, -1, "a factor must not expire");

    // Instance B: the same customer is challenged, not offered a new enrolment.
    let mut on_b = Browser::new(&format!("http://{listen_b}"));
    let acs = on_b.saml_sign_in(&public, "alice@acme.example").await;
    let to = location(&acs);
    assert!(to.ends_with("/mfa") && !to.ends_with("/mfa/enrol"), "{to}");
    assert!(
        !on_b
            .get("/mfa/enrol")
            .await
            .text()
            .await
            .unwrap()
            .contains("otpauth://"),
        "instance B offered a new enrolment"
    );
    // The code A accepted is used up on B too (one replay guard in Redis).
    let page = on_b.get("/mfa").await.text().await.unwrap();
    let replayed = on_b
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &used)])
        .await;
    assert!(
        !location(&replayed).ends_with("/portals"),
        "a code used on A was accepted again on B"
    );
    // The next step's code (inside the ±1 step window) passes.
    let page = on_b.get("/mfa").await.text().await.unwrap();
    let next = totp_code(&secret, now + Duration::from_secs(30));
    let done = on_b
        .post("/mfa", &[("csrf", &hidden(&page, "csrf")), ("code", &next)])
        .await;
    assert!(
        location(&done).ends_with("/portals"),
        "{:?}",
        done.headers()
    );
    let portals = on_b.get("/portals").await;
    assert_eq!(portals.status(), 200);
    // Still one factor, still the confirmed one.
    let after: String = raw.get(&keys[0]).await.unwrap();
    assert_eq!(after, value);
}

#[test]
fn check_names_secrets_file_with_redis_as_a_conflict() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fleet = rt.block_on(Fleet::new());
    let listen = format!("127.0.0.1:{}", free_port());
    let d = fleet.dir.path().display().to_string();
    let config = fleet.config(
        "conflict",
        &format!("http://{listen}"),
        &listen,
        "jsm-sso:",
        &format!("secrets_file = \"{d}/factors.json\"\n"),
    );
    // Nothing listens there: the Redis problem is reported too, and does not hide this one.
    let unreachable = format!("redis://127.0.0.1:{}/", free_port());
    let output = command(&config, &unreachable)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let errors = json["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == "config.key.conflict" && e["location"] == "mfa.secrets_file"),
        "{json}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["code"].as_str().unwrap().starts_with("redis.")),
        "{json}"
    );
    assert!(!Path::new(&format!("{d}/factors.json")).exists());
}
