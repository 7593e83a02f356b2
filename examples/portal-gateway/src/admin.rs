//! The admin pages: customers, the audit log with its hash-chain status, troubleshooting.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use jsm_sso_audit::{Details, EventKind, Found, Query as AuditQuery, SinkError};
use jsm_sso_broker::Session;
use jsm_sso_core::directory::CustomerId;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_core::{Email, VerifiedIdentity};
use serde::Deserialize;

use crate::html::esc;
use crate::respond::{html, message, see_other};
use crate::{Error, Gateway};

/// The most events the audit page shows.
const MAX_EVENTS: usize = 500;

async fn guard(gw: &Gateway, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(admin) = &gw.inner.parts.settings.admin else {
        return Err(message(
            gw,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ));
    };
    let Ok((_, session)) = gw.session(headers) else {
        return Err(see_other(&format!("{}/login", gw.inner.prefix)));
    };
    let idp_ok = admin.idps.iter().any(|i| i == session.idp.as_str());
    let email_ok = admin
        .emails
        .iter()
        .any(|e| e.eq_ignore_ascii_case(&session.email));
    let group_ok = admin.groups.iter().any(|g| session.groups.contains(g));
    if !(idp_ok && (email_ok || group_ok)) {
        return Err(gw.refuse(&Error::NotAdmin {
            email: session.email.clone(),
            idp: session.idp.to_string(),
        }));
    }
    if admin.require_mfa && !session.mfa {
        return Err(gw.refuse(&Error::AdminMfa));
    }
    Ok(session)
}

fn admin_page(gw: &Gateway, session: &Session, title: &str, body: &str) -> Response {
    let nav = format!(
        "<p class=\"adminnav\"><a href=\"{p}/admin/customers\">Customers</a> · \
         <a href=\"{p}/admin/audit\">Audit log</a> · <a href=\"{p}/admin/troubleshoot\">Troubleshooting</a></p>",
        p = gw.inner.prefix
    );
    let token = gw.inner.csrf.token(&session.id);
    html(
        StatusCode::OK,
        crate::html::page(
            &gw.inner.prefix,
            title,
            Some((&session.email, &token)),
            &format!("{nav}{body}"),
        ),
    )
}

/// `GET BASE/admin`.
pub(crate) async fn index(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    match guard(&gw, &headers).await {
        Ok(session) => admin_page(
            &gw,
            &session,
            "Administration",
            "<p>Choose a page above.</p>",
        ),
        Err(r) => r,
    }
}

/// Before an admin page reads the log: the page saying there is no log this gateway reads,
/// or the log flushed so the page sees the latest events.
async fn log_ready(gw: &Gateway, session: &Session, title: &str) -> Result<(), Response> {
    let parts = &gw.inner.parts;
    if parts.audit_files.is_none() && parts.audit_table.is_none() {
        return Err(admin_page(
            gw,
            session,
            title,
            "<p>The audit log is not kept in files or a table this gateway reads.</p>",
        ));
    }
    let _flushed = parts.audit.flush().await;
    Ok(())
}

/// Events matching `query`, from the audit files, else the audit table; on failure, the
/// error page titled `title`.
async fn read_events(
    gw: &Gateway,
    query: &AuditQuery,
    title: &str,
) -> Result<Vec<Found>, Response> {
    let parts = &gw.inner.parts;
    let found = match (&parts.audit_files, &parts.audit_table) {
        (Some(files), _) => files.sink.query(query).await,
        (None, Some(table)) => table.sink.query(query).await,
        (None, None) => Err(SinkError::Unavailable("no audit files or table".into())),
    };
    found.map_err(|e| message(gw, StatusCode::INTERNAL_SERVER_ERROR, title, &e.to_string()))
}

/// The verdict on the hash chain and signatures of the log the audit page reads.
async fn chain_status(gw: &Gateway) -> String {
    let parts = &gw.inner.parts;
    let (verdict, place) = match (&parts.audit_files, &parts.audit_table) {
        (Some(files), _) => match files.sink.verify(Some(files.key.clone())).await {
            Ok(Ok(report)) => (Ok(Ok(report)), String::new()),
            Ok(Err((path, e))) => (Ok(Err(e)), format!(" in {}", path.display())),
            Err(e) => (Err(e), String::new()),
        },
        (None, Some(table)) => (
            table.sink.verify(Some(&table.key)).await,
            " in the PostgreSQL table".to_owned(),
        ),
        (None, None) => return String::new(),
    };
    match verdict {
        Ok(Ok(report)) => format!(
            "<p class=\"ok\" id=\"chain\">Hash chain intact: {} records ({} events), signatures {}, head <code>{}</code>.</p>",
            report.count,
            report.events,
            if report.signatures_checked {
                "verified"
            } else {
                "not checked"
            },
            esc(&report.head.to_string())
        ),
        // A live log has no closing checkpoint yet: every record up to the last one is
        // chained and signed, which verification reports as "truncated" for an open log.
        Ok(Err(e)) if jsm_sso_core::CodedError::code(&e) == "audit.verify.truncated" => format!(
            "<p class=\"ok\" id=\"chain\">Hash chain intact up to the latest record; the log is open (no closing checkpoint yet{}).</p>",
            esc(&place)
        ),
        Ok(Err(e)) => format!(
            "<p class=\"bad\" id=\"chain\">Hash chain BROKEN{}: {} ({})</p>",
            esc(&place),
            esc(&e.to_string()),
            esc(jsm_sso_core::CodedError::code(&e))
        ),
        Err(e) => format!(
            "<p class=\"bad\" id=\"chain\">Cannot read the log: {}</p>",
            esc(&e.to_string())
        ),
    }
}

