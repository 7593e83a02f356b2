//! Every rejection path through the HTTP surface: exact status, `scimType`, and (for writes)
//! the error code in the failed audit event.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the test loudly"
)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{Harness, OKTA_TOKEN as T, vector};
use http::Request;
use jsm_sso_core::Secret;
use jsm_sso_scim::{CodedError, ConfigError, FilterLimits, MemoryStore, ScimService};
use serde_json::{Value, json};

fn assert_error(status: u16, body: &Value, want_status: u16, scim_type: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], want_status.to_string());
    assert_eq!(
        body.get("scimType").and_then(Value::as_str),
        scim_type,
        "{body}"
    );
}

async fn user(h: &Harness, name: &str) -> String {
    let (s, u, _) = h
        .call(
            T,
            "POST",
            "/Users",
            Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})),
        )
        .await;
    assert_eq!(s, 201);
    u["id"].as_str().unwrap().to_owned()
}

async fn last_failure(h: &Harness) -> String {
    let events = h.events().await;
    events
        .last()
        .unwrap()
        .split("failed=")
        .nth(1)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn authentication() {
    let h = Harness::new().await;
    let raw = |auth: Option<&str>| {
        let mut b = Request::get("/scim/v2/Users");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Bytes::new()).unwrap()
    };
    for (auth, code) in [
        (None, "scim.auth.missing"),
        (Some("Basic b2t0YTpwdw=="), "scim.auth.missing"),
        (
            Some("Bearer wrong-token-0123456789abcdef0123456789"),
            "scim.auth.invalid",
        ),
    ] {
        let resp = h.service.handle(raw(auth)).await;
        let body: Value = serde_json::from_slice(resp.body()).unwrap();
        assert_error(resp.status().as_u16(), &body, 401, None);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"scim\"");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(if code.ends_with("missing") {
                    "missing"
                } else {
                    "not recognised"
                })
        );
    }
    // Discovery endpoints need the token too.
    let resp = h
        .service
        .handle(Request::get("/scim/v2/Schemas").body(Bytes::new()).unwrap())
        .await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn request_shape() {
    let h = Harness::new().await;
    let big = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x".repeat(70_000)});
    let (s, b, _) = h.call(T, "POST", "/Users", Some(&big)).await;
    assert_error(s, &b, 413, None);
    assert_eq!(last_failure(&h).await, "scim.request.too_large");

    let send = |ct: &str, body: &'static str| {
        Request::post("/scim/v2/Users")
            .header("authorization", format!("Bearer {T}"))
            .header("content-type", ct)
            .body(Bytes::from(body))
            .unwrap()
    };
    let resp = h.service.handle(send("text/plain", "{}")).await;
    assert_eq!(resp.status(), 415);
    assert_eq!(last_failure(&h).await, "scim.request.media_type");
    let resp = h
        .service
        .handle(send("application/json", "{\"userName\": "))
        .await;
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_error(resp.status().as_u16(), &body, 400, Some("invalidSyntax"));
    assert_eq!(last_failure(&h).await, "scim.request.malformed");
    let resp = h.service.handle(send("application/scim+json", "[1]")).await;
    assert_eq!(resp.status(), 400);
    let (s, b, _) = h
        .call(T, "POST", "/Users", Some(&json!({"userName": "a"})))
        .await;
    assert_error(s, &b, 400, Some("invalidSyntax"));
    assert_eq!(last_failure(&h).await, "scim.request.schema");
}

