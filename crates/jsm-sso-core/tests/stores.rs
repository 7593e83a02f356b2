//! The store seams through their public API: `MemoryReplayCache` and `MemoryStateStore`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::memory::{MAX_KEY_LEN, MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::store::StoreError;
use jsm_sso_core::{Clock, CodedError, ReplayCache, StateStore};

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- ReplayCache ------------------------------------------------------------------------

#[tokio::test]
async fn replay_cache_second_insert_is_a_replay_until_expiry() {
    let clock = clock();
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new(clock.clone(), 10));
    let expires = clock.now() + secs(60);
    assert!(
        cache
            .insert_if_absent("saml:idp:_1", expires)
            .await
            .unwrap()
    );
    assert!(
        !cache
            .insert_if_absent("saml:idp:_1", expires)
            .await
            .unwrap()
    );
    // Another key is independent.
    assert!(
        cache
            .insert_if_absent("saml:idp:_2", expires)
            .await
            .unwrap()
    );

    clock.advance(secs(59));
    assert!(
        !cache
            .insert_if_absent("saml:idp:_1", clock.now() + secs(60))
            .await
            .unwrap()
    );
    // At expires_at the key is no longer live and may be accepted again.
    clock.advance(secs(1));
    assert!(
        cache
            .insert_if_absent("saml:idp:_1", clock.now() + secs(60))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn replay_cache_refuses_expiry_not_in_the_future() {
    let clock = clock();
    let cache = MemoryReplayCache::new(clock.clone(), 10);
    for at in [clock.now(), clock.now() - secs(1)] {
        let err = cache.insert_if_absent("k", at).await.unwrap_err();
        assert_eq!(err.code(), "core.store.already_expired");
    }
    assert!(cache.is_empty());
}

#[tokio::test]
async fn replay_cache_when_full_drops_expired_then_refuses_live() {
    let clock = clock();
    let cache = MemoryReplayCache::new(clock.clone(), 3);
    assert_eq!(cache.capacity(), 3);
    assert!(
        cache
            .insert_if_absent("short", clock.now() + secs(10))
            .await
            .unwrap()
    );
    assert!(
        cache
            .insert_if_absent("long-1", clock.now() + secs(100))
            .await
            .unwrap()
    );
    assert!(
        cache
            .insert_if_absent("long-2", clock.now() + secs(100))
            .await
            .unwrap()
    );
    assert_eq!(cache.len(), 3);

    // Full of live keys: a new key is refused, and no live key was evicted.
    let err = cache
        .insert_if_absent("new", clock.now() + secs(100))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Full { capacity: 3 }), "{err:?}");
    assert_eq!(err.code(), "core.store.full");
    for live in ["short", "long-1", "long-2"] {
        assert!(
            !cache
                .insert_if_absent(live, clock.now() + secs(100))
                .await
                .unwrap()
        );
    }

    // Once "short" expires its slot is reclaimed for the new key.
    clock.advance(secs(10));
    assert!(
        cache
            .insert_if_absent("new", clock.now() + secs(100))
            .await
            .unwrap()
    );
    assert_eq!(cache.len(), 3);
    assert!(
        !cache
            .insert_if_absent("long-1", clock.now() + secs(100))
            .await
            .unwrap()
    );
    let err = cache
        .insert_if_absent("another", clock.now() + secs(100))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.store.full");
}

#[tokio::test]
async fn replay_cache_purge_expired_frees_memory() {
    let clock = clock();
    let cache = MemoryReplayCache::new(clock.clone(), 1_000);
    for i in 0..500 {
        let ttl = if i % 2 == 0 { secs(5) } else { secs(50) };
        assert!(
            cache
                .insert_if_absent(&format!("k{i}"), clock.now() + ttl)
                .await
                .unwrap()
        );
    }
    assert_eq!(cache.purge_expired(), 0);
    clock.advance(secs(5));
    assert_eq!(cache.purge_expired(), 250);
    assert_eq!(cache.len(), 250);
}

