//! [`Error`]: the gateway's own refusals and configuration problems, each with a stable code.

use jsm_sso_core::CodedError;

/// What the gateway refuses or cannot do (the broker's and libraries' errors keep their
/// own codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A form came without the right CSRF token.
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    /// No valid session cookie.
    #[error("not signed in")]
    NoSession,
    /// A callback arrived without the login-binding cookie of the sign-in it answers.
    #[error("the sign-in binding cookie does not match this callback's state")]
    LoginBinding,
    /// The signed-in person is not an administrator.
    #[error("{email} is not an administrator (idp {idp})")]
    NotAdmin {
        /// The session's email.
        email: String,
        /// The session's IdP.
        idp: String,
    },
    /// An administrator without the second factor the admin pages require.
    #[error("the admin pages require a second factor at sign-in")]
    AdminMfa,
    /// A request type the gateway's portal configuration does not offer.
    #[error("portal {portal} offers no form for request type {request_type}")]
    NoForm {
        /// The portal.
        portal: String,
        /// The request type.
        request_type: String,
    },
    /// A field the form does not show was posted, or a required one is empty.
    #[error("form field {0}")]
    Field(String),
    /// The gateway could not start (listener, set-up).
    #[error("gateway start-up: {0}")]
    Startup(String),
    /// The demo's settings (the `JSM_*` variables) or the real JSM site they name are
    /// unusable: the problems, each with its own code.
    #[error("{}", list(.0))]
    Config(Vec<crate::config::Problem>),
}

/// One problem reads `location: message` (its code is the error's); several name their own.
fn list(problems: &[crate::config::Problem]) -> String {
    match problems {
        [one] => format!("{}: {}", one.location, one.message),
        _ => problems
            .iter()
            .map(|p| format!("{}: {} [{}]", p.location, p.message, p.code))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Csrf => "gateway.csrf",
            Self::NoSession => "gateway.session.missing",
            Self::LoginBinding => "gateway.login.binding",
            Self::NotAdmin { .. } => "gateway.admin.denied",
            Self::AdminMfa => "gateway.admin.mfa_required",
            Self::NoForm { .. } => "gateway.portal.no_form",
            Self::Field(_) => "gateway.request.field",
            Self::Startup(_) => "gateway.startup",
            // One problem keeps its own code; several are reported as one invalid set-up.
            Self::Config(problems) => match problems.as_slice() {
                [one] => one.code,
                _ => "config.invalid",
            },
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Csrf => {
                "reload the page and submit the form again; forms expire with the sign-in or session they belong to"
            }
            Self::NoSession => {
                "sign in again; the session cookie is missing, expired or signed with a retired key"
            }
            Self::LoginBinding => {
                "start the sign-in again in the same browser; the callback must come back to the browser that began it"
            }
            Self::NotAdmin { .. } => {
                "add the email to [admin] emails or one of its IdP groups to [admin] groups, and sign in through an IdP listed in [admin] idps"
            }
            Self::AdminMfa => {
                "sign in again and complete the second factor, or set [admin] require_mfa = false"
            }
            Self::NoForm { .. } => {
                "add the request type to the portal's [[portal.request_type]] entries"
            }
            Self::Field(_) => {
                "fill in the required fields; only the fields the form shows are accepted"
            }
            Self::Startup(_) => "check the listen address is free and the configuration is valid",
            Self::Config(problems) => match problems.as_slice() {
                [one] => one.hint,
                _ => "fix each problem listed",
            },
        }
    }
}
