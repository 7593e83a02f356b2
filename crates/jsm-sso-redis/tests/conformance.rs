//! The store contract of `jsm-sso-core` (docs of `ReplayCache` and `StateStore`), as one
//! behavioural suite run against the in-memory stores (always) and against `RedisStore` on
//! the redis-server peer (`JSM_SSO_REDIS_URL`; skipped without it unless
//! `JSM_SSO_REQUIRE_PEERS=1`). Each case gets two handles, `a` and `b`: for Redis two
//! separately connected stores with the same prefix (two broker instances), for memory the
//! same store twice.
//!
//! Time is real here (Redis expires keys by its own clock), so expiry cases sleep a few
//! hundred milliseconds; nothing asserts on durations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::store::StoreError;
use jsm_sso_core::{CodedError, ReplayCache, StateStore};

/// Both seams in one object, as a broker holds them.
trait Both: ReplayCache + StateStore {}
impl<T: ReplayCache + StateStore> Both for T {}

/// The in-memory pair behind one object.
struct Memory {
    replay: MemoryReplayCache,
    state: MemoryStateStore,
}

#[async_trait]
impl ReplayCache for Memory {
    async fn insert_if_absent(&self, key: &str, at: SystemTime) -> Result<bool, StoreError> {
        self.replay.insert_if_absent(key, at).await
    }
}

#[async_trait]
impl StateStore for Memory {
    async fn put(&self, key: &str, value: Vec<u8>, at: SystemTime) -> Result<(), StoreError> {
        self.state.put(key, value, at).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.take(key).await
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Memory,
    Redis,
}

type Pair = (Arc<dyn Both>, Arc<dyn Both>);

/// Two handles on one fresh store taking values up to `max_value_len`; `None` to skip.
async fn pair(backend: Backend, case: &str, max_value_len: usize) -> Option<Pair> {
    match backend {
        Backend::Memory => {
            let clock = Arc::new(SystemClock);
            let one: Arc<dyn Both> = Arc::new(Memory {
                replay: MemoryReplayCache::new(clock.clone(), 100_000),
                state: MemoryStateStore::new(clock, 100_000).with_max_value_len(max_value_len),
            });
            Some((one.clone(), one))
        }
        Backend::Redis => {
            let url = common::redis_url()?;
            let prefix = common::unique_prefix(case);
            let connect = || async {
                let store = jsm_sso_redis::RedisStore::builder(url.as_str())
                    .prefix(prefix.as_str())
                    .max_value_len(max_value_len)
                    .connect()
                    .await
                    .unwrap();
                Arc::new(store) as Arc<dyn Both>
            };
            Some((connect().await, connect().await))
        }
    }
}

fn in_(d: Duration) -> SystemTime {
    SystemTime::now() + d
}

const MINUTE: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);
const PAST_SHORT: Duration = Duration::from_millis(450);

// ---- ReplayCache ------------------------------------------------------------------------

