//! `jsm-sso policy`: check an access policy file, and explain its decision for an identity.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_core::{CodedError, Email, VerifiedIdentity};
use jsm_sso_policy::{CompiledPolicy, Diagnostic, Error, Evaluation, Format, NearMiss};
use serde::{Deserialize, Serialize};

use crate::failure::{Failure, Kind};
use crate::input::{self, Input};
use crate::output;

/// The `policy` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate a policy file (TOML, YAML or JSON)
    ///
    /// Exit 0 with {"valid":true,"hash":..,"rules":..,"warnings":[..]} when the policy loads.
    /// Exit 1 when it does not: every problem as `file:line:column: message` on stderr, and
    /// on stdout the error object plus "errors":[{code,location,message,hint,..}].
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Show the decision and its explanation for one identity
    ///
    /// IDENTITY.json has the fields of a verified identity: "idp", "email",
    /// "email_verified", "groups", "attributes" (protocol, subject and times are optional).
    /// Prints {"allow","organizations","portals","fields","require_mfa","reason","matched",
    /// "near_misses",..} with sorted lists; a deny is a result too (exit 0).
    #[command(verbatim_doc_comment)]
    Explain(ExplainArgs),
}

/// The policy file's syntax, when its name does not say.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Toml,
    Yaml,
    Json,
}

/// Arguments of `jsm-sso policy check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Syntax of the policy [default: from the file extension; TOML for `-`]
    #[arg(long, value_enum)]
    format: Option<FormatArg>,

    /// The policy file, or `-` for standard input
    #[arg(value_name = "POLICY")]
    policy: Input,
}

/// Arguments of `jsm-sso policy explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The identity to decide for (JSON), or `-` for standard input
    #[arg(long, value_name = "IDENTITY.json")]
    identity: Input,

    /// Syntax of the policy [default: from the file extension; TOML for `-`]
    #[arg(long, value_enum)]
    format: Option<FormatArg>,

    /// The policy file, or `-` for standard input
    #[arg(value_name = "POLICY")]
    policy: Input,
}

/// Runs a `policy` subcommand.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Check(args) => match load(&args.policy, args.format) {
            Ok(policy) => output::finish(Ok(checked(&policy))),
            Err(refusal) => refusal.print(),
        },
        Command::Explain(args) => match explain(&args) {
            Ok(result) => output::finish(Ok(result)),
            Err(refusal) => refusal.print(),
        },
    }
}

/// Why a policy command did not produce its result.
enum Refusal {
    /// An ordinary failure (unreadable input, bad identity).
    Failure(Failure),
    /// The policy did not load: every diagnostic.
    Invalid(Error),
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Self::Failure(f)
    }
}

impl Refusal {
    fn print(self) -> ExitCode {
        match self {
            Self::Failure(f) => output::finish::<()>(Err(f)),
            Self::Invalid(error) => {
                let mut stderr = std::io::stderr().lock();
                for d in error.diagnostics() {
                    let _ignored = writeln!(stderr, "{d}");
                }
                output::reject(&InvalidReport {
                    error: ErrorBody {
                        code: error.code(),
                        message: error
                            .to_string()
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                        hint: error.hint(),
                    },
                    errors: error.diagnostics(),
                })
            }
        }
    }
}

/// Stdout of a policy that does not load.
#[derive(Serialize)]
struct InvalidReport<'a> {
    error: ErrorBody,
    errors: &'a [Diagnostic],
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
    hint: &'static str,
}

fn format_of(input: &Input, chosen: Option<FormatArg>) -> Result<Format, Failure> {
    if let Some(f) = chosen {
        return Ok(match f {
            FormatArg::Toml => Format::Toml,
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
        });
    }
    match input {
        Input::Stdin => Ok(Format::Toml),
        Input::Path(path) => Format::from_path(path).ok_or_else(|| {
            Failure::new(
                Kind::Config,
                "policy.format.unknown",
                format!("cannot tell the format of {input}: expected .toml, .yaml, .yml or .json"),
                "name the file .toml, .yaml, .yml or .json, or pass --format",
            )
        }),
    }
}

