//! A real HTTP/1 server on 127.0.0.1 serving a [`MemoryJsm`], faults included: 429/503
//! answers, slow answers, dropped connections (the service fails, hyper closes the
//! connection without an answer).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsm_sso_core::transport::ReqwestHttpClient;
use jsm_sso_jira::memory::{MemoryJsm, Served};
use jsm_sso_jira::retry::RetryPolicy;
use jsm_sso_jira::{Auth, JiraClient, JiraClientBuilder, Secret, Site};
use tokio::net::TcpListener;

/// A fake JSM over real HTTP on 127.0.0.1; stops when dropped.
pub struct FakeServer {
    pub url: String,
    pub jsm: MemoryJsm,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn answer(
    jsm: MemoryJsm,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let request = http::Request::from_parts(parts, bytes.to_vec());
    let response = match jsm.serve(&request) {
        Served::Respond(r) => r,
        Served::Delayed(d, r) => {
            tokio::time::sleep(d).await;
            r
        }
        // An error from the service makes hyper close the connection without an answer.
        Served::Drop => return Err(Dropped),
        _ => unreachable!(),
    };
    let (parts, body) = response.into_parts();
    Ok(hyper::Response::from_parts(
        parts,
        Full::new(Bytes::from(body)),
    ))
}

pub async fn start(jsm: MemoryJsm) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = jsm.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let jsm = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(jsm.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeServer { url, jsm, task }
}

/// A builder for the fake server through core's real reqwest transport.
pub fn reqwest_builder(url: &str, timeout: Duration) -> JiraClientBuilder {
    let http = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .timeout(timeout * 4)
        .build()
        .unwrap();
    JiraClient::builder(
        Site::cloud(url).unwrap(),
        Auth::basic("broker@acme.example", Secret::new("api-token-123")),
    )
    .http(Arc::new(http))
    .timeout(Some(timeout))
    .retry(
        RetryPolicy::default()
            .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
            .with_hints(Duration::from_millis(20), Duration::from_secs(60)),
    )
}

/// Serves on its own thread and runtime, as a separate server process would, so the
/// client's load does not delay the server (for measurements). Runs until the process ends.
pub fn start_dedicated(jsm: MemoryJsm) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = start(jsm).await;
            tx.send(server.url.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}
