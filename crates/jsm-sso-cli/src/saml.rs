//! `jsm-sso saml`: validate and diagnose SAML responses, and write SP metadata.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use jsm_sso_saml::decrypt::DecryptionKey;
use jsm_sso_saml::{
    Check, Expect, IdentityProvider, MetadataOptions, ServiceProvider, ServiceProviderConfig,
    SpCertificates, certificate_der_from_pem,
};
use jsm_sso_xmldsig::{SigningKey, TrustedKeys};
use serde::Serialize;

use crate::failure::{Failure, Kind, Outcome};
use crate::input::{self, Input};
use crate::output;

/// The `saml` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate a SAML Response completely, as the broker would, and print the identity
    ///
    /// RESPONSE is a file (or `-`) holding the raw XML or the base64 SAMLResponse form value
    /// (line breaks allowed). Without --request-id only a response without InResponseTo is
    /// accepted, and only with --allow-unsolicited. The email comes from an emailAddress
    /// NameID or an email/mail/emailaddress attribute; groups from groups/memberOf or the
    /// Entra and ADFS group claims.
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Run every check on a SAML Response and list each with pass or fail
    ///
    /// For the person fixing an IdP set-up: does not stop at the first failure, prints the
    /// decoded XML, and says which certificate was tried and whether the digest or the
    /// signature failed. SP and IdP settings that are not given are taken from the response
    /// itself and marked as such; without --idp-cert or --idp-metadata the certificate inside
    /// the response is used, which shows whether the signature is intact but proves nothing
    /// (trusted_key: false). Exit 0 when every check passes, 1 otherwise.
    #[command(verbatim_doc_comment)]
    Diagnose(DiagnoseArgs),
    /// Print the SP metadata to give to an IdP
    Metadata(MetadataArgs),
}

/// Where the IdP's settings come from.
#[derive(Debug, Args)]
pub(crate) struct IdpArgs {
    /// IdP SAML metadata (EntityDescriptor or an aggregate; with --idp-entity-id to pick one)
    #[arg(long, value_name = "FILE", conflicts_with = "idp_cert")]
    idp_metadata: Option<Input>,
    /// The IdP entity ID (the Issuer of its responses)
    #[arg(long, value_name = "ID")]
    idp_entity_id: Option<String>,
    /// The IdP signing certificate (PEM); repeat for key rollover
    #[arg(long = "idp-cert", value_name = "PEM")]
    idp_cert: Vec<Input>,
}

/// What the response must answer and how strictly.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The ID of the AuthnRequest the response must answer (InResponseTo)
    #[arg(long, value_name = "ID", conflicts_with = "allow_unsolicited")]
    request_id: Option<String>,
    /// Accept an IdP-initiated response (one without InResponseTo)
    #[arg(long)]
    allow_unsolicited: bool,
    /// Validate as of this time (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    now: Option<SystemTime>,
    /// Allowed clock difference in seconds [default: 60, at most 300]
    #[arg(long, value_name = "SECS")]
    clock_skew: Option<u64>,
    /// Accept RSA-SHA1 signatures and SHA-1 digests (weak; only for a legacy IdP)
    #[arg(long)]
    allow_sha1: bool,
    /// SP private key (PEM) to decrypt an EncryptedAssertion; repeat for rollover
    #[arg(long = "decryption-key", value_name = "PEM")]
    decryption_key: Vec<Input>,
}

/// Arguments of `saml verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The SP entity ID (the audience)
    #[arg(long, value_name = "ID", required = true)]
    sp_entity_id: String,
    /// The Assertion Consumer Service URL; repeat if the SP has several
    #[arg(long = "acs-url", value_name = "URL", required = true)]
    acs_url: Vec<String>,
    #[command(flatten)]
    idp: IdpArgs,
    #[command(flatten)]
    check: CheckArgs,
    /// The response: raw XML or base64, a file or `-`
    #[arg(value_name = "RESPONSE")]
    response: Input,
}

/// Arguments of `saml diagnose`.
#[derive(Debug, Args)]
pub(crate) struct DiagnoseArgs {
    /// The SP entity ID [default: the response's first Audience]
    #[arg(long, value_name = "ID")]
    sp_entity_id: Option<String>,
    /// The ACS URL [default: the response's Destination]
    #[arg(long = "acs-url", value_name = "URL")]
    acs_url: Vec<String>,
    #[command(flatten)]
    idp: IdpArgs,
    #[command(flatten)]
    check: CheckArgs,
    /// The response: raw XML or base64, a file or `-`
    #[arg(value_name = "RESPONSE")]
    response: Input,
}

