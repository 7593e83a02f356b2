//! The REST routes of [`super::MemoryJsm`]: JSM's answers, status codes and error bodies.

use std::collections::BTreeSet;

use http::Method;
use serde_json::{Value, json};

use super::{RaisedRequest, State, UserRec};

/// servicedeskapi pages hold at most this many values, whatever `limit` asks.
const MAX_LIMIT: usize = 50;
/// The platform user search answers at most this many per page.
const MAX_SEARCH: usize = 100;
/// The platform user search does not page past this.
const SEARCH_WINDOW: usize = 1_000;

pub(super) fn respond(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if !response.body().is_empty() {
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    response
}

fn ok(value: &Value) -> http::Response<Vec<u8>> {
    respond(200, value.to_string().into_bytes())
}

fn created(value: &Value) -> http::Response<Vec<u8>> {
    respond(201, value.to_string().into_bytes())
}

fn no_content() -> http::Response<Vec<u8>> {
    respond(204, Vec::new())
}

/// servicedeskapi error body.
fn sd_error(status: u16, message: &str) -> http::Response<Vec<u8>> {
    let body = json!({
        "errorMessage": message,
        "i18nErrorMessage": { "i18nKey": "sd.error", "parameters": [] }
    });
    respond(status, body.to_string().into_bytes())
}

/// Platform error body.
fn platform_error(status: u16, message: &str) -> http::Response<Vec<u8>> {
    let body = json!({ "errorMessages": [message], "errors": {} });
    respond(status, body.to_string().into_bytes())
}

fn query(request: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn number(q: &[(String, String)], name: &str, default: usize) -> Result<usize, ()> {
    match param(q, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ()),
    }
}

fn user_json(u: &UserRec, platform: bool) -> Value {
    if platform {
        json!({
            "accountId": u.account_id,
            "accountType": u.account_type,
            "emailAddress": u.email,
            "displayName": u.display_name,
            "active": !u.portal_only_revoked,
            "timeZone": "Etc/UTC",
        })
    } else {
        json!({
            "accountId": u.account_id,
            "emailAddress": u.email,
            "displayName": u.display_name,
            "active": !u.portal_only_revoked,
            "timeZone": "Etc/UTC",
            "_links": {}
        })
    }
}

fn page(q: &[(String, String)], values: Vec<Value>) -> http::Response<Vec<u8>> {
    let (Ok(start), Ok(limit)) = (number(q, "start", 0), number(q, "limit", MAX_LIMIT)) else {
        return sd_error(400, "start and limit must be numbers");
    };
    let limit = limit.clamp(1, MAX_LIMIT);
    let total = values.len();
    let slice: Vec<Value> = values.into_iter().skip(start).take(limit).collect();
    let size = slice.len();
    ok(&json!({
        "_expands": [],
        "size": size,
        "start": start,
        "limit": limit,
        "isLastPage": start.saturating_add(size) >= total,
        "_links": {},
        "values": slice,
    }))
}

fn body(request: &http::Request<Vec<u8>>) -> Option<Value> {
    serde_json::from_slice(request.body()).ok()
}

/// Account ids named in `accountIds` (Cloud) or `usernames`.
fn accounts(value: &Value) -> Vec<String> {
    ["accountIds", "usernames"]
        .iter()
        .filter_map(|k| value.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn unknown_accounts<'a>(s: &State, ids: &'a [String]) -> Option<&'a String> {
    ids.iter().find(|id| !s.users.contains_key(*id))
}

pub(super) fn handle(s: &mut State, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    if request.headers().get(http::header::AUTHORIZATION).is_none() {
        return sd_error(401, "Client must be authenticated to access this resource.");
    }
    let path = request.uri().path();
    // Whatever prefix the site has (`/ex/jira/{cloudId}`, a context path), the API starts
    // at `/rest/`.
    let Some(rest) = path.find("/rest/").and_then(|i| path.get(i + 6..)) else {
        return sd_error(404, "not found");
    };
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let q = query(request);
    let experimental = request
        .headers()
        .get("x-experimentalapi")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"opt-in"));
    let m = request.method().clone();
    match segs.as_slice() {
        ["servicedeskapi", sd @ ..] => servicedesk(s, &m, sd, &q, request, experimental),
        ["api", "3" | "2", api @ ..] => platform(s, &m, api, &q, request),
        _ => sd_error(404, "not found"),
    }
}

