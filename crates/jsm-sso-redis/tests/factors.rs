//! `RedisFactorStore` on a real Redis: round trip and key layout (no expiry, sealed JSON
//! only), a pending enrolment never replacing a confirmed factor, foreign or malformed
//! values refused with `redis.factor.malformed`, bad input refused before Redis is asked,
//! and two stores on two connections sharing enrolments (sealed on one, opened on the other).
//!
//! Uses the redis-server peer (`JSM_SSO_REDIS_URL`); skipped without it unless
//! `JSM_SSO_REQUIRE_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use common::PrivateServer;
use jsm_sso_core::CodedError;
use jsm_sso_mfa::{PendingEnrolment, Sealer, SealingKey, TotpParams};
use jsm_sso_redis::{RedisFactorStore, RedisStore, SealedFactor};
use redis::AsyncCommands;

async fn factors(url: &str, prefix: &str) -> RedisFactorStore {
    RedisFactorStore::new(&common::store(url, prefix).await)
}

#[tokio::test]
async fn round_trip_with_key_layout_and_no_expiry() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("factor-rt");
    let store = factors(&url, &prefix).await;
    let account = "3f2a".repeat(16);
    assert_eq!(store.get(&account).await.unwrap(), None);

    let pending = SealedFactor::Pending("totp1.p.AAAA.BBBB.CCCC.DDDD".into());
    store.put(&account, &pending).await.unwrap();
    assert_eq!(store.get(&account).await.unwrap(), Some(pending));

    let confirmed = SealedFactor::Confirmed("totp1.c.AAAA.BBBB.CCCC.EEEE".into());
    store.put(&account, &confirmed).await.unwrap();
    assert_eq!(store.get(&account).await.unwrap(), Some(confirmed.clone()));

    // One plain string key under the prefix, holding the sealed JSON, with no expiry.
    let key = format!("{prefix}mfa:factor:{account}");
    assert_eq!(store.key(&account).unwrap(), key);
    let mut raw = common::raw(&url).await;
    let value: String = raw.get(&key).await.unwrap();
    assert_eq!(value, r#"{"confirmed":"totp1.c.AAAA.BBBB.CCCC.EEEE"}"#);
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert_eq!(ttl, -1, "a factor must not expire");

    // A time-to-live someone put on the key is dropped by the next write.
    let _: bool = raw.expire(&key, 600).await.unwrap();
    store.put(&account, &confirmed).await.unwrap();
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert_eq!(ttl, -1);

    // Nothing else was written under the prefix.
    let keys: Vec<String> = raw.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys, vec![key]);
}

#[tokio::test]
async fn a_pending_enrolment_never_replaces_a_confirmed_factor() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("factor-downgrade");
    let store = factors(&url, &prefix).await;
    let confirmed = SealedFactor::Confirmed("totp1.c.first".into());
    store.put("acct", &confirmed).await.unwrap();

    let err = store
        .put("acct", &SealedFactor::Pending("totp1.p.second".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "redis.factor.confirmed", "{err}");
    assert_eq!(store.get("acct").await.unwrap(), Some(confirmed));

    // A confirmed factor replaces a confirmed one (re-sealing under a new key), and a
    // pending one replaces a pending one.
    let resealed = SealedFactor::Confirmed("totp1.c.resealed".into());
    store.put("acct", &resealed).await.unwrap();
    assert_eq!(store.get("acct").await.unwrap(), Some(resealed));
    store
        .put("other", &SealedFactor::Pending("totp1.p.one".into()))
        .await
        .unwrap();
    let newer = SealedFactor::Pending("totp1.p.two".into());
    store.put("other", &newer).await.unwrap();
    assert_eq!(store.get("other").await.unwrap(), Some(newer));
}