/// Arguments of `saml metadata`.
#[derive(Debug, Args)]
pub(crate) struct MetadataArgs {
    /// The SP entity ID
    #[arg(long, value_name = "ID", required = true)]
    sp_entity_id: String,
    /// The Assertion Consumer Service URL; repeat for several (the first is the default)
    #[arg(long = "acs-url", value_name = "URL", required = true)]
    acs_url: Vec<String>,
    /// The Single Logout URL
    #[arg(long, value_name = "URL")]
    slo_url: Option<String>,
    /// The SP signing key (PEM); sets AuthnRequestsSigned
    #[arg(long, value_name = "PEM")]
    signing_key: Option<Input>,
    /// The SP signing certificate (PEM), published with use="signing"
    #[arg(long, value_name = "PEM")]
    signing_cert: Option<Input>,
    /// The SP encryption certificate (PEM), published with use="encryption"
    #[arg(long, value_name = "PEM")]
    encryption_cert: Option<Input>,
    /// Sign the metadata with --signing-key
    #[arg(long, requires = "signing_key")]
    sign: bool,
    /// The NameID format to ask for
    #[arg(long, value_name = "URI")]
    name_id_format: Option<String>,
}

fn parse_now(value: &str) -> Result<SystemTime, String> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// What `saml verify` prints.
#[derive(Debug, Serialize)]
struct Verified {
    idp: String,
    subject: String,
    name_id_format: Option<String>,
    email: Option<String>,
    groups: Vec<String>,
    attributes: BTreeMap<String, Vec<String>>,
    session_index: Option<String>,
    assertion_id: String,
    not_on_or_after: String,
}

/// One check as `saml diagnose` prints it.
#[derive(Debug, Serialize)]
struct CheckOut {
    name: &'static str,
    passed: bool,
    code: Option<&'static str>,
    detail: String,
    hint: Option<&'static str>,
}

impl From<Check> for CheckOut {
    fn from(c: Check) -> Self {
        CheckOut {
            name: c.name,
            passed: c.passed,
            code: c.code,
            detail: c.detail,
            hint: c.hint,
        }
    }
}

/// What `saml diagnose` prints.
#[derive(Debug, Serialize)]
struct Diagnosed {
    passed: bool,
    trusted_key: bool,
    assumed: Vec<String>,
    checks: Vec<CheckOut>,
    xml: String,
}

/// What `saml metadata` prints.
#[derive(Debug, Serialize)]
struct Metadata {
    entity_id: String,
    metadata: String,
}

/// Runs a `saml` subcommand.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => output::finish(verify(&args)),
        Command::Diagnose(args) => diagnose(&args),
        Command::Metadata(args) => output::finish(metadata(&args)),
    }
}

fn config_error(error: &jsm_sso_saml::Error) -> Failure {
    Failure::coded(Kind::Config, error)
}

fn rejected(error: &jsm_sso_saml::Error) -> Failure {
    Failure::coded(Kind::Rejected, error)
}

/// The response as XML: raw XML passes through; anything else is read as base64.
fn response_xml(raw: &[u8]) -> Result<Vec<u8>, Failure> {
    let trimmed = raw.trim_ascii_start();
    if trimmed.starts_with(b"<") {
        return Ok(trimmed.to_vec());
    }
    let text = String::from_utf8_lossy(trimmed);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            rejected(&jsm_sso_saml::Error::Base64 {
                what: "SAMLResponse",
            })
        })
}

fn sp(entity_id: String, acs: Vec<String>, check: &CheckArgs) -> Result<ServiceProvider, Failure> {
    let mut config = ServiceProviderConfig::new(entity_id, String::new());
    config.acs_urls = acs;
    config.allow_unsolicited = check.allow_unsolicited;
    if let Some(secs) = check.clock_skew {
        config.clock_skew = Duration::from_secs(secs);
    }
    for key in &check.decryption_key {
        let pem = input::read(key)?;
        config.decryption_keys.push(
            DecryptionKey::from_pem(&pem)
                .map_err(|e| Failure::coded(Kind::Config, &e).in_input(key))?,
        );
    }
    ServiceProvider::new(config).map_err(|e| config_error(&e))
}

