//! Contract tests: every operation of the client is sent to Prism serving Atlassian's
//! OpenAPI spec with request validation (scripts/peers.d/prism.sh builds the spec: the JSM
//! spec, the platform paths the client uses, experimental operations requiring
//! `X-ExperimentalApi: opt-in`, basic auth allowed). A request that breaks the spec gets a
//! 4xx from Prism (an error here) or an `sl-violations` header (checked on every answer);
//! every answer (the spec's own examples) must decode into the client's types.
//!
//! Without `JSM_SSO_PRISM_URL` the test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which starts Prism).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test; the \
              skip line goes to stderr"
)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jsm_sso_core::transport::{HttpError, ReqwestHttpClient};
use jsm_sso_core::{CodedError, HttpClient};
use jsm_sso_jira::model::NewRequest;
use jsm_sso_jira::retry::RetryPolicy;
use jsm_sso_jira::{Auth, JiraClient, Secret, Site};
use serde_json::json;

fn prism_url() -> Option<String> {
    let required = std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    match std::env::var("JSM_SSO_PRISM_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required => panic!(
            "JSM_SSO_PRISM_URL is not set but JSM_SSO_REQUIRE_PEERS=1; start Prism with \
             scripts/peers.d/prism.sh (scripts/test.sh does)"
        ),
        _ => {
            eprintln!(
                "skip: JSM_SSO_PRISM_URL not set; contract_prism did not run \
                 (set JSM_SSO_REQUIRE_PEERS=1 to make this a failure)"
            );
            None
        }
    }
}

/// Real reqwest transport that records every request line, status and `sl-violations`.
struct Recording {
    inner: ReqwestHttpClient,
    seen: Mutex<Vec<(String, u16, Option<String>)>>,
}

#[async_trait]
impl HttpClient for Recording {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let line = format!("{} {}", request.method(), request.uri().path());
        let response = self.inner.send(request).await?;
        let violations = response
            .headers()
            .get("sl-violations")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        self.seen
            .lock()
            .unwrap()
            .push((line, response.status().as_u16(), violations));
        Ok(response)
    }
}

fn client(url: &str) -> (JiraClient, Arc<Recording>) {
    let recording = Arc::new(Recording {
        inner: ReqwestHttpClient::builder()
            .allow_plain_http(true)
            .build()
            .unwrap(),
        seen: Mutex::new(Vec::new()),
    });
    let client = JiraClient::builder(
        Site::cloud(url).unwrap(),
        Auth::basic("broker@acme.example", Secret::new("api-token")),
    )
    .http(recording.clone())
    .retry(RetryPolicy::none())
    .build()
    .unwrap();
    (client, recording)
}

/// Runs one operation; it must succeed (Prism answered 2xx) and decode.
macro_rules! op {
    ($ran:ident, $name:literal, $call:expr) => {{
        let result = $call.await;
        match result {
            Ok(value) => {
                $ran.push($name);
                value
            }
            Err(e) => panic!("{} failed against the spec: {} ({})", $name, e, e.code()),
        }
    }};
}