fn load(input: &Input, format: Option<FormatArg>) -> Result<CompiledPolicy, Refusal> {
    let format = format_of(input, format)?;
    let bytes = input::read(input)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            Kind::Rejected,
            "policy.syntax",
            format!("{input} is not UTF-8"),
            "save the policy as UTF-8",
        )
    })?;
    let origin = match input {
        Input::Stdin => "<stdin>".to_owned(),
        Input::Path(p) => p.display().to_string(),
    };
    jsm_sso_policy::load_str(&text, format, &origin).map_err(Refusal::Invalid)
}

/// What `policy check` prints for a valid policy.
#[derive(Serialize)]
struct Checked<'a> {
    valid: bool,
    policy: &'a str,
    hash: &'a str,
    rules: usize,
    portals: usize,
    organizations: usize,
    default: &'static str,
    always_checked: usize,
    warnings: &'a [Diagnostic],
}

fn checked(policy: &CompiledPolicy) -> Checked<'_> {
    Checked {
        valid: true,
        policy: policy.origin(),
        hash: policy.hash(),
        rules: policy.rule_count(),
        portals: policy.portals().count(),
        organizations: policy.organizations().count(),
        default: if policy.default_allows() {
            "allow"
        } else {
            "deny"
        },
        always_checked: policy.always_checked(),
        warnings: policy.warnings(),
    }
}

/// IDENTITY.json: the fields of a `VerifiedIdentity`; only `idp` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    idp: String,
    #[serde(default)]
    protocol: Option<Protocol>,
    #[serde(default)]
    subject: Option<Subject>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
    /// Accepted so a `VerifiedIdentity` printed by another command can be fed back; not
    /// used by the policy.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for compatibility, never read by the policy"
    )]
    authn_instant: Option<serde_json::Value>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for compatibility, never read by the policy"
    )]
    session_expiry: Option<serde_json::Value>,
}

fn identity(input: &Input) -> Result<VerifiedIdentity, Failure> {
    let bytes = input::read(input)?;
    let bad = |message: String| {
        Failure::new(
            Kind::Config,
            "cli.policy.identity",
            message,
            "give the identity as JSON with idp, email, email_verified, groups and attributes",
        )
        .in_input(input)
    };
    let file: IdentityFile =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not an identity: {e}")))?;
    let mut id = VerifiedIdentity::new(
        file.idp,
        file.protocol.unwrap_or(Protocol::Oidc),
        file.subject.unwrap_or_else(|| Subject::new("")),
        std::time::SystemTime::UNIX_EPOCH,
    );
    id.email = match file.email {
        Some(e) => Some(Email::parse(&e).map_err(|err| bad(format!("email {e:?}: {err}")))?),
        None => None,
    };
    id.email_verified = file.email_verified;
    id.groups = file.groups;
    id.attributes = file.attributes;
    Ok(id)
}

/// What `policy explain` prints.
#[derive(Serialize)]
struct Explained {
    allow: bool,
    organizations: Vec<String>,
    portals: Vec<String>,
    fields: BTreeMap<String, String>,
    require_mfa: bool,
    reason: Option<String>,
    matched: Vec<String>,
    near_misses: Vec<NearMiss>,
    policy_hash: String,
    basis: &'static str,
    warnings: Vec<jsm_sso_policy::Warning>,
    explanation: jsm_sso_policy::Explanation,
    text: String,
}

fn explain(args: &ExplainArgs) -> Result<Explained, Refusal> {
    input::stdin_at_most_once([&args.policy, &args.identity])?;
    let identity = identity(&args.identity)?;
    let policy = load(&args.policy, args.format)?;
    let evaluation: Evaluation = policy.evaluate(&identity);
    let mut near_misses = evaluation.explanation.near_misses.clone();
    near_misses.sort_by(|a, b| a.rule.cmp(&b.rule));
    let text = evaluation.to_text();
    let e = evaluation.explanation.clone();
    Ok(Explained {
        allow: evaluation.allow,
        organizations: evaluation
            .organizations
            .iter()
            .map(ToString::to_string)
            .collect(),
        portals: evaluation.portals.iter().map(ToString::to_string).collect(),
        fields: evaluation.fields.clone(),
        require_mfa: evaluation.require_mfa,
        reason: evaluation.reason.clone(),
        matched: evaluation.matched.iter().map(ToString::to_string).collect(),
        near_misses,
        policy_hash: e.policy_hash.to_string(),
        basis: e.basis,
        warnings: e.warnings.clone(),
        explanation: e,
        text,
    })
}
