//! SCIM provisioning end to end: `jsm-sso-scim`'s service with the broker's
//! [`ScimProvisioning`] hook, the real policy engine (jsm-sso-policy), JSM in memory
//! (jsm-sso-jira `MemoryJsm` behind the real REST client, ledger in a user property) and one
//! audit log for both. An Okta-shaped and an Entra-shaped sequence (create, update, group
//! add/remove, deactivate, delete) must leave exactly the expected directory state and
//! audit events after every step.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the test loudly"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_broker::jira::PropertyLedger;
use jsm_sso_broker::provision::RetryPolicy;
use jsm_sso_broker::scim::ScimProvisioning;
use jsm_sso_broker::{Broker, OidcIdp, SamlIdp, Seams, SessionKeys};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::identity::Protocol;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{AccessPolicy, Secret};
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
use jsm_sso_saml::{ServiceProvider, ServiceProviderConfig};
use jsm_sso_scim::bytes::Bytes;
use jsm_sso_scim::{MemoryStore, ScimService};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp};
use jsm_sso_testkit::saml::TestIdp;
use serde_json::{Value, json};

const OKTA: &str = "okta-scim-token-0123456789abcdef0123456789";
const ENTRA: &str = "entra-scim-token-0123456789abcdef012345678";

struct World {
    broker: Broker,
    policy: Arc<dyn AccessPolicy>,
    jsm: MemoryJsm,
    help: String,
    billing: String,
    gold: String,
    sink: Arc<MemorySink>,
    audit: AuditLog,
    scim: ScimService,
    seen: usize,
}

fn policy(help: &str, billing: &str) -> String {
    format!(
        r#"
version = 1
default = "deny"
[portals]
"{help}" = "Help"
"{billing}" = "Billing"
[organizations]
gold = "Gold Customers"

[[rule]]
name = "directory-users"
idp = ["okta", "entra"]
portals = ["{help}"]

[[rule]]
name = "billing-group"
group = ["Billing"]
organizations = ["gold"]
portals = ["{billing}"]
"#
    )
}

impl World {
    async fn new() -> Self {
        let clock = Arc::new(FixedClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
        ));
        let seams = Seams::new(
            Arc::new(MemoryStateStore::new(clock.clone(), 1000)),
            Arc::new(MemoryReplayCache::new(clock.clone(), 1000)),
            clock.clone(),
        );
        let jsm = MemoryJsm::new();
        let help = jsm.add_service_desk("HELP", "Help");
        let billing = jsm.add_service_desk("BILL", "Billing");
        let gold = jsm.add_organization("Gold Customers");
        let policy: Arc<dyn AccessPolicy> = Arc::new(
            jsm_sso_policy::load_str(
                &policy(&help, &billing),
                jsm_sso_policy::Format::Toml,
                "p.toml",
            )
            .unwrap(),
        );
        let sink = Arc::new(MemorySink::new());
        let (key, _) = SigningKey::generate().unwrap();
        let audit = AuditLog::builder(sink.clone(), key)
            .clock(clock.clone())
            .start()
            .await
            .unwrap();

