//! Shared by the Redis tests: the peer's address (skip or fail when absent), stores under a
//! prefix of their own, and a private `redis-server` for tests that stop or pause a server.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers: a failed unwrap is a failed test; the skip line goes to stderr"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jsm_sso_redis::RedisStore;

/// The server's URL, or `None` after printing why the test skips (or panicking when peers
/// are required).
pub fn redis_url() -> Option<String> {
    match std::env::var("JSM_SSO_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
                "JSM_SSO_REDIS_URL is not set and JSM_SSO_REQUIRE_PEERS=1: start scripts/peers.d/redis.sh"
            );
            eprintln!(
                "skipped: JSM_SSO_REDIS_URL not set (scripts/peers.d/redis.sh starts redis-server)"
            );
            None
        }
    }
}

/// A prefix no other test (or earlier run) uses, so tests run in parallel on one server.
pub fn unique_prefix(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "test:{}:{name}:{}:{nanos}:",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store on the peer under a fresh prefix.
pub async fn store(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .unwrap()
}

/// A raw connection for poking the server from the side (CLIENT KILL, CLIENT PAUSE, TTL).
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A `redis-server` of the test's own on a free 127.0.0.1 port, killed on drop. Needs the
/// binary the peer script uses (on PATH wherever JSM_SSO_REDIS_URL is set by it).
pub struct PrivateServer {
    child: tokio::process::Child,
    pub url: String,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl PrivateServer {
    pub async fn start(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port, extra).await
    }

    pub async fn start_on(port: u16, extra: &[&str]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("jsm-sso-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = tokio::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server on PATH");
        let url = format!("redis://127.0.0.1:{port}/");
        // Listening means ready (a PING could be refused: the server may want a password).
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    child,
                    url,
                    port,
                    dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("private redis-server on port {port} did not start");
    }

    pub async fn stop(mut self) -> u16 {
        self.child.kill().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        self.port
    }
}
