//! The OCSF 1.8.0 mapping and the CloudEvents envelope, for every kind of the vocabulary:
//! required base attributes, `type_uid = class_uid * 100 + activity_id`, epoch-millisecond
//! time, the class's required object, `auth_protocol_id`, and a subject that is never an email.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use jsm_sso_audit::ocsf::{CloudEventsOptions, OCSF_VERSION, classify, to_cloudevent, to_ocsf};
use jsm_sso_audit::{AuditEvent, CustomerRef, Details, EventKind, MfaMethod, Source, Timestamp};
use jsm_sso_core::identity::Protocol;
use serde_json::Value;

fn sample(kind: EventKind) -> Details {
    let t = Timestamp::from_unix_millis(1_700_000_000_000);
    let id = || "x-1".to_owned();
    match kind {
        EventKind::SigninStarted => Details::SigninStarted {
            hint_domain: Some("example.com".into()),
        },
        EventKind::SigninSucceeded => Details::SigninSucceeded {
            mfa: true,
            session_expiry: Some(t),
        },
        EventKind::SigninFailed => Details::SigninFailed {
            stage: "response".into(),
        },
        EventKind::PolicyDecided => Details::PolicyDecided {
            allow: true,
            matched_rules: vec!["acme".into()],
            organizations: vec!["org-1".into()],
            portals: vec!["1".into()],
            require_mfa: false,
        },
        EventKind::MfaEnrolled => Details::MfaEnrolled {
            method: MfaMethod::Totp,
        },
        EventKind::MfaPassed => Details::MfaPassed {
            method: MfaMethod::Totp,
        },
        EventKind::MfaFailed => Details::MfaFailed {
            method: MfaMethod::RecoveryCode,
        },
        EventKind::CustomerCreated => Details::CustomerCreated {},
        EventKind::CustomerUpdated => Details::CustomerUpdated {
            changed: vec!["displayName".into()],
        },
        EventKind::CustomerRemoved => Details::CustomerRemoved {
            reason: "stale".into(),
        },
        EventKind::OrganizationMemberAdded => {
            Details::OrganizationMemberAdded { organization: id() }
        }
        EventKind::OrganizationMemberRemoved => {
            Details::OrganizationMemberRemoved { organization: id() }
        }
        EventKind::PortalAccessGranted => Details::PortalAccessGranted { portal: id() },
        EventKind::PortalAccessRevoked => Details::PortalAccessRevoked { portal: id() },
        EventKind::FieldsWritten => Details::FieldsWritten {
            fields: vec!["customfield_10010".into()],
        },
        EventKind::RequestRaised => Details::RequestRaised {
            portal: id(),
            request_key: Some("HELP-1".into()),
        },
        EventKind::GateDenied => Details::GateDenied { portal: Some(id()) },
        EventKind::ScimUserCreated => Details::ScimUserCreated { scim_id: id() },
        EventKind::ScimUserUpdated => Details::ScimUserUpdated { scim_id: id() },
        EventKind::ScimUserDeactivated => Details::ScimUserDeactivated { scim_id: id() },
        EventKind::ScimUserDeleted => Details::ScimUserDeleted { scim_id: id() },
        EventKind::ScimGroupCreated => Details::ScimGroupCreated {
            scim_id: id(),
            display_name: None,
        },
        EventKind::ScimGroupUpdated => Details::ScimGroupUpdated {
            scim_id: id(),
            added: vec![id()],
            removed: vec![],
        },
        EventKind::ScimGroupDeactivated => Details::ScimGroupDeactivated { scim_id: id() },
        EventKind::ScimGroupDeleted => Details::ScimGroupDeleted { scim_id: id() },
        EventKind::CleanupPlanned => Details::CleanupPlanned {
            candidates: 3,
            stale_before: t,
        },
        EventKind::CleanupApplied => Details::CleanupApplied {
            removed: 3,
            failed: 0,
        },
        EventKind::PolicyLoaded => Details::PolicyLoaded {
            digest: "ab".repeat(32),
            rules: 4,
        },
        EventKind::PolicyRefused => Details::PolicyRefused {
            digest: "cd".repeat(32),
        },
        EventKind::AuditGap => Details::AuditGap { from: 3, to: 9 },
        EventKind::AuditRecovered => Details::AuditRecovered {
            truncated_bytes: 10,
            last_seq: 4,
        },
    }
}

fn event(kind: EventKind) -> AuditEvent {
    AuditEvent::new(Timestamp::from_unix_millis(1_700_000_000_123), sample(kind))
        .with_customer(CustomerRef::by_id("acc-1"))
        .with_idp("entra", Protocol::Saml2)
        .with_correlation_id("corr")
        .with_source(Source::new(
            Some("203.0.113.9".into()),
            Some("Mozilla/5.0".into()),
        ))
}

