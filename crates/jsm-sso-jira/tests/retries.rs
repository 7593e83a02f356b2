//! Rate limits, backoff, timeouts and error mapping on the in-process JSM, with a
//! recording sleeper (no test waits for real backoff) and a fixed clock.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::Method;
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{CodedError, HttpClient};
use jsm_sso_jira::memory::{Fault, FaultRule, MemoryJsm};
use jsm_sso_jira::model::NewRequest;
use jsm_sso_jira::retry::{RecordingSleeper, RetryPolicy};
use jsm_sso_jira::{Auth, Error, JiraClient, Secret, Site};

const NOW: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z

fn setup() -> (MemoryJsm, Arc<RecordingSleeper>, JiraClient) {
    let jsm = MemoryJsm::new();
    jsm.add_organization("Acme");
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = jsm
        .client_builder()
        .retry(RetryPolicy::default())
        .sleeper(sleeper.clone())
        .clock(Arc::new(FixedClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
        )))
        .jitter_seed(7)
        .build()
        .unwrap();
    (jsm, sleeper, client)
}

fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault::Status {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn retry_after_is_honoured_with_bounded_jitter() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(Fault::rate_limited(7), 2));
    let org = client.organization("1").await.unwrap();
    assert_eq!(org.name, "Acme");
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    for w in waits {
        assert!(
            w >= Duration::from_secs(7) && w <= Duration::from_secs(8),
            "{w:?}"
        );
    }
    assert_eq!(client.stats().rate_limited, 2);
    assert_eq!(client.stats().attempts, 3);
}

#[tokio::test]
async fn x_ratelimit_reset_is_measured_against_the_clock() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(
        status(429, &[("X-RateLimit-Reset", "2023-11-14T22:13:50Z")], "{}"),
        1,
    ));
    // A 503 that carries a hint is a rate limit too.
    jsm.inject(FaultRule::new(
        status(
            503,
            &[("X-RateLimit-Reset", "2023-11-14T22:14:10.500Z")],
            "{}",
        ),
        1,
    ));
    client.organization("1").await.unwrap();
    let waits = sleeper.waits();
    assert!(
        waits[0] >= Duration::from_secs(30) && waits[0] <= Duration::from_secs(31),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_millis(50_500) && waits[1] <= Duration::from_millis(51_500),
        "{waits:?}"
    );
    assert_eq!(client.stats().rate_limited, 2);
}

#[tokio::test]
async fn without_hints_backoff_is_full_jitter_under_doubling_ceilings_capped_at_60s() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(Fault::unavailable(), 3));
    jsm.inject(FaultRule::new(Fault::rate_limited_without_hint(), 2));
    client.organization("1").await.unwrap();
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 5);
    for (i, w) in waits.iter().enumerate() {
        let ceiling = Duration::from_secs(1 << i).min(Duration::from_secs(60));
        assert!(*w <= ceiling, "retry {i}: {w:?} > {ceiling:?}");
    }
    // Full jitter: uniform below each ceiling, so not all at it (seeded, reproducible).
    let total: Duration = waits.iter().sum();
    assert!(
        total > Duration::ZERO && total < Duration::from_secs(31),
        "{waits:?}"
    );

    // Many retries: every wait stays under the 60 s cap.
    let (jsm, sleeper, _) = setup();
    let client = jsm
        .client_builder()
        .retry(RetryPolicy::default().with_max_retries(12))
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    jsm.inject(FaultRule::new(Fault::unavailable(), 12));
    client.organization("1").await.unwrap();
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 12);
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(60)));
    assert!(
        waits.iter().skip(6).any(|w| *w > Duration::from_secs(20)),
        "{waits:?}"
    );
}

#[tokio::test]
async fn exhausted_retries_surface_the_rate_limit_reason_and_messages() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(Fault::rate_limited(2), 10));
    let e = client.organization("1").await.unwrap_err();
    assert_eq!(e.code(), "jira.rate_limited");
    let Error::RateLimited { retry_after, api } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(2)));
    assert_eq!(api.rate_limit_reason.as_deref(), Some("jira-burst-based"));
    assert_eq!(api.messages, ["Rate limit exceeded."]);
    assert_eq!(sleeper.waits().len(), 5, "the default five retries");
    assert!(e.to_string().contains("jira-burst-based"), "{e}");
}

