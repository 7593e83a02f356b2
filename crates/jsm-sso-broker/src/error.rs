//! The broker's [`Error`] and its codes.
//!
//! Errors raised by the broker itself have `broker.*` codes. Errors that come from a part
//! it drives (a protocol crate, the directory, a store, the audit log, the request desk, a
//! second factor) keep that part's own code (`saml.signature.invalid`,
//! `core.directory.unavailable`, `audit.log.unavailable`), so an audit event or a log line
//! names the real cause.

use std::time::SystemTime;

use jsm_sso_audit::AuditError;
use jsm_sso_core::CodedError;
use jsm_sso_core::directory::{CustomerId, DirectoryError, PortalId};
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::store::StoreError;

/// A coded error from a part the broker drives through a trait (a protocol, a second
/// factor, a request desk, a ledger).
pub type BoxedError = Box<dyn CodedError + Send + Sync + 'static>;

/// Every error the broker returns. Show the customer an opaque message; put
/// [`CodedError::code`] and the message in logs (the broker already audits them).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker's configuration was refused when it was built.
    #[error("broker configuration refused: {0}")]
    Config(String),
    /// The sign-in hint is neither an email address nor a configured IdP id.
    #[error("sign-in hint {hint:?} is neither an email address nor a configured identity provider")]
    HintInvalid {
        /// The hint as given (clipped).
        hint: String,
    },
    /// No IdP with this id is configured.
    #[error("no identity provider {0} is configured")]
    UnknownIdp(IdpId),
    /// Home-realm discovery found no IdP for the email's domain.
    #[error("no identity provider serves the email domain {domain}")]
    NoIdpForDomain {
        /// The domain.
        domain: String,
    },
    /// The IdP may not be used for this portal.
    #[error("identity provider {idp} is not allowed for portal {portal}")]
    IdpNotAllowed {
        /// The IdP asked for.
        idp: IdpId,
        /// The portal.
        portal: PortalId,
    },
    /// The return URL is not a local path (an open-redirect attempt or a misconfigured
    /// front end).
    #[error("return URL {return_to:?} is not a local path")]
    ReturnToInvalid {
        /// The URL as given (clipped).
        return_to: String,
    },
    /// The callback could not be read (too large, repeated or missing parameters).
    #[error("sign-in callback malformed: {0}")]
    CallbackMalformed(String),
    /// No pending sign-in matches the callback: never started here, already finished, or
    /// expired.
    #[error("no pending sign-in matches the callback (unknown, already used or expired)")]
    StateUnknown,
    /// The stored pending sign-in could not be read back.
    #[error("pending sign-in record is malformed: {0}")]
    PendingMalformed(String),
    /// The callback came back for another IdP than the one the sign-in went to.
    #[error("callback is for identity provider {actual}, the sign-in went to {expected}")]
    IdpMismatch {
        /// The IdP the sign-in was started at.
        expected: IdpId,
        /// The IdP the callback or identity names.
        actual: IdpId,
    },
    /// The IdP's protocol refused the sign-in; the code is the protocol crate's.
    #[error("identity provider {idp} refused the sign-in: {cause}")]
    Protocol {
        /// The IdP.
        idp: IdpId,
        /// The protocol crate's error.
        cause: BoxedError,
    },
    /// A logout message matches no logout this broker started and no IdP it knows.
    #[error("logout message matches no pending logout and no identity provider")]
    LogoutUnknown,
    /// The IdP's protocol has no logout messages.
    #[error("identity provider {0} does not take logout messages")]
    LogoutUnsupported(IdpId),
    /// The access policy denied the customer.
    #[error("access denied by policy")]
    Denied {
        /// The policy's customer-facing reason, if it gave one.
        reason: Option<String>,
    },
    /// The identity has no email the IdP vouches for, so no customer can be matched.
    #[error("identity from {idp} has no verified email address")]
    EmailUnverified {
        /// The IdP.
        idp: IdpId,
    },
    /// The decision requires a second factor and the broker has none configured.
    #[error("the policy requires a second factor and none is configured")]
    MfaUnavailable,
    /// No pending second-factor challenge matches (unknown, used or expired).
    #[error("no pending second-factor challenge matches (unknown, already used or expired)")]
    MfaChallengeUnknown,
    /// The code was wrong; the challenge may be tried again.
    #[error("second-factor code refused ({attempts_left} attempts left)")]
    MfaRefused {
        /// Attempts left on this challenge.
        attempts_left: u32,
    },
    /// The code was wrong and no attempts are left; the sign-in must start again.
    #[error("second-factor code refused and no attempts are left")]
    MfaAttemptsExhausted,
    /// The second factor failed; the code is the factor's.
    #[error("second factor failed: {0}")]
    Mfa(BoxedError),
    /// A directory operation failed; the code is the directory's.
    #[error("provisioning step {step} failed: {source}")]
    Directory {
        /// The step (`find_customer`, `create_customer`, `add_to_organization`, ...).
        step: &'static str,
        /// The directory's error.
        #[source]
        source: DirectoryError,
    },
    /// The policy names an organization the directory does not have.
    #[error("organization {organization} named by the policy does not exist")]
    OrganizationUnknown {
        /// The organization as the policy names it.
        organization: String,
    },
    /// The provisioning ledger failed.
    #[error("provisioning ledger failed: {0}")]
    Ledger(BoxedError),
    /// A session token that is not one of ours in shape.
    #[error("session token malformed: {0}")]
    SessionMalformed(&'static str),
    /// A session token whose signature does not verify with any configured key.
    #[error("session token signature does not verify")]
    SessionSignature,
    /// A session token past its expiry.
    #[error("session expired")]
    SessionExpired {
        /// When it expired.
        expired_at: SystemTime,
    },
    /// The session does not grant this portal.
    #[error("session does not grant portal {portal}")]
    PortalDenied {
        /// The portal asked for.
        portal: PortalId,
    },
    /// The customer's IdP account was deprovisioned after the session was issued.
    #[error("customer {customer} was deprovisioned")]
    Deprovisioned {
        /// The customer.
        customer: CustomerId,
    },
    /// The customer raised too many requests recently.
    #[error("request rate limit reached ({limit} per {window_secs} s)")]
    RateLimited {
        /// Requests allowed per window.
        limit: u32,
        /// The window in seconds.
        window_secs: u64,
    },
    /// The request is not acceptable (empty summary, too large).
    #[error("request refused: {0}")]
    RequestInvalid(String),
    /// The request desk (the helpdesk) failed; the code is the desk's.
    #[error("raising the request failed: {0}")]
    Desk(BoxedError),
    /// A state store or replay cache failed; the code is the store's.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log refused the event (it fails closed); the code is the log's.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl Error {
    /// The audit stage a sign-in failure belongs to (`response`, `policy`, `mfa`,
    /// `provisioning`, `session`).
    #[must_use]
    pub(crate) fn stage(&self) -> &'static str {
        match self {
            Self::Denied { .. } => "policy",
            Self::MfaUnavailable
            | Self::MfaChallengeUnknown
            | Self::MfaRefused { .. }
            | Self::MfaAttemptsExhausted
            | Self::Mfa(_) => "mfa",
            Self::Directory { .. }
            | Self::OrganizationUnknown { .. }
            | Self::Ledger(_)
            | Self::EmailUnverified { .. } => "provisioning",
            Self::SessionMalformed(_) | Self::SessionSignature | Self::SessionExpired { .. } => {
                "session"
            }
            _ => "response",
        }
    }
}

