//! Small response helpers shared by the handlers.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::Gateway;
use crate::html::{esc, page};

/// The largest form body read, in bytes (a SAML response is read by the broker with its
/// own limit; other forms are small).
pub(crate) const MAX_FORM_BYTES: usize = 1024 * 1024;

/// An HTML response.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A 303 to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Adds `Set-Cookie` lines.
pub(crate) fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A plain message page.
pub(crate) fn message(gw: &Gateway, status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!("<p class=\"message\" id=\"message\">{}</p>", esc(text));
    html(status, page(&gw.inner.prefix, title, None, &body))
}

/// The fields of a form body; `None` when a field repeats or the body is not a form.
pub(crate) fn form_fields(body: &[u8]) -> Option<BTreeMap<String, String>> {
    if body.len() > MAX_FORM_BYTES {
        return None;
    }
    let mut out = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if out.insert(name.into_owned(), value.into_owned()).is_some() {
            return None;
        }
    }
    Some(out)
}
