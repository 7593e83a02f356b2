//! `ReqwestHttpClient` against a real HTTP/1.1 server started here on 127.0.0.1.
#![cfg(feature = "reqwest")]
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "the test server's helpers: a panic fails the test"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jsm_sso_core::transport::{HttpError, ReqwestHttpClient};
use jsm_sso_core::{CodedError, HttpClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the test server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the test server answers: raw bytes, or nothing for a while (to test timeouts).
enum Reply {
    Raw(Vec<u8>),
    Stall(Duration),
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 (ephemeral port). It lives
/// as long as the test's runtime.
async fn serve(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let handler: Handler = Arc::new(handler);
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let _ = handle(stream, handler).await;
            });
        }
    });
    Server { addr, connections }
}

async fn handle(mut stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        assert!(buf.len() < 64 * 1024, "request head too large");
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let seen = Seen {
        method,
        target,
        headers,
        body,
    };
    match handler(&seen) {
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.shutdown().await?;
        }
        Reply::Stall(d) => tokio::time::sleep(d).await,
    }
    Ok(())
}

fn response(status: &str, extra_headers: &str, body: &[u8]) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    Reply::Raw(out)
}

/// A chunked response with no content-length, so the client cannot tell its size up front.
fn chunked(body: &[u8], chunk_size: usize) -> Reply {
    let mut out =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for part in body.chunks(chunk_size) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    Reply::Raw(out)
}

fn client() -> ReqwestHttpClient {
    ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn get(url: &str) -> http::Request<Vec<u8>> {
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn round_trip_sends_method_target_headers_and_body() {
    let server = serve(|seen| {
        let body = format!(
            "{} {} x-test={} ua={} body={}",
            seen.method,
            seen.target,
            seen.header("x-test").unwrap_or("-"),
            seen.header("user-agent").unwrap_or("-"),
            String::from_utf8_lossy(&seen.body)
        );
        response("201 Created", "x-echo: yes\r\n", body.as_bytes())
    })
    .await;
    let client: Arc<dyn HttpClient> = Arc::new(client());
    let request = http::Request::post(server.url("/token?x=1"))
        .header("x-test", "hello")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=authorization_code".to_vec())
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::CREATED);
    assert_eq!(response.headers()["x-echo"], "yes");
    assert_eq!(
        String::from_utf8(response.into_body()).unwrap(),
        format!(
            "POST /token?x=1 x-test=hello ua=jsm-sso/{} body=grant_type=authorization_code",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn error_statuses_are_responses_not_errors() {
    let server = serve(|_| response("503 Service Unavailable", "", b"down")).await;
    let response = client().send(get(&server.url("/"))).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.body(), b"down");
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let server = serve(|seen| {
        if seen.target == "/start" {
            response("302 Found", "location: /landed\r\n", b"")
        } else {
            response("200 OK", "", b"landed")
        }
    })
    .await;
    let response = client().send(get(&server.url("/start"))).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/landed");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);

    let following = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .follow_redirects(1)
        .build()
        .unwrap();
    let response = following.send(get(&server.url("/start"))).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.body(), b"landed");
}

#[tokio::test]
async fn body_cap_with_content_length() {
    let server = serve(|seen| {
        let n: usize = seen.target.trim_start_matches('/').parse().unwrap();
        response("200 OK", "", &vec![b'x'; n])
    })
    .await;
    let capped = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .max_response_bytes(1_000)
        .build()
        .unwrap();
    assert_eq!(capped.max_response_bytes(), 1_000);
    let ok = capped.send(get(&server.url("/1000"))).await.unwrap();
    assert_eq!(ok.body().len(), 1_000);
    let err = capped.send(get(&server.url("/1001"))).await.unwrap_err();
    assert!(
        matches!(err, HttpError::BodyTooLarge { limit: 1_000 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "core.http.body_too_large");
}

#[tokio::test]
async fn body_cap_without_content_length_stops_while_streaming() {
    let server = serve(|seen| {
        let n: usize = seen.target.trim_start_matches('/').parse().unwrap();
        chunked(&vec![b'y'; n], 300)
    })
    .await;
    let capped = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .max_response_bytes(1_000)
        .build()
        .unwrap();
    let ok = capped.send(get(&server.url("/1000"))).await.unwrap();
    assert_eq!(ok.body(), &vec![b'y'; 1_000]);
    let err = capped.send(get(&server.url("/5000"))).await.unwrap_err();
    assert_eq!(err.code(), "core.http.body_too_large");
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = serve(|_| Reply::Stall(Duration::from_secs(5))).await;
    let impatient = ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = impatient.send(get(&server.url("/"))).await.unwrap_err();
    assert!(matches!(err, HttpError::Timeout), "{err:?}");
    assert_eq!(err.code(), "core.http.timeout");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn plain_http_is_refused_by_default_without_connecting() {
    let server = serve(|_| response("200 OK", "", b"")).await;
    let strict = ReqwestHttpClient::new().unwrap();
    let err = strict.send(get(&server.url("/"))).await.unwrap_err();
    assert!(matches!(err, HttpError::InsecureScheme), "{err:?}");
    assert_eq!(err.code(), "core.http.insecure_scheme");
    // Refused before any connection was made.
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client()
        .send(get(&format!("http://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
    assert_eq!(err.code(), "core.http.connect");
}

#[tokio::test]
async fn urls_without_a_scheme_are_invalid_requests() {
    let err = client().send(get("/relative/only")).await.unwrap_err();
    assert_eq!(err.code(), "core.http.request_invalid");
    let err = client().send(get("ftp://127.0.0.1/x")).await.unwrap_err();
    assert_eq!(err.code(), "core.http.request_invalid");
}

#[test]
fn extra_root_certificates_that_are_not_der_are_a_config_error() {
    let err = ReqwestHttpClient::builder()
        .add_root_certificate_der(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "core.http.config");
}
