//! Flows, paging and faults over real HTTP: core's reqwest transport against the fake JSM
//! served on 127.0.0.1 (429 with Retry-After, 503, slow answers, dropped connections).

mod common;

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use jsm_sso_core::CodedError;
use jsm_sso_jira::memory::{Fault, FaultRule, MemoryJsm};
use jsm_sso_jira::model::NewRequest;
use jsm_sso_jira::paging::USER_SEARCH_WINDOW;
use jsm_sso_jira::retry::RecordingSleeper;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_over_http_are_retried_or_reported() {
    let jsm = MemoryJsm::new();
    jsm.add_organization("Acme");
    let server = common::start(jsm.clone()).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = common::reqwest_builder(&server.url, Duration::from_millis(200))
        .sleeper(sleeper.clone())
        .build()
        .unwrap();

    // 429 with Retry-After, then 503, then a dropped connection, then a slow answer: all
    // retried for an idempotent GET.
    jsm.inject(FaultRule::new(Fault::rate_limited(3), 1));
    jsm.inject(FaultRule::new(Fault::unavailable(), 1));
    jsm.inject(FaultRule::new(Fault::Drop, 1));
    jsm.inject(FaultRule::new(Fault::Delay(Duration::from_millis(800)), 1));
    let org = client.organization("1").await.unwrap();
    assert_eq!(org.name, "Acme");
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 4, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(3),
        "Retry-After honoured: {waits:?}"
    );
    assert_eq!(jsm.faults_fired(), 4);

    // A dropped connection on a non-idempotent call is reported, not retried.
    let desk = jsm.add_service_desk("HELP", "Help");
    jsm.inject(FaultRule::new(Fault::Drop, 1).method(Method::POST));
    let request = NewRequest::new(desk.as_str(), "11").field("summary", "Broken");
    let e = client.create_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "core.http.transport", "{e}");
    assert!(jsm.requests().is_empty());

    // A slow answer on a non-idempotent call: our timeout, not retried.
    jsm.inject(FaultRule::new(Fault::Delay(Duration::from_millis(800)), 1).method(Method::POST));
    let e = client.create_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "jira.timeout", "{e}");
    assert_eq!(
        jsm.requests().len(),
        1,
        "applied once; the caller decides what to do"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_works_end_to_end_over_http() {
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help");
    let rt = jsm
        .add_request_type(
            &desk,
            "Access",
            &[
                ("summary", "Summary", true),
                ("customfield_10010", "Tier", false),
            ],
        )
        .unwrap();
    let server = common::start(jsm.clone()).await;
    let client = common::reqwest_builder(&server.url, Duration::from_secs(5))
        .build()
        .unwrap();

    let (carol, created) = client
        .ensure_customer("carol@acme.example", "Carol")
        .await
        .unwrap();
    assert!(created);
    let carol = carol.account_id.unwrap();
    let org = client.create_organization("Acme Corp").await.unwrap();
    assert_eq!(
        client
            .create_organization("Acme Corp")
            .await
            .unwrap_err()
            .code(),
        "jira.bad_request"
    );
    client
        .add_organization_members(&org.id, &[&carol])
        .await
        .unwrap();
    client.attach_organization(&desk, &org.id).await.unwrap();
    assert_eq!(jsm.desk_organizations(&desk), std::slice::from_ref(&org.id));
    let members = client
        .organization_members(&org.id)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    let mine = client
        .organizations_of(&carol)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(mine, std::slice::from_ref(&org));

    client
        .set_organization_property(
            &org.id,
            "jsm-sso.managed",
            &serde_json::json!({"by": "jsm-sso"}),
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .organization_property(&org.id, "jsm-sso.managed")
            .await
            .unwrap(),
        Some(serde_json::json!({"by": "jsm-sso"}))
    );
    assert_eq!(
        client.organization_property_keys(&org.id).await.unwrap(),
        ["jsm-sso.managed"]
    );
    assert_eq!(
        client
            .organization_property(&org.id, "other")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        client
            .organization_property("999", "other")
            .await
            .unwrap_err()
            .code(),
        "jira.not_found"
    );

    client.add_desk_customers(&desk, &[&carol]).await.unwrap();
    let found = client
        .find_desk_customer(&desk, "CAROL@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account_id.as_deref(), Some(carol.as_str()));

    let fields = client.request_type_fields(&desk, &rt).await.unwrap();
    assert_eq!(fields.can_raise_on_behalf_of, Some(true));
    assert!(
        fields
            .request_type_fields
            .iter()
            .any(|f| f.field_id == "summary" && f.required)
    );
    let types = client
        .request_types(&desk)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(types.len(), 2);

    let request = NewRequest::new(desk.as_str(), rt.as_str())
        .on_behalf_of(carol.as_str())
        .field("summary", "Need access")
        .field("customfield_10010", serde_json::json!({"value": "Gold"}));
    let raised = client.create_request(&request).await.unwrap();
    assert_eq!(raised.issue_key, "HELP-1");
    assert_eq!(
        raised.reporter.unwrap().account_id.as_deref(),
        Some(carol.as_str())
    );
    let missing = NewRequest::new(desk.as_str(), rt.as_str()).field("customfield_10010", "x");
    let e = client.create_request(&missing).await.unwrap_err();
    assert_eq!(e.code(), "jira.bad_request");
    assert!(
        e.to_string().contains("Summary (summary) is required"),
        "{e}"
    );

    client
        .set_user_property(
            &carol,
            "jsm-sso.fields",
            &serde_json::json!({"dept": "Ops"}),
        )
        .await
        .unwrap();
    assert_eq!(
        client.user_property_keys(&carol).await.unwrap(),
        ["jsm-sso.fields"]
    );
    client
        .delete_user_property(&carol, "jsm-sso.fields")
        .await
        .unwrap();
    assert_eq!(
        client
            .user_property(&carol, "jsm-sso.fields")
            .await
            .unwrap(),
        None
    );

    client
        .remove_desk_customers(&desk, &[&carol])
        .await
        .unwrap();
    client
        .remove_organization_members(&org.id, &[&carol])
        .await
        .unwrap();
    client.detach_organization(&desk, &org.id).await.unwrap();
    client
        .delete_organization_property(&org.id, "jsm-sso.managed")
        .await
        .unwrap();
    client.delete_organization(&org.id).await.unwrap();
    client.revoke_portal_only_access(&carol).await.unwrap();
    assert!(jsm.portal_only_access_revoked(&carol));
    assert_eq!(
        client
            .revoke_portal_only_access("qm:nobody")
            .await
            .unwrap_err()
            .code(),
        "jira.not_found"
    );
    let desks = client.service_desks().try_collect().await.unwrap();
    assert_eq!(desks[0].project_key, "HELP");
    assert_eq!(
        client.service_desk(&desk).await.unwrap().project_name,
        "Help"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_streams_follow_is_last_page_and_the_user_search_window() {
    let jsm = MemoryJsm::new();
    for n in 0..123 {
        jsm.add_organization(&format!("Org {n:03}"));
    }
    for n in 0..1_150 {
        jsm.add_customer(&format!("same{n:04}@bulk.example"), &format!("Same {n}"));
    }
    jsm.add_agent("same-agent@bulk.example", "Agent");
    let server = common::start(jsm.clone()).await;
    let client = common::reqwest_builder(&server.url, Duration::from_secs(5))
        .build()
        .unwrap();

    let before = jsm.request_log().len();
    let orgs = client.organizations().try_collect().await.unwrap();
    assert_eq!(orgs.len(), 123);
    assert_eq!(orgs[122].name, "Org 122");
    assert_eq!(
        jsm.request_log().len() - before,
        3,
        "pages of 50: 50 + 50 + 23"
    );

    let mut search = client.search_users("same");
    let mut seen = 0;
    while let Some(user) = search.next().await {
        user.unwrap();
        seen += 1;
    }
    assert_eq!(
        seen, USER_SEARCH_WINDOW as usize,
        "the search does not page past 1,000"
    );
    assert!(search.truncated());

    let mut short = client.search_users("same0001");
    let mut n = 0;
    while let Some(u) = short.next().await {
        u.unwrap();
        n += 1;
    }
    assert_eq!(n, 1);
    assert!(!short.truncated());
    // Only the customer account matches find_customer_by_email, never the agent.
    assert!(
        client
            .find_customer_by_email("same-agent@bulk.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        client
            .find_customer_by_email("SAME0042@bulk.example")
            .await
            .unwrap()
            .is_some()
    );

    // A page error ends the stream with that error.
    jsm.inject(
        FaultRule::new(
            Fault::Status {
                status: 403,
                headers: Vec::new(),
                body: r#"{"errorMessage":"no permission"}"#.into(),
            },
            1,
        )
        .path("/organization"),
    );
    let mut pages = client.organizations();
    let e = pages.next().await.unwrap().unwrap_err();
    assert_eq!(e.code(), "jira.forbidden");
    assert!(pages.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_with_reqwest_allows_plain_http_only_on_loopback() {
    use jsm_sso_jira::{Auth, JiraClient, Secret, Site};
    let jsm = MemoryJsm::new();
    jsm.add_organization("Acme");
    let server = common::start(jsm.clone()).await;
    let auth = Auth::basic("broker@acme.example", Secret::new("t"));
    let client = JiraClient::builder(Site::cloud(&server.url).unwrap(), auth.clone())
        .build_with_reqwest()
        .unwrap();
    assert_eq!(client.organization("1").await.unwrap().name, "Acme");
    // Plain HTTP anywhere else is refused before anything is sent.
    let remote = JiraClient::builder(Site::cloud("http://jira.acme.example").unwrap(), auth)
        .build_with_reqwest()
        .unwrap();
    let e = remote.organization("1").await.unwrap_err();
    assert_eq!(e.code(), "core.http.insecure_scheme");
}
