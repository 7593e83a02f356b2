//! `jsm-sso`: the command-line tool of the jsm-sso crate family.
//!
//! Every subcommand prints exactly one JSON object on stdout and ends with a stable exit
//! status, so scripts and health checks can call it:
//!
//! | exit | meaning | stdout |
//! |---|---|---|
//! | 0 | success | the command's JSON result |
//! | 1 | the input was checked and rejected | `{"error":{"code":..,"message":..,"hint":..}}` |
//! | 2 | usage or configuration error | the same error object; a short line on stderr |
//!
//! Each subcommand group lives in a module of its own that exposes a clap `Subcommand` enum
//! and a `run` function; each command returns a serializable result or a
//! [`Failure`](failure::Failure), and [`output::finish`] prints it and picks the exit status.
//! Adding a group (`saml`, `oidc`, `policy`, `audit`, `demo`) is one module, one [`Command`]
//! variant and one match arm.
#![forbid(unsafe_code)]

mod audit;
mod demo;
mod failure;
mod input;
mod oidc;
mod output;
mod policy;
mod saml;
mod xmldsig;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const ABOUT: &str = "Single sign-on for Jira Service Management customer portals: verify and \
                     explain what the jsm-sso broker sees";

const LONG_ABOUT: &str = "\
Single sign-on for Jira Service Management customer portals.

A public JSM portal takes requests from anyone, so bots flood it with spam tickets. jsm-sso puts \
a SAML 2.0 or OpenID Connect sign-in in front of the portal. This tool runs the same checks the \
broker runs, one at a time, so you can verify what an identity provider sends and see why it \
is accepted or refused.";

const AFTER_HELP: &str = "\
Output: every command prints exactly one JSON object on stdout.
Exit status:
  0  success
  1  rejected; stdout is {\"error\":{\"code\":..,\"message\":..,\"hint\":..}}
  2  usage or configuration error; the same error object, and a short line on stderr
Input files may be given as `-` to read standard input.";

/// The `jsm-sso` command line.
#[derive(Debug, Parser)]
#[command(
    name = "jsm-sso",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    /// The subcommand group to run.
    #[command(subcommand)]
    command: Command,
}

/// The subcommand groups, one module each.
#[derive(Debug, Subcommand)]
enum Command {
    /// XML signatures (XML-DSig) as SAML identity providers produce them
    #[command(subcommand)]
    Xmldsig(xmldsig::Command),
    /// SAML 2.0: validate and diagnose responses, write SP metadata
    #[command(subcommand)]
    Saml(saml::Command),
    /// OpenID Connect: validate ID tokens against a provider's keys
    #[command(subcommand)]
    Oidc(oidc::Command),
    /// The tamper-evident audit log: verify it, export it as OCSF or CloudEvents
    #[command(subcommand)]
    Audit(audit::Command),
    /// Access policy: check a policy file, explain its decision for an identity
    #[command(subcommand)]
    Policy(policy::Command),
    /// Run the portal gateway demo on 127.0.0.1 (embedded IdPs; JSM in memory, or the site JSM_BASE_URL names); prints the URL
    Demo(demo::Args),
}

impl Command {
    /// Runs the chosen subcommand, prints its JSON and returns the exit status.
    fn run(self) -> ExitCode {
        match self {
            Command::Xmldsig(command) => xmldsig::run(command),
            Command::Saml(command) => saml::run(command),
            Command::Oidc(command) => oidc::run(command),
            Command::Audit(command) => audit::run(command),
            Command::Policy(command) => policy::run(command),
            Command::Demo(args) => demo::run(&args),
        }
    }
}

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => cli.command.run(),
        Err(error) => output::usage_error(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
