//! `jsm-sso oidc`: OpenID Connect ID tokens as providers issue them.

use crate::failure::{Failure, Kind, Outcome};
use crate::input::{self, Input};
use crate::output;
use clap::{Args, Subcommand};
use jsm_sso_core::Secret;
use jsm_sso_oidc::{Algorithm, Expectations, IdTokenValidator, KeySet, MAX_LEEWAY, Profile};
use serde::Serialize;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// The `oidc` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate an ID token against a provider's JWKS, as the broker does
    ///
    /// Runs every check of OpenID Connect Core 3.1.3.7: signature with a key chosen from
    /// --jwks by kid, key type and alg (jku, x5u and jwk headers are never used), an
    /// allowed algorithm (never none; HS256/384/512 only when listed with --alg and keyed
    /// with --client-secret), iss, aud and azp, exp, iat and nbf with leeway, and the nonce
    /// when --nonce is given.
    ///
    /// Prints {"idp":..,"subject":..,"email":..,"email_verified":..,"groups":[..],
    /// "claims":{..}}; idp is the issuer, email is present when the token has one, and
    /// email_verified says whether the token vouches for it.
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
}

/// Arguments of `jsm-sso oidc verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The provider's issuer, exactly as its tokens spell it
    #[arg(long, value_name = "URL")]
    issuer: String,

    /// The client id the token must be issued to
    #[arg(long = "client-id", value_name = "ID")]
    client_id: String,

    /// The provider's JSON Web Key Set (the document at its jwks_uri)
    #[arg(long, value_name = "FILE")]
    jwks: Input,

    /// The nonce sent in the authorization request; the token must carry it
    #[arg(long, value_name = "N")]
    nonce: Option<String>,

    /// Check the token as of this time instead of now (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339)]
    now: Option<SystemTime>,

    /// Allowed clock skew in seconds [default: 60, at most 300]
    #[arg(long, value_name = "SECS")]
    leeway: Option<u64>,

    /// An allowed algorithm; repeat for several [default: what the JWKS keys allow]
    #[arg(long = "alg", value_name = "ALG", value_parser = algorithm)]
    algs: Vec<Algorithm>,

    /// The client secret, the key of HS256/384/512 tokens (only with those listed in --alg)
    #[arg(long = "client-secret", value_name = "S")]
    client_secret: Option<String>,

    /// The ID token (a file holding the compact JWS), or `-` for standard input
    #[arg(value_name = "TOKEN")]
    token: Input,
}

/// What `oidc verify` prints on success.
#[derive(Debug, Serialize)]
struct Verified {
    /// The issuer that vouched for the sign-in.
    idp: String,
    /// `sub`.
    subject: String,
    /// `email`, if the token has one.
    email: Option<String>,
    /// Whether the token says the email is verified.
    email_verified: bool,
    /// The `groups` claim.
    groups: Vec<String>,
    /// Every claim, as sent.
    claims: serde_json::Map<String, serde_json::Value>,
}

/// Runs an `oidc` subcommand.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => output::finish(verify(&args)),
    }
}

fn verify(args: &VerifyArgs) -> Outcome<Verified> {
    input::stdin_at_most_once([&args.jwks, &args.token])?;
    let validator = validator(args)?;
    let jwks = input::read(&args.jwks)?;
    let keys = KeySet::from_json(&jwks)
        .map_err(|e| Failure::coded(Kind::Config, &e).in_input(&args.jwks))?;
    let token = input::read(&args.token)?;
    let token = std::str::from_utf8(&token).map_err(|_| {
        Failure::new(
            Kind::Rejected,
            "oidc.jwt.malformed",
            format!("{} is not UTF-8 text", args.token),
            "the token is not a compact JWS; check what is passed as the ID token",
        )
    })?;
    let mut expect = Expectations::at(args.now.unwrap_or_else(SystemTime::now));
    expect.nonce = args.nonce.as_deref();
    let verified = validator
        .validate(token.trim(), &keys, &expect)
        .map_err(|e| Failure::coded(Kind::Rejected, &e))?;
    let identity = verified
        .identity(verified.issuer.as_str(), &Profile::Generic)
        .map_err(|e| Failure::coded(Kind::Rejected, &e))?;
    Ok(Verified {
        idp: verified.issuer.clone(),
        subject: verified.subject.clone(),
        email: identity.email.as_ref().map(|e| e.as_str().to_owned()),
        email_verified: identity.email_verified,
        groups: identity.groups,
        claims: verified.claims,
    })
}

/// The validator the arguments describe; contradictions are configuration errors (exit 2).
fn validator(args: &VerifyArgs) -> Result<IdTokenValidator, Failure> {
    let config = |message: String, hint: &'static str| {
        Failure::new(Kind::Config, "cli.oidc.config", message, hint)
    };
    let mut validator = IdTokenValidator::new(&args.issuer, &args.client_id);
    if let Some(leeway) = args.leeway {
        if leeway > MAX_LEEWAY.as_secs() {
            return Err(config(
                format!(
                    "--leeway {leeway} is more than {} seconds",
                    MAX_LEEWAY.as_secs()
                ),
                "use a leeway of at most 300 seconds and fix the clocks instead",
            ));
        }
        validator = validator.leeway(Duration::from_secs(leeway));
    }
    let hmac = args.algs.iter().any(|a| a.is_hmac());
    if hmac && args.client_secret.is_none() {
        return Err(config(
            "an HMAC algorithm is listed with --alg but no --client-secret is given".into(),
            "HS256/384/512 tokens are keyed with the client secret: pass --client-secret",
        ));
    }
    if !args.algs.is_empty() {
        validator = validator.algorithms(args.algs.iter().copied());
    }
    if let (true, Some(secret)) = (hmac, &args.client_secret) {
        validator = validator.hmac_secret(Secret::new(secret.clone()));
    }
    Ok(validator)
}

/// Parses `--alg`: a JWS algorithm name; `none` is refused.
fn algorithm(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") {
        return Err("unsigned tokens (none) are never accepted".into());
    }
    name.parse::<Algorithm>().map_err(|_| {
        "expected one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, \
         HS384, HS512"
            .into()
    })
}

/// Parses `--now`: an RFC 3339 time.
fn rfc3339(text: &str) -> Result<SystemTime, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2025-01-02T03:04:05Z: {e}"))?;
    Ok(SystemTime::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_parsers() {
        assert_eq!(algorithm("ES256"), Ok(Algorithm::ES256));
        assert!(algorithm("none").unwrap_err().contains("never"));
        assert!(algorithm("XS256").is_err());
        assert_eq!(
            rfc3339("2023-11-14T22:13:20Z"),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert!(rfc3339("yesterday").is_err());
    }
}
