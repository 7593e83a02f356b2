//! Input files named on the command line, `-` meaning standard input.

use crate::failure::{Failure, Kind};
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// The most bytes read from one input. The parsers have their own, smaller limits; this one
/// only keeps a mistaken `jsm-sso ... /dev/zero` from eating the machine's memory.
pub(crate) const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A file path given on the command line, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// `-`: read standard input.
    Stdin,
    /// Read this file.
    Path(PathBuf),
}

impl From<OsString> for Input {
    fn from(arg: OsString) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Stdin => f.write_str("standard input"),
            Input::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Refuses a command line that names standard input (`-`) for more than one input, before
/// anything is read. Call it with all of a command's inputs first.
pub(crate) fn stdin_at_most_once<'a>(
    inputs: impl IntoIterator<Item = &'a Input>,
) -> Result<(), Failure> {
    if inputs.into_iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(Failure::new(
            Kind::Config,
            "cli.input.stdin_twice",
            "standard input (`-`) is given for more than one input",
            "pass `-` for at most one input and name the others as files",
        ));
    }
    Ok(())
}

/// Reads all of `input`. Failing to read is a configuration error (exit 2): the command never
/// got to judge the content.
pub(crate) fn read(input: &Input) -> Result<Vec<u8>, Failure> {
    match input {
        Input::Stdin => read_capped(io::stdin().lock(), input),
        Input::Path(path) => {
            let file = File::open(path).map_err(|e| unreadable(input, &e))?;
            read_capped(file, input)
        }
    }
}

fn read_capped(source: impl Read, input: &Input) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    source
        .take(MAX_INPUT_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(input, &e))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_INPUT_BYTES {
        return Err(Failure::new(
            Kind::Config,
            "cli.input.too_large",
            format!("{input} is larger than {MAX_INPUT_BYTES} bytes"),
            "check that the right file is named; SAML messages are kilobytes, not megabytes",
        ));
    }
    Ok(bytes)
}

fn unreadable(input: &Input, error: &io::Error) -> Failure {
    Failure::new(
        Kind::Config,
        "cli.input.unreadable",
        format!("cannot read {input}: {}", lower_case_io_error(error)),
        "check the path and its permissions",
    )
}

/// The OS error text, its first letter lower-cased (the project's message style).
fn lower_case_io_error(error: &io::Error) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_means_stdin() {
        assert_eq!(Input::from(OsString::from("-")), Input::Stdin);
        assert_eq!(
            Input::from(OsString::from("./-")),
            Input::Path(PathBuf::from("./-"))
        );
        assert_eq!(Input::Stdin.to_string(), "standard input");
    }

    #[test]
    fn missing_file_is_a_config_error() {
        let missing = Input::Path(PathBuf::from("/nonexistent/jsm-sso/input.xml"));
        let failure = read(&missing).unwrap_err();
        assert_eq!(failure.kind, Kind::Config);
        assert_eq!(failure.code, "cli.input.unreadable");
        assert!(
            failure
                .message
                .starts_with("cannot read /nonexistent/jsm-sso/input.xml: no such file"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn oversized_input_is_refused() {
        let source = io::repeat(b'x');
        let failure = read_capped(source, &Input::Stdin).unwrap_err();
        assert_eq!(failure.code, "cli.input.too_large");
        assert_eq!(failure.kind, Kind::Config);
    }

    #[test]
    fn input_at_the_cap_is_read() {
        let bytes = read_capped(&b"<a/>"[..], &Input::Stdin).unwrap();
        assert_eq!(bytes, b"<a/>");
    }

    #[test]
    fn stdin_is_named_at_most_once() {
        let file = Input::Path(PathBuf::from("a.xml"));
        assert!(stdin_at_most_once([&file, &Input::Stdin, &file]).is_ok());
        let failure = stdin_at_most_once([&Input::Stdin, &file, &Input::Stdin]).unwrap_err();
        assert_eq!(failure.code, "cli.input.stdin_twice");
        assert_eq!(failure.kind, Kind::Config);
    }
}
