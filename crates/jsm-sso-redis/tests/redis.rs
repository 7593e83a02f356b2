//! What only a real Redis shows: connect-time checks (URL, password, eviction policy), key
//! layout and time-to-live, prefixes, and failures — a killed connection, a server that
//! stops and comes back, a server that stops answering. Everything fails closed with
//! `core.store.backend`.
//!
//! Uses the redis-server peer (`JSM_SSO_REDIS_URL`) and, for the tests that stop or pause a
//! server, a private `redis-server` of its own on another 127.0.0.1 port. Skipped without
//! the peer unless `JSM_SSO_REQUIRE_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::{Duration, SystemTime};

use common::PrivateServer;
use jsm_sso_core::{CodedError, ReplayCache, StateStore};
use jsm_sso_redis::RedisStore;

fn in_(d: Duration) -> SystemTime {
    SystemTime::now() + d
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn connect_refusals_have_codes() {
    let Some(url) = common::redis_url() else {
        return;
    };
    // Nothing listens on the port of a server that was just stopped.
    let closed = PrivateServer::start(&[]).await.stop().await;
    let err = RedisStore::builder(format!("redis://127.0.0.1:{closed}/"))
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .unwrap_err();
    assert!(
        ["redis.connect.failed", "redis.connect.timeout"].contains(&err.code()),
        "{err}"
    );
    for bad in ["http://127.0.0.1/", "not a url", "redis://"] {
        let err = RedisStore::connect(bad).await.unwrap_err();
        assert_eq!(err.code(), "redis.url.invalid", "{bad}: {err}");
    }
    // TLS is not built in: said so at once, no plaintext fallback.
    let err = RedisStore::connect("rediss://127.0.0.1:6380/")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "redis.url.invalid", "{err}");
    for prefix in ["", "with space:", &"p".repeat(65)] {
        let err = RedisStore::builder(url.as_str())
            .prefix(prefix)
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.code(), "redis.prefix.invalid", "{prefix:?}");
    }
}