#[tokio::test]
async fn foreign_and_malformed_values_are_refused_not_read_as_absent() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("factor-foreign");
    let store = factors(&url, &prefix).await;
    let mut raw = common::raw(&url).await;
    let huge = format!(r#"{{"confirmed":"{}"}}"#, "a".repeat(20_000));
    for (i, value) in [
        "not json",
        "",
        r#"{"confirmed":"x","extra":1}"#,
        r#"{"enrolled":"totp1.c.x"}"#,
        r#"{"confirmed":42}"#,
        r#"{"confirmed":""}"#,
        r#"{"pending":"has space"}"#,
        r#"["confirmed","totp1.c.x"]"#,
        r#""totp1.c.x""#,
        huge.as_str(),
    ]
    .into_iter()
    .enumerate()
    {
        let account = format!("acct{i}");
        let _: () = raw
            .set(format!("{prefix}mfa:factor:{account}"), value)
            .await
            .unwrap();
        let err = store.get(&account).await.unwrap_err();
        assert_eq!(err.code(), "redis.factor.malformed", "{value:.40}: {err}");
        assert!(err.to_string().contains(&account), "{err}");
    }
    // A key of another type (another application's hash) is a Redis error: backend.
    let _: () = raw
        .hset(format!("{prefix}mfa:factor:hash"), "f", "v")
        .await
        .unwrap();
    let err = store.get("hash").await.unwrap_err();
    assert_eq!(err.code(), "core.store.backend", "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_redis() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("factor-input");
    let redis = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .max_value_len(256)
        .connect()
        .await
        .unwrap();
    let store = RedisFactorStore::new(&redis);
    let ok = SealedFactor::Confirmed("totp1.c.x".into());
    for account in [String::new(), "a".repeat(513)] {
        assert_eq!(
            store.get(&account).await.unwrap_err().code(),
            "core.store.key_invalid"
        );
        assert_eq!(
            store.put(&account, &ok).await.unwrap_err().code(),
            "core.store.key_invalid"
        );
    }
    for sealed in ["", "two words", "line\nbreak", "é"] {
        let err = store
            .put("acct", &SealedFactor::Pending(sealed.into()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "redis.factor.not_sealed", "{sealed:?}");
    }
    let err = store
        .put("acct", &SealedFactor::Confirmed("x".repeat(300)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.store.value_too_large");
    // Nothing reached Redis.
    let mut raw = common::raw(&url).await;
    let keys: Vec<String> = raw.keys(format!("{prefix}*")).await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn two_instances_share_enrolments() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("factor-fleet");
    // Two connections, as two gateway processes would have; one sealing key for the fleet.
    let a = factors(&url, &prefix).await;
    let b = factors(&url, &prefix).await;
    let (key, key_text) = SealingKey::generate().unwrap();
    let sealer_a = Sealer::new(key);
    let sealer_b = Sealer::new(SealingKey::from_base64(&key_text).unwrap());
    let account = "customer-digest";

    // Offered on A: B sees the same pending enrolment and opens it.
    let offered =
        PendingEnrolment::generate("Acme", "ada@example.com", TotpParams::default()).unwrap();
    a.put(
        account,
        &SealedFactor::Pending(sealer_a.seal_pending(account, &offered).unwrap()),
    )
    .await
    .unwrap();
    let Some(SealedFactor::Pending(sealed)) = b.get(account).await.unwrap() else {
        panic!("B does not see A's pending enrolment");
    };
    let on_b = sealer_b.open_pending(account, &sealed).unwrap();
    assert_eq!(on_b.secret_base32(), offered.secret_base32());

    // Confirmed on B: A sees the confirmed factor, and its own late pending write is refused.
    let secret = on_b.secret_for_tests();
    b.put(
        account,
        &SealedFactor::Confirmed(sealer_b.seal(account, secret).unwrap()),
    )
    .await
    .unwrap();
    let Some(SealedFactor::Confirmed(sealed)) = a.get(account).await.unwrap() else {
        panic!("A does not see B's confirmed factor");
    };
    let opened = sealer_a.open(account, &sealed).unwrap();
    assert_eq!(opened.expose_base32(), secret.expose_base32());
    let late = SealedFactor::Pending(sealer_a.seal_pending(account, &offered).unwrap());
    assert_eq!(
        a.put(account, &late).await.unwrap_err().code(),
        "redis.factor.confirmed"
    );

    // Another prefix is another deployment: it sees nothing.
    let other = factors(&url, &common::unique_prefix("factor-fleet-other")).await;
    assert_eq!(other.get(account).await.unwrap(), None);
}

#[tokio::test]
async fn a_stopped_server_fails_closed() {
    if common::redis_url().is_none() {
        return;
    }
    let server = PrivateServer::start(&[]).await;
    let redis = RedisStore::builder(server.url.as_str())
        .operation_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let store = RedisFactorStore::new(&redis);
    store
        .put("acct", &SealedFactor::Confirmed("totp1.c.x".into()))
        .await
        .unwrap();
    server.stop().await;
    for _ in 0..2 {
        assert_eq!(
            store.get("acct").await.unwrap_err().code(),
            "core.store.backend"
        );
        assert_eq!(
            store
                .put("acct", &SealedFactor::Pending("totp1.p.x".into()))
                .await
                .unwrap_err()
                .code(),
            "core.store.backend"
        );
    }
}