/// Clips text taken from input before it goes into an error message.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 128;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", text.get(..at).unwrap_or_default()),
        None => text.to_owned(),
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "broker.config",
            Self::HintInvalid { .. } => "broker.discovery.hint_invalid",
            Self::UnknownIdp(_) => "broker.discovery.unknown_idp",
            Self::NoIdpForDomain { .. } => "broker.discovery.no_idp",
            Self::IdpNotAllowed { .. } => "broker.discovery.idp_not_allowed",
            Self::ReturnToInvalid { .. } => "broker.login.return_to_invalid",
            Self::CallbackMalformed(_) => "broker.callback.malformed",
            Self::StateUnknown => "broker.callback.state_unknown",
            Self::PendingMalformed(_) => "broker.callback.pending_malformed",
            Self::IdpMismatch { .. } => "broker.callback.idp_mismatch",
            Self::Protocol { cause, .. } => cause.code(),
            Self::LogoutUnknown => "broker.logout.unknown",
            Self::LogoutUnsupported(_) => "broker.logout.unsupported",
            Self::Denied { .. } => "broker.policy.denied",
            Self::EmailUnverified { .. } => "broker.identity.email_unverified",
            Self::MfaUnavailable => "broker.mfa.unavailable",
            Self::MfaChallengeUnknown => "broker.mfa.challenge_unknown",
            Self::MfaRefused { .. } => "broker.mfa.refused",
            Self::MfaAttemptsExhausted => "broker.mfa.attempts_exhausted",
            Self::Mfa(source) => source.code(),
            Self::Directory { source, .. } => source.code(),
            Self::OrganizationUnknown { .. } => "broker.provision.organization_unknown",
            Self::Ledger(_) => "broker.provision.ledger",
            Self::SessionMalformed(_) => "broker.session.malformed",
            Self::SessionSignature => "broker.session.signature",
            Self::SessionExpired { .. } => "broker.session.expired",
            Self::PortalDenied { .. } => "broker.gate.portal_denied",
            Self::Deprovisioned { .. } => "broker.gate.deprovisioned",
            Self::RateLimited { .. } => "broker.gate.rate_limited",
            Self::RequestInvalid(_) => "broker.gate.request_invalid",
            Self::Desk(source) => source.code(),
            Self::Store(source) => source.code(),
            Self::Audit(source) => source.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Config(_) => "fix the broker builder call named in the message",
            Self::HintInvalid { .. } => {
                "ask the customer for an email address, or pass a configured IdP id"
            }
            Self::UnknownIdp(_) => {
                "register the IdP with the broker, or fix the id the front end sends"
            }
            Self::NoIdpForDomain { .. } => {
                "map the email domain to an IdP (BrokerBuilder::domain) or set fallback IdPs"
            }
            Self::IdpNotAllowed { .. } => {
                "add the IdP to the portal's allowed list (BrokerBuilder::portal_idps) or pick another"
            }
            Self::ReturnToInvalid { .. } => {
                "pass a path on this site (\"/portal/3\"), never an absolute or scheme-relative URL"
            }
            Self::CallbackMalformed(_) => {
                "the front end must pass the callback's query or form body unchanged"
            }
            Self::StateUnknown => {
                "the customer took too long, used the back button, or the callback was replayed; sign in again"
            }
            Self::PendingMalformed(_) => {
                "the state store returned a value the broker did not write; check that stores are not shared with other software"
            }
            Self::IdpMismatch { .. } => {
                "route each IdP's callback to its own URL and check the IdP configuration (possible mix-up attack)"
            }
            Self::Protocol { cause, .. } => cause.hint(),
            Self::LogoutUnknown => {
                "the logout took too long or was replayed, or the IdP is not configured here; the local session has ended anyway"
            }
            Self::LogoutUnsupported(_) => {
                "this IdP's protocol has no logout messages; check the logout URL configured at the IdP"
            }
            Self::Denied { .. } => {
                "the policy denied this identity; run `jsm-sso policy explain` with it to see why"
            }
            Self::EmailUnverified { .. } => {
                "configure the IdP to send a verified email (email_verified, or a trusted SAML IdP)"
            }
            Self::MfaUnavailable => {
                "configure a second factor (BrokerBuilder::second_factor) or stop requiring MFA in the policy"
            }
            Self::MfaChallengeUnknown => "the challenge expired or was used; sign in again",
            Self::MfaRefused { .. } => {
                "the customer typed a wrong or reused code; let them try again"
            }
            Self::MfaAttemptsExhausted => "too many wrong codes; the customer must sign in again",
            Self::Mfa(source) => source.hint(),
            Self::Directory { source, .. } => source.hint(),
            Self::OrganizationUnknown { .. } => {
                "create the organization in the helpdesk or fix the policy's organization name"
            }
            Self::Ledger(_) => {
                "the provisioning ledger could not be read or written; check its backend"
            }
            Self::SessionMalformed(_) => {
                "the cookie was altered or is not a jsm-sso session; sign in again"
            }
            Self::SessionSignature => {
                "the session was altered or signed with a retired key; sign in again (keep old keys in SessionKeys::previous during rotation)"
            }
            Self::SessionExpired { .. } => "the session ended; sign in again",
            Self::PortalDenied { .. } => {
                "the policy does not grant this portal to the customer; change the policy if it should"
            }
            Self::Deprovisioned { .. } => {
                "the IdP deprovisioned this account; its session can no longer raise requests"
            }
            Self::RateLimited { .. } => {
                "the customer raised many requests in a short time; wait, or raise the limit"
            }
            Self::RequestInvalid(_) => "fix the request the front end sends (summary, sizes)",
            Self::Desk(source) => source.hint(),
            Self::Store(source) => source.hint(),
            Self::Audit(source) => source.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text() {
        assert_eq!(clip("alice"), "alice");
        let long = "x".repeat(500);
        let clipped = clip(&long);
        assert_eq!(clipped.len(), 131);
        assert!(clipped.ends_with("..."));
    }

    /// Every broker-own variant: distinct codes, listed in docs/errors.md, lower-case
    /// messages without a trailing period, a hint each.
    #[test]
    fn own_codes_are_distinct_documented_and_well_formed() {
        let all = [
            Error::Config("x".into()),
            Error::HintInvalid { hint: "a@".into() },
            Error::UnknownIdp("x".into()),
            Error::NoIdpForDomain { domain: "d".into() },
            Error::IdpNotAllowed {
                idp: "i".into(),
                portal: "p".into(),
            },
            Error::ReturnToInvalid {
                return_to: "//x".into(),
            },
            Error::CallbackMalformed("x".into()),
            Error::StateUnknown,
            Error::PendingMalformed("x".into()),
            Error::IdpMismatch {
                expected: "a".into(),
                actual: "b".into(),
            },
            Error::LogoutUnknown,
            Error::LogoutUnsupported("i".into()),
            Error::Denied { reason: None },
            Error::EmailUnverified { idp: "i".into() },
            Error::MfaUnavailable,
            Error::MfaChallengeUnknown,
            Error::MfaRefused { attempts_left: 2 },
            Error::MfaAttemptsExhausted,
            Error::OrganizationUnknown {
                organization: "o".into(),
            },
            Error::Ledger(Box::new(Error::StateUnknown)),
            Error::SessionMalformed("x"),
            Error::SessionSignature,
            Error::SessionExpired {
                expired_at: SystemTime::UNIX_EPOCH,
            },
            Error::PortalDenied { portal: "p".into() },
            Error::Deprovisioned {
                customer: "c".into(),
            },
            Error::RateLimited {
                limit: 1,
                window_secs: 60,
            },
            Error::RequestInvalid("x".into()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        let docs = include_str!("../../../docs/errors.md");
        for e in &all {
            let code = e.code();
            assert!(code.starts_with("broker."), "{code}");
            assert!(
                docs.contains(&format!("`{code}`")),
                "{code} missing from docs/errors.md"
            );
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
    }

    #[test]
    fn wrapped_errors_keep_their_codes() {
        let e = Error::Directory {
            step: "create_customer",
            source: DirectoryError::Unauthorized,
        };
        assert_eq!(e.code(), "core.directory.unauthorized");
        assert_eq!(e.stage(), "provisioning");
        let e = Error::from(StoreError::KeyExists);
        assert_eq!(e.code(), "core.store.key_exists");
        assert_eq!(Error::Denied { reason: None }.stage(), "policy");
    }
}