fn percent_decode(seg: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", seg.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn org_id(text: &str) -> Option<u32> {
    text.parse().ok()
}

fn servicedesk(
    s: &mut State,
    m: &Method,
    path: &[&str],
    q: &[(String, String)],
    request: &http::Request<Vec<u8>>,
    experimental: bool,
) -> http::Response<Vec<u8>> {
    match (m.as_str(), path) {
        ("POST", ["customer"]) => {
            let Some(b) = body(request) else {
                return sd_error(400, "request body is not valid json");
            };
            let email = b
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let name = b
                .get("displayName")
                .or_else(|| b.get("fullName"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !email.contains('@') {
                return sd_error(400, "The email address is invalid.");
            }
            if s.by_email.contains_key(&email.to_ascii_lowercase()) {
                let strict = param(q, "strictConflictStatusCode") == Some("true");
                return sd_error(
                    if strict { 409 } else { 400 },
                    "An account already exists for this email.",
                );
            }
            let name = if name.is_empty() { email.clone() } else { name };
            let id = s.new_account(&email, &name, "customer");
            match s.users.get(&id) {
                Some(u) => created(&user_json(u, false)),
                None => sd_error(500, "lost the account"),
            }
        }
        ("PUT", ["customer", "user", account, "revoke-portal-only-access"]) => {
            match s.users.get_mut(*account) {
                Some(u) if u.account_type == "customer" => {
                    u.portal_only_revoked = true;
                    for desk in s.desks.values_mut() {
                        desk.customers.remove(*account);
                    }
                    no_content()
                }
                Some(_) => sd_error(400, "The account is not a portal-only customer."),
                None => sd_error(404, "The customer does not exist."),
            }
        }
        ("GET", ["organization"]) => {
            let filter = param(q, "accountId");
            let values = s
                .organizations
                .iter()
                .filter(|(_, o)| filter.is_none_or(|a| o.members.contains(a)))
                .map(|(id, o)| org_json(*id, &o.name))
                .collect();
            page(q, values)
        }
        ("POST", ["organization"]) => {
            let Some(name) = body(request)
                .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_owned))
            else {
                return sd_error(400, "The organization name is required.");
            };
            if s.organizations.values().any(|o| o.name == name) {
                return sd_error(400, "An organization with this name already exists.");
            }
            s.next_org += 1;
            let id = s.next_org;
            s.organizations.insert(
                id,
                super::OrgRec {
                    name: name.clone(),
                    ..super::OrgRec::default()
                },
            );
            created(&org_json(id, &name))
        }
        (method, ["organization", id, rest @ ..]) => {
            let Some(id) = org_id(id).filter(|id| s.organizations.contains_key(id)) else {
                return sd_error(404, "The organization does not exist.");
            };
            organization(s, method, id, rest, q, request)
        }
        ("GET", ["servicedesk"]) => {
            let values = s.desks.iter().map(|(id, d)| desk_json(id, d)).collect();
            page(q, values)
        }
        (method, ["servicedesk", desk, rest @ ..]) => {
            if !s.desks.contains_key(*desk) {
                return sd_error(404, "The service desk does not exist.");
            }
            service_desk(s, method, desk, rest, q, request, experimental)
        }
        ("POST", ["request"]) => create_request(s, request),
        _ => sd_error(404, "not found"),
    }
}

fn org_json(id: u32, name: &str) -> Value {
    json!({ "id": id.to_string(), "name": name, "scimManaged": false, "_links": {} })
}

fn desk_json(id: &str, d: &super::DeskRec) -> Value {
    json!({
        "id": id,
        "projectId": format!("100{id}"),
        "projectKey": d.project_key,
        "projectName": d.name,
        "_links": {}
    })
}

