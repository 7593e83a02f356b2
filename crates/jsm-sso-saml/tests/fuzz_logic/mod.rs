//! The per-input logic of the `saml_response` fuzz target in `fuzz/fuzz_targets/`, shared
//! with the stable `fuzz_replay` test so the seed corpus is replayed through exactly the same
//! code.
//!
//! Included by path from the fuzz crate (`#[path = ...] mod fuzz_logic;`), so it depends on
//! nothing but `jsm_sso_saml`, `jsm_sso_xmldsig` and `std`; keys are compiled in. The only
//! failure a fuzzer reports is a panic (or a hang / out-of-memory): every function ignores the
//! `Result`s it gets.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use jsm_sso_saml::decrypt::DecryptionKey;
use jsm_sso_saml::{
    Expect, IdentityProvider, Inbound, MetadataOptions, ServiceProvider, ServiceProviderConfig,
};
use jsm_sso_xmldsig::TrustedKeys;

/// The peerbench IdP (which signs the valid seeds) and the SP they are addressed to.
const IDP_CERT: &[u8] = include_bytes!("../vectors/peerbench/idp-rsa.crt");
const SP_KEY: &[u8] = include_bytes!("../vectors/decrypt/sp-rsa2048.key");
pub(crate) const IDP: &str = "http://www.okta.com/exk8q2bq1zPEXAMPLE697";
pub(crate) const SP: &str = "https://portal.example-jsm.test/saml/metadata";
pub(crate) const ACS: &str = "https://portal.example-jsm.test/saml/acs";
pub(crate) const REQUEST: &str = "_a8f3e1c2b9d04f6e8c7b5a4d3e2f1a0b";

/// The seeds' time: 2025-06-01T12:00:30Z, inside every valid seed's window.
pub(crate) fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_779_230)
}

pub(crate) struct Setup {
    pub(crate) sp: ServiceProvider,
    pub(crate) idp: IdentityProvider,
}

pub(crate) fn setup() -> Option<&'static Setup> {
    static SETUP: OnceLock<Option<Setup>> = OnceLock::new();
    SETUP
        .get_or_init(|| {
            let mut config = ServiceProviderConfig::new(SP, ACS);
            config.slo_url = Some("https://portal.example-jsm.test/saml/slo".to_owned());
            config
                .decryption_keys
                .push(DecryptionKey::from_pem(SP_KEY).ok()?);
            let sp = ServiceProvider::new(config).ok()?;
            let keys = TrustedKeys::from_pem(IDP_CERT).ok()?;
            let idp = IdentityProvider::new("fuzz", IDP, keys, None).ok()?;
            Some(Setup { sp, idp })
        })
        .as_ref()
}

/// A Response: validated as raw XML (answering the seeds' request, and unsolicited),
/// diagnosed (every check, going on after failures), and as the base64 form value; the
/// unverified issuer peeked; then the same bytes as IdP metadata and as a POSTed logout
/// message, and as a Redirect-binding query string.
pub(crate) fn response(data: &[u8]) {
    let Some(Setup { sp, idp }) = setup() else {
        return;
    };
    let solicited = Expect {
        now: now(),
        request_id: Some(REQUEST),
    };
    if let Ok(login) = sp.validate_response(idp, data, solicited) {
        // A login must name a subject and an assertion; anything else is a validator bug.
        assert!(!login.identity.subject.value.is_empty());
        assert!(!login.assertion_id.is_empty());
    }
    let unsolicited = Expect {
        now: now(),
        request_id: None,
    };
    let _ = sp.validate_response(idp, data, unsolicited);
    let diagnosis = sp.diagnose(idp, data, solicited);
    // Diagnose and strict validation must agree on success.
    assert_eq!(
        diagnosis.login.is_some(),
        sp.validate_response(idp, data, solicited).is_ok()
    );
    let _ = jsm_sso_saml::peek_issuer(data, 1 << 20);
    let text = String::from_utf8_lossy(data);
    let _ = sp.validate_post(idp, &text, solicited);
    let _ = jsm_sso_saml::read_idp_metadata(data, &MetadataOptions::new(now()));
    let _ = jsm_sso_saml::binding::RedirectMessage::from_query(&text, 1 << 16);
    let _ = sp.validate_logout_request(idp, &Inbound::Redirect(text.clone().into_owned()), now());
    let _ = sp.validate_logout_response(idp, &Inbound::Redirect(text.into_owned()), REQUEST, now());
}
