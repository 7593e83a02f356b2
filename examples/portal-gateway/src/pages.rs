//! The customer's pages: portal list, request forms, plus static files, health, SCIM and the
//! security headers.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsm_sso_broker::gate::RequestDraft;
use jsm_sso_broker::{Action, CodedError, Error as BrokerError, Session};
use jsm_sso_core::directory::PortalId;
use jsm_sso_jira::model::RequestTypeField;

use crate::gateway::RequestForm;
use crate::html::{csrf_field, esc, page};
use crate::respond::{MAX_FORM_BYTES, form_fields, html, message, see_other};
use crate::security::Cookies;
use crate::{Error, Gateway};

const STYLE: &str = include_str!("../static/style.css");
const SCRIPT: &str = include_str!("../static/autosubmit.js");

impl Gateway {
    /// The session of the request's cookie: `(token, session)`.
    ///
    /// # Errors
    ///
    /// `gateway.session.missing` without a cookie or with one that does not open.
    pub fn session(&self, headers: &HeaderMap) -> Result<(String, Session), Error> {
        let token =
            Cookies::read(headers, self.inner.cookies.session_name()).ok_or(Error::NoSession)?;
        let session = self
            .inner
            .parts
            .broker
            .session_keys()
            .open(token, std::time::SystemTime::now())
            .map_err(|_| Error::NoSession)?;
        Ok((token.to_owned(), session))
    }

    fn portal_name(&self, id: &str) -> String {
        self.inner
            .parts
            .settings
            .portal_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("Portal {id}"))
    }

    fn form(&self, portal: &str, request_type: &str) -> Result<&RequestForm, Error> {
        self.inner
            .parts
            .settings
            .portals
            .iter()
            .filter(|p| p.id == portal)
            .flat_map(|p| p.request_types.iter())
            .find(|f| f.id == request_type)
            .ok_or_else(|| Error::NoForm {
                portal: portal.to_owned(),
                request_type: request_type.to_owned(),
            })
    }

    fn user_page(&self, session: &Session, title: &str, body: &str) -> String {
        let token = self.inner.csrf.token(&session.id);
        page(
            &self.inner.prefix,
            title,
            Some((&session.email, &token)),
            body,
        )
    }

    fn login_redirect(&self, portal: Option<&str>) -> Response {
        let to = match portal {
            Some(p) => format!("{}/login?portal={}", self.inner.prefix, url_component(p)),
            None => format!("{}/login", self.inner.prefix),
        };
        see_other(&to)
    }

    /// A refusal from the broker's gate as a page, with its code in `x-jsm-sso-error`.
    fn gate_refusal(&self, error: &BrokerError) -> Response {
        let (status, text) = match error {
            BrokerError::PortalDenied { .. } => (
                StatusCode::FORBIDDEN,
                "Your account does not have access to this portal.",
            ),
            BrokerError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "You have raised many requests recently; please try again later.",
            ),
            BrokerError::RequestInvalid(_) => (
                StatusCode::BAD_REQUEST,
                "The request is not complete: check the summary.",
            ),
            _ => (
                StatusCode::BAD_GATEWAY,
                "The helpdesk could not take the request now.",
            ),
        };
        let mut response = message(self, status, "Request", text);
        if let Ok(code) = HeaderValue::from_str(error.code()) {
            response.headers_mut().insert("x-jsm-sso-error", code);
        }
        response
    }
}

fn url_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `GET BASE/`.
pub(crate) async fn home(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    match gw.session(&headers) {
        Ok(_) => see_other(&format!("{}/portals", gw.inner.prefix)),
        Err(_) => gw.login_redirect(None),
    }
}

