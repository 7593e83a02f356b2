//! Sign-out with SAML Single Logout: `POST BASE/logout` ends the local session and, for a
//! SAML session whose IdP has a logout endpoint, sends a signed LogoutRequest there;
//! `BASE/saml/slo` takes the IdP's answer, or the IdP's own LogoutRequest (IdP-initiated
//! logout, both bindings) and answers it.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use jsm_sso_broker::{Callback, CodedError, LogoutOutcome, Redirect};

use crate::gateway::Failure;
use crate::html::{esc, page};
use crate::respond::{form_fields, html, message, see_other, with_cookies};
use crate::security::random_value;
use crate::signin::post_form;
use crate::{Error, Gateway};

/// `POST BASE/logout`: the local session ends first, whatever the IdP does next.
pub(crate) async fn logout(State(gw): State<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(fields) = form_fields(&body) else {
        return gw.refuse(&Error::Field("the form is malformed".into()));
    };
    let session = match gw.session(&headers) {
        Ok((_, session)) => session,
        Err(e) => return gw.refuse(&e),
    };
    if let Err(e) = gw.check_csrf(Some(&session.id), &fields) {
        return gw.refuse(&e);
    }
    let clear = [gw.inner.cookies.clear_session()];
    let signed_out = format!("{}/login", gw.inner.prefix);
    let response = match gw.inner.parts.broker.begin_logout(&session).await {
        Ok(Some(Redirect::Location(url))) => see_other(&url),
        Ok(Some(Redirect::PostForm { action, fields, .. })) => post_form(&gw, &action, &fields),
        Ok(_) => see_other(&signed_out),
        // The local session has ended; the IdP's may not have. Say so, and keep the code for
        // the troubleshooting page.
        Err(e) => failed(
            &gw,
            &e,
            "You are signed out here, but your sign-in provider could not be told.",
        ),
    };
    with_cookies(response, &clear)
}

/// `GET BASE/saml/slo` (HTTP-Redirect binding).
pub(crate) async fn slo_get(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match Callback::parse(query.unwrap_or_default().as_bytes()) {
        Ok(message) => slo(gw, headers, message).await,
        Err(e) => failed(&gw, &e, "This sign-out message could not be read."),
    }
}

/// `POST BASE/saml/slo` (HTTP-POST binding).
pub(crate) async fn slo_post(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match Callback::parse(&body) {
        Ok(message) => slo(gw, headers, message.via_post()).await,
        Err(e) => failed(&gw, &e, "This sign-out message could not be read."),
    }
}

async fn slo(gw: Gateway, headers: HeaderMap, message: Callback) -> Response {
    // A cross-site POST carries no SameSite=Lax cookie: then there is no session to compare.
    let session = gw.session(&headers).ok().map(|(_, s)| s);
    match gw
        .inner
        .parts
        .broker
        .finish_logout(&message, session.as_ref())
        .await
    {
        Ok(LogoutOutcome::Completed) => {
            message_page(&gw, "You are signed out here and at your sign-in provider.")
        }
        Ok(LogoutOutcome::Requested {
            ends_session,
            response,
        }) => {
            let answer = match response {
                Redirect::Location(url) => see_other(&url),
                Redirect::PostForm { action, fields, .. } => post_form(&gw, &action, &fields),
                _ => message_page(&gw, "You are signed out."),
            };
            // The browser's session ends when it is the one named, or when none could be
            // read (the IdP vouched for this browser's sign-out); another person's stays.
            if ends_session || session.is_none() {
                with_cookies(answer, &[gw.inner.cookies.clear_session()])
            } else {
                answer
            }
        }
        Ok(_) => message_page(&gw, "You are signed out."),
        Err(e) => failed(&gw, &e, "This sign-out message was refused."),
    }
}

fn message_page(gw: &Gateway, text: &str) -> Response {
    let body = format!(
        "<p class=\"message\" id=\"message\">{}</p>\
         <p><a href=\"{}/login\" id=\"sign-in-again\">Sign in again</a></p>",
        esc(text),
        gw.inner.prefix
    );
    html(
        StatusCode::OK,
        page(&gw.inner.prefix, "Signed out", None, &body),
    )
}

/// A refused logout message: recorded for the troubleshooting page, shown with its reference.
fn failed(gw: &Gateway, error: &dyn CodedError, text: &str) -> Response {
    let reference = random_value().chars().take(12).collect::<String>();
    gw.record_failure(Failure {
        reference: reference.clone(),
        at: SystemTime::now(),
        code: error.code(),
        hint: error.hint(),
        detail: error.to_string(),
        decoded: None,
    });
    let mut response = message(
        gw,
        StatusCode::BAD_REQUEST,
        "Sign-out",
        &format!("{text} Reference: {reference}."),
    );
    if let Ok(code) = HeaderValue::from_str(error.code()) {
        response.headers_mut().insert("x-jsm-sso-error", code);
    }
    response
}