fn time_text(at: SystemTime) -> String {
    jsm_sso_audit::Timestamp::from_system_time(at).to_string()
}

/// `GET BASE/admin/customers`: who signed in, through which IdP, when, with which
/// organizations, portals and second factor, and what the broker manages.
pub(crate) async fn customers(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let session = match guard(&gw, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(page) = log_ready(&gw, &session, "Customers").await {
        return page;
    }
    let query = AuditQuery::new()
        .kind(EventKind::SigninSucceeded)
        .kind(EventKind::MfaEnrolled);
    let found = match read_events(&gw, &query, "Customers").await {
        Ok(f) => f,
        Err(page) => return page,
    };
    // Latest sign-in per customer id, and who enrolled a second factor.
    let mut latest: BTreeMap<String, (String, String, String, bool)> = BTreeMap::new();
    let mut enrolled: BTreeMap<String, bool> = BTreeMap::new();
    for f in found {
        let event = f.event;
        let email = event
            .customer
            .as_ref()
            .and_then(|c| c.email.clone())
            .unwrap_or_default();
        let id = event
            .customer
            .as_ref()
            .and_then(|c| c.id.clone())
            .unwrap_or_else(|| email.clone());
        match &event.details {
            Details::SigninSucceeded { mfa, .. } => {
                let idp = event
                    .idp
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                latest.insert(id, (email, idp, event.time.to_string(), *mfa));
            }
            Details::MfaEnrolled { .. } => {
                enrolled.insert(email, true);
            }
            _ => {}
        }
    }
    let ledger = gw.inner.parts.broker.provisioner().ledger().clone();
    let mut rows = String::new();
    for (id, (email, idp, at, mfa)) in &latest {
        let managed = ledger
            .load(&CustomerId::from(id.as_str()))
            .await
            .ok()
            .flatten();
        let organizations = match gw.inner.parts.jira.organizations_of(id) {
            Ok(pager) => pager
                .try_collect()
                .await
                .map(|orgs| {
                    orgs.into_iter()
                        .map(|o| o.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|e| format!("({e})")),
            Err(e) => format!("({e})"),
        };
        let (portals, marks) = match &managed {
            Some(m) => (
                m.portals
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                format!(
                    "managed{}{}",
                    if m.created { ", created by broker" } else { "" },
                    if m.deprovisioned {
                        ", deprovisioned"
                    } else {
                        ""
                    }
                ),
            ),
            None => (String::new(), "not managed".to_owned()),
        };
        let mfa_status = if enrolled.get(email).copied().unwrap_or(false) || *mfa {
            "TOTP"
        } else {
            "none"
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(email),
            esc(idp),
            esc(at),
            esc(&organizations),
            esc(&portals),
            mfa_status,
            esc(&marks)
        ));
    }
    let body = format!(
        "<table id=\"customers\"><tr><th>Email</th><th>IdP</th><th>Last sign-in</th>\
         <th>Organizations</th><th>Portals</th><th>MFA</th><th>Broker</th></tr>{rows}</table>"
    );
    admin_page(&gw, &session, "Customers", &body)
}

/// The audit page's filter.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditFilter {
    kind: Option<String>,
    customer: Option<String>,
    outcome: Option<String>,
}

/// `GET BASE/admin/audit`.
pub(crate) async fn audit(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let session = match guard(&gw, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(page) = log_ready(&gw, &session, "Audit log").await {
        return page;
    }
    let mut query = AuditQuery::new();
    let kind = filter.kind.as_deref().filter(|k| !k.is_empty());
    if let Some(k) = kind {
        match EventKind::ALL.iter().find(|e| e.as_str() == k) {
            Some(e) => query = query.kind(*e),
            None => {
                return message(
                    &gw,
                    StatusCode::BAD_REQUEST,
                    "Audit log",
                    "Unknown event kind.",
                );
            }
        }
    }
    if let Some(c) = filter.customer.as_deref().filter(|c| !c.is_empty()) {
        query = query.customer(c);
    }
    match filter.outcome.as_deref() {
        Some("success") => query = query.success(true),
        Some("failure") => query = query.success(false),
        _ => {}
    }
    let chain = chain_status(&gw).await;
    let found = match read_events(&gw, &query, "Audit log").await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let skip = found.len().saturating_sub(MAX_EVENTS);
    let mut rows = String::new();
    for f in found.iter().skip(skip).rev() {
        let e = &f.event;
        let who = e
            .customer
            .as_ref()
            .and_then(|c| c.email.clone().or_else(|| c.id.clone()))
            .unwrap_or_default();
        let outcome = e.outcome.code().unwrap_or("ok");
        rows.push_str(&format!(
            "<tr class=\"event\"><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.seq,
            esc(&e.time.to_string()),
            esc(e.kind().as_str()),
            if e.outcome.is_success() { "ok" } else { "bad" },
            esc(outcome),
            esc(&who),
            esc(&e.idp.as_ref().map(ToString::to_string).unwrap_or_default()),
            esc(e.correlation_id.as_deref().unwrap_or_default()),
        ));
    }
    let options: String = EventKind::ALL
        .iter()
        .map(|k| {
            let selected = if Some(k.as_str()) == kind {
                " selected"
            } else {
                ""
            };
            format!("<option{selected}>{}</option>", k.as_str())
        })
        .collect();
    let body = format!(
        "{chain}<form method=\"get\" id=\"audit-filter\"><label for=\"kind\">Kind</label>\
         <select id=\"kind\" name=\"kind\"><option value=\"\">any</option>{options}</select>\
         <label for=\"customer\">Customer (email or id)</label><input id=\"customer\" name=\"customer\" value=\"{}\">\
         <label for=\"outcome\">Outcome</label><select id=\"outcome\" name=\"outcome\">\
         <option value=\"\">any</option><option>success</option><option>failure</option></select>\
         <button type=\"submit\">Filter</button></form>\
         <table id=\"events\"><tr><th>#</th><th>Time</th><th>Kind</th><th>Outcome</th><th>Customer</th>\
         <th>IdP</th><th>Correlation</th></tr>{rows}</table>",
        esc(filter.customer.as_deref().unwrap_or_default())
    );
    admin_page(&gw, &session, "Audit log", &body)
}

/// The troubleshooting page's form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Troubleshoot {
    email: Option<String>,
    idp: Option<String>,
    groups: Option<String>,
    reference: Option<String>,
}

/// `GET BASE/admin/troubleshoot`: the policy's explanation for an identity, and the failed
/// sign-ins (code, hint, decoded SAML response, or the OIDC callback and the refused token's
/// unverified claims).
pub(crate) async fn troubleshoot(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(form): Query<Troubleshoot>,
) -> Response {
    let session = match guard(&gw, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut body = String::new();
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let idp = form.idp.as_deref().map(str::trim).filter(|i| !i.is_empty());
    body.push_str(&format!(
        "<h2>Explain a decision</h2><form method=\"get\" id=\"explain\">\
         <label for=\"t-email\">Email (as the IdP vouches for it)</label><input id=\"t-email\" name=\"email\" value=\"{}\">\
         <label for=\"t-idp\">IdP id</label><input id=\"t-idp\" name=\"idp\" value=\"{}\">\
         <label for=\"t-groups\">Groups (comma-separated)</label><input id=\"t-groups\" name=\"groups\" value=\"{}\">\
         <button type=\"submit\">Explain</button></form>",
        esc(email.unwrap_or_default()),
        esc(idp.unwrap_or_default()),
        esc(form.groups.as_deref().unwrap_or_default())
    ));
    if let (Some(email), Some(policy)) = (email, &gw.inner.parts.policy) {
        match Email::parse(email) {
            Ok(parsed) => {
                let idp = idp
                    .map(str::to_owned)
                    .or_else(|| gw.inner.parts.settings.idps.first().map(|i| i.id.clone()))
                    .unwrap_or_default();
                let mut identity = VerifiedIdentity::new(
                    idp.as_str(),
                    Protocol::Saml2,
                    Subject::new(email),
                    SystemTime::now(),
                );
                identity.email = Some(parsed);
                identity.email_verified = true;
                identity.groups = form
                    .groups
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect();
                let evaluation = policy.evaluate(&identity);
                body.push_str(&format!(
                    "<pre id=\"explanation\">{}</pre>",
                    esc(&evaluation.to_text())
                ));
            }
            Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
        }
    }
    body.push_str("<h2>Failed sign-ins</h2><table id=\"failures\"><tr><th>Reference</th><th>Time</th><th>Code</th><th>Hint</th></tr>");
    let failures = gw.failures();
    for f in &failures {
        body.push_str(&format!(
            "<tr><td><a href=\"{}/admin/troubleshoot?reference={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            gw.inner.prefix,
            esc(&f.reference),
            esc(&f.reference),
            esc(&time_text(f.at)),
            esc(f.code),
            esc(f.hint)
        ));
    }
    body.push_str("</table>");
    if let Some(reference) = form.reference.as_deref()
        && let Some(f) = failures.iter().find(|f| f.reference == reference)
    {
        body.push_str(&format!(
            "<h2>Sign-in {}</h2><p>Code <code id=\"failure-code\">{}</code></p><p>Hint: {}</p><pre>{}</pre>",
            esc(&f.reference),
            esc(f.code),
            esc(f.hint),
            esc(&f.detail)
        ));
        if let Some(decoded) = &f.decoded {
            body.push_str(&format!(
                "<h3>Decoded message</h3><pre id=\"decoded\">{}</pre>",
                esc(decoded)
            ));
        }
    }
    admin_page(&gw, &session, "Troubleshooting", &body)
}