#[tokio::test]
async fn routing() {
    let h = Harness::new().await;
    for path in [
        "/Foo",
        "/Users/a/b",
        "/ResourceTypes/Nope",
        "/Schemas/urn:nope",
        "",
    ] {
        let (s, b, _) = h.call(T, "GET", path, None).await;
        assert_error(s, &b, 404, None);
    }
    let resp = h
        .service
        .handle(
            Request::get("/other/Users")
                .header("authorization", format!("Bearer {T}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), 404);
    let resp = h
        .service
        .handle(
            Request::get("/scim/v2Users")
                .header("authorization", format!("Bearer {T}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(resp.status(), 404);
    for (m, p) in [
        ("DELETE", "/Users"),
        ("PUT", "/ServiceProviderConfig"),
        ("PATCH", "/Groups"),
    ] {
        let (s, b, _) = h.call(T, m, p, Some(&json!({}))).await;
        assert_error(s, &b, 405, None);
    }
    let (s, b, _) = h.call(T, "POST", "/Users/abc", Some(&json!({}))).await;
    assert_error(s, &b, 405, None);
    for p in ["/Bulk", "/Me"] {
        let (s, b, _) = h.call(T, "GET", p, None).await;
        assert_error(s, &b, 501, None);
    }
}

#[tokio::test]
async fn not_found_and_versions() {
    let h = Harness::new().await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"});
    for (m, b) in [
        ("GET", None),
        ("PUT", Some(&put)),
        ("PATCH", Some(&patch)),
        ("DELETE", None),
    ] {
        let (s, body, _) = h.call(T, m, "/Users/nope", b).await;
        assert_error(s, &body, 404, None);
    }
    assert_eq!(last_failure(&h).await, "scim.resource.not_found");

    let id = user(&h, "v@example.com").await;
    let path = format!("/Users/{id}");
    let (s, _, r) = h
        .call_with(T, "GET", &path, None, &[("if-none-match", "W/\"1\"")])
        .await;
    assert_eq!((s, r.headers()["etag"].to_str().unwrap()), (304, "W/\"1\""));
    for (m, b) in [
        ("PUT", Some(&put)),
        ("PATCH", Some(&patch)),
        ("DELETE", None),
    ] {
        let (s, body, _) = h
            .call_with(T, m, &path, b, &[("if-match", "W/\"7\"")])
            .await;
        assert_error(s, &body, 412, None);
        assert_eq!(last_failure(&h).await, "scim.resource.version_mismatch");
    }
    let (s, u, _) = h
        .call_with(T, "PATCH", &path, Some(&patch), &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!((s, &u["meta"]["version"]), (200, &json!("W/\"2\"")));
    let (s, _, _) = h
        .call_with(T, "PUT", &path, Some(&put), &[("if-match", "\"2\"")])
        .await;
    assert_eq!(
        s, 200,
        "a strong form of the same version matches (weak comparison)"
    );
    let (s, _, _) = h
        .call_with(T, "DELETE", &path, None, &[("if-match", "*")])
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn values_and_uniqueness() {
    let h = Harness::new().await;
    let a = user(&h, "alice@example.com").await;
    let _b = user(&h, "bob@example.com").await;
    let (s, b, _) = h.call(T, "POST", "/Users", Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ALICE@example.com"}))).await;
    assert_error(s, &b, 409, Some("uniqueness"));
    assert_eq!(last_failure(&h).await, "scim.resource.uniqueness");
    let (s, b, _) = h
        .call(
            T,
            "PUT",
            &format!("/Users/{a}"),
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Bob@Example.com"})),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (s, b, _) = h
        .call(
            T,
            "PATCH",
            &format!("/Users/{a}"),
            Some(&patch(
                json!([{"op": "replace", "path": "userName", "value": "bob@EXAMPLE.com"}]),
            )),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));

    for (body, code) in [
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 42}),
            "scim.attribute.invalid_value",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": " "}),
            "scim.attribute.invalid_value",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "c", "active": "nope"}),
            "scim.attribute.invalid_value",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "c", "emails": [{"value": 5}]}),
            "scim.attribute.invalid_value",
        ),
    ] {
        let (s, b, _) = h.call(T, "POST", "/Users", Some(&body)).await;
        assert_error(s, &b, 400, Some("invalidValue"));
        assert_eq!(last_failure(&h).await, code);
    }
    let (s, b, _) = h
        .call(
            T,
            "POST",
            "/Groups",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
        "members": [{"value": a}, {"value": "ghost"}]})),
        )
        .await;
    assert_error(s, &b, 400, Some("invalidValue"));
    assert!(b["detail"].as_str().unwrap().contains("ghost"));

    for (ops, status, scim_type, code) in [
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            400,
            "mutability",
            "scim.attribute.mutability",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            400,
            "mutability",
            "scim.attribute.mutability",
        ),
        (
            json!([{"op": "remove"}]),
            400,
            "noTarget",
            "scim.patch.no_target",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\" or primary eq true]", "value": {"value": "x"}}]),
            400,
            "noTarget",
            "scim.patch.no_target",
        ),
        (
            json!([{"op": "add", "path": "nickName[", "value": "x"}]),
            400,
            "invalidPath",
            "scim.patch.invalid_path",
        ),
        (
            json!([{"op": "add", "path": "bogus", "value": "x"}]),
            400,
            "invalidPath",
            "scim.patch.invalid_path",
        ),
        (
            json!([{"op": "copy", "path": "title", "value": "x"}]),
            400,
            "invalidSyntax",
            "scim.patch.invalid_operation",
        ),
        (
            json!([{"op": "add", "path": "title"}]),
            400,
            "invalidSyntax",
            "scim.patch.invalid_operation",
        ),
    ] {
        let (s, b, _) = h
            .call(T, "PATCH", &format!("/Users/{a}"), Some(&patch(ops)))
            .await;
        assert_error(s, &b, status, Some(scim_type));
        assert_eq!(last_failure(&h).await, code);
    }
}

