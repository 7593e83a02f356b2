//! Sign-in: the email-first page, the SAML ACS and metadata, the OIDC callback, the second
//! factor and sign-out.

use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsm_sso_broker::{
    Begin, Callback, CodedError, Error as BrokerError, LoginHint, LoginOutcome, LoginRequest,
    Redirect, SignedIn,
};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::gateway::Failure;
use crate::html::{csrf_field, esc, page};
use crate::respond::{form_fields, html, message, see_other, with_cookies};
use crate::security::{Cookies, random_value, state_binding};
use crate::{Error, Gateway};

/// How long an enrolment offer is kept for the enrolment page (the challenge's lifetime).
const ENROL_TTL: Duration = Duration::from_secs(300);

/// The sign-in page's query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    portal: Option<String>,
}

impl Gateway {
    /// The login-binding cookie's value, if any.
    fn login_binding<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        Cookies::read(headers, self.inner.cookies.login_name())
    }

    /// Checks a form's CSRF token against the binding it must be tied to.
    pub(crate) fn check_csrf(
        &self,
        binding: Option<&str>,
        fields: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let token = fields.get("csrf").map(String::as_str).unwrap_or_default();
        match binding {
            Some(b) if self.inner.csrf.check(b, token) => Ok(()),
            _ => Err(Error::Csrf),
        }
    }

    pub(crate) fn refuse(&self, error: &Error) -> Response {
        let status = match error {
            Error::NoSession => StatusCode::UNAUTHORIZED,
            Error::NoForm { .. } => StatusCode::NOT_FOUND,
            Error::Field(_) => StatusCode::BAD_REQUEST,
            Error::Startup(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::FORBIDDEN,
        };
        let mut response = message(self, status, "Refused", &error.to_string());
        if let Ok(code) = HeaderValue::from_str(error.code()) {
            response.headers_mut().insert("x-jsm-sso-error", code);
        }
        response
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.prefix)
    }

    fn login_form(&self, binding: &str, portal: Option<&str>, note: Option<&str>) -> String {
        let token = self.inner.csrf.token(binding);
        let portal_field = portal
            .map(|p| {
                format!(
                    "<input type=\"hidden\" name=\"portal\" value=\"{}\">",
                    esc(p)
                )
            })
            .unwrap_or_default();
        let note = note
            .map(|n| format!("<p class=\"message\" id=\"message\">{}</p>", esc(n)))
            .unwrap_or_default();
        let mut buttons = String::new();
        for idp in &self.inner.parts.settings.idps {
            buttons.push_str(&format!(
                "<form method=\"post\" action=\"{}\" class=\"idp\">{}{portal_field}\
                 <input type=\"hidden\" name=\"idp\" value=\"{}\">\
                 <button type=\"submit\" id=\"idp-{}\">{}</button></form>",
                self.url("/login"),
                csrf_field(&token),
                esc(&idp.id),
                esc(&idp.id),
                esc(&idp.display_name)
            ));
        }
        format!(
            "{note}<form method=\"post\" action=\"{}\" id=\"email-form\">{}{portal_field}\
             <label for=\"email\">Work email</label>\
             <input type=\"email\" id=\"email\" name=\"email\" autocomplete=\"email\" required>\
             <button type=\"submit\" id=\"continue\">Continue</button></form>\
             <h2>Or sign in with</h2><div class=\"idps\">{buttons}</div>",
            self.url("/login"),
            csrf_field(&token),
        )
    }

    fn record(&self, error: &dyn CodedError, detail: String, decoded: Option<String>) -> String {
        let reference = random_value().chars().take(12).collect::<String>();
        self.record_failure(Failure {
            reference: reference.clone(),
            at: SystemTime::now(),
            code: error.code(),
            hint: error.hint(),
            detail,
            decoded,
        });
        reference
    }

    /// Turns a finished sign-in into the session cookie and a 303.
    fn signed_in(&self, signed_in: &SignedIn) -> Response {
        let now = SystemTime::now();
        let max_age = signed_in
            .session
            .expires_at()
            .duration_since(now)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let to = signed_in
            .return_to
            .clone()
            .unwrap_or_else(|| self.url("/portals"));
        with_cookies(
            see_other(&to),
            &[
                self.inner.cookies.session(&signed_in.token, max_age),
                self.inner.cookies.clear_login(),
            ],
        )
    }

    async fn outcome(
        &self,
        result: Result<LoginOutcome, BrokerError>,
        decoded: Option<String>,
    ) -> Response {
        match result {
            Ok(LoginOutcome::SignedIn(signed_in)) => self.signed_in(&signed_in),
            Ok(LoginOutcome::MfaRequired {
                challenge,
                enrolment,
            }) => {
                let binding = format!("m.{challenge}");
                let next = match enrolment {
                    Some(offer) => {
                        // Only the URI is kept (the QR code is drawn again from it: an SVG
                        // is larger than a store entry may be).
                        let kept = KeptEnrolment {
                            uri: offer.otpauth_uri,
                        };
                        let stored = match serde_json::to_vec(&kept) {
                            Ok(bytes) => {
                                self.inner
                                    .parts
                                    .store
                                    .put(
                                        &enrol_key(&challenge),
                                        bytes,
                                        SystemTime::now() + ENROL_TTL,
                                    )
                                    .await
                            }
                            Err(e) => Err(jsm_sso_core::store::StoreError::Backend(Box::new(e))),
                        };
                        if let Err(e) = stored {
                            let reference = self.record(&e, e.to_string(), None);
                            return self.failed_page(None, &reference);
                        }
                        "/mfa/enrol"
                    }
                    None => "/mfa",
                };
                with_cookies(
                    see_other(&self.url(next)),
                    &[self.inner.cookies.login(&binding)],
                )
            }
            Err(e) => {
                let reference = self.record(&e, e.to_string(), decoded);
                let reason = match &e {
                    BrokerError::Denied { reason } => Some(
                        reason
                            .clone()
                            .unwrap_or_else(|| "Your account may not use this portal.".into()),
                    ),
                    _ => None,
                };
                let mut response = self.failed_page(reason.as_deref(), &reference);
                if let Ok(code) = HeaderValue::from_str(e.code()) {
                    response.headers_mut().insert("x-jsm-sso-error", code);
                }
                with_cookies(response, &[self.inner.cookies.clear_login()])
            }
            Ok(_) => see_other(&self.url("/login")),
        }
    }

    fn failed_page(&self, denied: Option<&str>, reference: &str) -> Response {
        let (status, title, text) = match denied {
            Some(reason) => (StatusCode::FORBIDDEN, "Access denied", reason.to_owned()),
            None => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "The sign-in could not be completed.".to_owned(),
            ),
        };
        let body = format!(
            "<p class=\"message\" id=\"message\">{}</p><p>Reference: <code id=\"reference\">{}</code> \
             (give it to your support team).</p><p><a href=\"{}\">Try again</a></p>",
            esc(&text),
            esc(reference),
            self.url("/login")
        );
        html(status, page(&self.inner.prefix, title, None, &body))
    }

    /// The common part of the ACS and the OIDC callback.
    async fn finish(
        &self,
        headers: &HeaderMap,
        client: Client,
        callback: Callback,
        decoded: Option<String>,
    ) -> Response {
        let state = callback
            .get("RelayState")
            .or_else(|| callback.get("state"))
            .unwrap_or_default();
        let bound = self
            .login_binding(headers)
            .is_some_and(|b| b == state_binding(state));
        if !bound {
            let error = Error::LoginBinding;
            let reference = self.record(&error, error.to_string(), decoded);
            let mut response = self.failed_page(None, &reference);
            *response.status_mut() = StatusCode::FORBIDDEN;
            if let Ok(code) = HeaderValue::from_str(error.code()) {
                response.headers_mut().insert("x-jsm-sso-error", code);
            }
            return response;
        }
        let result = self
            .inner
            .parts
            .broker
            .finish_login(&callback, client.source())
            .await;
        let decoded = match (&result, decoded) {
            (Err(e), Some(params)) => Some(with_refused_token(params, e)),
            (_, decoded) => decoded,
        };
        self.outcome(result, decoded).await
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct KeptEnrolment {
    uri: String,
}

fn enrol_key(challenge: &str) -> String {
    format!("gateway:enrol:{challenge}")
}

/// `GET BASE/login`.
pub(crate) async fn login_page(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    if gw.session(&headers).is_ok() {
        return see_other(&gw.url("/portals"));
    }
    let (binding, cookie) = match gw.login_binding(&headers) {
        Some(b) => (b.to_owned(), None),
        None => {
            let fresh = format!("n.{}", random_value());
            let cookie = gw.inner.cookies.login(&fresh);
            (fresh, Some(cookie))
        }
    };
    let body = gw.login_form(&binding, query.portal.as_deref(), None);
    let response = html(
        StatusCode::OK,
        page(&gw.inner.prefix, "Sign in", None, &body),
    );
    with_cookies(response, cookie.as_slice())
}

/// `POST BASE/login`: discovery, then the redirect to the IdP.
pub(crate) async fn login_submit(
    State(gw): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fields) = form_fields(&body) else {
        return gw.refuse(&Error::Field("the form is malformed".into()));
    };
    let binding = gw.login_binding(&headers);
    if let Err(e) = gw.check_csrf(binding, &fields) {
        return gw.refuse(&e);
    }
    let binding = binding.unwrap_or_default().to_owned();
    let text = fields
        .get("email")
        .or_else(|| fields.get("idp"))
        .map(String::as_str)
        .unwrap_or_default();
    let portal = fields.get("portal").filter(|p| !p.is_empty());
    let retry = |note: &str| {
        let body = gw.login_form(&binding, portal.map(String::as_str), Some(note));
        html(
            StatusCode::BAD_REQUEST,
            page(&gw.inner.prefix, "Sign in", None, &body),
        )
    };
    let hint = match LoginHint::parse(text) {
        Ok(hint) => hint,
        Err(_) => return retry("That is not an email address."),
    };
    let mut request = LoginRequest::new(hint).return_to(gw.url("/portals"));
    if let Some(portal) = portal {
        request = request.portal(portal.as_str());
    }
    if let Some(source) = client.source() {
        request = request.source(source);
    }
    match gw.inner.parts.broker.begin_login(&request).await {
        Ok(Begin::Redirect { challenge, .. }) => {
            let cookie = gw.inner.cookies.login(&state_binding(&challenge.state));
            let response = match &challenge.redirect {
                Redirect::Location(url) => see_other(url),
                Redirect::PostForm { action, fields, .. } => post_form(&gw, action, fields),
                _ => return retry("This sign-in method is not available."),
            };
            with_cookies(response, &[cookie])
        }
        Ok(Begin::Choose(choices)) => {
            let token = gw.inner.csrf.token(&binding);
            let mut buttons = String::new();
            for choice in choices {
                buttons.push_str(&format!(
                    "<form method=\"post\" action=\"{}\" class=\"idp\">{}\
                     <input type=\"hidden\" name=\"idp\" value=\"{}\">\
                     <button type=\"submit\" id=\"idp-{}\">{}</button></form>",
                    gw.url("/login"),
                    csrf_field(&token),
                    esc(choice.id.as_str()),
                    esc(choice.id.as_str()),
                    esc(&choice.display_name)
                ));
            }
            let body = format!("<p>Choose how to sign in:</p><div class=\"idps\">{buttons}</div>");
            html(
                StatusCode::OK,
                page(&gw.inner.prefix, "Sign in", None, &body),
            )
        }
        Ok(_) => retry("This sign-in method is not available."),
        Err(e) => {
            let note = match e.code() {
                "broker.discovery.no_idp" => "No sign-in is set up for that email domain.",
                "broker.discovery.idp_not_allowed" => {
                    "That sign-in is not offered for this portal."
                }
                "broker.discovery.unknown_idp" => "Unknown sign-in method.",
                "broker.discovery.hint_invalid" => "That is not an email address.",
                _ => {
                    let reference = gw.record(&e, e.to_string(), None);
                    return gw.failed_page(None, &reference);
                }
            };
            retry(note)
        }
    }
}

