//! `JiraClient::request_type` (`GET .../servicedesk/{id}/requesttype/{id}`): the name the
//! portal shows, over HTTP and in-process; 404 for unknown desks and request types; ids the
//! spec types narrowly refused before anything is sent; the spec's own example decodes.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use jsm_sso_core::CodedError;
use jsm_sso_jira::memory::{Fault, FaultRule, MemoryJsm};
use jsm_sso_jira::model::{RequestType, RestrictionStatus};
use jsm_sso_jira::retry::RetryPolicy;

fn site() -> (MemoryJsm, String, String) {
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help");
    let rt = jsm
        .add_request_type(
            &desk,
            "Request a new laptop",
            &[("summary", "Summary", true)],
        )
        .unwrap();
    (jsm, desk, rt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_name_given_to_the_site_over_http() {
    let (jsm, desk, rt) = site();
    let server = common::start(jsm.clone()).await;
    let client = common::reqwest_builder(&server.url, Duration::from_secs(5))
        .build()
        .unwrap();

    let got = client.request_type(&desk, &rt).await.unwrap();
    assert_eq!(got.id, rt);
    assert_eq!(got.name, "Request a new laptop");
    assert_eq!(got.service_desk_id, desk);
    assert_eq!(got.portal_id.as_deref(), Some(desk.as_str()));
    assert_eq!(got.restriction_status, Some(RestrictionStatus::Open));
    assert_eq!(
        jsm.request_log().last().map(String::as_str),
        Some(format!("GET /rest/servicedeskapi/servicedesk/{desk}/requesttype/{rt}").as_str())
    );
    // The desk's default request type is a different one, with its own name.
    let listed = client
        .request_types(&desk)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for listed in &listed {
        let one = client.request_type(&desk, &listed.id).await.unwrap();
        assert_eq!(&one, listed, "the look-up and the listing agree");
    }
    assert_eq!(listed.len(), 2);

    let e = client.request_type(&desk, "999").await.unwrap_err();
    assert_eq!(e.code(), "jira.not_found", "{e}");
    assert_eq!(e.api().unwrap().status, 404);
    let e = client.request_type("77", &rt).await.unwrap_err();
    assert_eq!(e.code(), "jira.not_found", "{e}");
}

#[tokio::test]
async fn unknown_ids_and_failures_are_coded_errors() {
    let (jsm, desk, rt) = site();
    let client = jsm
        .client_builder()
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    assert_eq!(
        client.request_type(&desk, &rt).await.unwrap().name,
        "Request a new laptop"
    );

    // Request type ids are numbers (int32 in the spec's other operations): nothing is sent.
    let sent = jsm.request_log().len();
    for bad in ["", "abc", "0", "-3", "011", "99999999999", "1/2", "1 "] {
        let e = client.request_type(&desk, bad).await.unwrap_err();
        assert_eq!(e.code(), "jira.argument.invalid", "{bad:?}: {e}");
    }
    let e = client.request_type("", &rt).await.unwrap_err();
    assert_eq!(e.code(), "jira.argument.invalid");
    let e = client.request_type("1\n", &rt).await.unwrap_err();
    assert_eq!(e.code(), "jira.argument.invalid");
    assert_eq!(jsm.request_log().len(), sent, "refused before sending");

    // A type of another desk is not found on this one.
    let other = jsm.add_service_desk("OPS", "Operations");
    let e = client.request_type(&other, &rt).await.unwrap_err();
    assert_eq!(e.code(), "jira.not_found", "{e}");

    // What Jira may answer instead.
    let status = |status: u16, body: &str| Fault::Status {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
    };
    for (fault, code) in [
        (
            status(401, r#"{"errorMessage":"bad token"}"#),
            "jira.unauthorized",
        ),
        (
            status(403, r#"{"errorMessage":"no access"}"#),
            "jira.forbidden",
        ),
        (
            status(200, r#"{"id": 5, "name": "x"}"#),
            "jira.response.invalid",
        ),
        (status(200, r#"{"id": "5"}"#), "jira.response.invalid"),
        (
            status(200, r#"{"id": "5", "name": "x", "restrictionStatus": 1}"#),
            "jira.response.invalid",
        ),
    ] {
        jsm.inject(FaultRule::new(fault, 1).path("requesttype"));
        let e = client.request_type(&desk, &rt).await.unwrap_err();
        assert_eq!(e.code(), code, "{e}");
    }
}

#[test]
fn the_specs_example_and_newer_answers_decode() {
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/jsm-openapi/jsm.v3.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let example = spec["paths"]["/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}"]
        ["get"]["responses"]["200"]["content"]["application/json"]["example"]
        .as_str()
        .unwrap();
    let rt: RequestType = serde_json::from_str(example).unwrap();
    assert_eq!(rt.id, "11001");
    assert_eq!(rt.name, "Get IT Help");
    assert_eq!(rt.description.as_deref(), Some("Get IT Help"));
    assert!(rt.help_text.unwrap().starts_with("Please tell us"));
    assert_eq!(rt.issue_type_id.as_deref(), Some("12345"));
    assert_eq!(rt.service_desk_id, "28");
    assert_eq!(rt.portal_id.as_deref(), Some("2"));
    assert_eq!(rt.group_ids, ["12"]);
    let icon = rt.icon.unwrap();
    assert_eq!(icon.id, "12345");
    assert_eq!(icon.links.icon_urls.len(), 4);
    assert!(icon.links.icon_urls["48x48"].ends_with("size=large"));

    // Fields and enum values newer than the spec are tolerated.
    let newer: RequestType = serde_json::from_str(
        r#"{"id": "7", "name": "Laptop", "restrictionStatus": "PARTIAL",
            "practice": "service_request", "canCreateRequest": false,
            "fields": {"requestTypeFields": []}, "somethingNew": {"a": 1}}"#,
    )
    .unwrap();
    assert_eq!(newer.restriction_status, Some(RestrictionStatus::Unknown));
    assert_eq!(newer.practice.as_deref(), Some("service_request"));
    assert_eq!(newer.can_create_request, Some(false));
    let restricted: RequestType =
        serde_json::from_str(r#"{"id": "7", "name": "L", "restrictionStatus": "RESTRICTED"}"#)
            .unwrap();
    assert_eq!(
        restricted.restriction_status,
        Some(RestrictionStatus::Restricted)
    );
}