/// The first item of a listing (one page request; Prism's example pages never end).
macro_rules! first {
    ($pager:expr) => {
        async { $pager.next().await.transpose() }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_passes_request_validation() {
    let Some(url) = prism_url() else { return };
    let (c, recording) = client(&url);
    let mut ran: Vec<&str> = Vec::new();
    let account = "qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b";

    // customers
    let user = op!(
        ran,
        "create customer",
        c.create_customer("fred@example.com", "Fred F. User")
    );
    assert!(user.account_id.is_some(), "{user:?}");
    op!(
        ran,
        "search users",
        first!(c.search_users("fred@example.com"))
    );
    op!(
        ran,
        "find customer by email",
        c.find_customer_by_email("fred@example.com")
    );
    op!(
        ran,
        "revoke portal-only access",
        c.revoke_portal_only_access(account)
    );

    // organizations
    let org = op!(ran, "list organizations", first!(c.organizations())).unwrap();
    op!(
        ran,
        "list organizations of user",
        first!(c.organizations_of(account).unwrap())
    );
    op!(ran, "get organization", c.organization("1"));
    let created = op!(
        ran,
        "create organization",
        c.create_organization("Charlie Cakes Franchises")
    );
    assert!(!created.id.is_empty());
    op!(ran, "delete organization", c.delete_organization("1"));
    op!(
        ran,
        "list organization members",
        first!(c.organization_members("1").unwrap())
    );
    op!(
        ran,
        "add organization members",
        c.add_organization_members("1", &[account])
    );
    op!(
        ran,
        "remove organization members",
        c.remove_organization_members("1", &[account])
    );
    op!(
        ran,
        "list organization property keys",
        c.organization_property_keys("1")
    );
    op!(
        ran,
        "get organization property",
        c.organization_property("1", "jsm-sso.managed")
    );
    op!(
        ran,
        "set organization property",
        c.set_organization_property("1", "jsm-sso.managed", &json!({"managedBy": "jsm-sso"}))
    );
    op!(
        ran,
        "delete organization property",
        c.delete_organization_property("1", "jsm-sso.managed")
    );

    // service desks
    let desk = op!(ran, "list service desks", first!(c.service_desks())).unwrap();
    assert!(!desk.id.is_empty());
    op!(ran, "get service desk", c.service_desk("10"));
    op!(
        ran,
        "list service desk organizations",
        first!(c.desk_organizations("10").unwrap())
    );
    op!(
        ran,
        "attach organization",
        c.attach_organization("10", &org.id)
    );
    op!(
        ran,
        "detach organization",
        c.detach_organization("10", &org.id)
    );
    op!(
        ran,
        "list service desk customers",
        first!(c.desk_customers("10", Some("fred")).unwrap())
    );
    op!(
        ran,
        "find desk customer",
        c.find_desk_customer("10", "fred@example.com")
    );
    op!(
        ran,
        "add service desk customers",
        c.add_desk_customers("10", &[account])
    );
    op!(
        ran,
        "remove service desk customers",
        c.remove_desk_customers("10", &[account])
    );
    op!(
        ran,
        "list request types",
        first!(c.request_types("10").unwrap())
    );
    let request_type = op!(ran, "get request type", c.request_type("10", "25"));
    assert!(!request_type.name.is_empty(), "{request_type:?}");
    let fields = op!(
        ran,
        "get request type fields",
        c.request_type_fields("10", "25")
    );
    assert!(!fields.request_type_fields.is_empty(), "{fields:?}");

    // requests
    let request = NewRequest::new("10", "25")
        .on_behalf_of(account)
        .field("summary", "Request JSD help via REST")
        .field("customfield_10010", json!({"value": "Gold"}))
        .participant(account);
    let raised = op!(ran, "create request", c.create_request(&request));
    assert!(!raised.issue_key.is_empty(), "{raised:?}");

    // user properties
    op!(
        ran,
        "list user property keys",
        c.user_property_keys(account)
    );
    op!(
        ran,
        "get user property",
        c.user_property(account, "jsm-sso.fields")
    );
    op!(
        ran,
        "set user property",
        c.set_user_property(account, "jsm-sso.fields", &json!({"department": "Finance"}))
    );
    op!(
        ran,
        "delete user property",
        c.delete_user_property(account, "jsm-sso.fields")
    );

    assert_eq!(ran.len(), 33, "{ran:?}");
    let seen = recording.seen.lock().unwrap().clone();
    assert!(seen.len() >= ran.len());
    let mut response_faults = 0;
    for (line, status, violations) in &seen {
        assert!((200..300).contains(status), "{line}: {status}");
        // Prism also reports where the spec's own example answer breaks the spec's schema
        // (location "response"); only violations by our request count.
        let Some(violations) = violations else {
            continue;
        };
        let list: Vec<serde_json::Value> = serde_json::from_str(violations).unwrap();
        for v in &list {
            assert_ne!(v["location"][0], "request", "{line}: {v}");
            response_faults += 1;
        }
    }
    eprintln!(
        "contract_prism: {} operations, {} requests, no request violation \
         ({response_faults} violations in the spec's own example answers)",
        ran.len(),
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prism_does_refuse_requests_that_break_the_spec() {
    // Shows the contract test can fail: the same Prism refuses what the spec forbids.
    let Some(url) = prism_url() else { return };
    let http = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .build()
        .unwrap();
    let send = |method: &str, path: &str, body: &str, experimental: bool| {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{url}{path}"))
            .header("authorization", "Basic YTpi")
            .header("content-type", "application/json");
        if experimental {
            builder = builder.header("x-experimentalapi", "opt-in");
        }
        builder.body(body.as_bytes().to_vec()).unwrap()
    };
    // An experimental endpoint without the opt-in header.
    let r = http
        .send(send(
            "GET",
            "/rest/servicedeskapi/servicedesk/10/customer",
            "",
            false,
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // An extra property in a closed body.
    let r = http
        .send(send(
            "POST",
            "/rest/servicedeskapi/customer",
            r#"{"email":"a@b.example","displayName":"A","role":"admin"}"#,
            false,
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("sl-violations"));
    // A non-integer organization id.
    let r = http
        .send(send(
            "GET",
            "/rest/servicedeskapi/organization/abc",
            "",
            false,
        ))
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    // Through the client, a 422 from Prism is a typed error.
    let (c, _) = client(&url);
    let e = c
        .create_request(&NewRequest::new("10", "25").field("summary", "x"))
        .await
        .map(|_| ())
        .err();
    assert!(e.is_none(), "a valid request passes: {e:?}");
}