#[tokio::test]
async fn a_wait_longer_than_max_hint_is_handed_back_not_slept() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(Fault::rate_limited(3600), 1));
    let e = client.organization("1").await.unwrap_err();
    assert_eq!(e.code(), "jira.rate_limited");
    assert!(
        matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3600))
    );
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn non_idempotent_calls_are_not_retried() {
    let (jsm, sleeper, client) = setup();
    let desk = jsm.add_service_desk("HELP", "Help");
    let request = NewRequest::new(desk.as_str(), "11").field("summary", "Printer on fire");
    for (fault, code) in [
        (Fault::unavailable(), "jira.unavailable"),
        (Fault::rate_limited(1), "jira.rate_limited"),
        (Fault::Drop, "core.http.transport"),
    ] {
        jsm.inject(FaultRule::new(fault, 1).method(Method::POST));
        let e = client.create_request(&request).await.unwrap_err();
        assert_eq!(e.code(), code);
    }
    jsm.inject(FaultRule::new(Fault::unavailable(), 1).method(Method::POST));
    assert_eq!(
        client.create_organization("New").await.unwrap_err().code(),
        "jira.unavailable"
    );
    assert!(
        sleeper.waits().is_empty(),
        "nothing retried: {:?}",
        sleeper.waits()
    );
    assert!(
        jsm.requests().is_empty(),
        "no request raised twice or at all"
    );
    // The same call goes through once the fault is gone, exactly once.
    let raised = client.create_request(&request).await.unwrap();
    assert_eq!(raised.issue_key, "HELP-1");
    assert_eq!(jsm.requests().len(), 1);
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_dropped_connections() {
    let (jsm, sleeper, client) = setup();
    jsm.inject(FaultRule::new(Fault::Drop, 2).method(Method::GET));
    client.organization("1").await.unwrap();
    assert_eq!(sleeper.waits().len(), 2);
    // create customer is retried too: a repeat is answered 409 and looked up.
    jsm.inject(FaultRule::new(Fault::Drop, 1).method(Method::POST));
    let (user, created) = client
        .ensure_customer("dana@acme.example", "Dana")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(jsm.customers().len(), 1);
    assert_eq!(user.email_address.as_deref(), Some("dana@acme.example"));
}

#[tokio::test]
async fn a_slow_answer_times_out_and_an_applied_create_is_not_duplicated() {
    let jsm = MemoryJsm::new();
    let client = jsm
        .client_builder()
        .timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    jsm.inject(FaultRule::new(Fault::Delay(Duration::from_millis(400)), 1).method(Method::POST));
    let (user, created) = client
        .ensure_customer("erin@acme.example", "Erin")
        .await
        .unwrap();
    assert!(
        !created,
        "the first create was applied; its answer came too late"
    );
    assert_eq!(
        jsm.customers(),
        [(user.account_id.unwrap(), "erin@acme.example".to_owned())]
    );

    // Without retries the timeout is the error.
    let client = jsm
        .client_builder()
        .timeout(Some(Duration::from_millis(50)))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    jsm.inject(FaultRule::new(Fault::Delay(Duration::from_millis(400)), 1));
    let e = client.service_desks().try_collect().await.unwrap_err();
    assert_eq!(e.code(), "jira.timeout");
    assert!(e.is_transient());
}

#[tokio::test]
async fn a_412_on_an_experimental_endpoint_is_a_programming_error_never_retried() {
    let (jsm, sleeper, client) = setup();
    let desk = jsm.add_service_desk("HELP", "Help");
    jsm.inject(FaultRule::new(
        status(
            412,
            &[],
            r#"{"errorMessage":"This is an experimental API. Set X-ExperimentalApi: opt-in."}"#,
        ),
        1,
    ));
    let e = client
        .desk_customers(&desk, None)
        .unwrap()
        .try_collect()
        .await
        .unwrap_err();
    assert_eq!(e.code(), "jira.experimental_opt_in");
    assert!(e.to_string().contains("experimental API"), "{e}");
    assert!(sleeper.waits().is_empty());

    // The fake (like JSM) answers 412 to a request without the header.
    let request = http::Request::get(format!(
        "https://x/rest/servicedeskapi/servicedesk/{desk}/customer"
    ))
    .header("authorization", "Basic eDp5")
    .body(Vec::new())
    .unwrap();
    let answer = jsm.transport().send(request).await.unwrap();
    assert_eq!(answer.status(), 412);
}

#[tokio::test]
async fn statuses_map_to_codes_and_keep_atlassians_messages() {
    let (jsm, _, client) = setup();
    let cases = [
        (400, "jira.bad_request"),
        (401, "jira.unauthorized"),
        (403, "jira.forbidden"),
        (404, "jira.not_found"),
        (409, "jira.conflict"),
        (412, "jira.status.unexpected"), // not an experimental endpoint
        (418, "jira.status.unexpected"),
        (422, "jira.bad_request"),
    ];
    for (code, expected) in cases {
        jsm.inject(FaultRule::new(
            status(
                code,
                &[],
                r#"{"errorMessages":["first"],"errors":{"name":"taken"}}"#,
            ),
            1,
        ));
        let e = client.organization("1").await.unwrap_err();
        assert_eq!(e.code(), expected, "{code}");
        assert_eq!(e.status(), Some(code));
        let api = e.api().unwrap();
        assert_eq!(api.messages, ["first"]);
        assert_eq!(api.field_errors["name"], "taken");
        assert_eq!(api.path, "/rest/servicedeskapi/organization/1");
    }
    // A 2xx body that is not the spec's shape.
    jsm.inject(FaultRule::new(status(200, &[], "<html>login</html>"), 1));
    assert_eq!(
        client.organization("1").await.unwrap_err().code(),
        "jira.response.invalid"
    );
    // An id the spec cannot take is refused before anything is sent.
    let sent = jsm.request_log().len();
    for bad in ["abc", "-3", ""] {
        assert_eq!(
            client.organization(bad).await.unwrap_err().code(),
            "jira.argument.invalid"
        );
    }
    assert_eq!(jsm.request_log().len(), sent);
}

/// Counts requests in flight at once.
struct Gauge {
    inner: Arc<dyn HttpClient>,
    now: AtomicUsize,
    max: AtomicUsize,
}

#[async_trait]
impl HttpClient for Gauge {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let r = self.inner.send(request).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_limit_holds() {
    let jsm = MemoryJsm::new();
    jsm.add_organization("Acme");
    let gauge = Arc::new(Gauge {
        inner: jsm.transport(),
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
    });
    let client = jsm
        .client_builder()
        .http(gauge.clone())
        .max_concurrency(3)
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let c = client.clone();
        tasks.spawn(async move { c.organization("1").await.unwrap() });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3);
}

/// Records each request.
#[derive(Debug, Default)]
struct Capture {
    seen: std::sync::Mutex<Vec<(String, String, Option<String>)>>,
}

#[async_trait]
impl HttpClient for Capture {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let auth = request
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push((
            request.method().to_string(),
            request.uri().to_string(),
            auth,
        ));
        Ok(http::Response::builder()
            .status(200)
            .body(b"[]".to_vec())
            .unwrap())
    }
}