        // The same IdPs sign customers in: Okta by OIDC, Entra by SAML.
        let op = TestOp::new(TestIssuer::new(
            "https://okta.example",
            "portal",
            clock.clone(),
        ));
        let metadata = ProviderMetadata::discover(&op, "https://okta.example")
            .await
            .unwrap();
        let oidc = ProviderConfig::builder("okta")
            .metadata(metadata)
            .client_id("portal")
            .client_secret_basic(Secret::new("secret"))
            .redirect_uri("https://portal.example/oidc/callback")
            .build()
            .unwrap();
        let saml_idp = TestIdp::generate("https://sts.windows.net/tenant/").unwrap();
        let sp = ServiceProvider::new(ServiceProviderConfig::new(
            "https://portal.example/saml/metadata",
            "https://portal.example/saml/acs",
        ))
        .unwrap();
        let entra = jsm_sso_saml::IdentityProvider::new(
            "entra",
            "https://sts.windows.net/tenant/",
            saml_idp.trusted_keys(),
            Some("https://login.microsoftonline.com/tenant/saml2".to_owned()),
        )
        .unwrap();
        let broker = Broker::builder(
            seams.clone(),
            policy.clone(),
            Arc::new(jsm.directory()),
            audit.clone(),
            SessionKeys::new(&[7; 32]).unwrap(),
        )
        .idp(Arc::new(OidcIdp::new(oidc, Arc::new(op.clone()), &seams)))
        .idp(Arc::new(SamlIdp::new(Arc::new(sp), entra, seams.clone())))
        .ledger(Arc::new(PropertyLedger::new(jsm.client())))
        .retry(RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        })
        .build()
        .unwrap();
        let hook = ScimProvisioning::new(&broker, policy.clone())
            .idp("okta", Protocol::Oidc, true)
            .idp("entra", Protocol::Saml2, true);
        let scim = ScimService::builder(
            "https://sso.example.com/scim/v2",
            Arc::new(MemoryStore::new()),
        )
        .token("okta", Secret::new(OKTA))
        .token("entra", Secret::new(ENTRA))
        .hook(Arc::new(hook))
        .audit(audit.clone())
        .clock(clock)
        .build()
        .unwrap();
        Self {
            broker,
            policy,
            jsm,
            help,
            billing,
            gold,
            sink,
            audit,
            scim,
            seen: 0,
        }
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let req = jsm_sso_scim::http::Request::builder()
            .method(method)
            .uri(format!("/scim/v2{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/scim+json")
            .header("client-request-id", "req-1")
            .body(body.map_or_else(Bytes::new, |b| Bytes::from(serde_json::to_vec(&b).unwrap())))
            .unwrap();
        let resp = self.scim.handle(req).await;
        let status = resp.status().as_u16();
        let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (status, json)
    }

    /// Audit events recorded since the last call, as `kind [target]`.
    async fn new_events(&mut self) -> Vec<String> {
        self.audit.flush().await.unwrap();
        let events: Vec<String> = self
            .sink
            .records()
            .iter()
            .filter_map(|r| r.event())
            .map(|e| {
                let d = serde_json::to_value(&e.details).unwrap();
                let d = &d["details"];
                let target = ["organization", "portal", "reason"]
                    .iter()
                    .find_map(|k| d.get(*k).and_then(Value::as_str))
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default();
                assert_eq!(e.correlation_id.as_deref(), Some("scim-req-1"), "{e:?}");
                assert!(e.outcome.is_success(), "{e:?}");
                format!("{}{target}", e.kind())
            })
            .collect();
        let fresh = events[self.seen..].to_vec();
        self.seen = events.len();
        fresh
    }

    /// (customers, gold members, help desk customers, billing desk customers), as emails,
    /// sorted; a customer whose account was revoked is marked so.
    fn state(&self) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
        let customers = self.jsm.customers();
        let email = |id: &String| {
            customers
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, e)| e.clone())
                .unwrap_or_else(|| format!("gone:{id}"))
        };
        // JSM cannot delete a customer: removal revokes their portal-only account.
        let mut all: Vec<String> = customers
            .iter()
            .map(|(id, e)| {
                if self.jsm.portal_only_access_revoked(id) {
                    format!("{e} (revoked)")
                } else {
                    e.clone()
                }
            })
            .collect();
        all.sort();
        let emails = |ids: Vec<String>| {
            let mut v: Vec<String> = ids.iter().map(email).collect();
            v.sort();
            v
        };
        (
            all,
            emails(self.jsm.organization_members(&self.gold)),
            emails(self.jsm.desk_customers(&self.help)),
            emails(self.jsm.desk_customers(&self.billing)),
        )
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn okta_sequence() {
    let mut w = World::new().await;
    let e = "test.user@okta.local";
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": e,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": e, "type": "work"}],
        "displayName": "Test User", "externalId": "00ujl29u0le5T6Aj10h7", "groups": [],
        "password": "1mz050nq", "active": true});
    let (status, u) = w.call(OKTA, "POST", "/Users", Some(user.clone())).await;
    assert_eq!(status, 201);
    let uid = u["id"].as_str().unwrap().to_owned();
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            "customer.created".to_owned(),
            format!("portal.access_granted {}", w.help),
            "scim.user_created".to_owned(),
        ]
    );

    // Update (PUT): nothing in JSM changes, the SCIM change is recorded.
    let mut put = user.clone();
    put["displayName"] = json!("Another User");
    let (status, _) = w
        .call(OKTA, "PUT", &format!("/Users/{uid}"), Some(put.clone()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(w.new_events().await, ["scim.user_updated"]);

    // Group push and membership: the Billing group grants an organization and a portal.
    let (_, g) = w.call(OKTA, "POST", "/Groups", Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Billing", "members": []}))).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(w.new_events().await, ["scim.group_created"]);
    let (status, _) = w.call(OKTA, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": uid, "display": e}]}]}))).await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[e]), s(&[e]), s(&[e])));
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_added {}", w.gold),
            format!("portal.access_granted {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );
    let (status, _) = w
        .call(
            OKTA,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_removed {}", w.gold),
            format!("portal.access_revoked {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );

    // Okta deprovisions with a PUT carrying active: false.
    put["active"] = json!(false);
    let (status, _) = w
        .call(OKTA, "PUT", &format!("/Users/{uid}"), Some(put))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("portal.access_revoked {}", w.help),
            "scim.user_deactivated".to_owned(),
        ]
    );
    // ... and reactivates with a PATCH: access comes back through the policy.
    let (status, _) = w
        .call(
            OKTA,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": true}}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("portal.access_granted {}", w.help),
            "scim.user_updated".to_owned(),
        ]
    );

    let (status, _) = w.call(OKTA, "DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(status, 204);
    let gone = format!("{e} (revoked)");
    assert_eq!(w.state(), (s(&[&gone]), s(&[]), s(&[]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("portal.access_revoked {}", w.help),
            "customer.removed scim.deleted".to_owned(),
            "scim.user_deleted".to_owned(),
        ]
    );
    let (status, _) = w
        .call(OKTA, "DELETE", &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(w.new_events().await, ["scim.group_deleted"]);
}

#[tokio::test]
async fn entra_sequence() {
    let mut w = World::new().await;
    let e = "adele.vance@contoso.com";
    let (status, u) = w
        .call(
            ENTRA,
            "POST",
            "/Users",
            Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "userName": e, "active": true,
        "emails": [{"primary": true, "type": "work", "value": e}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Retail"}})),
        )
        .await;
    assert_eq!(status, 201);
    let uid = u["id"].as_str().unwrap().to_owned();
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            "customer.created".to_owned(),
            format!("portal.access_granted {}", w.help),
            "scim.user_created".to_owned(),
        ]
    );

    // Entra's group arrives with the member added in a later PATCH, capitalised ops.
    let (_, g) = w.call(ENTRA, "POST", "/Groups", Some(json!({
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Billing",
        "meta": {"resourceType": "Group"}, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}))).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(w.new_events().await, ["scim.group_created"]);
    let (status, _) = w.call(ENTRA, "PATCH", &format!("/Users/{uid}"), Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "name.familyName", "value": "Vance-Smith"},
                       {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Finance"}]}))).await;
    assert_eq!(status, 200);
    assert_eq!(w.new_events().await, ["scim.user_updated"]);
    let (status, _) = w.call(ENTRA, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"name": "addMember", "op": "Add", "path": "members", "value": [{"displayName": "Adele", "value": uid}]}]}))).await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[e]), s(&[e]), s(&[e])));
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_added {}", w.gold),
            format!("portal.access_granted {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );
    // Renaming the group re-evaluates its members: "Billing" no longer matches the rule.
    let (status, _) = w
        .call(
            ENTRA,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "displayName", "value": "Billing (old)"}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_removed {}", w.gold),
            format!("portal.access_revoked {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );
    let (status, _) = w
        .call(
            ENTRA,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "displayName", "value": "Billing"}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_added {}", w.gold),
            format!("portal.access_granted {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );
    let (status, _) = w.call(ENTRA, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"name": "removeMember", "op": "Remove", "path": "members", "value": [{"displayName": "Adele", "value": uid}]}]}))).await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[e]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("organization.member_removed {}", w.gold),
            format!("portal.access_revoked {}", w.billing),
            "scim.group_updated".to_owned(),
        ]
    );

    // Entra disables with the string "False".
    let (status, _) = w
        .call(
            ENTRA,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.state(), (s(&[e]), s(&[]), s(&[]), s(&[])));
    assert_eq!(
        w.new_events().await,
        [
            format!("portal.access_revoked {}", w.help),
            "scim.user_deactivated".to_owned(),
        ]
    );
    let (status, _) = w
        .call(ENTRA, "DELETE", &format!("/Users/{uid}"), None)
        .await;
    assert_eq!(status, 204);
    let gone = format!("{e} (revoked)");
    assert_eq!(w.state(), (s(&[&gone]), s(&[]), s(&[]), s(&[])));
    assert_eq!(
        w.new_events().await,
        ["customer.removed scim.deleted", "scim.user_deleted"]
    );
}

