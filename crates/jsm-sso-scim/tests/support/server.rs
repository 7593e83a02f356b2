//! A minimal HTTP/1 front end (hyper) for a [`ScimService`] on 127.0.0.1, as an integrator
//! would mount it: buffer the body up to the service's limit, hand over, send the answer.
//! Shared by the compliance test and the `scim_server` example.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsm_sso_scim::ScimService;
use tokio::net::TcpListener;

async fn answer(
    scim: ScimService,
    req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, scim.max_body_bytes()).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            // Over the limit (or a broken stream): the service answers with its 413.
            let oversized = Bytes::from(vec![b' '; scim.max_body_bytes() + 1]);
            let resp = scim
                .handle(http::Request::from_parts(parts, oversized))
                .await;
            return Ok(resp.map(Full::new));
        }
    };
    let resp = scim.handle(http::Request::from_parts(parts, body)).await;
    Ok(resp.map(Full::new))
}

/// Binds `addr` (use port 0 for any) and serves `scim` until the task is dropped.
pub(crate) async fn serve(
    scim: ScimService,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let scim = scim.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| answer(scim.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((local, task))
}