#[tokio::test]
async fn each_site_kind_gets_its_base_path_and_credentials() {
    let cases = [
        (
            Site::cloud("https://acme.atlassian.net").unwrap(),
            Auth::basic("bot@acme.example", Secret::new("tok")),
            "https://acme.atlassian.net/rest/api/3/user/search?query=a%40b.example&startAt=0&maxResults=100",
            "Basic Ym90QGFjbWUuZXhhbXBsZTp0b2s=",
        ),
        (
            Site::oauth("c0ffee-1234").unwrap(),
            Auth::Bearer(Secret::new("oauth-access")),
            "https://api.atlassian.com/ex/jira/c0ffee-1234/rest/api/3/user/search?query=a%40b.example&startAt=0&maxResults=100",
            "Bearer oauth-access",
        ),
        (
            Site::data_center("https://jira.acme.example/jira").unwrap(),
            Auth::PersonalAccessToken(Secret::new("pat-1")),
            "https://jira.acme.example/jira/rest/api/2/user/search?username=a%40b.example&startAt=0&maxResults=100",
            "Bearer pat-1",
        ),
    ];
    for (site, auth, url, header) in cases {
        let capture = Arc::new(Capture::default());
        let client = JiraClient::builder(site, auth)
            .http(capture.clone())
            .build()
            .unwrap();
        assert!(!format!("{client:?}").contains("tok\""), "{client:?}");
        assert_eq!(
            client.find_customer_by_email("a@b.example").await.unwrap(),
            None
        );
        let seen = capture.seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [("GET".to_owned(), url.to_owned(), Some(header.to_owned()))]
        );
    }
}

#[tokio::test]
async fn a_client_needs_a_transport_and_matching_credentials() {
    let site = Site::cloud("https://acme.atlassian.net").unwrap();
    let e = JiraClient::builder(site.clone(), Auth::basic("a@b.example", Secret::new("t")))
        .build()
        .unwrap_err();
    assert_eq!(e.code(), "jira.config.invalid");
    let e = JiraClient::builder(site.clone(), Auth::Bearer(Secret::new("t")))
        .http(MemoryJsm::new().transport())
        .build()
        .unwrap_err();
    assert_eq!(e.code(), "jira.config.invalid");
    let e = JiraClient::builder(site, Auth::basic("a@b.example", Secret::new("t")))
        .http(MemoryJsm::new().transport())
        .max_requests_per_second(0.0)
        .build()
        .unwrap_err();
    assert_eq!(e.code(), "jira.config.invalid");
}

