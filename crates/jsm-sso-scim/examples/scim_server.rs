//! Serves a SCIM endpoint on an in-memory store, for trying IdP connectors and compliance
//! tools locally:
//!
//! ```text
//! SCIM_TOKEN=$(openssl rand -hex 32) cargo run -p jsm-sso-scim --example scim_server -- 127.0.0.1:8089
//! scim2 --url http://127.0.0.1:8089/scim/v2 --header "Authorization: Bearer $SCIM_TOKEN" test
//! ```
//!
//! Binds 127.0.0.1 only unless told otherwise; the token comes from `SCIM_TOKEN`.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "example"
)]

#[path = "../tests/support/server.rs"]
mod server;

use std::sync::Arc;

use jsm_sso_core::Secret;
use jsm_sso_scim::{MemoryStore, ScimService};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".to_owned());
    let token = std::env::var("SCIM_TOKEN").expect("set SCIM_TOKEN (32 bytes or more)");
    let scim = ScimService::builder(
        format!("http://{addr}/scim/v2"),
        Arc::new(MemoryStore::new()),
    )
    .token("local", Secret::new(token))
    .build()
    .expect("configuration");
    let (local, task) = server::serve(scim, &addr).await.expect("bind");
    println!("SCIM endpoint: http://{local}/scim/v2");
    task.await.unwrap();
}
