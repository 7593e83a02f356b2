//! `jsm-sso xmldsig`: XML signatures as SAML identity providers produce them.

use crate::failure::{Failure, Kind, Outcome};
use crate::input::{self, Input};
use crate::output;
use clap::{Args, Subcommand};
use jsm_sso_xmldsig::{Document, Element, Limits, TrustedKeys, Verifier, VerifyOptions};
use serde::Serialize;
use std::process::ExitCode;

/// The XML-DSig namespace, in which `Signature` lives.
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The `xmldsig` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Verify the enveloped signature of a signed XML document against pinned keys
    ///
    /// Verifies the signature on the document's root element or, when the root carries no
    /// ds:Signature, on the one child element of the root that does (a SAML Response whose
    /// Assertion is signed). Keys come only from --cert: a certificate inside the document
    /// can select among them but never adds trust.
    ///
    /// Prints {"verified":true,"element":"{ns}local","id":..,"signature_method":..,
    /// "digest_method":..,"key":..}; key is the SHA-256 fingerprint (hex) of the
    /// SubjectPublicKeyInfo of the trusted key that verified the signature.
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
}

/// Arguments of `jsm-sso xmldsig verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Trusted IdP signing certificate or public key (PEM); repeat for key rollover
    #[arg(long = "cert", value_name = "PEM", required = true)]
    certs: Vec<Input>,

    /// Accept RSA-SHA1 signatures and SHA-1 digests (weak; only for a legacy IdP)
    #[arg(long)]
    allow_sha1: bool,

    /// Name of an attribute that carries element IDs; repeatable [default: ID, Id]
    #[arg(long = "id-attr", value_name = "NAME", value_parser = id_attribute_name)]
    id_attrs: Vec<String>,

    /// The signed XML document, or `-` for standard input
    #[arg(value_name = "FILE")]
    file: Input,
}

/// What `xmldsig verify` prints on success.
#[derive(Debug, Serialize)]
struct Verified {
    /// Always true: a refused signature is a failure, not `false`.
    verified: bool,
    /// The signed element, `{namespace}local` (Clark notation).
    element: String,
    /// The signed element's ID, which the signature references.
    id: String,
    /// The `SignatureMethod` algorithm URI.
    signature_method: &'static str,
    /// The `DigestMethod` algorithm URI.
    digest_method: &'static str,
    /// SHA-256 fingerprint (hex) of the trusted key's SubjectPublicKeyInfo.
    key: String,
}

/// Runs an `xmldsig` subcommand.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => output::finish(verify(&args)),
    }
}

fn verify(args: &VerifyArgs) -> Outcome<Verified> {
    input::stdin_at_most_once(args.certs.iter().chain([&args.file]))?;
    let verifier = Verifier::new(trusted_keys(&args.certs)?, options(args));
    let xml = input::read(&args.file)?;

    let document = Document::parse(&xml, &Limits::default())
        .map_err(|e| Failure::coded(Kind::Rejected, &e))?;
    let target = signed_element(document.root())?;
    let verified = verifier
        .verify_enveloped(target)
        .map_err(|e| Failure::coded(Kind::Rejected, &e))?;

    let element = verified.element();
    let info = verified.info();
    Ok(Verified {
        verified: true,
        element: clark_name(&element),
        id: info.reference_id.clone(),
        signature_method: info.signature_method.uri(),
        digest_method: info.digest_method.uri(),
        key: info.key_fingerprint.clone(),
    })
}

/// Loads every PEM file given (`xmldsig --cert`, `saml --idp-cert`) into one trusted set. A
/// file that holds no usable key is a configuration error (exit 2), whatever the document
/// says.
pub(crate) fn trusted_keys(certs: &[Input]) -> Result<TrustedKeys, Failure> {
    let mut keys = Vec::new();
    for cert in certs {
        let pem = input::read(cert)?;
        let loaded = TrustedKeys::from_pem(&pem)
            .map_err(|e| Failure::coded(Kind::Config, &e).in_input(cert))?;
        keys.extend(loaded.iter().cloned());
    }
    TrustedKeys::new(keys).map_err(|e| Failure::coded(Kind::Config, &e))
}

fn options(args: &VerifyArgs) -> VerifyOptions {
    let options = VerifyOptions::default().allow_sha1(args.allow_sha1);
    if args.id_attrs.is_empty() {
        options
    } else {
        options.id_attributes(args.id_attrs.iter().cloned())
    }
}

/// The element whose enveloped signature is checked: the root if it carries a `ds:Signature`,
/// otherwise the one child of the root that does. With no signed child the root is returned,
/// and the verifier reports it unsigned.
fn signed_element<'d>(root: Element<'d>) -> Result<Element<'d>, Failure> {
    if root.child(DSIG_NS, "Signature").is_some() {
        return Ok(root);
    }
    let mut signed = root
        .child_elements()
        .filter(|child| child.child(DSIG_NS, "Signature").is_some());
    match (signed.next(), signed.next()) {
        (None, _) => Ok(root),
        (Some(only), None) => Ok(only),
        (Some(_), Some(_)) => Err(Failure::new(
            Kind::Rejected,
            "cli.xmldsig.ambiguous",
            "the root element is not signed and more than one of its children is",
            "the command checks one signature: the root's, or that of its only signed child",
        )),
    }
}

/// `{namespace}local`, or just `local` for an element in no namespace.
fn clark_name(element: &Element<'_>) -> String {
    match element.namespace() {
        Some(namespace) => format!("{{{namespace}}}{}", element.local_name()),
        None => element.local_name().to_owned(),
    }
}

/// Accepts an attribute name for `--id-attr`: an unprefixed XML name such as `ID`.
fn id_attribute_name(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if starts_well && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Ok(name.to_owned())
    } else {
        Err("expected an unprefixed XML attribute name, such as ID".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::id_attribute_name;

    #[test]
    fn id_attribute_names() {
        for good in ["ID", "Id", "AssertionID", "_id", "my-id.v2"] {
            assert_eq!(id_attribute_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "1id", "saml:ID", "an id", "-id"] {
            assert!(id_attribute_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