fn idp(args: &IdpArgs, check: &CheckArgs, now: SystemTime) -> Result<IdentityProvider, Failure> {
    let mut idp = match (&args.idp_metadata, &args.idp_entity_id) {
        (Some(file), entity_id) => {
            let xml = input::read(file)?;
            IdentityProvider::from_metadata(&xml, entity_id.as_deref(), &MetadataOptions::new(now))
                .map_err(|e| config_error(&e).in_input(file))?
        }
        (None, Some(entity_id)) => {
            if args.idp_cert.is_empty() {
                return Err(Failure::new(
                    Kind::Config,
                    "cli.usage",
                    "--idp-entity-id needs at least one --idp-cert",
                    "give the IdP signing certificate, or --idp-metadata instead",
                ));
            }
            IdentityProvider::new(
                entity_id.clone(),
                entity_id.clone(),
                crate::xmldsig::trusted_keys(&args.idp_cert)?,
                None,
            )
            .map_err(|e| config_error(&e))?
        }
        (None, None) => {
            return Err(Failure::new(
                Kind::Config,
                "cli.usage",
                "give --idp-metadata, or --idp-entity-id with --idp-cert",
                "the IdP's settings are needed to know whose signature to trust",
            ));
        }
    };
    idp.allow_sha1 = check.allow_sha1;
    Ok(idp)
}

fn verify(args: &VerifyArgs) -> Outcome<Verified> {
    let inputs = args
        .idp
        .idp_metadata
        .iter()
        .chain(&args.idp.idp_cert)
        .chain(&args.check.decryption_key);
    input::stdin_at_most_once(inputs.chain([&args.response]))?;
    let now = args.check.now.unwrap_or_else(SystemTime::now);
    let sp = sp(args.sp_entity_id.clone(), args.acs_url.clone(), &args.check)?;
    let idp = idp(&args.idp, &args.check, now)?;
    let xml = response_xml(&input::read(&args.response)?)?;
    let login = sp
        .validate_response(
            &idp,
            &xml,
            Expect {
                now,
                request_id: args.check.request_id.as_deref(),
            },
        )
        .map_err(|e| rejected(&e))?;
    Ok(Verified {
        idp: login.issuer,
        subject: login.name_id.value,
        name_id_format: login.name_id.format,
        email: login.identity.email.map(|e| e.to_string()),
        groups: login.identity.groups,
        attributes: login.attributes.to_map(),
        session_index: login.session_index,
        assertion_id: login.assertion_id,
        not_on_or_after: rfc3339(login.not_on_or_after),
    })
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Values the response states about itself, for settings the user did not give.
struct Stated {
    audience: Option<String>,
    destination: Option<String>,
    issuer: Option<String>,
    in_response_to: Option<String>,
    certificate: Option<String>,
}

fn stated(xml: &[u8]) -> Stated {
    use jsm_sso_saml::ns::{DS, SAML, SAMLP};
    let mut out = Stated {
        audience: None,
        destination: None,
        issuer: None,
        in_response_to: None,
        certificate: None,
    };
    let Ok(doc) = jsm_sso_xmldsig::Document::parse(xml, &jsm_sso_xmldsig::Limits::default()) else {
        return out;
    };
    let root = doc.root();
    out.destination = root.attribute("Destination").map(str::to_owned);
    out.in_response_to = root.attribute("InResponseTo").map(str::to_owned);
    let assertion = root.child(SAML, "Assertion");
    out.issuer = root
        .child(SAML, "Issuer")
        .or_else(|| assertion.and_then(|a| a.child(SAML, "Issuer")))
        .map(|i| i.text().trim().to_owned());
    out.audience = assertion
        .and_then(|a| a.child(SAML, "Conditions"))
        .and_then(|c| c.child(SAML, "AudienceRestriction"))
        .and_then(|r| r.child(SAML, "Audience"))
        .map(|a| a.text().trim().to_owned());
    let certificate = |e: jsm_sso_xmldsig::Element<'_>| {
        e.child(DS, "Signature")
            .and_then(|s| s.child(DS, "KeyInfo"))
            .and_then(|k| k.child(DS, "X509Data"))
            .and_then(|d| d.child(DS, "X509Certificate"))
            .map(|c| c.text().into_owned())
    };
    out.certificate = certificate(root).or_else(|| assertion.and_then(certificate));
    let _ = SAMLP;
    out
}

fn diagnose(args: &DiagnoseArgs) -> ExitCode {
    match diagnose_inner(args) {
        Ok(report) => {
            let passed = report.passed;
            let status = output::finish(Ok(report));
            if passed {
                status
            } else {
                ExitCode::from(Kind::Rejected.exit_status())
            }
        }
        Err(failure) => output::finish::<Diagnosed>(Err(failure)),
    }
}