#[tokio::test]
async fn filters_and_paging_parameters() {
    let h = Harness::new().await;
    for (q, scim_type) in [
        ("filter=userName%20eq", "invalidFilter"),
        ("filter=nope%20eq%201", "invalidFilter"),
        ("filter=active%20gt%20true", "invalidFilter"),
        ("filter=emails%5Btype%5Bx%20eq%201%5D%5D", "invalidFilter"),
        ("count=ten", "invalidValue"),
        ("startIndex=1.5", "invalidValue"),
    ] {
        let (s, b, _) = h.call(T, "GET", &format!("/Users?{q}"), None).await;
        assert_error(s, &b, 400, Some(scim_type));
    }
    let (s, b, _) = h.call(T, "POST", "/Users/.search", Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName xx \"a\""}))).await;
    assert_error(s, &b, 400, Some("invalidFilter"));
    let long = format!("filter=userName%20eq%20%22{}%22", "a".repeat(5000));
    let (s, b, _) = h.call(T, "GET", &format!("/Users?{long}"), None).await;
    assert_error(s, &b, 400, Some("invalidFilter"));
    assert!(b["detail"].as_str().unwrap().contains("exceeds the limit"));
}

#[tokio::test]
async fn too_many_operations_and_small_limits() {
    let store = Arc::new(MemoryStore::new());
    let service = ScimService::builder("http://127.0.0.1:9/scim", store)
        .token("idp", Secret::new("t".repeat(32)))
        .max_operations(2)
        .filter_limits(FilterLimits {
            max_len: 100,
            max_depth: 2,
            max_terms: 2,
        })
        .build()
        .unwrap();
    let req = |m: &str, p: &str, b: Value| {
        Request::builder()
            .method(m)
            .uri(format!("/scim{p}"))
            .header("authorization", format!("Bearer {}", "t".repeat(32)))
            .body(Bytes::from(serde_json::to_vec(&b).unwrap()))
            .unwrap()
    };
    let resp = service.handle(req("PATCH", "/Users/x", json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "title"}, {"op": "remove", "path": "title"}, {"op": "remove", "path": "title"}]}))).await;
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_error(resp.status().as_u16(), &body, 400, Some("invalidValue"));
    let resp = service
        .handle(req(
            "GET",
            "/Users?filter=a%20pr%20or%20b%20pr%20or%20c%20pr",
            Value::Null,
        ))
        .await;
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_error(resp.status().as_u16(), &body, 400, Some("invalidFilter"));
    let resp = service
        .handle(req("GET", "/Users?filter=((((a%20pr))))", Value::Null))
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn builder_refuses_bad_settings() {
    let store = || Arc::new(MemoryStore::new());
    let code = |r: Result<ScimService, ConfigError>| r.unwrap_err().code();
    assert_eq!(
        code(
            ScimService::builder("ftp://x/scim", store())
                .token("a", Secret::new("t".repeat(32)))
                .build()
        ),
        "scim.config.base_url"
    );
    assert_eq!(
        code(
            ScimService::builder("/scim", store())
                .token("a", Secret::new("t".repeat(32)))
                .build()
        ),
        "scim.config.base_url"
    );
    assert_eq!(
        code(ScimService::builder("https://x/scim", store()).build()),
        "scim.config.no_tokens"
    );
    assert_eq!(
        code(
            ScimService::builder("https://x/scim", store())
                .token("a", Secret::new("short"))
                .build()
        ),
        "scim.config.weak_token"
    );
}

#[tokio::test]
async fn hook_failure_rolls_back_and_answers_503() {
    let h = Harness::new().await;
    let id = user(&h, "keep@example.com").await;
    *h.hook.fail.lock().unwrap() = true;
    let (s, b, _) = h
        .call(
            T,
            "POST",
            "/Users",
            Some(&vector("okta/create-user.json", &[])),
        )
        .await;
    assert_error(s, &b, 503, None);
    assert_eq!(last_failure(&h).await, "jira.http.status");
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (s, _, _) = h
        .call(T, "PATCH", &format!("/Users/{id}"), Some(&patch))
        .await;
    assert_eq!(s, 503);
    let (s, _, _) = h.call(T, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 503);
    *h.hook.fail.lock().unwrap() = false;
    // Nothing stuck: the user is still active, the failed create left no trace.
    let (_, u, _) = h.call(T, "GET", &format!("/Users/{id}"), None).await;
    assert!(u.get("active").is_none());
    let (_, list, _) = h.call(T, "GET", "/Users", None).await;
    assert_eq!(list["totalResults"], 1);
    let (s, _, _) = h
        .call(
            T,
            "POST",
            "/Users",
            Some(&vector("okta/create-user.json", &[])),
        )
        .await;
    assert_eq!(s, 201, "the IdP's retry succeeds");
}

#[tokio::test]
async fn audit_log_closed_fails_writes() {
    let h = Harness::new().await;
    h.audit.shutdown().await.unwrap();
    let (s, b, _) = h
        .call(
            T,
            "POST",
            "/Users",
            Some(&vector("okta/create-user.json", &[])),
        )
        .await;
    assert_error(s, &b, 503, None);
    assert!(b["detail"].as_str().unwrap().contains("audit.log.closed"));
}