fn organization(
    s: &mut State,
    method: &str,
    id: u32,
    rest: &[&str],
    q: &[(String, String)],
    request: &http::Request<Vec<u8>>,
) -> http::Response<Vec<u8>> {
    match (method, rest) {
        ("GET", []) => {
            let name = s
                .organizations
                .get(&id)
                .map(|o| o.name.clone())
                .unwrap_or_default();
            ok(&org_json(id, &name))
        }
        ("DELETE", []) => {
            s.organizations.remove(&id);
            for desk in s.desks.values_mut() {
                desk.organizations.remove(&id);
            }
            no_content()
        }
        ("GET", ["user"]) => {
            let members: Vec<Value> = s
                .organizations
                .get(&id)
                .map(|o| {
                    o.members
                        .iter()
                        .filter_map(|a| s.users.get(a))
                        .map(|u| user_json(u, false))
                        .collect()
                })
                .unwrap_or_default();
            page(q, members)
        }
        ("POST" | "DELETE", ["user"]) => {
            let Some(b) = body(request) else {
                return sd_error(400, "request body is not valid json");
            };
            let ids = accounts(&b);
            if ids.is_empty() {
                return sd_error(400, "No users were given.");
            }
            if let Some(unknown) = unknown_accounts(s, &ids) {
                return sd_error(400, &format!("The user {unknown} does not exist."));
            }
            if let Some(org) = s.organizations.get_mut(&id) {
                for a in ids {
                    if method == "POST" {
                        org.members.insert(a);
                    } else {
                        org.members.remove(&a);
                    }
                }
            }
            no_content()
        }
        ("GET", ["property"]) => {
            let keys: Vec<Value> = s
                .organizations
                .get(&id)
                .map(|o| {
                    o.properties
                        .keys()
                        .map(|k| json!({ "key": k, "self": "" }))
                        .collect()
                })
                .unwrap_or_default();
            ok(&json!({ "keys": keys }))
        }
        (method, ["property", key]) => {
            let Some(org) = s.organizations.get_mut(&id) else {
                return sd_error(404, "The organization does not exist.");
            };
            property(&mut org.properties, method, key, request, false)
        }
        _ => sd_error(404, "not found"),
    }
}

fn property(
    properties: &mut std::collections::BTreeMap<String, Value>,
    method: &str,
    key: &str,
    request: &http::Request<Vec<u8>>,
    platform: bool,
) -> http::Response<Vec<u8>> {
    let err = |status, message: &str| {
        if platform {
            platform_error(status, message)
        } else {
            sd_error(status, message)
        }
    };
    if key.is_empty() || key.len() > 255 {
        return err(400, "The property key is invalid.");
    }
    match method {
        "GET" => match properties.get(key) {
            Some(v) => ok(&json!({ "key": key, "value": v })),
            None => err(404, "The property was not found."),
        },
        "PUT" => {
            if request.body().len() > 32_768 {
                return err(400, "The property value is too long.");
            }
            let Some(value) = body(request) else {
                return err(400, "The property value is not valid json.");
            };
            let existed = properties.insert(key.to_owned(), value).is_some();
            respond(if existed { 200 } else { 201 }, Vec::new())
        }
        "DELETE" => match properties.remove(key) {
            Some(_) => no_content(),
            None => err(404, "The property was not found."),
        },
        _ => err(405, "method not allowed"),
    }
}

