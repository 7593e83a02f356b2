//! The configuration keys `portal-gateway --config` builds beyond discovery and files: OIDC
//! manual endpoints, `graph_groups`, `[idp.oauth2]` and the PostgreSQL audit sink. The
//! binary runs against a JSM site (`MemoryJsm` over HTTP on 127.0.0.1) and the testkit
//! OpenID provider served over HTTP on 127.0.0.1: a real sign-in through manual endpoints
//! (no discovery request), one through a plain OAuth 2.0 provider (identity from userinfo),
//! and `--check` reporting each bad or half configuration with its code and key. With
//! `JSM_SSO_POSTGRES_URL` (the postgres peer) a sign-in's events land in the table and the
//! admin audit page reads them from there; without it those tests skip with a note unless
//! `JSM_SSO_REQUIRE_PEERS=1`.
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
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Browser, Process, free_port, hidden, http_location as location, jsm_site, peer_url, spawn,
};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_testkit::oidc::{TestIssuer, TestOp, TestUser};
use serde_json::json;

const EMAIL: &str = "alice@acme.example";

/// The testkit OpenID provider over HTTP on 127.0.0.1 (issuer `http://127.0.0.1:PORT/op`),
/// signing in `alice@acme.example` (verified), whose userinfo also has a numeric `id`.
async fn serve_op() -> TestOp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/op", listener.local_addr().unwrap());
    let op = TestOp::new(TestIssuer::new(
        issuer.as_str(),
        "portal",
        Arc::new(SystemClock),
    ));
    let mut user = TestUser::alice();
    user.claims.insert("email".into(), EMAIL.into());
    user.userinfo_only.insert("id".into(), json!(4242));
    op.set_user(user);
    let serving = op.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let op = serving.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            op.handle(&http::Request::from_parts(parts, body.to_vec()))
                .map(axum::body::Body::from)
        }
    });
    tokio::spawn(async move {
        let _ended = axum::serve(listener, app).await;
    });
    op
}

struct Setup {
    dir: tempfile::TempDir,
    site: String,
}

async fn setup() -> Setup {
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help Center");
    jsm.add_organization("Acme Corp");
    let site = jsm_site(jsm).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, audit_pem) = jsm_sso_audit::SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("audit.pem"), audit_pem).unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        format!(
            "version = 1\ndefault = \"deny\"\n\n[portals]\n\"{desk}\" = \"Help Center\"\n\n\
             [organizations]\nacme = \"Acme Corp\"\n\n[[rule]]\nname = \"acme-staff\"\n\
             email_domain = [\"acme.example\"]\norganizations = [\"acme\"]\nportals = [\"{desk}\"]\n"
        ),
    )
    .unwrap();
    Setup { dir, site }
}

/// A file with `audit` as the `[audit]` body and `idps` as the `[[idp]]` entries.
fn config(s: &Setup, base: &str, audit: &str, idps: &str) -> String {
    let d = s.dir.path().display();
    format!(
        "[server]\nbase_url = \"{base}\"\nlisten = \"{listen}\"\n\n\
         [session]\nkey_env = \"TEST_GATEWAY_SESSION_KEY\"\n\n\
         [jsm]\nkind = \"cloud\"\nsite_url = \"{site}\"\nemail = \"bot@acme.example\"\n\
         api_token_env = \"TEST_GATEWAY_JSM_TOKEN\"\n\n\
         [policy]\nfile = \"{d}/policy.toml\"\n\n\
         [audit]\nsigning_key_file = \"{d}/audit.pem\"\n{audit}\n\
         [audit.privacy]\nemail = \"keep\"\n\n{idps}",
        listen = base.trim_start_matches("http://"),
        site = s.site,
    )
}

fn file_audit(s: &Setup) -> String {
    format!("dir = \"{}/audit\"\n", s.dir.path().display())
}

