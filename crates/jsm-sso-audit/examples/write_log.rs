//! Writes a small sealed audit log and its signing key pair, for trying `jsm-sso audit verify`
//! and `jsm-sso audit export`:
//!
//! ```sh
//! cargo run -p jsm-sso-audit --example write_log -- /tmp/audit-demo
//! jsm-sso audit verify --key /tmp/audit-demo/audit-signing.pub.pem /tmp/audit-demo/audit-000001.jsonl
//! ```
#![allow(clippy::print_stdout, reason = "an example that tells where it wrote")]

use std::sync::Arc;

use jsm_sso_audit::sink::{FileSink, FileSinkOptions};
use jsm_sso_audit::{
    AuditEvent, AuditLog, CustomerRef, Details, MfaMethod, SigningKey, Source, Timestamp,
};
use jsm_sso_core::identity::Protocol;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: write_log DIR")?;
    std::fs::create_dir_all(&dir)?;
    let (key, private_pem) = SigningKey::generate()?;
    std::fs::write(format!("{dir}/audit-signing.pem"), private_pem)?;
    std::fs::write(
        format!("{dir}/audit-signing.pub.pem"),
        key.verifying_key().to_pem(),
    )?;
    let sink = Arc::new(FileSink::new(&dir, FileSinkOptions::default()));
    let log = AuditLog::builder(sink, key)
        .checkpoint_every(4)
        .start()
        .await?;
    let t = |ms: i64| Timestamp::from_unix_millis(1_735_787_045_000 + ms);
    let customer = CustomerRef::by_id("5b10ac8d82e05b22cc7d4ef5");
    let source = Source::new(Some("203.0.113.7".into()), Some("Mozilla/5.0".into()));
    let signin = |ms, details| {
        AuditEvent::new(t(ms), details)
            .with_customer(customer.clone())
            .with_idp("entra", Protocol::Saml2)
            .with_correlation_id("login-1")
            .with_source(source.clone())
    };
    log.record(signin(
        0,
        Details::SigninStarted {
            hint_domain: Some("example.com".into()),
        },
    ))
    .await?;
    log.record(signin(
        900,
        Details::PolicyDecided {
            allow: true,
            matched_rules: vec!["example-customers".into()],
            organizations: vec!["12".into()],
            portals: vec!["3".into()],
            require_mfa: true,
        },
    ))
    .await?;
    log.record(signin(
        1_000,
        Details::MfaPassed {
            method: MfaMethod::Totp,
        },
    ))
    .await?;
    log.record(signin(
        1_100,
        Details::OrganizationMemberAdded {
            organization: "12".into(),
        },
    ))
    .await?;
    log.record(signin(
        1_200,
        Details::PortalAccessGranted { portal: "3".into() },
    ))
    .await?;
    log.record(signin(
        1_300,
        Details::SigninSucceeded {
            mfa: true,
            session_expiry: Some(t(8 * 3_600_000)),
        },
    ))
    .await?;
    log.record(
        signin(
            5_000,
            Details::GateDenied {
                portal: Some("4".into()),
            },
        )
        .failed("broker.gate.portal_not_granted"),
    )
    .await?;
    log.shutdown().await?;
    println!("wrote {dir}/audit-000001.jsonl and the key pair audit-signing.pem / .pub.pem");
    Ok(())
}
