//! The public surface as other crates use it: seams behind `Arc<dyn _>`, passed to generic
//! code, errors funnelled into the crate `Error` with their codes intact.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::decision::StaticPolicy;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_core::memory::{MemoryDirectory, MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{
    AccessPolicy, Clock, CodedError, CustomerDirectory, Decision, Email, Error, HttpClient,
    ReplayCache, StateStore, VerifiedIdentity,
};

/// The seams a broker holds, all as trait objects shared across tasks.
struct Seams {
    clock: Arc<dyn Clock>,
    replay: Arc<dyn ReplayCache>,
    state: Arc<dyn StateStore>,
    directory: Arc<dyn CustomerDirectory>,
    policy: Arc<dyn AccessPolicy>,
    http: Arc<dyn HttpClient>,
}

fn assert_send_sync<T: Send + Sync + ?Sized>() {}

/// A fake `HttpClient`, as a protocol crate's tests would write one.
#[derive(Debug)]
struct Canned(http::StatusCode);

#[async_trait::async_trait]
impl HttpClient for Canned {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        if request.uri().scheme_str() != Some("https") {
            return Err(HttpError::InsecureScheme);
        }
        let mut response = http::Response::new(request.uri().to_string().into_bytes());
        *response.status_mut() = self.0;
        Ok(response)
    }
}

/// Generic code (as a protocol crate might write it) takes the traits by value.
async fn check_fresh(cache: impl ReplayCache, key: &str, until: SystemTime) -> Result<(), Error> {
    if cache.insert_if_absent(key, until).await? {
        Ok(())
    } else {
        Err(Error::from(jsm_sso_core::store::StoreError::KeyExists))
    }
}

async fn provision(
    directory: impl CustomerDirectory,
    email: &str,
) -> Result<jsm_sso_core::directory::CustomerId, Error> {
    let email: Email = email.parse()?;
    Ok(directory.create_customer(&email, "name").await?.id)
}

async fn fetch(client: impl HttpClient, url: &str) -> Result<Vec<u8>, Error> {
    let request = http::Request::get(url).body(Vec::new()).unwrap_or_default();
    Ok(client.send(request).await?.into_body())
}

#[tokio::test]
async fn seams_work_as_shared_trait_objects_and_through_generic_code() {
    assert_send_sync::<dyn Clock>();
    assert_send_sync::<dyn ReplayCache>();
    assert_send_sync::<dyn StateStore>();
    assert_send_sync::<dyn CustomerDirectory>();
    assert_send_sync::<dyn AccessPolicy>();
    assert_send_sync::<dyn HttpClient>();

    let clock = Arc::new(FixedClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
    ));
    let seams = Seams {
        clock: clock.clone(),
        replay: Arc::new(MemoryReplayCache::new(clock.clone(), 10)),
        state: Arc::new(MemoryStateStore::new(clock.clone(), 10)),
        directory: Arc::new(MemoryDirectory::new(10)),
        policy: Arc::new(StaticPolicy::new(Decision::deny(None))),
        http: Arc::new(Canned(http::StatusCode::IM_A_TEAPOT)),
    };
    let until = seams.clock.now() + Duration::from_secs(60);

    // Arc<dyn _> passes where generic code wants `impl Trait`.
    check_fresh(seams.replay.clone(), "k", until).await.unwrap();
    let err = check_fresh(seams.replay.clone(), "k", until)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.store.key_exists");

    seams.state.put("s", vec![1], until).await.unwrap();
    assert_eq!(seams.state.clone().take("s").await.unwrap(), Some(vec![1]));

    let a = provision(seams.directory.clone(), "a@example.com")
        .await
        .unwrap();
    let b = provision(seams.directory.clone(), "A@EXAMPLE.com")
        .await
        .unwrap();
    assert_eq!(a, b);
    let err = provision(seams.directory.clone(), "a@@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Email(_)));
    assert_eq!(err.code(), "core.email.multiple_at");

    let body = fetch(seams.http.clone(), "https://idp.example/jwks")
        .await
        .unwrap();
    assert_eq!(body, b"https://idp.example/jwks");
    let err = fetch(seams.http.clone(), "http://idp.example/jwks")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.http.insecure_scheme");

    let identity = VerifiedIdentity::new("idp", Protocol::Oidc, Subject::new("s"), clock.now());
    assert!(!seams.policy.decide(&identity).is_allowed());
    assert!(!seams.policy.clone().decide(&identity).is_allowed());
}

#[test]
fn crate_error_keeps_codes_hints_and_messages() {
    let err: Error = "alice@".parse::<Email>().unwrap_err().into();
    assert_eq!(err.code(), "core.email.domain_empty");
    assert_eq!(err.to_string(), "email address has an empty domain");
    assert!(!err.hint().is_empty());
    let as_std: &dyn std::error::Error = &err;
    assert!(
        as_std.source().is_none(),
        "transparent: the inner error is the error"
    );

    let err = Error::from(jsm_sso_core::directory::DirectoryError::Unavailable(
        "503 from helpdesk".into(),
    ));
    assert_eq!(err.code(), "core.directory.unavailable");
    assert_eq!(err.to_string(), "directory unavailable: 503 from helpdesk");
    let as_std: &dyn std::error::Error = &err;
    assert_eq!(
        as_std.source().map(ToString::to_string).as_deref(),
        Some("503 from helpdesk")
    );
}
