//! Filter parsing and large group PATCHes. Criterion ids:
//!
//! - `scim/filter_parse/{okta,entra,complex}`: [`Filter::parse`] + `validate` on the filters
//!   Okta and Entra send and on a nested filter with value paths.
//! - `scim/group_patch/{entra_add,okta_remove}/{1000,10000}`: one PATCH through
//!   [`ScimService::handle`] (body parse, apply, member check, store, response) that adds N
//!   members in one operation (Entra's shape) or removes N members with N
//!   `members[value eq "..."]` operations (Okta's shape). The 1,000 size is the baseline:
//!   linear work makes the 10,000 size about ten times slower, quadratic work a hundred.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench code"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Request;
use jsm_sso_core::Secret;
use jsm_sso_core::identity::IdpId;
use jsm_sso_scim::filter::Context;
use jsm_sso_scim::{
    Filter, FilterLimits, MemoryStore, Resource, ResourceKind, ResourceStore, ScimService,
};
use serde_json::{Map, Value, json};

const TOKEN: &str = "bench-token-0123456789abcdef0123456789";

fn filters(c: &mut Criterion) {
    let mut group = c.benchmark_group("scim/filter_parse");
    let cases = [
        ("okta", r#"userName eq "alice@example.com""#),
        (
            "entra",
            r#"externalId eq "6c2a0b5e-1f4b-4b1e-9a57-3f1e1f0d9d2b""#,
        ),
        (
            "complex",
            r#"(userName sw "a" or emails[type eq "work" and value co "@example.com"]) and not (active eq false) and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Ops" and meta.lastModified gt "2024-01-01T00:00:00Z""#,
        ),
    ];
    let limits = FilterLimits::default();
    for (name, text) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let f = Filter::parse(black_box(text), &limits).unwrap();
                f.validate(Context::Resource(ResourceKind::User)).unwrap();
                f
            });
        });
    }
    group.finish();
}

struct Setup {
    rt: tokio::runtime::Runtime,
    service: ScimService,
    store: Arc<MemoryStore>,
    idp: IdpId,
    ids: Vec<String>,
}

fn setup(n: usize) -> Setup {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let idp = IdpId::from("bench");
    let ids: Vec<String> = (0..n).map(|i| format!("user-{i:06}")).collect();
    rt.block_on(async {
        for id in &ids {
            let mut attrs = Map::new();
            attrs.insert("userName".into(), json!(format!("{id}@example.com")));
            let r = Resource::new(
                ResourceKind::User,
                id.clone(),
                SystemTime::UNIX_EPOCH,
                attrs,
            );
            store.create(&idp, r).await.unwrap();
        }
        let mut attrs = Map::new();
        attrs.insert("displayName".into(), json!("big"));
        let g = Resource::new(
            ResourceKind::Group,
            "big".into(),
            SystemTime::UNIX_EPOCH,
            attrs,
        );
        store.create(&idp, g).await.unwrap();
    });
    let service = ScimService::builder("http://127.0.0.1/scim/v2", store.clone())
        .token("bench", Secret::new(TOKEN))
        .build()
        .unwrap();
    Setup {
        rt,
        service,
        store,
        idp,
        ids,
    }
}

fn request(body: &Value) -> Request<Bytes> {
    Request::builder()
        .method("PATCH")
        .uri("/scim/v2/Groups/big")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/scim+json")
        .body(Bytes::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// Puts the group back to `members` without going through the service.
fn reset(s: &Setup, members: &[String]) {
    s.rt.block_on(async {
        let mut g = s
            .store
            .get(&s.idp, ResourceKind::Group, "big")
            .await
            .unwrap()
            .unwrap();
        let v = g.version;
        let list: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m, "type": "User"}))
            .collect();
        if list.is_empty() {
            g.attributes.remove("members");
        } else {
            g.attributes.insert("members".into(), Value::Array(list));
        }
        g.version = v + 1;
        s.store.replace(&s.idp, g, v).await.unwrap();
    });
}

fn group_patch(c: &mut Criterion) {
    let mut group = c.benchmark_group("scim/group_patch");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for n in [1_000, 10_000] {
        let s = setup(n);
        let add = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members",
                "value": s.ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]
        });
        let add_req = request(&add);
        group.bench_with_input(BenchmarkId::new("entra_add", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    reset(&s, &[]);
                    let req = add_req.clone();
                    let start = Instant::now();
                    let resp = s.rt.block_on(s.service.handle(req));
                    total += start.elapsed();
                    assert_eq!(resp.status(), 200);
                }
                total
            });
        });
        let remove = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": s.ids.iter()
                .map(|i| json!({"op": "remove", "path": format!("members[value eq \"{i}\"]")}))
                .collect::<Vec<_>>()
        });
        let remove_req = request(&remove);
        group.bench_with_input(BenchmarkId::new("okta_remove", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    reset(&s, &s.ids);
                    let req = remove_req.clone();
                    let start = Instant::now();
                    let resp = s.rt.block_on(s.service.handle(req));
                    total += start.elapsed();
                    assert_eq!(resp.status(), 200);
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, filters, group_patch);
criterion_main!(benches);