#[tokio::test]
async fn passwords_are_used_and_never_shown() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&["--requirepass", "s3cr3t-pw"]).await;
    let err = RedisStore::connect(server.url.as_str()).await.unwrap_err();
    assert_eq!(err.code(), "redis.connect.failed");
    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}/", server.port);
    let err = RedisStore::connect(wrong.as_str()).await.unwrap_err();
    assert_eq!(err.code(), "redis.connect.failed");
    assert!(!err.to_string().contains("wrong-pw"), "{err}");

    let good = format!("redis://:s3cr3t-pw@127.0.0.1:{}/", server.port);
    let builder = RedisStore::builder(good.as_str());
    assert!(!format!("{builder:?}").contains("s3cr3t"));
    let store = builder.connect().await.unwrap();
    assert!(!format!("{store:?}").contains("s3cr3t"));
    assert!(store.insert_if_absent("k", in_(MINUTE)).await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn eviction_policies_that_could_drop_live_keys_are_refused() {
    if common::redis_url().is_none() {
        return;
    }
    for policy in [
        "allkeys-lru",
        "volatile-ttl",
        "volatile-lru",
        "allkeys-random",
    ] {
        let server =
            PrivateServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", policy]).await;
        let err = RedisStore::connect(server.url.as_str()).await.unwrap_err();
        assert_eq!(err.code(), "redis.server.eviction", "{policy}");
        assert_eq!(
            err.to_string(),
            format!(
                "redis maxmemory-policy is {policy} with maxmemory 67108864: live keys may be evicted"
            )
        );
        let store = RedisStore::builder(server.url.as_str())
            .dangerous_allow_eviction()
            .connect()
            .await
            .unwrap();
        store.ping().await.unwrap();
        server.stop().await;
    }
    // A memory limit with noeviction is what the docs ask for: accepted.
    let server =
        PrivateServer::start(&["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"]).await;
    RedisStore::connect(server.url.as_str()).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn keys_live_under_the_prefix_with_a_ttl_rounded_up() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("layout");
    let store = common::store(&url, &prefix).await;
    assert_eq!(store.prefix(), prefix);
    let mut raw = common::raw(&url).await;

    assert!(
        store
            .insert_if_absent("saml:idp:_1", in_(MINUTE))
            .await
            .unwrap()
    );
    let key = format!("{prefix}replay:saml:idp:_1");
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(value, "1");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((55_000..=60_000).contains(&pttl), "{pttl}");

    store
        .put("state-1", b"v".to_vec(), in_(Duration::from_secs(600)))
        .await
        .unwrap();
    let key = format!("{prefix}state:state-1");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((595_000..=600_000).contains(&pttl), "{pttl}");
    assert_eq!(store.take("state-1").await.unwrap(), Some(b"v".to_vec()));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(exists, 0, "GETDEL removed it");

    // A sub-millisecond lifetime is rounded up to 1 ms, not down to nothing (PX 0 is an error).
    assert!(
        store
            .insert_if_absent("tiny", in_(Duration::from_micros(900)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn prefixes_separate_deployments() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let a = common::store(&url, &common::unique_prefix("tenant-a")).await;
    let b = common::store(&url, &common::unique_prefix("tenant-b")).await;
    assert!(a.insert_if_absent("id", in_(MINUTE)).await.unwrap());
    assert!(b.insert_if_absent("id", in_(MINUTE)).await.unwrap());
    a.put("s", vec![1], in_(MINUTE)).await.unwrap();
    assert_eq!(b.take("s").await.unwrap(), None);
    assert_eq!(a.take("s").await.unwrap(), Some(vec![1]));
}

#[tokio::test]
async fn a_killed_connection_fails_closed_then_recovers() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&[]).await;
    let store = RedisStore::builder(server.url.as_str())
        .operation_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    assert!(store.insert_if_absent("before", in_(MINUTE)).await.unwrap());
    store.put("pending", vec![9], in_(MINUTE)).await.unwrap();

    let mut raw = common::raw(&server.url).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(killed >= 1, "{killed}");

    // Each operation either fails with the backend code or gives the right answer; within
    // a few tries the store has reconnected.
    let mut failures = 0;
    let mut answered = None;
    for _ in 0..50 {
        match store.insert_if_absent("before", in_(MINUTE)).await {
            Ok(fresh) => {
                answered = Some(fresh);
                break;
            }
            Err(e) => {
                assert_eq!(e.code(), "core.store.backend", "{e}");
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(
        answered,
        Some(false),
        "still a replay after reconnecting ({failures} failures)"
    );
    assert_eq!(store.take("pending").await.unwrap(), Some(vec![9]));
    server.stop().await;
}

#[tokio::test]
async fn a_stopped_server_fails_closed_and_a_restarted_one_is_used_again() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&[]).await;
    let store = RedisStore::builder(server.url.as_str())
        .operation_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    assert!(store.insert_if_absent("k", in_(MINUTE)).await.unwrap());
    let port = server.stop().await;

    // Down: every operation is refused with the backend code, never answered.
    for _ in 0..3 {
        let err = store
            .insert_if_absent("new", in_(MINUTE))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "core.store.backend", "{err}");
        let err = store.put("s", vec![1], in_(MINUTE)).await.unwrap_err();
        assert_eq!(err.code(), "core.store.backend");
        let err = store.take("s").await.unwrap_err();
        assert_eq!(err.code(), "core.store.backend");
        assert_eq!(store.ping().await.unwrap_err().code(), "core.store.backend");
    }

    // Back (empty: no persistence): the same store reconnects by itself.
    let server = PrivateServer::start_on(port, &[]).await;
    let mut ok = false;
    for _ in 0..100 {
        if store.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the store did not reconnect");
    assert!(store.insert_if_absent("after", in_(MINUTE)).await.unwrap());
    assert!(!store.insert_if_absent("after", in_(MINUTE)).await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_and_the_outcome_stays_closed() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&[]).await;
    let store = RedisStore::builder(server.url.as_str())
        .operation_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let mut raw = common::raw(&server.url).await;
    let _: String = redis::cmd("CLIENT")
        .arg(&["PAUSE", "1000", "ALL"][..])
        .query_async(&mut raw)
        .await
        .unwrap();
    let err = store
        .insert_if_absent("paused", in_(MINUTE))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.store.backend");
    assert_eq!(
        err.to_string(),
        "store backend failed: redis SET NX: no answer within 200 ms"
    );
    let err = store.take("whatever").await.unwrap_err();
    assert_eq!(err.code(), "core.store.backend");
    // Once the server answers again, the timed-out SET turns out to have been applied: the
    // id is recorded though the caller was told "failed" — a refusal, never a replay.
    let mut recorded = None;
    for _ in 0..60 {
        if let Ok(fresh) = store.insert_if_absent("paused", in_(MINUTE)).await {
            recorded = Some(!fresh);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded, Some(true));
    server.stop().await;
}

#[tokio::test]
async fn an_acl_user_limited_to_the_store_commands_is_enough() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&[]).await;
    let mut raw = common::raw(&server.url).await;
    let _: String = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                "broker",
                "on",
                ">broker-pw",
                "~jsm-sso:*",
                "+set",
                "+getdel",
                "+ping",
            ][..],
        )
        .query_async(&mut raw)
        .await
        .unwrap();
    let url = format!("redis://broker:broker-pw@127.0.0.1:{}/", server.port);
    let store = RedisStore::connect(url.as_str()).await.unwrap();
    assert!(store.insert_if_absent("k", in_(MINUTE)).await.unwrap());
    assert!(!store.insert_if_absent("k", in_(MINUTE)).await.unwrap());
    store.put("s", vec![1], in_(MINUTE)).await.unwrap();
    assert_eq!(store.take("s").await.unwrap(), Some(vec![1]));
    store.ping().await.unwrap();
    // Outside its key pattern the server refuses, and the store says backend failure.
    let other = RedisStore::builder(url.as_str())
        .prefix("elsewhere:")
        .connect()
        .await
        .unwrap();
    let err = other.insert_if_absent("k", in_(MINUTE)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.backend");
    assert!(err.to_string().contains("no permissions"), "{err}");
    server.stop().await;
}