#[test]
fn every_kind_has_the_required_ocsf_attributes() {
    for &kind in EventKind::ALL {
        let e = event(kind);
        assert_eq!(e.kind(), kind);
        // the JSON names the kind and reads back the same
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], kind.as_str());
        assert_eq!(serde_json::from_value::<AuditEvent>(json).unwrap(), e);

        let o = to_ocsf(&e);
        let (class, activity, _) = classify(kind);
        for attr in [
            "activity_id",
            "category_uid",
            "class_uid",
            "severity_id",
            "time",
            "type_uid",
            "metadata",
        ] {
            assert!(o.get(attr).is_some(), "{kind}: {attr} missing");
        }
        assert_eq!(o["category_uid"], 3, "{kind}");
        assert_eq!(o["class_uid"], class.uid(), "{kind}");
        assert_eq!(o["activity_id"], activity, "{kind}");
        assert_eq!(
            o["type_uid"].as_u64().unwrap(),
            u64::from(class.uid()) * 100 + u64::from(activity),
            "{kind}"
        );
        assert_eq!(o["time"], 1_700_000_000_123_i64, "{kind}");
        assert_eq!(o["metadata"]["version"], OCSF_VERSION);
        assert_eq!(o["metadata"]["product"]["name"], "jsm-sso");
        assert!(o["metadata"]["product"]["vendor_name"].is_string());
        assert_eq!(o["metadata"]["uid"], e.id.to_string());
        let required = match class.uid() {
            3001..=3003 => "user",
            3004 => "entity",
            3006 => "group",
            other => panic!("unexpected class {other}"),
        };
        assert!(o[required].is_object(), "{kind}: {required} missing: {o}");
        if class.uid() == 3003 {
            assert!(
                o["groups"].is_array() || o["privileges"].is_array(),
                "{kind}"
            );
        }
        if class.uid() == 3002 {
            assert_eq!(o["auth_protocol_id"], 5, "{kind}: SAML");
            assert!(o["service"].is_object());
        }
        assert_eq!(o["src_endpoint"]["ip"], "203.0.113.9");
    }
}

#[test]
fn protocols_statuses_and_mfa() {
    let oidc = event(EventKind::SigninSucceeded).with_idp("okta", Protocol::Oidc);
    let o = to_ocsf(&oidc);
    assert_eq!(
        (o["auth_protocol_id"].clone(), o["status_id"].clone()),
        (Value::from(4), Value::from(1))
    );
    assert_eq!(o["is_mfa"], true);
    let failed = to_ocsf(&event(EventKind::SigninFailed).failed("saml.signature.invalid"));
    assert_eq!(failed["status_id"], 2);
    assert_eq!(failed["status_code"], "saml.signature.invalid");
    assert_eq!(failed["severity_id"], 3);
    assert_eq!(to_ocsf(&event(EventKind::SigninStarted))["status_id"], 0);
    let oauth = to_ocsf(&event(EventKind::MfaFailed).with_idp("gh", Protocol::OAuth2));
    assert_eq!(oauth["auth_protocol_id"], 6);
}

#[test]
fn cloudevents_envelope() {
    let e = event(EventKind::PortalAccessGranted);
    let ce = to_cloudevent(&e, &CloudEventsOptions::default());
    assert_eq!(ce["specversion"], "1.0");
    let id = ce["id"].as_str().unwrap();
    assert_eq!(id, e.id.to_string());
    assert_eq!(&id[14..15], "7", "UUIDv7: {id}");
    assert_eq!(ce["type"], "io.github.jsm-sso.audit.portal.access_granted");
    assert_eq!(ce["source"], "urn:jsm-sso:audit");
    assert_eq!(ce["subject"], "acc-1");
    assert_eq!(ce["time"], "2023-11-14T22:13:20.123Z");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["data"]["class_uid"], 3001);
    assert!(
        ce["dataschema"]
            .as_str()
            .unwrap()
            .ends_with("/1.8.0/classes/account_change")
    );

    // an email never becomes the subject, even when privacy keeps emails
    let email_only = AuditEvent::new(e.time, Details::CustomerCreated {})
        .with_customer(CustomerRef::default().with_email("alice@example.com"));
    let ce = to_cloudevent(&email_only, &CloudEventsOptions::default());
    assert!(ce.get("subject").is_none(), "{ce}");
    let subject_is_email = AuditEvent::new(e.time, Details::CustomerCreated {})
        .with_customer(CustomerRef::default().with_subject("bob@example.com"));
    assert!(
        to_cloudevent(&subject_is_email, &CloudEventsOptions::default())
            .get("subject")
            .is_none()
    );
}