/// `GET BASE/healthz`: 503 when the audit log refuses events (fail-closed).
pub(crate) async fn healthz(State(gw): State<Gateway>) -> Response {
    let redis_down = match &gw.inner.parts.redis {
        Some(redis) => redis.ping().await.is_err(),
        None => false,
    };
    let (status, text) = match gw.inner.parts.audit.health() {
        jsm_sso_audit::Health::Failing { .. } => (StatusCode::SERVICE_UNAVAILABLE, "audit failing"),
        _ if redis_down => (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable"),
        _ => (StatusCode::OK, "ok"),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET BASE/static/style.css`.
pub(crate) async fn style() -> Response {
    static_file(STYLE, "text/css; charset=utf-8")
}

/// `GET BASE/static/autosubmit.js`: the one script (submits the SAML POST-binding form).
pub(crate) async fn script() -> Response {
    static_file(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET BASE/portals`.
pub(crate) async fn portals(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let Ok((_, session)) = gw.session(&headers) else {
        return gw.login_redirect(None);
    };
    let mut items = String::new();
    for portal in &session.portals {
        let id = portal.as_str();
        let forms: String = gw
            .inner
            .parts
            .settings
            .portals
            .iter()
            .filter(|p| p.id == id)
            .flat_map(|p| p.request_types.iter())
            .map(|f| {
                format!(
                    "<li><a href=\"{}/portals/{}/request/{}\" id=\"raise-{}-{}\">{}</a></li>",
                    gw.inner.prefix,
                    url_component(id),
                    url_component(&f.id),
                    esc(id),
                    esc(&f.id),
                    esc(&f.name)
                )
            })
            .collect();
        items.push_str(&format!(
            "<li class=\"portal\" id=\"portal-{}\"><h2>{}</h2><ul>{forms}</ul></li>",
            esc(id),
            esc(&gw.portal_name(id))
        ));
    }
    let body = if items.is_empty() {
        "<p id=\"no-portals\">Your account has no portals.</p>".to_owned()
    } else {
        format!("<ul class=\"portals\" id=\"portals\">{items}</ul>")
    };
    html(
        StatusCode::OK,
        gw.user_page(&session, "Your portals", &body),
    )
}

/// A fill template's value; `None` (the field is left out) when it names an attribute the
/// customer's IdP did not send. Templates were checked at start, so one that does not parse
/// (only possible for `Settings` built in code) fills nothing rather than its own text.
fn fill_value(template: &str, session: &Session) -> Option<String> {
    crate::template::fill(template, session)
}

async fn fields_of(
    gw: &Gateway,
    portal: &str,
    request_type: &str,
) -> Result<Vec<RequestTypeField>, Response> {
    match gw
        .inner
        .parts
        .jira
        .request_type_fields(portal, request_type)
        .await
    {
        Ok(fields) => Ok(fields.request_type_fields),
        Err(e) => {
            let reference = gw.record_error(&e);
            Err(message(
                gw,
                StatusCode::BAD_GATEWAY,
                "Request",
                &format!("The helpdesk is not reachable now (reference {reference})."),
            ))
        }
    }
}

impl Gateway {
    fn record_error(&self, e: &(dyn CodedError + 'static)) -> String {
        let reference = crate::security::random_value()
            .chars()
            .take(12)
            .collect::<String>();
        self.record_failure(crate::gateway::Failure {
            reference: reference.clone(),
            at: std::time::SystemTime::now(),
            code: e.code(),
            hint: e.hint(),
            detail: String::new(),
            decoded: None,
        });
        reference
    }
}

/// `GET BASE/portals/{portal}/request/{type}`.
pub(crate) async fn request_form(
    State(gw): State<Gateway>,
    Path((portal, request_type)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok((token, _)) = gw.session(&headers) else {
        return gw.login_redirect(Some(&portal));
    };
    let session = match gw
        .inner
        .parts
        .broker
        .authorize(&token, &PortalId::from(portal.as_str()), Action::View)
        .await
    {
        Ok(s) => s,
        Err(e) => return gw.gate_refusal(&e),
    };
    let form = match gw.form(&portal, &request_type) {
        Ok(f) => f.clone(),
        Err(e) => return gw.refuse(&e),
    };
    let fields = match fields_of(&gw, &portal, &request_type).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let mut inputs = String::new();
    for id in &form.show {
        let field = fields.iter().find(|f| &f.field_id == id);
        let name = field.map_or(id.as_str(), |f| f.name.as_str());
        let required = field.is_some_and(|f| f.required) || id == "summary";
        let req = if required { " required" } else { "" };
        let control = if id == "description" {
            format!(
                "<textarea id=\"f-{0}\" name=\"{0}\" rows=\"6\"{req}></textarea>",
                esc(id)
            )
        } else {
            format!("<input id=\"f-{0}\" name=\"{0}\"{req}>", esc(id))
        };
        inputs.push_str(&format!(
            "<label for=\"f-{}\">{}{}</label>{control}",
            esc(id),
            esc(name),
            if required { " *" } else { "" }
        ));
    }
    let filled: String = form
        .fill
        .iter()
        .map(|(id, template)| {
            let name = fields
                .iter()
                .find(|f| &f.field_id == id)
                .map_or(id.as_str(), |f| f.name.as_str());
            format!(
                "<li>{}: {}</li>",
                esc(name),
                esc(&fill_value(template, &session)
                    .unwrap_or_else(|| "(not sent by your sign-in)".to_owned()))
            )
        })
        .collect();
    let filled = if filled.is_empty() {
        String::new()
    } else {
        format!("<p>Filled from your account:</p><ul class=\"filled\">{filled}</ul>")
    };
    let body = format!(
        "<form method=\"post\" id=\"request-form\">{}{inputs}{filled}\
         <button type=\"submit\" id=\"send\">Send</button></form>",
        csrf_field(&gw.inner.csrf.token(&session.id)),
    );
    let title = format!("{}: {}", gw.portal_name(&portal), form.name);
    html(StatusCode::OK, gw.user_page(&session, &title, &body))
}

/// `POST BASE/portals/{portal}/request/{type}`.
pub(crate) async fn request_submit(
    State(gw): State<Gateway>,
    Path((portal, request_type)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(mut posted) = form_fields(&body) else {
        return gw.refuse(&Error::Field("the form is malformed".into()));
    };
    let Ok((token, session)) = gw.session(&headers) else {
        return gw.refuse(&Error::NoSession);
    };
    if let Err(e) = gw.check_csrf(Some(&session.id), &posted) {
        return gw.refuse(&e);
    }
    posted.remove("csrf");
    let form = match gw.form(&portal, &request_type) {
        Ok(f) => f.clone(),
        Err(e) => return gw.refuse(&e),
    };
    if let Some(extra) = posted.keys().find(|k| !form.show.contains(k)) {
        return gw.refuse(&Error::Field(format!("{extra} is not on this form")));
    }
    let portal_id = PortalId::from(portal.as_str());
    // The gate first: a customer without the portal learns nothing about its fields.
    if let Err(e) = gw
        .inner
        .parts
        .broker
        .authorize(&token, &portal_id, Action::RaiseRequest)
        .await
    {
        return gw.gate_refusal(&e);
    }
    let fields = match fields_of(&gw, &portal, &request_type).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    for id in &form.show {
        let required = fields.iter().any(|f| &f.field_id == id && f.required);
        if required && posted.get(id).is_none_or(|v| v.trim().is_empty()) {
            return gw.refuse(&Error::Field(format!("{id} is required")));
        }
    }
    let summary = posted.remove("summary").unwrap_or_default();
    let description = posted.remove("description").unwrap_or_default();
    let mut draft = RequestDraft::new(request_type.as_str(), summary, description);
    for (id, value) in posted {
        if !value.trim().is_empty() {
            draft = draft.field(id, value);
        }
    }
    for (id, template) in &form.fill {
        if let Some(value) = fill_value(template, &session) {
            draft = draft.field(id.as_str(), value);
        }
    }
    match gw
        .inner
        .parts
        .broker
        .raise_request(&token, &portal_id, &draft)
        .await
    {
        Ok(raised) => {
            let body = format!(
                "<p class=\"message\" id=\"message\">Request <strong id=\"request-key\">{}</strong> was raised.</p>\
                 <p><a href=\"{}/portals\">Back to your portals</a></p>",
                esc(&raised.key),
                gw.inner.prefix
            );
            html(
                StatusCode::OK,
                gw.user_page(&session, "Request raised", &body),
            )
        }
        Err(e) => gw.gate_refusal(&e),
    }
}

/// `BASE/scim/v2/...`: the SCIM service (its own bearer-token authentication).
pub(crate) async fn scim(State(gw): State<Gateway>, request: Request) -> Response {
    let Some(service) = gw.inner.parts.scim.clone() else {
        return message(
            &gw,
            StatusCode::NOT_FOUND,
            "Not found",
            "SCIM is not configured.",
        );
    };
    let (mut parts, body) = request.into_parts();
    let limit = service.max_body_bytes().max(MAX_FORM_BYTES);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let mut response = Response::new(Body::from("request body too large"));
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return response;
    };
    // The SCIM service routes on the path under its base; strip the gateway's own prefix.
    if let Some(pq) = parts.uri.path_and_query() {
        let local = pq
            .as_str()
            .strip_prefix(gw.inner.prefix.as_str())
            .unwrap_or(pq.as_str());
        if let Ok(uri) = local.parse() {
            parts.uri = uri;
        }
    }
    let response = service
        .handle(http::Request::from_parts(parts, bytes))
        .await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body))
}

/// Adds the security headers of `docs/gateway.md` to every response.
pub(crate) async fn security_headers(
    State(gw): State<Gateway>,
    mut response: Response,
) -> Response {
    let h = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&gw.inner.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if gw.inner.secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