/// Hands out `tok-1`, `tok-2`, ... moving on after each invalidation.
#[derive(Debug, Default)]
struct Rotating {
    generation: AtomicUsize,
    fetched: AtomicUsize,
}

#[async_trait]
impl jsm_sso_jira::auth::TokenSource for Rotating {
    async fn access_token(&self) -> Result<Secret, Error> {
        self.fetched.fetch_add(1, Ordering::SeqCst);
        Ok(Secret::new(format!(
            "tok-{}",
            self.generation.load(Ordering::SeqCst) + 1
        )))
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Accepts only `Bearer <accepted>`; 401 otherwise.
#[derive(Debug)]
struct Gate {
    accepted: &'static str,
    seen: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl HttpClient for Gate {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let auth = request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(request.headers()["authorization"].is_sensitive());
        self.seen.lock().unwrap().push(auth.clone());
        let ok = auth == format!("Bearer {}", self.accepted);
        let (status, body) = if ok {
            (200, r#"{"id":"1","name":"Acme"}"#)
        } else {
            (401, r#"{"errorMessage":"token expired"}"#)
        };
        Ok(http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap())
    }
}

#[tokio::test]
async fn oauth_token_sources_are_refreshed_once_after_a_401() {
    let source = Arc::new(Rotating::default());
    let gate = Arc::new(Gate {
        accepted: "tok-2",
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = JiraClient::builder(Site::oauth("cloud-1").unwrap(), Auth::OAuth(source.clone()))
        .http(gate.clone())
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    // A POST too: a refused token means nothing happened.
    assert_eq!(client.organization("1").await.unwrap().name, "Acme");
    assert_eq!(*gate.seen.lock().unwrap(), ["Bearer tok-1", "Bearer tok-2"]);
    assert!(sleeper.waits().is_empty(), "a refresh does not wait");
    assert!(!format!("{client:?}").contains("tok-"));

    // A token that keeps failing: one refresh, then the 401 is the answer.
    let gate = Arc::new(Gate {
        accepted: "never",
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let client = JiraClient::builder(
        Site::oauth("cloud-1").unwrap(),
        Auth::OAuth(Arc::new(Rotating::default())),
    )
    .http(gate.clone())
    .build()
    .unwrap();
    let e = client.create_organization("New").await.unwrap_err();
    assert_eq!(e.code(), "jira.unauthorized");
    assert!(e.to_string().contains("token expired"), "{e}");
    assert_eq!(gate.seen.lock().unwrap().len(), 2);

    // Static credentials are not "refreshed": a 401 is final at once.
    let gate = Arc::new(Gate {
        accepted: "never",
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let client = JiraClient::builder(
        Site::oauth("cloud-1").unwrap(),
        Auth::Bearer(Secret::new("x")),
    )
    .http(gate.clone())
    .build()
    .unwrap();
    assert_eq!(
        client.organization("1").await.unwrap_err().code(),
        "jira.unauthorized"
    );
    assert_eq!(gate.seen.lock().unwrap().len(), 1);
}

/// Records request lines and bodies; answers 204.
#[derive(Debug, Default)]
struct Bodies {
    seen: std::sync::Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl HttpClient for Bodies {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let line = format!("{} {}", request.method(), request.uri());
        let body = String::from_utf8(request.body().clone()).unwrap();
        self.seen.lock().unwrap().push((line, body));
        Ok(http::Response::builder()
            .status(204)
            .body(Vec::new())
            .unwrap())
    }
}

#[tokio::test]
async fn data_center_names_users_by_key() {
    let bodies = Arc::new(Bodies::default());
    let client = JiraClient::builder(
        Site::data_center("https://jira.acme.example").unwrap(),
        Auth::PersonalAccessToken(Secret::new("pat")),
    )
    .http(bodies.clone())
    .build()
    .unwrap();
    client
        .add_organization_members("3", &["JIRAUSER10100"])
        .await
        .unwrap();
    client
        .add_desk_customers("HELP", &["JIRAUSER10100"])
        .await
        .unwrap();
    client
        .set_user_property("JIRAUSER10100", "jsm-sso.fields", &serde_json::json!({}))
        .await
        .unwrap();
    let seen = bodies.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (
                "POST https://jira.acme.example/rest/servicedeskapi/organization/3/user".to_owned(),
                r#"{"usernames":["JIRAUSER10100"]}"#.to_owned()
            ),
            (
                "POST https://jira.acme.example/rest/servicedeskapi/servicedesk/HELP/customer".to_owned(),
                r#"{"usernames":["JIRAUSER10100"]}"#.to_owned()
            ),
            (
                "PUT https://jira.acme.example/rest/api/2/user/properties/jsm-sso.fields?userKey=JIRAUSER10100"
                    .to_owned(),
                "{}".to_owned()
            ),
        ]
    );
}
