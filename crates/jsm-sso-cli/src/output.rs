//! The one place that writes to stdout: one JSON object per run, then the exit status.

use crate::failure::{Failure, Kind, Outcome};
use serde::Serialize;
use std::io::{self, Write};
use std::process::ExitCode;

/// Prints the outcome of a command (its result, or its failure) and returns the exit status.
pub(crate) fn finish<T: Serialize>(outcome: Outcome<T>) -> ExitCode {
    match outcome {
        Ok(result) => emit(&result, 0),
        Err(failure) => fail(&failure),
    }
}

/// Prints a failure: the JSON error on stdout and, for configuration errors, a short line on
/// stderr for the person at the terminal.
fn fail(failure: &Failure) -> ExitCode {
    if failure.kind == Kind::Config {
        let _ignored = writeln!(
            io::stderr().lock(),
            "jsm-sso: {} ({})",
            failure.message,
            failure.code
        );
    }
    emit(&failure.report(), failure.kind.exit_status())
}

/// Handles an error from clap. `--help` and `--version` print as clap renders them and exit 0;
/// a usage error prints clap's explanation on stderr and the JSON error (`cli.usage`) on
/// stdout, and exits 2.
pub(crate) fn usage_error(error: &clap::Error) -> ExitCode {
    let _ignored = error.print();
    if !error.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let message = match error.kind() {
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is required".to_owned()
        }
        _ => usage_message(&error.render().to_string()),
    };
    let failure = Failure::new(
        Kind::Config,
        "cli.usage",
        message,
        "run `jsm-sso --help` for the commands and their arguments",
    );
    emit(&failure.report(), failure.kind.exit_status())
}

/// Clap's error paragraph (the lines before the first blank one) on one line, without its
/// `error: ` prefix.
fn usage_message(rendered: &str) -> String {
    let paragraph: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    joined
        .strip_prefix("error: ")
        .map_or(joined.clone(), str::to_owned)
}

/// Prints a rejection that carries more than the error object (for example every problem
/// `policy check` found) and returns exit status 1. `value` must contain the usual `error`
/// object so scripts keyed on it keep working.
pub(crate) fn reject(value: &impl Serialize) -> ExitCode {
    emit(value, Kind::Rejected.exit_status())
}

/// Writes `value` as one line of JSON on stdout. A result nobody could read is not a success:
/// if stdout fails, the exit status is 2 instead of 0.
fn emit(value: &impl Serialize, status: u8) -> ExitCode {
    let mut stdout = io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::from(status),
        Err(error) => {
            let _ignored = writeln!(
                io::stderr().lock(),
                "jsm-sso: cannot write to stdout: {error}"
            );
            ExitCode::from(status.max(Kind::Config.exit_status()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::usage_message;

    #[test]
    fn usage_message_is_clap_first_paragraph() {
        let rendered = "error: unexpected argument '--frob' found\n\nUsage: jsm-sso <COMMAND>\n";
        assert_eq!(
            usage_message(rendered),
            "unexpected argument '--frob' found"
        );
        let rendered = "error: the following required arguments were not provided:\n  \
                        --cert <PEM>\n\nUsage: jsm-sso xmldsig verify --cert <PEM> <FILE>\n";
        assert_eq!(
            usage_message(rendered),
            "the following required arguments were not provided: --cert <PEM>"
        );
        assert_eq!(usage_message(""), "");
    }
}
