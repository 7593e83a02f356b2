//! [`PendingEnrolment`]: a new secret, its `otpauth://` URI and QR code, confirmed by the
//! first valid code.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::{EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::{Error, TotpParams, TotpSecret, TotpVerifier};

/// The longest issuer or account name, in bytes.
pub const MAX_LABEL_LEN: usize = 128;

/// Everything but RFC 3986's unreserved characters is percent-encoded, in the label and in
/// the query values alike (a space becomes `%20`, never `+`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An enrolment that is not yet confirmed: a fresh secret, shown to the customer as an
/// `otpauth://` URI, a QR code (SVG) and base32 text for manual entry.
///
/// It only becomes a usable second factor through [`confirm`](Self::confirm), which needs
/// a valid code from the customer's app: proof the app holds the secret and its clock is
/// right. Keep it between the two requests sealed
/// ([`Sealer::seal_pending`](crate::Sealer::seal_pending)); a sealed pending enrolment
/// cannot be opened as a confirmed secret.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use jsm_sso_core::{Clock, clock::SystemClock, memory::MemoryReplayCache};
/// use jsm_sso_mfa::{PendingEnrolment, TotpParams, TotpVerifier};
///
/// let enrolment = PendingEnrolment::generate("Acme Support", "jane@example.com", TotpParams::default())?;
/// assert!(enrolment.uri().starts_with("otpauth://totp/Acme%20Support:jane%40example.com?secret="));
/// assert!(enrolment.qr_svg()?.contains("<svg"));
///
/// // The customer scans the code and types what the app shows:
/// let typed = enrolment.secret_for_tests().totp(SystemClock.now())?;
/// let verifier = TotpVerifier::new(Arc::new(SystemClock), Arc::new(MemoryReplayCache::new(Arc::new(SystemClock), 1_000)));
/// let confirmed = enrolment.confirm(&verifier, "customer-42", &typed).await?;
/// assert_eq!(confirmed.params(), &TotpParams::default());
/// # Ok::<(), jsm_sso_mfa::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct PendingEnrolment {
    secret: TotpSecret,
    issuer: String,
    account: String,
}

impl fmt::Debug for PendingEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingEnrolment")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("secret", &self.secret)
            .finish()
    }
}

impl PendingEnrolment {
    /// A new enrolment with a freshly generated secret.
    ///
    /// `issuer` is the service name the app shows (your portal's name); `account` is the
    /// customer's name in it (usually their email). Each is 1 to 128 bytes with no control
    /// characters and no `:` (the URI label's separator).
    ///
    /// # Errors
    ///
    /// `mfa.enrolment.label_invalid` for an unusable issuer or account name,
    /// `mfa.random.failed` when the system generator fails.
    pub fn generate(issuer: &str, account: &str, params: TotpParams) -> Result<Self, Error> {
        check_label("issuer", issuer)?;
        check_label("account", account)?;
        Ok(Self {
            secret: TotpSecret::generate(params)?,
            issuer: issuer.to_owned(),
            account: account.to_owned(),
        })
    }

    /// An enrolment around an existing secret (a migration from another system).
    ///
    /// # Errors
    ///
    /// `mfa.enrolment.label_invalid` for an unusable issuer or account name.
    pub fn with_secret(issuer: &str, account: &str, secret: TotpSecret) -> Result<Self, Error> {
        check_label("issuer", issuer)?;
        check_label("account", account)?;
        Ok(Self {
            secret,
            issuer: issuer.to_owned(),
            account: account.to_owned(),
        })
    }

    /// The issuer (service name).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The account name.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The parameters the app must use.
    #[must_use]
    pub fn params(&self) -> &TotpParams {
        self.secret.params()
    }

    /// The Key URI: `otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30`,
    /// every label and value percent-encoded. It holds the secret: show it to the customer
    /// only, never log it.
    #[must_use]
    pub fn uri(&self) -> Zeroizing<String> {
        let issuer = utf8_percent_encode(&self.issuer, COMPONENT);
        let account = utf8_percent_encode(&self.account, COMPONENT);
        let params = self.secret.params();
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={alg}&digits={digits}&period={period}",
            secret = self.secret.expose_base32().as_str(),
            alg = params.algorithm().name(),
            digits = params.digits(),
            period = params.period(),
        ))
    }

    /// The URI as a QR code in SVG (error correction level M, a quiet zone, at least
    /// 256 × 256 units), ready to inline in the enrolment page. It holds the secret.
    ///
    /// # Errors
    ///
    /// `mfa.enrolment.qr_too_long` if the URI does not fit in a QR code (it always does
    /// within the label limits).
    pub fn qr_svg(&self) -> Result<Zeroizing<String>, Error> {
        let uri = self.uri();
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
            .map_err(|_| Error::QrTooLong { len: uri.len() })?;
        Ok(Zeroizing::new(
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(256, 256)
                .quiet_zone(true)
                .build(),
        ))
    }

    /// The secret as base32, for customers who type it into the app instead of scanning.
    #[must_use]
    pub fn secret_base32(&self) -> Zeroizing<String> {
        self.secret.expose_base32()
    }

    /// **For tests** (and examples): the secret itself, to compute the code an app would
    /// show. Production code confirms with [`confirm`](Self::confirm) instead.
    #[must_use]
    pub fn secret_for_tests(&self) -> &TotpSecret {
        &self.secret
    }

    /// Confirms the enrolment with the customer's first code and returns the secret to
    /// seal and store. The code is used up like any other (it cannot sign in afterwards).
    ///
    /// # Errors
    ///
    /// Whatever [`TotpVerifier::verify`] refuses; the enrolment stays pending and may be
    /// confirmed with a later code.
    pub async fn confirm(
        &self,
        verifier: &TotpVerifier,
        customer: &str,
        code: &str,
    ) -> Result<TotpSecret, Error> {
        verifier.verify(customer, &self.secret, code).await?;
        Ok(self.secret.clone())
    }

    pub(crate) fn secret(&self) -> &TotpSecret {
        &self.secret
    }
}

pub(crate) fn check_label(what: &str, label: &str) -> Result<(), Error> {
    let reason = if label.is_empty() || label.len() > MAX_LABEL_LEN {
        format!(
            "{what} is {} bytes, allowed 1 to {MAX_LABEL_LEN}",
            label.len()
        )
    } else if label.contains(':') {
        format!("{what} contains ':', the label separator")
    } else if label.chars().any(char::is_control) {
        format!("{what} contains a control character")
    } else {
        return Ok(());
    };
    Err(Error::LabelInvalid { reason })
}