/// An OIDC `[[idp]]` for the test OP through manual endpoints (`oauth2`: a plain OAuth 2.0
/// provider reading the identity from userinfo).
fn op_idp(issuer: &str, oauth2: bool) -> String {
    let common = format!(
        "[[idp]]\nid = \"acme-op\"\ndisplay_name = \"Acme OP\"\nprotocol = \"oidc\"\n\
         domains = [\"acme.example\"]\nissuer = \"{issuer}\"\nclient_id = \"portal\"\n\
         client_secret_env = \"TEST_GATEWAY_CLIENT_SECRET\"\n\
         authorization_endpoint = \"{issuer}/authorize\"\ntoken_endpoint = \"{issuer}/token\"\n\
         userinfo_endpoint = \"{issuer}/userinfo\"\n"
    );
    if oauth2 {
        common
            + "scopes = [\"read:user\", \"user:email\"]\n[idp.oauth2]\nsubject = \"id\"\n\
               email = \"email\"\nemail_verified = \"email_verified\"\ngroups = \"groups\"\n"
    } else {
        common + &format!("jwks_uri = \"{issuer}/jwks\"\nfetch_userinfo = true\n")
    }
}

fn command(config: &Path) -> Command {
    let mut command = common::command(config);
    command.env("TEST_GATEWAY_CLIENT_SECRET", "secret");
    command
}