fn service_desk(
    s: &mut State,
    method: &str,
    desk_id: &str,
    rest: &[&str],
    q: &[(String, String)],
    request: &http::Request<Vec<u8>>,
    experimental: bool,
) -> http::Response<Vec<u8>> {
    let Some(desk) = s.desks.get(desk_id).cloned() else {
        return sd_error(404, "The service desk does not exist.");
    };
    match (method, rest) {
        ("GET", []) => ok(&desk_json(desk_id, &desk)),
        ("GET" | "DELETE", ["customer"]) if !experimental => sd_error(
            412,
            "This is an experimental API. To use it, set the header X-ExperimentalApi: opt-in.",
        ),
        ("GET", ["customer"]) => {
            let filter = param(q, "query").map(str::to_ascii_lowercase);
            let values = desk
                .customers
                .iter()
                .filter_map(|a| s.users.get(a))
                .filter(|u| {
                    filter.as_ref().is_none_or(|f| {
                        u.email.to_ascii_lowercase().contains(f.as_str())
                            || u.display_name.to_ascii_lowercase().contains(f.as_str())
                    })
                })
                .map(|u| user_json(u, false))
                .collect();
            page(q, values)
        }
        ("POST" | "DELETE", ["customer"]) => {
            let Some(b) = body(request) else {
                return sd_error(400, "request body is not valid json");
            };
            let ids = accounts(&b);
            let unique: BTreeSet<&String> = ids.iter().collect();
            if ids.is_empty() || unique.len() != ids.len() {
                return sd_error(400, "The user list is empty or has duplicates.");
            }
            if let Some(unknown) = unknown_accounts(s, &ids) {
                return sd_error(400, &format!("The user {unknown} does not exist."));
            }
            if let Some(d) = s.desks.get_mut(desk_id) {
                for a in ids {
                    if method == "POST" {
                        d.customers.insert(a);
                    } else {
                        d.customers.remove(&a);
                    }
                }
            }
            no_content()
        }
        ("GET", ["organization"]) => {
            let values = desk
                .organizations
                .iter()
                .filter_map(|id| s.organizations.get(id).map(|o| org_json(*id, &o.name)))
                .collect();
            page(q, values)
        }
        ("POST" | "DELETE", ["organization"]) => {
            let Some(org) = body(request)
                .and_then(|b| b.get("organizationId").and_then(Value::as_u64))
                .and_then(|n| u32::try_from(n).ok())
            else {
                return sd_error(400, "organizationId is required.");
            };
            if !s.organizations.contains_key(&org) {
                return sd_error(404, "The organization does not exist.");
            }
            if let Some(d) = s.desks.get_mut(desk_id) {
                if method == "POST" {
                    d.organizations.insert(org);
                } else {
                    d.organizations.remove(&org);
                }
            }
            no_content()
        }
        ("GET", ["requesttype"]) => {
            let values = desk
                .request_types
                .iter()
                .map(|rt| request_type_json(desk_id, rt))
                .collect();
            page(q, values)
        }
        ("GET", ["requesttype", rt]) => match desk.request_types.iter().find(|r| r.id == *rt) {
            Some(rt) => ok(&request_type_json(desk_id, rt)),
            None => sd_error(404, "The request type does not exist."),
        },
        ("GET", ["requesttype", rt, "field"]) => {
            let Some(rt) = desk.request_types.iter().find(|r| r.id == *rt) else {
                return sd_error(404, "The request type does not exist.");
            };
            let fields: Vec<Value> = rt
                .fields
                .iter()
                .map(|(id, name, required)| {
                    json!({
                        "fieldId": id, "name": name, "required": required, "visible": true,
                        "jiraSchema": { "type": "string", "system": id },
                        "validValues": [], "defaultValues": [], "presetValues": []
                    })
                })
                .collect();
            ok(&json!({
                "canRaiseOnBehalfOf": true,
                "canAddRequestParticipants": true,
                "requestTypeFields": fields
            }))
        }
        _ => sd_error(404, "not found"),
    }
}

/// A `RequestTypeDTO`, as the listing and the single look-up answer it.
fn request_type_json(desk_id: &str, rt: &super::RequestTypeRec) -> Value {
    json!({
        "_expands": [],
        "id": rt.id, "name": rt.name, "description": "", "helpText": "",
        "issueTypeId": "10001", "serviceDeskId": desk_id, "portalId": desk_id,
        "groupIds": [], "canCreateRequest": true, "restrictionStatus": "OPEN",
        "_links": {}
    })
}