/// The SAML HTTP-POST binding's form: submitted by the one static script, or by the button.
pub(crate) fn post_form(gw: &Gateway, action: &str, fields: &[(String, String)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(n),
                esc(v)
            )
        })
        .collect();
    let body = format!(
        "<form method=\"post\" action=\"{}\" id=\"autosubmit\">{inputs}\
         <button type=\"submit\">Continue</button></form>\
         <script src=\"{}/static/autosubmit.js\"></script>",
        esc(action),
        gw.inner.prefix
    );
    html(
        StatusCode::OK,
        page(&gw.inner.prefix, "Signing in", None, &body),
    )
}

/// `POST BASE/saml/acs`.
pub(crate) async fn saml_acs(
    State(gw): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let callback = match Callback::parse(&body) {
        Ok(c) => c,
        Err(e) => {
            let reference = gw.record(&e, e.to_string(), None);
            return gw.failed_page(None, &reference);
        }
    };
    let decoded = callback.get("SAMLResponse").map(decode_saml);
    gw.finish(&headers, client, callback, decoded).await
}

/// The SAML response as text for the troubleshooting page (at most 64 KiB).
fn decode_saml(b64: &str) -> String {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Ok(bytes) => String::from_utf8_lossy(bytes.get(..65_536).unwrap_or(&bytes)).into_owned(),
        Err(e) => format!("(not base64: {e})"),
    }
}

