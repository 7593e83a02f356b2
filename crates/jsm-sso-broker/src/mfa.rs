//! The second-factor seam: [`SecondFactor`].
//!
//! When a decision says `require_mfa`, [`Broker::finish_login`](crate::Broker::finish_login)
//! stops before provisioning and returns a challenge; the front end asks the customer for a
//! code (showing an enrolment QR code the first time) and calls
//! [`Broker::complete_mfa`](crate::Broker::complete_mfa). The factor itself (TOTP with a
//! replay guard and sealed secrets) lives behind this trait.

use async_trait::async_trait;
use jsm_sso_core::identity::IdpId;

use crate::error::BoxedError;

/// Whose factor: the IdP account (the same person through another IdP is another account).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MfaAccount {
    /// The IdP.
    pub idp: IdpId,
    /// The IdP's subject.
    pub subject: String,
    /// The verified email, for the authenticator app's label.
    pub email: String,
}

impl MfaAccount {
    /// An account.
    pub fn new(idp: IdpId, subject: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            idp,
            subject: subject.into(),
            email: email.into(),
        }
    }

    /// A stable key for storage: `idp` and subject, separated so neither can forge the other.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.idp.as_str().len(), self.idp, self.subject)
    }
}

/// What to show a customer who has no factor yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enrolment {
    /// The `otpauth://` URI for authenticator apps.
    pub otpauth_uri: String,
    /// The same as a QR code, SVG.
    pub qr_svg: String,
}

impl Enrolment {
    /// An enrolment offer.
    pub fn new(otpauth_uri: impl Into<String>, qr_svg: impl Into<String>) -> Self {
        Self {
            otpauth_uri: otpauth_uri.into(),
            qr_svg: qr_svg.into(),
        }
    }
}

/// How a code check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaVerdict {
    /// The code is right (and was not used before); if the account was enrolling, it is
    /// enrolled now.
    Accepted {
        /// Whether this check completed an enrolment.
        enrolled: bool,
    },
    /// The code is wrong, outside the window, or was used before.
    Refused,
}

/// A second factor (TOTP in `jsm-sso-mfa`).
#[async_trait]
pub trait SecondFactor: Send + Sync {
    /// `Some` offer when the account has no factor yet (a pending enrolment is created or
    /// reused); `None` when it is enrolled.
    ///
    /// # Errors
    ///
    /// The factor's backend error.
    async fn enrolment(&self, account: &MfaAccount) -> Result<Option<Enrolment>, BoxedError>;

    /// Checks a code (the enrolment's first code completes the enrolment).
    ///
    /// # Errors
    ///
    /// The factor's backend error (not a wrong code: that is [`MfaVerdict::Refused`]).
    async fn verify(&self, account: &MfaAccount, code: &str) -> Result<MfaVerdict, BoxedError>;
}
