//! Okta- and Entra-shaped provisioning sequences through the HTTP surface, asserting the
//! exact hook calls, audit events and stored state after each step.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the test loudly"
)]

mod common;

use common::{ENTRA_TOKEN, Harness, OKTA_TOKEN, vector};
use serde_json::json;

#[tokio::test]
async fn okta_sequence() {
    let h = Harness::new().await;
    let t = OKTA_TOKEN;
    // Okta looks the user up before creating it.
    let (s, list, _) = h
        .call(
            t,
            "GET",
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!((s, list["totalResults"].as_u64()), (200, Some(0)));

    let (s, user, resp) = h
        .call(
            t,
            "POST",
            "/Users",
            Some(&vector("okta/create-user.json", &[])),
        )
        .await;
    assert_eq!(s, 201);
    let uid = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        resp.headers()["location"],
        format!("{}/Users/{uid}", common::BASE)
    );
    assert!(user.get("password").is_none());
    assert_eq!(user["meta"]["version"], "W/\"1\"");

    let (s, _, _) = h
        .call(
            t,
            "PUT",
            &format!("/Users/{uid}"),
            Some(&vector(
                "okta/replace-user.json",
                &[("ID", &uid), ("ACTIVE", "true")],
            )),
        )
        .await;
    assert_eq!(s, 200);

    let (s, group, _) = h
        .call(
            t,
            "POST",
            "/Groups",
            Some(&vector("okta/create-group.json", &[])),
        )
        .await;
    assert_eq!(s, 201);
    let gid = group["id"].as_str().unwrap().to_owned();
    let (s, g, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector(
                "okta/patch-group-add-members.json",
                &[("MEMBER", &uid)],
            )),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(g["members"][0]["value"], uid.as_str());
    assert_eq!(g["members"][0]["type"], "User");
    assert!(g["members"][0].get("display").is_none());

    let (s, _, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector("okta/patch-group-rename.json", &[("ID", &gid)])),
        )
        .await;
    assert_eq!(s, 200);
    let (_, u, _) = h.call(t, "GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(u["groups"][0]["display"], "Test SCIMv2 Renamed");

    let (s, _, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector(
                "okta/patch-group-remove-member.json",
                &[("MEMBER", &uid)],
            )),
        )
        .await;
    assert_eq!(s, 200);
    // Deprovision by PATCH, reactivate, then Okta's PUT deprovisioning.
    let (s, u, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(&vector("okta/patch-active.json", &[("ACTIVE", "false")])),
        )
        .await;
    assert_eq!((s, &u["active"]), (200, &json!(false)));
    // The same PATCH again changes nothing: no new version, no hook call, no event.
    let (s, u2, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(&vector("okta/patch-active.json", &[("ACTIVE", "false")])),
        )
        .await;
    assert_eq!((s, &u2["meta"]["version"]), (200, &u["meta"]["version"]));
    h.call(
        t,
        "PATCH",
        &format!("/Users/{uid}"),
        Some(&vector("okta/patch-active.json", &[("ACTIVE", "true")])),
    )
    .await;
    let (s, _, _) = h
        .call(
            t,
            "PUT",
            &format!("/Users/{uid}"),
            Some(&vector(
                "okta/replace-user.json",
                &[("ID", &uid), ("ACTIVE", "false")],
            )),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = h.call(t, "DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);
    let (s, body, _) = h.call(t, "DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!((s, body), (204, serde_json::Value::Null));
    let (s, _, _) = h.call(t, "GET", &format!("/Users/{uid}"), None).await;
    assert_eq!(s, 404);

    assert_eq!(
        h.hook.take(),
        [
            "user_created test.user@okta.local email=test.user@okta.local active=true groups=[]",
            "user_updated test.user@okta.local email=test.user@okta.local active=true groups=[]",
            "group_Created Test SCIMv2 prev=None added=[] removed=[] renamed=[]",
            "group_Updated Test SCIMv2 prev=None added=[\"test.user@okta.local[\\\"Test SCIMv2\\\"]\"] removed=[] renamed=[]",
            "group_Updated Test SCIMv2 Renamed prev=Some(\"Test SCIMv2\") added=[] removed=[] renamed=[\"test.user@okta.local[\\\"Test SCIMv2 Renamed\\\"]\"]",
            "group_Updated Test SCIMv2 Renamed prev=None added=[] removed=[\"test.user@okta.local[]\"] renamed=[]",
            "user_deactivated test.user@okta.local email=test.user@okta.local active=false groups=[]",
            "user_updated test.user@okta.local email=test.user@okta.local active=true groups=[]",
            "user_deactivated test.user@okta.local email=test.user@okta.local active=false groups=[]",
            "group_Deleted Test SCIMv2 Renamed prev=None added=[] removed=[] renamed=[]",
            "user_deleted test.user@okta.local email=test.user@okta.local active=false groups=[]",
        ]
    );
    assert_eq!(
        h.events().await,
        [
            format!("scim.user_created {uid}"),
            format!("scim.user_updated {uid}"),
            format!("scim.group_created {gid}"),
            format!("scim.group_updated {gid} added=1"),
            format!("scim.group_updated {gid}"),
            format!("scim.group_updated {gid} removed=1"),
            format!("scim.user_deactivated {uid}"),
            format!("scim.user_updated {uid}"),
            format!("scim.user_deactivated {uid}"),
            format!("scim.group_deleted {gid}"),
            format!("scim.user_deleted {uid}"),
        ]
    );
    let (_, users, _) = h.call(t, "GET", "/Users", None).await;
    let (_, groups, _) = h.call(t, "GET", "/Groups", None).await;
    assert_eq!(
        (
            users["totalResults"].as_u64(),
            groups["totalResults"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn entra_sequence() {
    let h = Harness::new().await;
    let t = ENTRA_TOKEN;
    let (s, boss, _) = h
        .call(
            t,
            "POST",
            "/Users",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "boss@contoso.com", "active": true})),
        )
        .await;
    assert_eq!(s, 201);
    let boss_id = boss["id"].as_str().unwrap().to_owned();
    let (s, user, _) = h
        .call(
            t,
            "POST",
            "/Users",
            Some(&vector("entra/create-user.json", &[])),
        )
        .await;
    assert_eq!(s, 201);
    let uid = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        user["schemas"][1],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    // Entra's duplicate check: filter on userName, case-insensitively.
    let filter = format!(
        "/Users?filter=userName+eq+%22{}%22",
        "TEST_USER_AB6490EE-1E48-479E-A20B-2D77186B5DD1%40CONTOSO.COM"
    );
    let (_, found, _) = h.call(t, "GET", &filter, None).await;
    assert_eq!(found["Resources"][0]["id"], uid.as_str());

    let (s, u, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(&vector(
                "entra/patch-user-update.json",
                &[("MANAGER", &boss_id)],
            )),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        u["emails"][0],
        json!({"primary": true, "type": "work", "value": "updatedEmail@microsoft.com"})
    );
    assert_eq!(u["name"]["familyName"], "updatedFamilyName");
    let ext = &u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["manager"], json!({"value": boss_id}));
    assert_eq!(ext["department"], "Tier 2 Support");

    let (s, group, _) = h
        .call(
            t,
            "POST",
            "/Groups",
            Some(&vector("entra/create-group.json", &[])),
        )
        .await;
    assert_eq!(s, 201);
    let gid = group["id"].as_str().unwrap().to_owned();
    assert_ne!(gid, "c4e7d3f2-ignored");
    let (_, found, _) = h
        .call(
            t,
            "GET",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22",
            None,
        )
        .await;
    assert_eq!(found["Resources"][0]["id"], gid.as_str());
    let (s, _, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector("entra/patch-add-member.json", &[("MEMBER", &uid)])),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector("entra/patch-group-rename.json", &[])),
        )
        .await;
    assert_eq!(s, 200);
    let (s, g, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&vector(
                "entra/patch-remove-member.json",
                &[("MEMBER", &uid)],
            )),
        )
        .await;
    assert_eq!(s, 200);
    assert!(g.get("members").is_none());
    let (s, u, _) = h
        .call(
            t,
            "PATCH",
            &format!("/Users/{uid}"),
            Some(&vector("entra/patch-disable.json", &[])),
        )
        .await;
    assert_eq!((s, &u["active"]), (200, &json!(false)));
    let (s, _, _) = h.call(t, "DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(s, 204);
    let (s, _, _) = h.call(t, "DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);

    let email = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com";
    let name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com";
    let renamed = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName";
    assert_eq!(
        h.hook.take(),
        [
            "user_created boss@contoso.com email=boss@contoso.com active=true groups=[]".to_owned(),
            format!("user_created {name} email={email} active=true groups=[]"),
            format!("user_updated {name} email=updatedEmail@microsoft.com active=true groups=[]"),
            "group_Created displayName prev=None added=[] removed=[] renamed=[]".to_owned(),
            format!(
                "group_Updated displayName prev=None added=[\"{name}[\\\"displayName\\\"]\"] removed=[] renamed=[]"
            ),
            format!(
                "group_Updated {renamed} prev=Some(\"displayName\") added=[] removed=[] renamed=[\"{name}[\\\"{renamed}\\\"]\"]"
            ),
            format!("group_Updated {renamed} prev=None added=[] removed=[\"{name}[]\"] renamed=[]"),
            format!(
                "user_deactivated {name} email=updatedEmail@microsoft.com active=false groups=[]"
            ),
            format!("user_deleted {name} email=updatedEmail@microsoft.com active=false groups=[]"),
            format!("group_Deleted {renamed} prev=None added=[] removed=[] renamed=[]"),
        ]
    );
    assert_eq!(
        h.events().await,
        [
            format!("scim.user_created {boss_id}"),
            format!("scim.user_created {uid}"),
            format!("scim.user_updated {uid}"),
            format!("scim.group_created {gid}"),
            format!("scim.group_updated {gid} added=1"),
            format!("scim.group_updated {gid}"),
            format!("scim.group_updated {gid} removed=1"),
            format!("scim.user_deactivated {uid}"),
            format!("scim.user_deleted {uid}"),
            format!("scim.group_deleted {gid}"),
        ]
    );
    // Tenants are separate: Okta's token sees none of Entra's users.
    let (_, okta_view, _) = h.call(OKTA_TOKEN, "GET", "/Users", None).await;
    assert_eq!(okta_view["totalResults"], 0);
    let (_, entra_view, _) = h.call(t, "GET", "/Users", None).await;
    assert_eq!(entra_view["totalResults"], 1);
}

/// A deleted user leaves its groups, and the hook sees the groups it was in.
#[tokio::test]
async fn deleting_a_member_updates_the_group() {
    let h = Harness::new().await;
    let t = OKTA_TOKEN;
    let (_, u, _) = h
        .call(
            t,
            "POST",
            "/Users",
            Some(&vector("okta/create-user.json", &[])),
        )
        .await;
    let uid = u["id"].as_str().unwrap();
    let (_, g, _) = h
        .call(
            t,
            "POST",
            "/Groups",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
        "members": [{"value": uid}]})),
        )
        .await;
    let gid = g["id"].as_str().unwrap();
    h.hook.take();
    h.call(t, "DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(
        h.hook.take(),
        ["user_deleted test.user@okta.local email=test.user@okta.local active=true groups=[\"G\"]"]
    );
    let (_, g, _) = h.call(t, "GET", &format!("/Groups/{gid}"), None).await;
    assert!(g.get("members").is_none());
    assert_eq!(g["meta"]["version"], "W/\"2\"");
}
