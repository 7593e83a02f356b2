//! Shared set-up for the integration tests: a service on a memory store with a recording
//! hook and an audit log on a memory sink, and a small request helper.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure should stop the test loudly"
)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_core::Secret;
use jsm_sso_scim::hook::{GroupChange, HookError, ProvisionedUser, ProvisioningHook};
use jsm_sso_scim::{MemoryStore, ScimService};
use serde_json::Value;

pub(crate) const OKTA_TOKEN: &str = "okta-0123456789abcdef0123456789abcdef";
pub(crate) const ENTRA_TOKEN: &str = "entra-0123456789abcdef0123456789abcdef";
pub(crate) const BASE: &str = "https://sso.example.com/scim/v2";

/// Records every hook call as one line; can be told to fail.
#[derive(Debug, Default)]
pub(crate) struct RecordingHook {
    pub(crate) calls: Mutex<Vec<String>>,
    pub(crate) fail: Mutex<bool>,
}

fn user_line(kind: &str, u: &ProvisionedUser) -> String {
    format!(
        "{kind} {} email={} active={} groups={:?}",
        u.user_name,
        u.email.as_ref().map_or("-", |e| e.as_str()),
        u.active,
        u.groups
    )
}

impl RecordingHook {
    fn push(&self, line: String) -> Result<(), HookError> {
        if *self.fail.lock().unwrap() {
            return Err(HookError {
                code: "jira.http.status",
                message: "JSM answered 503".into(),
                retryable: true,
            });
        }
        self.calls.lock().unwrap().push(line);
        Ok(())
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl ProvisioningHook for RecordingHook {
    async fn user_created(&self, u: &ProvisionedUser) -> Result<(), HookError> {
        self.push(user_line("user_created", u))
    }
    async fn user_updated(&self, u: &ProvisionedUser) -> Result<(), HookError> {
        self.push(user_line("user_updated", u))
    }
    async fn user_deactivated(&self, u: &ProvisionedUser) -> Result<(), HookError> {
        self.push(user_line("user_deactivated", u))
    }
    async fn user_deleted(&self, u: &ProvisionedUser) -> Result<(), HookError> {
        self.push(user_line("user_deleted", u))
    }
    async fn group_changed(&self, c: &GroupChange) -> Result<(), HookError> {
        let names = |v: &[ProvisionedUser]| {
            v.iter()
                .map(|u| format!("{}{:?}", u.user_name, u.groups))
                .collect::<Vec<_>>()
        };
        self.push(format!(
            "group_{:?} {} prev={:?} added={:?} removed={:?} renamed={:?}",
            c.event,
            c.display_name,
            c.previous_name,
            names(&c.added),
            names(&c.removed),
            names(&c.renamed)
        ))
    }
}

pub(crate) struct Harness {
    pub(crate) service: ScimService,
    pub(crate) hook: Arc<RecordingHook>,
    pub(crate) sink: Arc<MemorySink>,
    pub(crate) audit: AuditLog,
    pub(crate) store: Arc<MemoryStore>,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let sink = Arc::new(MemorySink::new());
        let (key, _) = SigningKey::generate().unwrap();
        let audit = AuditLog::builder(sink.clone(), key).start().await.unwrap();
        let hook = Arc::new(RecordingHook::default());
        let store = Arc::new(MemoryStore::new());
        let service = ScimService::builder(BASE, store.clone())
            .token("okta", Secret::new(OKTA_TOKEN))
            .token("entra", Secret::new(ENTRA_TOKEN))
            .hook(hook.clone())
            .audit(audit.clone())
            .max_body_bytes(64 * 1024)
            .build()
            .unwrap();
        Self {
            service,
            hook,
            sink,
            audit,
            store,
        }
    }

    /// Sends a request as `token` to `/scim/v2{path}`.
    pub(crate) async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value, Response<Bytes>) {
        self.call_with(token, method, path, body, &[]).await
    }

    pub(crate) async fn call_with(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, Response<Bytes>) {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/scim/v2{path}"))
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            b = b.header("content-type", "application/scim+json; charset=utf-8");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let bytes = body.map_or_else(Bytes::new, |v| Bytes::from(serde_json::to_vec(v).unwrap()));
        let resp = self.service.handle(b.body(bytes).unwrap()).await;
        let status = resp.status().as_u16();
        let json = if resp.body().is_empty() {
            Value::Null
        } else {
            assert_eq!(resp.headers()["content-type"], "application/scim+json");
            serde_json::from_slice(resp.body()).unwrap()
        };
        (status, json, resp)
    }

    /// The audit events so far as `kind scim_id outcome` lines.
    pub(crate) async fn events(&self) -> Vec<String> {
        self.audit.flush().await.unwrap();
        self.sink
            .records()
            .iter()
            .filter_map(|r| r.event())
            .map(|e| {
                let details = serde_json::to_value(&e.details).unwrap();
                let d = &details["details"];
                let mut line = format!("{} {}", e.kind(), d["scim_id"].as_str().unwrap_or(""));
                for key in ["added", "removed"] {
                    if let Some(list) = d.get(key).and_then(Value::as_array) {
                        line.push_str(&format!(" {key}={}", list.len()));
                    }
                }
                if let Some(code) = e.outcome.code() {
                    line.push_str(&format!(" failed={code}"));
                }
                line
            })
            .collect()
    }
}

/// A fixture from `tests/vectors/`, with `{{NAME}}` placeholders filled in.
pub(crate) fn vector(name: &str, vars: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