#[tokio::test]
async fn replay_cache_key_limits() {
    let clock = clock();
    let cache = MemoryReplayCache::new(clock.clone(), 10);
    let at = clock.now() + secs(5);
    let err = cache.insert_if_absent("", at).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
    let long = "x".repeat(MAX_KEY_LEN + 1);
    let err = cache.insert_if_absent(&long, at).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyInvalid { len, max } if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN)
    );
    assert!(
        cache
            .insert_if_absent(&long[..MAX_KEY_LEN], at)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_cache_exactly_one_of_1000_racing_inserts_wins() {
    let clock = clock();
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new(clock.clone(), 10_000));
    // Some unrelated traffic in the same cache, so shards are busy.
    for round in 0..3 {
        let key = format!("oidc:nonce:{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(1_000));
        let mut tasks = Vec::new();
        for i in 0..1_000 {
            let cache = cache.clone();
            let barrier = barrier.clone();
            let key = key.clone();
            let expires = clock.now() + secs(60);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let noise = format!("noise:{round}:{i}");
                let won = cache.insert_if_absent(&key, expires).await.unwrap();
                assert!(cache.insert_if_absent(&noise, expires).await.unwrap());
                won
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

// ---- StateStore ---------------------------------------------------------------------------

#[tokio::test]
async fn state_store_take_is_single_use() {
    let clock = clock();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new(clock.clone(), 10));
    store
        .put(
            "state-1",
            b"pending login".to_vec(),
            clock.now() + secs(600),
        )
        .await
        .unwrap();
    assert_eq!(
        store.take("state-1").await.unwrap().as_deref(),
        Some(&b"pending login"[..])
    );
    assert_eq!(store.take("state-1").await.unwrap(), None);
    assert_eq!(store.take("never-put").await.unwrap(), None);
}

#[tokio::test]
async fn state_store_expired_entries_are_never_returned() {
    let clock = clock();
    let store = MemoryStateStore::new(clock.clone(), 10);
    store
        .put("s", vec![1], clock.now() + secs(30))
        .await
        .unwrap();
    clock.advance(secs(29));
    store
        .put("t", vec![2], clock.now() + secs(30))
        .await
        .unwrap();
    clock.advance(secs(1));
    assert_eq!(
        store.take("s").await.unwrap(),
        None,
        "expired at exactly expires_at"
    );
    assert_eq!(store.take("t").await.unwrap(), Some(vec![2]));
    assert!(store.is_empty());
}

#[tokio::test]
async fn state_store_put_refuses_a_live_key_but_reuses_an_expired_one() {
    let clock = clock();
    let store = MemoryStateStore::new(clock.clone(), 10);
    store
        .put("s", vec![1], clock.now() + secs(30))
        .await
        .unwrap();
    let err = store
        .put("s", vec![2], clock.now() + secs(30))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.store.key_exists");
    // The first value survived.
    clock.advance(secs(30));
    store
        .put("s", vec![3], clock.now() + secs(30))
        .await
        .unwrap();
    assert_eq!(store.take("s").await.unwrap(), Some(vec![3]));
}

#[tokio::test]
async fn state_store_limits() {
    let clock = clock();
    let store = MemoryStateStore::new(clock.clone(), 2).with_max_value_len(8);
    let at = clock.now() + secs(30);

    let err = store.put("big", vec![0; 9], at).await.unwrap_err();
    assert!(matches!(err, StoreError::ValueTooLarge { len: 9, max: 8 }));
    assert_eq!(err.code(), "core.store.value_too_large");
    store.put("ok", vec![0; 8], at).await.unwrap();

    let err = store.put("past", vec![], clock.now()).await.unwrap_err();
    assert_eq!(err.code(), "core.store.already_expired");

    let err = store.put("", vec![], at).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
    let err = store.take(&"k".repeat(MAX_KEY_LEN + 1)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");

    store.put("two", vec![], at).await.unwrap();
    let err = store.put("three", vec![], at).await.unwrap_err();
    assert_eq!(err.code(), "core.store.full");
    // Taking frees a slot at once.
    assert!(store.take("ok").await.unwrap().is_some());
    store.put("three", vec![], at).await.unwrap();
    assert_eq!(store.len(), 2);
}

#[tokio::test]
async fn state_store_debug_does_not_show_values() {
    let clock = clock();
    let store = MemoryStateStore::new(clock.clone(), 2);
    store
        .put("k", b"pkce-verifier-XYZ".to_vec(), clock.now() + secs(5))
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains("XYZ") && !shown.contains("pkce"), "{shown}");
    assert!(shown.contains("len: 1"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_store_exactly_one_of_1000_racing_takes_gets_the_value() {
    let clock = clock();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new(clock.clone(), 10_000));
    for round in 0..3u8 {
        let key = format!("state:{round}");
        store
            .put(&key, vec![round; 32], clock.now() + secs(600))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(1_000));
        let mut tasks = Vec::new();
        for _ in 0..1_000 {
            let store = store.clone();
            let barrier = barrier.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.take(&key).await.unwrap()
            }));
        }
        let mut got = Vec::new();
        for task in tasks {
            if let Some(value) = task.await.unwrap() {
                got.push(value);
            }
        }
        assert_eq!(got, vec![vec![round; 32]], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_store_concurrent_distinct_keys_all_round_trip() {
    let clock = clock();
    let store = Arc::new(MemoryStateStore::new(clock.clone(), 4_000));
    let mut tasks = Vec::new();
    for i in 0..2_000u32 {
        let store = store.clone();
        let at = clock.now() + secs(60);
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            store.put(&key, i.to_be_bytes().to_vec(), at).await.unwrap();
            tokio::task::yield_now().await;
            store.take(&key).await.unwrap()
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        assert_eq!(task.await.unwrap(), Some(i.to_be_bytes().to_vec()));
    }
    assert!(store.is_empty());
}