/// The OIDC callback's parameters for the troubleshooting page, without the code.
fn describe_oidc(callback: &Callback) -> String {
    ["state", "iss", "error", "error_description"]
        .iter()
        .filter_map(|n| callback.get(n).map(|v| format!("{n} = {v}")))
        .chain(
            callback
                .get("code")
                .map(|_| "code = (present, not shown)".to_owned()),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// The callback's description, followed by the refused ID token's decoded, UNVERIFIED
/// header and claims when the OIDC crate kept them (never the access token).
fn with_refused_token(params: String, error: &BrokerError) -> String {
    match unverified_token(error) {
        Some(dump) => format!("{params}\n\n{}", dump.to_text()),
        None => params,
    }
}

/// The OIDC error's token dump, found in the error's source chain. The broker keeps a
/// protocol's error as the `cause` of [`BrokerError::Protocol`], outside `source()`.
fn unverified_token(error: &BrokerError) -> Option<&jsm_sso_oidc::TokenDump> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    // A bound on the walk: a chain is a few errors long.
    for _ in 0..16 {
        let current = next?;
        if let Some(dump) = current
            .downcast_ref::<jsm_sso_oidc::Error>()
            .and_then(jsm_sso_oidc::Error::unverified_token)
        {
            return Some(dump);
        }
        next = match current.downcast_ref::<BrokerError>() {
            Some(BrokerError::Protocol { cause, .. }) => {
                let cause: &(dyn std::error::Error + 'static) = cause.as_ref();
                Some(cause)
            }
            _ => current.source(),
        };
    }
    None
}

/// `GET BASE/oidc/callback/{idp}` (query response mode).
pub(crate) async fn oidc_callback_get(
    State(gw): State<Gateway>,
    Path(idp): Path<String>,
    client: Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    oidc_callback(
        gw,
        idp,
        client,
        headers,
        query.unwrap_or_default().as_bytes(),
    )
    .await
}

/// `POST BASE/oidc/callback/{idp}` (`form_post`).
pub(crate) async fn oidc_callback_post(
    State(gw): State<Gateway>,
    Path(idp): Path<String>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    oidc_callback(gw, idp, client, headers, &body).await
}

async fn oidc_callback(
    gw: Gateway,
    idp: String,
    client: Client,
    headers: HeaderMap,
    params: &[u8],
) -> Response {
    let callback = match Callback::parse(params) {
        Ok(c) => c.arrived_for(idp.as_str()),
        Err(e) => {
            let reference = gw.record(&e, e.to_string(), None);
            return gw.failed_page(None, &reference);
        }
    };
    let decoded = Some(describe_oidc(&callback));
    gw.finish(&headers, client, callback, decoded).await
}

/// `GET BASE/saml/metadata`.
pub(crate) async fn saml_metadata(State(gw): State<Gateway>) -> Response {
    let Some(sp) = &gw.inner.parts.saml_sp else {
        return message(
            &gw,
            StatusCode::NOT_FOUND,
            "Not found",
            "No SAML IdP is configured.",
        );
    };
    match sp.metadata(&gw.inner.parts.saml_certificates, false) {
        Ok(xml) => {
            let mut response = Response::new(axum::body::Body::from(xml));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            response
        }
        Err(e) => {
            let reference = gw.record(&e, e.to_string(), None);
            gw.failed_page(None, &reference)
        }
    }
}

fn mfa_challenge(gw: &Gateway, headers: &HeaderMap) -> Option<(String, String)> {
    let binding = gw.login_binding(headers)?;
    let challenge = binding.strip_prefix("m.")?;
    Some((binding.to_owned(), challenge.to_owned()))
}

fn code_form(gw: &Gateway, binding: &str, note: Option<&str>) -> String {
    let note = note
        .map(|n| format!("<p class=\"message\" id=\"message\">{}</p>", esc(n)))
        .unwrap_or_default();
    format!(
        "{note}<form method=\"post\" action=\"{}\" id=\"mfa-form\">{}\
         <label for=\"code\">Code from your authenticator app</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         pattern=\"[0-9]{{6,8}}\" required><button type=\"submit\" id=\"verify\">Verify</button></form>",
        gw.url("/mfa"),
        csrf_field(&gw.inner.csrf.token(binding))
    )
}

/// `GET BASE/mfa/enrol`: the QR code and the first code.
pub(crate) async fn mfa_enrol_page(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let Some((binding, challenge)) = mfa_challenge(&gw, &headers) else {
        return see_other(&gw.url("/login"));
    };
    let store = &gw.inner.parts.store;
    let key = enrol_key(&challenge);
    let kept = match store.take(&key).await {
        Ok(Some(bytes)) => serde_json::from_slice::<KeptEnrolment>(&bytes)
            .ok()
            .map(|k| (k, bytes)),
        _ => None,
    };
    let Some((kept, bytes)) = kept else {
        return see_other(&gw.url("/mfa"));
    };
    // Kept for a reload until the challenge ends; the store entry is single use.
    let _ignored = store.put(&key, bytes, SystemTime::now() + ENROL_TTL).await;
    let body = format!(
        "<p>Your account needs a second factor. Scan this code with an authenticator app, \
         then enter the code it shows.</p><div class=\"qr\">{}</div>\
         <p>Or enter this key by hand:</p><p><code id=\"otpauth\">{}</code></p>{}",
        qr_svg(&kept.uri),
        esc(&kept.uri),
        code_form(&gw, &binding, None)
    );
    html(
        StatusCode::OK,
        page(&gw.inner.prefix, "Set up your second factor", None, &body),
    )
}

/// The QR code of the `otpauth://` URI as an SVG element (drawn here, so the page carries
/// no markup from elsewhere).
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// `GET BASE/mfa`: the challenge.
pub(crate) async fn mfa_page(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let Some((binding, _)) = mfa_challenge(&gw, &headers) else {
        return see_other(&gw.url("/login"));
    };
    let body = code_form(&gw, &binding, None);
    html(
        StatusCode::OK,
        page(&gw.inner.prefix, "Second factor", None, &body),
    )
}

/// `POST BASE/mfa`.
pub(crate) async fn mfa_submit(
    State(gw): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(fields) = form_fields(&body) else {
        return gw.refuse(&Error::Field("the form is malformed".into()));
    };
    let Some((binding, challenge)) = mfa_challenge(&gw, &headers) else {
        return gw.refuse(&Error::Csrf);
    };
    if let Err(e) = gw.check_csrf(Some(&binding), &fields) {
        return gw.refuse(&e);
    }
    let code = fields.get("code").map(String::as_str).unwrap_or_default();
    match gw
        .inner
        .parts
        .broker
        .complete_mfa(&challenge, code.trim(), client.source())
        .await
    {
        Ok(LoginOutcome::SignedIn(signed_in)) => {
            let _ignored = gw.inner.parts.store.take(&enrol_key(&challenge)).await;
            gw.signed_in(&signed_in)
        }
        Err(BrokerError::MfaRefused { attempts_left }) => {
            let note = format!("That code is not right. {attempts_left} attempts left.");
            let body = code_form(&gw, &binding, Some(&note));
            let mut response = html(
                StatusCode::BAD_REQUEST,
                page(&gw.inner.prefix, "Second factor", None, &body),
            );
            response.headers_mut().insert(
                "x-jsm-sso-error",
                HeaderValue::from_static("broker.mfa.refused"),
            );
            response
        }
        Ok(_) => see_other(&gw.url("/login")),
        Err(e) => gw.outcome(Err(e), None).await,
    }
}
