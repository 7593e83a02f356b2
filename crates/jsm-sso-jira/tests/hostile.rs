//! Hostile input never panics: arbitrary requests to `MemoryJsm`, arbitrary answers to the
//! client (each must become a value or a coded error), deep JSON nesting.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{CodedError, HttpClient};
use jsm_sso_jira::memory::{MemoryJsm, Served};
use jsm_sso_jira::retry::RetryPolicy;
use jsm_sso_jira::{Auth, JiraClient, Secret, Site};
use proptest::prelude::*;

/// Answers every request with the same status and body.
#[derive(Debug)]
struct Canned(u16, Vec<u8>);

#[async_trait]
impl HttpClient for Canned {
    async fn send(&self, _: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        Ok(http::Response::builder()
            .status(self.0)
            .body(self.1.clone())
            .unwrap())
    }
}

fn client(status: u16, body: Vec<u8>) -> JiraClient {
    JiraClient::builder(
        Site::cloud("https://acme.atlassian.net").unwrap(),
        Auth::basic("a@b.example", Secret::new("t")),
    )
    .http(Arc::new(Canned(status, body)))
    .retry(RetryPolicy::none())
    .build()
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn memory_jsm_answers_any_request(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        segments in prop::collection::vec("[a-z0-9%:._~-]{0,12}", 0..7),
        api in prop::sample::select(vec!["servicedeskapi", "api/3", "api/2", "x"]),
        query in "[a-z=&%0-9]{0,30}",
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let jsm = MemoryJsm::new();
        jsm.add_organization("Acme");
        jsm.add_service_desk("HELP", "Help");
        jsm.add_customer("c@acme.example", "C");
        let uri = format!("https://x/rest/{api}/{}?{query}", segments.join("/"));
        let Ok(request) = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Basic eDp5")
            .header("x-experimentalapi", "opt-in")
            .body(body)
        else {
            return Ok(());
        };
        match jsm.serve(&request) {
            Served::Respond(r) | Served::Delayed(_, r) => {
                prop_assert!(r.status().as_u16() >= 200 && r.status().as_u16() < 600);
            }
            Served::Drop => prop_assert!(false, "no fault was injected"),
            _ => {}
        }
    }

    #[test]
    fn any_answer_becomes_a_value_or_a_coded_error(
        status in prop::sample::select(vec![200u16, 201, 204, 400, 404, 409, 412, 429, 500, 503]),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let rt = runtime();
        let c = client(status, body);
        let results = rt.block_on(async {
            vec![
                c.organization("1").await.err(),
                c.organizations().try_collect().await.err(),
                c.search_users("x").try_collect().await.err(),
                c.request_type_fields("1", "2").await.err(),
                c.request_type("1", "2").await.err(),
                c.user_property("qm:1", "k").await.err(),
            ]
        });
        for e in results.into_iter().flatten() {
            prop_assert!(e.code().starts_with("jira.") || e.code().starts_with("core.http."));
        }
    }
}

#[test]
fn deep_nesting_and_odd_shapes_are_decode_errors() {
    let rt = runtime();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for body in [
        deep.as_str(),
        r#"{"id": 1, "name": ["not", "a", "string"]}"#,
        r#"{"values": "nope", "isLastPage": "maybe"}"#,
        "\u{feff}{}",
        "null",
    ] {
        let c = client(200, body.as_bytes().to_vec());
        let e = rt.block_on(c.organization("1")).unwrap_err();
        assert_eq!(e.code(), "jira.response.invalid", "{body:.40}");
    }
    // Error bodies of any shape still give a coded error with the status.
    for body in [deep.as_str(), "", "<html>", r#"{"errorMessages": 5}"#] {
        let e = rt
            .block_on(client(404, body.as_bytes().to_vec()).organization("1"))
            .unwrap_err();
        assert_eq!(e.code(), "jira.not_found");
        assert!(e.api().unwrap().messages.is_empty());
    }
    // Huge message lists are clipped.
    let many = serde_json::json!({ "errorMessages": vec!["x".repeat(10_000); 1_000] }).to_string();
    let e = rt
        .block_on(client(400, many.into_bytes()).organization("1"))
        .unwrap_err();
    let api = e.api().unwrap();
    assert_eq!(api.messages.len(), 20);
    assert!(api.messages.iter().all(|m| m.len() <= 500));
}