fn diagnose_inner(args: &DiagnoseArgs) -> Outcome<Diagnosed> {
    let inputs = args
        .idp
        .idp_metadata
        .iter()
        .chain(&args.idp.idp_cert)
        .chain(&args.check.decryption_key);
    input::stdin_at_most_once(inputs.chain([&args.response]))?;
    let now = args.check.now.unwrap_or_else(SystemTime::now);
    let xml = response_xml(&input::read(&args.response)?)?;
    let found = stated(&xml);
    let mut assumed = Vec::new();
    let sp_entity_id = match (&args.sp_entity_id, &found.audience) {
        (Some(id), _) => id.clone(),
        (None, Some(aud)) => {
            assumed.push(format!(
                "SP entity ID taken from the response's Audience: {aud}"
            ));
            aud.clone()
        }
        (None, None) => "urn:unknown-sp".to_owned(),
    };
    let acs = match (&args.acs_url.is_empty(), &found.destination) {
        (false, _) => args.acs_url.clone(),
        (true, Some(dest)) => {
            assumed.push(format!(
                "ACS URL taken from the response's Destination: {dest}"
            ));
            vec![dest.clone()]
        }
        (true, None) => vec!["https://unknown.invalid/acs".to_owned()],
    };
    let mut request_id = args.check.request_id.clone();
    if request_id.is_none()
        && !args.check.allow_unsolicited
        && let Some(irt) = &found.in_response_to
    {
        {
            assumed.push(format!(
                "request ID taken from the response's InResponseTo: {irt}"
            ));
            request_id = Some(irt.clone());
        }
    }
    let sp = sp(sp_entity_id, acs, &args.check)?;
    let mut trusted_key = true;
    let idp = if args.idp.idp_metadata.is_some() || !args.idp.idp_cert.is_empty() {
        let mut idp_args = IdpArgs {
            idp_metadata: args.idp.idp_metadata.clone(),
            idp_entity_id: args.idp.idp_entity_id.clone(),
            idp_cert: args.idp.idp_cert.clone(),
        };
        if idp_args.idp_entity_id.is_none() && idp_args.idp_metadata.is_none() {
            idp_args.idp_entity_id = found.issuer.clone();
            assumed.push("IdP entity ID taken from the response's Issuer".to_owned());
        }
        idp(&idp_args, &args.check, now)?
    } else {
        trusted_key = false;
        let certificate = found.certificate.clone().ok_or_else(|| {
            Failure::new(
                Kind::Config,
                "cli.usage",
                "the response carries no certificate; give --idp-cert or --idp-metadata",
                "the IdP's signing certificate is needed to check the signature",
            )
        })?;
        assumed.push("signature checked with the certificate inside the response (NOT trusted: give --idp-cert)".to_owned());
        let keys = TrustedKeys::from_certificate_base64(&certificate)
            .map_err(|e| Failure::coded(Kind::Rejected, &e))?;
        let issuer = args
            .idp
            .idp_entity_id
            .clone()
            .or(found.issuer.clone())
            .unwrap_or_default();
        let mut idp = IdentityProvider::new(issuer.clone(), issuer, keys, None)
            .map_err(|e| config_error(&e))?;
        idp.allow_sha1 = args.check.allow_sha1;
        idp
    };
    let diagnosis = sp.diagnose(
        &idp,
        &xml,
        Expect {
            now,
            request_id: request_id.as_deref(),
        },
    );
    Ok(Diagnosed {
        passed: diagnosis.passed() && trusted_key,
        trusted_key,
        assumed,
        checks: diagnosis.checks.into_iter().map(CheckOut::from).collect(),
        xml: String::from_utf8_lossy(&xml).into_owned(),
    })
}

fn metadata(args: &MetadataArgs) -> Outcome<Metadata> {
    let inputs = args
        .signing_key
        .iter()
        .chain(&args.signing_cert)
        .chain(&args.encryption_cert);
    input::stdin_at_most_once(inputs)?;
    let mut config = ServiceProviderConfig::new(args.sp_entity_id.clone(), String::new());
    config.acs_urls = args.acs_url.clone();
    config.slo_url = args.slo_url.clone();
    config.name_id_format = args.name_id_format.clone();
    if let Some(key) = &args.signing_key {
        let pem = input::read(key)?;
        config.signing_key = Some(
            SigningKey::from_pem(&pem)
                .map_err(|e| Failure::coded(Kind::Config, &e).in_input(key))?,
        );
    }
    let cert = |input: &Option<Input>| -> Result<Option<Vec<u8>>, Failure> {
        match input {
            Some(file) => {
                let pem = input::read(file)?;
                certificate_der_from_pem(&pem)
                    .map(Some)
                    .map_err(|e| config_error(&e).in_input(file))
            }
            None => Ok(None),
        }
    };
    let certificates = SpCertificates {
        signing: cert(&args.signing_cert)?,
        encryption: cert(&args.encryption_cert)?,
    };
    let sp = ServiceProvider::new(config).map_err(|e| config_error(&e))?;
    let metadata = sp
        .metadata(&certificates, args.sign)
        .map_err(|e| config_error(&e))?;
    Ok(Metadata {
        entity_id: args.sp_entity_id.clone(),
        metadata,
    })
}
