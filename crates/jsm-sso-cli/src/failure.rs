//! Why a command did not succeed, and which exit status that means.

use crate::input::Input;
use jsm_sso_core::CodedError;
use serde::Serialize;

/// What a subcommand produces: its result, printed as one JSON object, or why it has none.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// The two ways a command can fail, which the exit status tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The input was checked and refused (exit 1).
    Rejected,
    /// The command could not run as asked: bad arguments, an unreadable file, an unusable key
    /// (exit 2).
    Config,
}

impl Kind {
    /// The process exit status for this kind of failure.
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Kind::Rejected => 1,
            Kind::Config => 2,
        }
    }
}

/// A failed command: printed as `{"error":{"code":..,"message":..,"hint":..}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Rejected or configuration error.
    pub(crate) kind: Kind,
    /// Stable machine code, for example `xmldsig.digest.mismatch`.
    pub(crate) code: &'static str,
    /// What went wrong, lower-case, no trailing period.
    pub(crate) message: String,
    /// One line for the person fixing the set-up.
    pub(crate) hint: &'static str,
}

impl Failure {
    /// A failure with a code of the CLI's own (`cli.*`).
    pub(crate) fn new(
        kind: Kind,
        code: &'static str,
        message: impl Into<String>,
        hint: &'static str,
    ) -> Self {
        Failure {
            kind,
            code,
            message: message.into(),
            hint,
        }
    }

    /// A failure carrying a library error's code, message and hint.
    pub(crate) fn coded(kind: Kind, error: &dyn CodedError) -> Self {
        Failure::new(kind, error.code(), error.to_string(), error.hint())
    }

    /// Names the input the failure is about, in front of the message.
    pub(crate) fn in_input(mut self, input: &Input) -> Self {
        self.message = format!("{input}: {}", self.message);
        self
    }

    /// What is printed on stdout: `{"error":{"code":..,"message":..,"hint":..}}`.
    pub(crate) fn report(&self) -> ErrorReport<'_> {
        ErrorReport {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                hint: self.hint,
            },
        }
    }
}

/// The JSON shape of a failure on stdout.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorReport<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    hint: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Refused;

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused for a reason")
        }
    }

    impl std::error::Error for Refused {}

    impl CodedError for Refused {
        fn code(&self) -> &'static str {
            "test.refused"
        }
        fn hint(&self) -> &'static str {
            "do something else"
        }
    }

    #[test]
    fn json_shape_is_the_contract() {
        let f = Failure::new(Kind::Rejected, "cli.test", "went \"wrong\"", "fix it");
        assert_eq!(
            serde_json::to_string(&f.report()).unwrap(),
            r#"{"error":{"code":"cli.test","message":"went \"wrong\"","hint":"fix it"}}"#
        );
        assert_eq!(f.kind.exit_status(), 1);
        assert_eq!(Kind::Config.exit_status(), 2);
    }

    #[test]
    fn coded_errors_keep_code_message_and_hint() {
        let f = Failure::coded(Kind::Config, &Refused);
        assert_eq!(f.code, "test.refused");
        assert_eq!(f.message, "refused for a reason");
        assert_eq!(f.hint, "do something else");
        assert_eq!(f.kind, Kind::Config);
    }
}