/// An IdP whose emails are not trusted, or that is not configured at all, cannot
/// provision: the SCIM call fails with the broker's code, the SCIM store is rolled back and
/// JSM is untouched.
#[tokio::test]
async fn untrusted_or_unknown_idps_provision_nothing() {
    let w = World::new().await;
    let hook =
        ScimProvisioning::new(&w.broker, w.policy.clone()).idp("okta", Protocol::Oidc, false);
    let scim = ScimService::builder(
        "https://sso.example.com/scim/v2",
        Arc::new(MemoryStore::new()),
    )
    .token("okta", Secret::new(OKTA))
    .token("stranger", Secret::new(ENTRA))
    .hook(Arc::new(hook))
    .build()
    .unwrap();
    for token in [OKTA, ENTRA] {
        let req = jsm_sso_scim::http::Request::post("/scim/v2/Users")
            .header("authorization", format!("Bearer {token}"))
            .body(Bytes::from(
                serde_json::to_vec(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "x@okta.local", "emails": [{"value": "x@okta.local"}]}))
                .unwrap(),
            ))
            .unwrap();
        let resp = scim.handle(req).await;
        assert_eq!(
            resp.status(),
            500,
            "a configuration problem, not worth retrying"
        );
        let body: Value = serde_json::from_slice(resp.body()).unwrap();
        let detail = body["detail"].as_str().unwrap();
        let want = if token == OKTA {
            "broker.identity.email_unverified"
        } else {
            "broker.discovery.unknown_idp"
        };
        assert!(detail.contains(want), "{detail}");
        let list = jsm_sso_scim::http::Request::get("/scim/v2/Users")
            .header("authorization", format!("Bearer {token}"))
            .body(Bytes::new())
            .unwrap();
        let body: Value = serde_json::from_slice(scim.handle(list).await.body()).unwrap();
        assert_eq!(body["totalResults"], 0);
    }
    assert!(w.jsm.customers().is_empty());
}