fn create_request(s: &mut State, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let Some(b) = body(request) else {
        return sd_error(400, "request body is not valid json");
    };
    let text = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (desk_id, rt_id) = (text("serviceDeskId"), text("requestTypeId"));
    let Some(desk) = s.desks.get(&desk_id) else {
        return sd_error(400, "The service desk does not exist.");
    };
    let Some(rt) = desk.request_types.iter().find(|r| r.id == rt_id) else {
        return sd_error(400, "The request type does not exist.");
    };
    let fields = b
        .get("requestFieldValues")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some((id, name, _)) = rt
        .fields
        .iter()
        .find(|(id, _, req)| *req && !fields.contains_key(id))
    {
        return platform_error(400, &format!("{name} ({id}) is required."));
    }
    if let Some(unknown) = fields
        .keys()
        .find(|k| !rt.fields.iter().any(|(id, _, _)| id == *k))
    {
        return sd_error(400, &format!("Field {unknown} is not on the request type."));
    }
    let reporter = b
        .get("raiseOnBehalfOf")
        .and_then(Value::as_str)
        .unwrap_or("qm:broker")
        .to_owned();
    if reporter != "qm:broker" && !s.users.contains_key(&reporter) {
        return sd_error(400, "The customer to raise on behalf of does not exist.");
    }
    let key = desk.project_key.clone();
    s.next_issue += 1;
    let issue_key = format!("{key}-{}", s.next_issue);
    let issue_id = (10_000 + s.next_issue).to_string();
    s.requests.push(RaisedRequest {
        issue_key: issue_key.clone(),
        service_desk_id: desk_id.clone(),
        request_type_id: rt_id.clone(),
        reporter: reporter.clone(),
        fields,
    });
    let reporter_json = s.users.get(&reporter).map(|u| user_json(u, false));
    created(&json!({
        "issueId": issue_id,
        "issueKey": issue_key,
        "requestTypeId": rt_id,
        "serviceDeskId": desk_id,
        "reporter": reporter_json,
        "_links": {}
    }))
}

fn platform(
    s: &mut State,
    method: &Method,
    path: &[&str],
    q: &[(String, String)],
    request: &http::Request<Vec<u8>>,
) -> http::Response<Vec<u8>> {
    match (method.as_str(), path) {
        ("GET", ["user", "search"]) => {
            let query = param(q, "query")
                .or_else(|| param(q, "username"))
                .unwrap_or_default()
                .to_ascii_lowercase();
            let (Ok(start), Ok(max)) = (number(q, "startAt", 0), number(q, "maxResults", 50))
            else {
                return platform_error(400, "startAt and maxResults must be numbers");
            };
            if query.is_empty() {
                return platform_error(400, "The query parameter is required.");
            }
            let max = max.min(MAX_SEARCH);
            let end = start.saturating_add(max).min(SEARCH_WINDOW);
            // Prefix match on email or display name (indexed), in account id order.
            let mut ids: BTreeSet<&String> = s
                .by_email
                .range::<String, _>(&query..)
                .take_while(|(e, _)| e.starts_with(&query))
                .map(|(_, id)| id)
                .collect();
            ids.extend(
                s.by_name
                    .range((query.clone(), String::new())..)
                    .take_while(|(n, _)| n.starts_with(&query))
                    .map(|(_, id)| id),
            );
            let values: Vec<Value> = ids
                .into_iter()
                .filter_map(|id| s.users.get(id))
                .skip(start)
                .take(end.saturating_sub(start))
                .map(|u| user_json(u, true))
                .collect();
            ok(&Value::Array(values))
        }
        (method, ["user", "properties", rest @ ..]) => {
            let Some(account) = param(q, "accountId").or_else(|| param(q, "userKey")) else {
                return platform_error(400, "accountId is required.");
            };
            let Some(user) = s.users.get_mut(account) else {
                return platform_error(404, "The user does not exist.");
            };
            match (method, rest) {
                ("GET", []) => {
                    let keys: Vec<Value> = user
                        .properties
                        .keys()
                        .map(|k| json!({ "key": k, "self": "" }))
                        .collect();
                    ok(&json!({ "keys": keys }))
                }
                (method, [key]) => property(&mut user.properties, method, key, request, true),
                _ => platform_error(404, "not found"),
            }
        }
        _ => platform_error(404, "not found"),
    }
}