async fn replay_second_insert_is_a_replay_until_expiry(backend: Backend) {
    let Some((a, b)) = pair(backend, "replay_basic", 1024).await else {
        return;
    };
    assert!(
        a.insert_if_absent("saml:idp:_1", in_(MINUTE))
            .await
            .unwrap()
    );
    assert!(
        !a.insert_if_absent("saml:idp:_1", in_(MINUTE))
            .await
            .unwrap()
    );
    assert!(
        !b.insert_if_absent("saml:idp:_1", in_(MINUTE))
            .await
            .unwrap(),
        "other instance"
    );
    assert!(
        b.insert_if_absent("saml:idp:_2", in_(MINUTE))
            .await
            .unwrap()
    );

    assert!(a.insert_if_absent("short", in_(SHORT)).await.unwrap());
    assert!(!b.insert_if_absent("short", in_(MINUTE)).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    // Past expires_at the key is no longer live and may be accepted again.
    assert!(b.insert_if_absent("short", in_(MINUTE)).await.unwrap());
    assert!(!a.insert_if_absent("short", in_(MINUTE)).await.unwrap());
}

async fn replay_refuses_expiry_not_in_the_future(backend: Backend) {
    let Some((a, _)) = pair(backend, "replay_past", 1024).await else {
        return;
    };
    for at in [
        SystemTime::now(),
        SystemTime::now() - Duration::from_secs(1),
    ] {
        let err = a.insert_if_absent("k", at).await.unwrap_err();
        assert_eq!(err.code(), "core.store.already_expired");
    }
    // Nothing was recorded.
    assert!(a.insert_if_absent("k", in_(MINUTE)).await.unwrap());
}

async fn replay_key_limits(backend: Backend) {
    let Some((a, _)) = pair(backend, "replay_keys", 1024).await else {
        return;
    };
    let err = a.insert_if_absent("", in_(MINUTE)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
    let long = "x".repeat(513);
    let err = a.insert_if_absent(&long, in_(MINUTE)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::KeyInvalid { len: 513, max: 512 }),
        "{err:?}"
    );
    assert!(a.insert_if_absent(&long[..512], in_(MINUTE)).await.unwrap());
    // Keys are opaque text: separators, spaces and non-ASCII are just bytes.
    for key in ["a:b:c", "with space", "ünïcødé", "*", "\u{0}nul"] {
        assert!(
            a.insert_if_absent(key, in_(MINUTE)).await.unwrap(),
            "{key:?}"
        );
        assert!(
            !a.insert_if_absent(key, in_(MINUTE)).await.unwrap(),
            "{key:?}"
        );
    }
}

async fn replay_exactly_one_of_1000_racing_inserts_wins(backend: Backend) {
    let Some((a, b)) = pair(backend, "replay_race", 1024).await else {
        return;
    };
    for round in 0..3 {
        let key = format!("oidc:nonce:{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(1_000));
        let mut tasks = Vec::new();
        for i in 0..1_000 {
            // Half the racers on each instance.
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, key) = (barrier.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let won = cache.insert_if_absent(&key, in_(MINUTE)).await.unwrap();
                let noise = format!("noise:{round}:{i}");
                assert!(cache.insert_if_absent(&noise, in_(MINUTE)).await.unwrap());
                won
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

// ---- StateStore ---------------------------------------------------------------------------

async fn state_take_is_single_use(backend: Backend) {
    let Some((a, b)) = pair(backend, "state_single", 1024).await else {
        return;
    };
    a.put("state-1", b"pending login".to_vec(), in_(MINUTE))
        .await
        .unwrap();
    assert_eq!(
        b.take("state-1").await.unwrap().as_deref(),
        Some(&b"pending login"[..]),
        "taken on the other instance"
    );
    assert_eq!(a.take("state-1").await.unwrap(), None);
    assert_eq!(b.take("state-1").await.unwrap(), None);
    assert_eq!(a.take("never-put").await.unwrap(), None);
    // Binary values survive byte for byte.
    let bytes: Vec<u8> = (0..=255).collect();
    a.put("bin", bytes.clone(), in_(MINUTE)).await.unwrap();
    assert_eq!(b.take("bin").await.unwrap(), Some(bytes));
    a.put("empty", Vec::new(), in_(MINUTE)).await.unwrap();
    assert_eq!(a.take("empty").await.unwrap(), Some(Vec::new()));
}

async fn state_expired_entries_are_never_returned(backend: Backend) {
    let Some((a, b)) = pair(backend, "state_expiry", 1024).await else {
        return;
    };
    a.put("s", vec![1], in_(SHORT)).await.unwrap();
    a.put("t", vec![2], in_(MINUTE)).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(b.take("s").await.unwrap(), None, "expired");
    assert_eq!(b.take("t").await.unwrap(), Some(vec![2]));
}

async fn state_put_refuses_a_live_key_but_reuses_an_expired_one(backend: Backend) {
    let Some((a, b)) = pair(backend, "state_exists", 1024).await else {
        return;
    };
    a.put("s", vec![1], in_(SHORT)).await.unwrap();
    let err = b.put("s", vec![2], in_(MINUTE)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_exists");
    tokio::time::sleep(PAST_SHORT).await;
    b.put("s", vec![3], in_(MINUTE)).await.unwrap();
    assert_eq!(a.take("s").await.unwrap(), Some(vec![3]));
    // A taken key may be put again.
    a.put("s", vec![4], in_(MINUTE)).await.unwrap();
    assert_eq!(a.take("s").await.unwrap(), Some(vec![4]));
}

async fn state_limits(backend: Backend) {
    let Some((a, _)) = pair(backend, "state_limits", 8).await else {
        return;
    };
    let err = a.put("big", vec![0; 9], in_(MINUTE)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ValueTooLarge { len: 9, max: 8 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "core.store.value_too_large");
    a.put("ok", vec![0; 8], in_(MINUTE)).await.unwrap();

    let err = a.put("past", vec![], SystemTime::now()).await.unwrap_err();
    assert_eq!(err.code(), "core.store.already_expired");
    assert_eq!(a.take("past").await.unwrap(), None);

    let err = a.put("", vec![], in_(MINUTE)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
    let err = a.take(&"k".repeat(513)).await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
    let err = a.take("").await.unwrap_err();
    assert_eq!(err.code(), "core.store.key_invalid");
}

async fn state_exactly_one_of_1000_racing_takes_gets_the_value(backend: Backend) {
    let Some((a, b)) = pair(backend, "state_race", 1024).await else {
        return;
    };
    for round in 0..3u8 {
        let key = format!("state:{round}");
        a.put(&key, vec![round; 32], in_(MINUTE)).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(1_000));
        let mut tasks = Vec::new();
        for i in 0..1_000 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, key) = (barrier.clone(), key.clone());
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

async fn state_concurrent_distinct_keys_all_round_trip(backend: Backend) {
    let Some((a, b)) = pair(backend, "state_many", 1024).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..2_000u32 {
        let (put_on, take_on) = if i % 2 == 0 {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            put_on
                .put(&key, i.to_be_bytes().to_vec(), in_(MINUTE))
                .await
                .unwrap();
            tokio::task::yield_now().await;
            take_on.take(&key).await.unwrap()
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        assert_eq!(task.await.unwrap(), Some(i.to_be_bytes().to_vec()));
    }
}

async fn replay_and_state_keys_do_not_collide(backend: Backend) {
    let Some((a, _)) = pair(backend, "spaces", 1024).await else {
        return;
    };
    assert!(a.insert_if_absent("same", in_(MINUTE)).await.unwrap());
    a.put("same", vec![7], in_(MINUTE)).await.unwrap();
    assert_eq!(a.take("same").await.unwrap(), Some(vec![7]));
    assert!(!a.insert_if_absent("same", in_(MINUTE)).await.unwrap());
}

macro_rules! suite {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn replay_second_insert_is_a_replay_until_expiry() {
                super::replay_second_insert_is_a_replay_until_expiry($backend).await;
            }
            #[tokio::test]
            async fn replay_refuses_expiry_not_in_the_future() {
                super::replay_refuses_expiry_not_in_the_future($backend).await;
            }
            #[tokio::test]
            async fn replay_key_limits() {
                super::replay_key_limits($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn replay_exactly_one_of_1000_racing_inserts_wins() {
                super::replay_exactly_one_of_1000_racing_inserts_wins($backend).await;
            }
            #[tokio::test]
            async fn state_take_is_single_use() {
                super::state_take_is_single_use($backend).await;
            }
            #[tokio::test]
            async fn state_expired_entries_are_never_returned() {
                super::state_expired_entries_are_never_returned($backend).await;
            }
            #[tokio::test]
            async fn state_put_refuses_a_live_key_but_reuses_an_expired_one() {
                super::state_put_refuses_a_live_key_but_reuses_an_expired_one($backend).await;
            }
            #[tokio::test]
            async fn state_limits() {
                super::state_limits($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn state_exactly_one_of_1000_racing_takes_gets_the_value() {
                super::state_exactly_one_of_1000_racing_takes_gets_the_value($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn state_concurrent_distinct_keys_all_round_trip() {
                super::state_concurrent_distinct_keys_all_round_trip($backend).await;
            }
            #[tokio::test]
            async fn replay_and_state_keys_do_not_collide() {
                super::replay_and_state_keys_do_not_collide($backend).await;
            }
        }
    };
}

suite!(memory, Backend::Memory);
suite!(redis, Backend::Redis);