fn base() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// `--check` on `text` with extra variables: the `(code, location)` of every problem.
fn check(s: &Setup, text: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let path = s.dir.path().join("check.toml");
    std::fs::write(&path, text).unwrap();
    let mut command = command(&path);
    command.arg("--check");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["location"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(problems: &[(String, String)], code: &str, location: &str) -> bool {
    problems.iter().any(|(c, l)| c == code && l == location)
}

/// Starts the gateway on `text` and waits for `BASE/healthz`.
async fn start(s: &Setup, base: &str, text: &str, env: &[(&str, &str)]) -> (Process, Browser) {
    let path = s.dir.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    let mut command = command(&path);
    for (name, value) in env {
        command.env(name, value);
    }
    let process = spawn(command, &format!("{base}/healthz")).await;
    (process, Browser::new(base))
}

/// Email-first sign-in at the OP: the redirect goes to the manual authorization endpoint,
/// the callback signs the customer in, and the portal list shows the policy's portal.
async fn sign_in(browser: &mut Browser, op: &TestOp, issuer: &str) {
    let page = browser.get("/login").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let redirect = browser
        .post("/login", &[("csrf", &csrf), ("email", EMAIL)])
        .await;
    assert_eq!(redirect.status(), 303);
    let authorize = location(&redirect);
    assert!(
        authorize.starts_with(&format!("{issuer}/authorize?")),
        "{authorize}"
    );
    let callback = op.authorize(&authorize).unwrap();
    let path = &callback[browser.base.len()..];
    assert!(path.starts_with("/oidc/callback/acme-op?"), "{callback}");
    let done = browser.get(path).await;
    assert_eq!(done.status(), 303, "{:?}", done.headers());
    let portals = browser.get("/portals").await;
    assert_eq!(portals.status(), 200);
    let page = portals.text().await.unwrap();
    assert!(page.contains("Help Center"), "{page}");
}

/// The JSON lines of the audit directory.
fn audit_lines(s: &Setup) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(s.dir.path().join("audit")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// Waits until the audit directory holds a line with every one of `needles`.
async fn audited(s: &Setup, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = audit_lines(s)
            .into_iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return line;
        }
        assert!(Instant::now() < deadline, "no audit line with {needles:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_through_manual_oidc_endpoints_without_discovery() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let op = serve_op().await;
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let base = base();
    let text = config(&s, &base, &file_audit(&s), &op_idp(&issuer, false));
    let (_gateway, mut browser) = start(&s, &base, &text, &[]).await;
    sign_in(&mut browser, &op, &issuer).await;
    assert_eq!(op.hits("/.well-known/openid-configuration"), 0);
    assert_eq!(op.hits("/token"), 1);
    assert!(op.hits("/jwks") >= 1, "the ID token was verified");
    assert_eq!(op.hits("/userinfo"), 1, "fetch_userinfo");
    audited(&s, &["signin.succeeded", "\"protocol\":\"oidc\""]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_through_a_plain_oauth2_provider() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let op = serve_op().await;
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let base = base();
    let text = config(&s, &base, &file_audit(&s), &op_idp(&issuer, true));
    let (_gateway, mut browser) = start(&s, &base, &text, &[]).await;
    sign_in(&mut browser, &op, &issuer).await;
    // The identity came from userinfo: no keys fetched, no discovery.
    assert_eq!(op.hits("/jwks"), 0);
    assert_eq!(op.hits("/.well-known/openid-configuration"), 0);
    assert_eq!(op.hits("/userinfo"), 1);
    let line = audited(&s, &["signin.succeeded", "\"protocol\":\"oauth2\""]).await;
    assert!(line.contains("acme-op"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_each_bad_or_half_oidc_configuration() {
    let s = setup().await;
    let op = "https://op.example";
    let manual =
        format!("authorization_endpoint = \"{op}/authorize\"\ntoken_endpoint = \"{op}/token\"\n");
    let entries = [
        // 0: a half set of manual endpoints.
        format!("token_endpoint = \"{op}/token\"\n"),
        // 1: OIDC without jwks_uri.
        manual.clone(),
        // 2: a plain-http endpoint off loopback.
        format!(
            "authorization_endpoint = \"http://op.example/authorize\"\ntoken_endpoint = \"{op}/token\"\njwks_uri = \"{op}/jwks\"\n"
        ),
        // 3: discovery_url with manual endpoints.
        format!(
            "{manual}jwks_uri = \"{op}/jwks\"\ndiscovery_url = \"{op}/.well-known/openid-configuration\"\n"
        ),
        // 4: graph_groups outside the entra profile.
        format!("{manual}jwks_uri = \"{op}/jwks\"\nprofile = \"okta\"\ngraph_groups = true\n"),
        // 5: graph_groups without a Graph permission in scopes.
        format!("{manual}jwks_uri = \"{op}/jwks\"\nprofile = \"entra\"\ngraph_groups = true\n"),
        // 6: [idp.oauth2] without userinfo_endpoint.
        format!("{manual}scopes = [\"read:user\"]\n[idp.oauth2]\nsubject = \"id\"\n"),
        // 7: [idp.oauth2] with openid in scopes.
        format!(
            "{manual}userinfo_endpoint = \"{op}/user\"\nscopes = [\"openid\", \"email\"]\n[idp.oauth2]\nsubject = \"id\"\n"
        ),
        // 8: [idp.oauth2] without subject, with a key it does not know.
        format!(
            "{manual}userinfo_endpoint = \"{op}/user\"\nscopes = [\"read:user\"]\n[idp.oauth2]\nlogin = \"login\"\n"
        ),
        // 9: scopes without openid and no [idp.oauth2].
        format!("{manual}jwks_uri = \"{op}/jwks\"\nscopes = [\"read:user\"]\n"),
        // 10: an ID-token key with [idp.oauth2].
        format!(
            "{manual}userinfo_endpoint = \"{op}/user\"\nscopes = [\"read:user\"]\nalgorithms = [\"RS256\"]\n[idp.oauth2]\nsubject = \"id\"\n"
        ),
        // 11: [idp.oauth2] without scopes (the default asks for openid).
        format!("{manual}userinfo_endpoint = \"{op}/user\"\n[idp.oauth2]\nsubject = \"id\"\n"),
        // 12: [idp.oauth2] without any endpoint.
        "scopes = [\"read:user\"]\n[idp.oauth2]\nsubject = \"id\"\n".to_owned(),
        // 13: emails_verified that is not a boolean, and an empty path segment.
        format!(
            "{manual}userinfo_endpoint = \"{op}/user\"\nscopes = [\"read:user\"]\n[idp.oauth2]\nsubject = \"data..id\"\nemails_verified = \"yes\"\n"
        ),
        // 14: graph_groups that is not a boolean.
        format!("{manual}jwks_uri = \"{op}/jwks\"\nprofile = \"entra\"\ngraph_groups = \"yes\"\n"),
    ];
    let idps: String = entries
        .iter()
        .enumerate()
        .map(|(i, rest)| {
            format!(
                "[[idp]]\nid = \"op{i}\"\nprotocol = \"oidc\"\nissuer = \"{op}\"\nclient_id = \"portal\"\n{rest}\n"
            )
        })
        .collect();
    let problems = check(&s, &config(&s, &base(), &file_audit(&s), &idps), &[]);
    let expected = [
        ("config.key.missing", "idp[0].authorization_endpoint"),
        ("config.key.missing", "idp[1].jwks_uri"),
        ("config.value.invalid", "idp[2].authorization_endpoint"),
        ("config.key.conflict", "idp[3].discovery_url"),
        ("config.key.conflict", "idp[4].graph_groups"),
        ("config.value.invalid", "idp[5].scopes"),
        ("config.key.missing", "idp[6].userinfo_endpoint"),
        ("config.key.conflict", "idp[7].scopes"),
        ("config.key.missing", "idp[8].oauth2.subject"),
        ("config.key.unknown", "idp[8].oauth2.login"),
        ("config.key.missing", "idp[9].oauth2"),
        ("config.key.conflict", "idp[10].algorithms"),
        ("config.key.missing", "idp[11].scopes"),
        ("config.key.missing", "idp[12].authorization_endpoint"),
        ("config.value.invalid", "idp[13].oauth2.subject"),
        ("config.value.invalid", "idp[13].oauth2.emails_verified"),
        ("config.value.invalid", "idp[14].graph_groups"),
    ];
    for (code, location) in expected {
        assert!(
            has(&problems, code, location),
            "{code} at {location} not in {problems:?}"
        );
    }
    assert!(
        !problems.iter().any(|(_, m)| m.contains("not built")),
        "{problems:?}"
    );
}

/// `graph_groups` with the entra profile and a Graph scope builds (the OP's discovery
/// answers; the Graph endpoint is only called on a groups overage).
#[tokio::test(flavor = "multi_thread")]
async fn graph_groups_with_the_entra_profile_and_a_graph_scope_starts() {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let op = serve_op().await;
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let base = base();
    let idp = format!(
        "[[idp]]\nid = \"acme-op\"\nprotocol = \"oidc\"\ndomains = [\"acme.example\"]\n\
         issuer = \"{issuer}\"\nclient_id = \"portal\"\nclient_secret_env = \"TEST_GATEWAY_CLIENT_SECRET\"\n\
         profile = \"entra\"\ngraph_groups = true\n\
         scopes = [\"openid\", \"email\", \"profile\", \"https://graph.microsoft.com/GroupMember.Read.All\"]\n"
    );
    let path = s.dir.path().join("graph.toml");
    std::fs::write(&path, config(&s, &base, &file_audit(&s), &idp)).unwrap();
    let output = command(&path).arg("--check").output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(op.hits("/.well-known/openid-configuration"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_bad_audit_postgres_keys_and_an_unreachable_database() {
    let s = setup().await;
    let idp = op_idp("https://op.example", false);
    let pg = |audit: &str, url: &str| {
        let text = config(&s, &base(), audit, &idp);
        check(&s, &text, &[("TEST_GATEWAY_PG_URL", url)])
    };
    let down = format!("postgres://jsm_sso@127.0.0.1:{}/postgres", free_port());
    // Nobody listens there: the start stops instead of the first sign-in.
    let problems = pg("postgres_url_env = \"TEST_GATEWAY_PG_URL\"\n", &down);
    assert!(
        has(&problems, "audit.sink.postgres", "audit.postgres_url_env"),
        "{problems:?}"
    );
    let problems = pg(
        "postgres_url_env = \"TEST_GATEWAY_PG_URL\"\npostgres_table = \"Audit-Log\"\n",
        &down,
    );
    assert!(
        has(&problems, "audit.sink.postgres", "audit.postgres_table"),
        "{problems:?}"
    );
    let problems = pg(
        "postgres_url_env = \"TEST_GATEWAY_PG_URL\"\n",
        "mysql://127.0.0.1/x",
    );
    assert!(
        has(&problems, "config.env.invalid", "audit.postgres_url_env"),
        "{problems:?}"
    );
    let problems = pg("postgres_url_env = \"TEST_GATEWAY_PG_UNSET\"\n", &down);
    assert!(
        has(&problems, "config.env.missing", "audit.postgres_url_env"),
        "{problems:?}"
    );
    let problems = pg("postgres_table = \"audit\"\n", &down);
    assert!(
        has(&problems, "config.key.missing", "audit.postgres_url_env"),
        "{problems:?}"
    );
    let problems = pg("rotate_bytes = 65536\n", &down);
    assert!(
        has(&problems, "config.key.missing", "audit.dir"),
        "{problems:?}"
    );
    assert!(
        has(&problems, "config.key.conflict", "audit.rotate_bytes"),
        "{problems:?}"
    );
}

fn postgres_url() -> Option<String> {
    peer_url("JSM_SSO_POSTGRES_URL", "postgres.sh")
}

/// `[audit]` with PostgreSQL only: the sign-in's events are rows of the table, the admin
/// audit page reads and verifies them there, and a directory added later that does not
/// hold the table's chain is refused at start.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_sink_receives_the_sign_in_events() {
    let Some(url) = postgres_url() else {
        return;
    };
    let _already = rustls::crypto::ring::default_provider().install_default();
    let s = setup().await;
    let op = serve_op().await;
    let issuer = op.with_issuer(|i| i.issuer().to_owned());
    let table = format!("gw_audit_{}_{}", std::process::id(), free_port());
    let audit =
        format!("postgres_url_env = \"TEST_GATEWAY_PG_URL\"\npostgres_table = \"{table}\"\n");
    let idp = op_idp(&issuer, false)
        + "\n[admin]\nidps = [\"acme-op\"]\nemails = [\"alice@acme.example\"]\nrequire_mfa = false\n";
    let base = base();
    let text = config(&s, &base, &audit, &idp);
    let env = [("TEST_GATEWAY_PG_URL", url.as_str())];
    let (gateway, mut browser) = start(&s, &base, &text, &env).await;
    sign_in(&mut browser, &op, &issuer).await;

    // The admin audit page flushes the log, then reads and verifies the table.
    let page = browser.get("/admin/audit").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("signin.succeeded"), "{page}");
    assert!(page.contains("Hash chain intact"), "{page}");
    assert!(
        !s.dir.path().join("audit").exists(),
        "no directory was configured"
    );

    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = db
        .query(
            &format!("SELECT customer_email, line FROM {table} WHERE kind = 'signin.succeeded'"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one sign-in");
    assert_eq!(rows[0].get::<_, Option<String>>(0).as_deref(), Some(EMAIL));
    assert!(rows[0].get::<_, String>(1).contains("acme-op"));
    drop(gateway);

    // The table now holds a chain an empty directory does not: refused, since the table
    // would skip the new records whose numbers it already has.
    let mirrored = format!("{audit}{}", file_audit(&s));
    let problems = check(&s, &config(&s, &base, &mirrored, &idp), &env);
    assert!(
        has(&problems, "audit.sink.corrupt", "audit"),
        "{problems:?}"
    );
    let _dropped = db.batch_execute(&format!("DROP TABLE {table}")).await;
}
