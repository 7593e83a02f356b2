//! Round trips: what goes in comes back (minus read-only and unknown attributes), lists page,
//! sort and project, discovery documents describe what the service does.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the test loudly"
)]

mod common;

use common::{Harness, OKTA_TOKEN as T};
use serde_json::{Value, json};

const FULL_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "701984",
  "userName": "bjensen@example.com",
  "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
           "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
  "displayName": "Babs Jensen",
  "nickName": "Babs",
  "profileUrl": "https://login.example.com/bjensen",
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home"}],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                 "region": "CA", "postalCode": "91608", "country": "USA",
                 "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true}],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
  "userType": "Employee",
  "title": "Tour Guide",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
    "division": "Theme Park", "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
  }
}"#;

#[tokio::test]
async fn full_rfc_user_round_trips() {
    let h = Harness::new().await;
    let input: Value = serde_json::from_str(FULL_USER).unwrap();
    let (s, created, _) = h.call(T, "POST", "/Users", Some(&input)).await;
    assert_eq!(s, 201);
    let id = created["id"].as_str().unwrap();
    let (_, got, r) = h.call(T, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(got, created);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let mut expected = input.clone();
    // The manager's displayName is read-only (the service provider fills it; we do not).
    expected["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]
        .as_object_mut()
        .unwrap()
        .remove("displayName");
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&got[k], v, "attribute {k}");
    }
    assert_eq!(got["meta"]["resourceType"], "User");
    assert_eq!(
        got["meta"]["location"],
        format!("{}/Users/{id}", common::BASE)
    );
    assert_eq!(got["meta"]["created"], got["meta"]["lastModified"]);

    // PUT with the GET body (as clients do) changes nothing but the version.
    let (s, put, _) = h.call(T, "PUT", &format!("/Users/{id}"), Some(&got)).await;
    assert_eq!(s, 200);
    assert_eq!(put["meta"]["version"], "W/\"2\"");
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("meta");
        v
    };
    assert_eq!(strip(put.clone()), strip(got.clone()));
    // PUT without an attribute removes it.
    let mut smaller = got.clone();
    smaller.as_object_mut().unwrap().remove("nickName");
    let (_, put, _) = h
        .call(T, "PUT", &format!("/Users/{id}"), Some(&smaller))
        .await;
    assert!(put.get("nickName").is_none());
}

async fn seed(h: &Harness, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (_, u, _) = h
            .call(
                T,
                "POST",
                "/Users",
                Some(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{:02}@example.com", (i * 7) % n),
                    "title": if i % 2 == 0 { "Engineer" } else { "Manager" },
                    "emails": [{"value": format!("u{i}@example.com"), "type": "work"}],
                })),
            )
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn list_pages_sorts_and_projects() {
    let h = Harness::new().await;
    seed(&h, 10).await;
    let (_, page, _) = h
        .call(
            T,
            "GET",
            "/Users?startIndex=4&count=3&sortBy=userName",
            None,
        )
        .await;
    assert_eq!(page["totalResults"], 10);
    assert_eq!(page["startIndex"], 4);
    assert_eq!(page["itemsPerPage"], 3);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "user03@example.com",
            "user04@example.com",
            "user05@example.com"
        ]
    );
    let (_, page, _) = h
        .call(
            T,
            "GET",
            "/Users?sortBy=userName&sortOrder=descending&count=1",
            None,
        )
        .await;
    assert_eq!(page["Resources"][0]["userName"], "user09@example.com");
    let (_, page, _) = h.call(T, "GET", "/Users?count=0", None).await;
    assert_eq!(
        (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(10), Some(0))
    );
    let (_, page, _) = h
        .call(T, "GET", "/Users?startIndex=-5&count=-1", None)
        .await;
    assert_eq!(
        (page["startIndex"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(1), Some(0))
    );
    let (_, page, _) = h.call(T, "GET", "/Users?startIndex=11", None).await;
    assert_eq!(page["Resources"], json!([]));

    let (_, page, _) = h.call(T, "GET", "/Users?filter=title%20eq%20%22engineer%22%20and%20emails%5Btype%20eq%20%22work%22%5D&attributes=userName,emails.value", None).await;
    assert_eq!(page["totalResults"], 5);
    let first = page["Resources"][0].as_object().unwrap();
    let mut keys: Vec<&String> = first.keys().collect();
    keys.sort();
    assert_eq!(keys, ["emails", "id", "schemas", "userName"]);
    assert_eq!(first["emails"], json!([{"value": "u0@example.com"}]));

    let (_, page, _) = h
        .call(
            T,
            "GET",
            "/Users?excludedAttributes=emails,meta,id&count=1",
            None,
        )
        .await;
    let first = page["Resources"][0].as_object().unwrap();
    assert!(!first.contains_key("emails") && !first.contains_key("meta"));
    assert!(first.contains_key("id"), "id is returned always");

    let (s, page, _) = h
        .call(
            T,
            "POST",
            "/Users/.search",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"user0\" and not (title eq \"Manager\")",
        "attributes": ["userName"], "sortBy": "userName", "startIndex": 1, "count": 2})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn group_members_and_user_groups_agree() {
    let h = Harness::new().await;
    let ids = seed(&h, 3).await;
    let (_, g, _) = h
        .call(
            T,
            "POST",
            "/Groups",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Support",
        "externalId": "okta-group-1",
        "members": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()})),
        )
        .await;
    let gid = g["id"].as_str().unwrap();
    assert_eq!(
        g["members"][0]["$ref"],
        format!("{}/Users/{}", common::BASE, ids[0])
    );
    for id in &ids {
        let (_, u, _) = h.call(T, "GET", &format!("/Users/{id}"), None).await;
        assert_eq!(
            u["groups"],
            json!([{"value": gid, "$ref": format!("{}/Groups/{gid}", common::BASE), "display": "Support", "type": "direct"}])
        );
    }
    let filter = format!("/Users?filter=groups.value%20eq%20%22{gid}%22");
    let (_, page, _) = h.call(T, "GET", &filter, None).await;
    assert_eq!(page["totalResults"], 3);
    let (_, page, _) = h
        .call(
            T,
            "GET",
            "/Groups?filter=externalId%20eq%20%22okta-group-1%22",
            None,
        )
        .await;
    assert_eq!(page["totalResults"], 1);
    let (_, page, _) = h
        .call(
            T,
            "GET",
            "/Groups?filter=externalId%20eq%20%22OKTA-GROUP-1%22",
            None,
        )
        .await;
    assert_eq!(page["totalResults"], 0, "externalId is case-exact");
    // Nested groups: a group may be a member.
    let (s, g2, _) = h
        .call(
            T,
            "POST",
            "/Groups",
            Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "All",
        "members": [{"value": gid}]})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(g2["members"][0]["type"], "Group");
}

#[tokio::test]
async fn discovery_documents() {
    let h = Harness::new().await;
    let (s, spc, _) = h.call(T, "GET", "/ServiceProviderConfig", None).await;
    assert_eq!(s, 200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["maxResults"], 500);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let (_, types, _) = h.call(T, "GET", "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 2);
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let (_, user_type, _) = h.call(T, "GET", "/ResourceTypes/User", None).await;
    assert_eq!(user_type["endpoint"], "/Users");
    let (_, schemas, _) = h.call(T, "GET", "/Schemas", None).await;
    assert_eq!(schemas["totalResults"], 3);
    let (s, group, _) = h
        .call(
            T,
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(group["attributes"][1]["name"], "members");
    assert_eq!(
        group["attributes"][1]["subAttributes"][0]["caseExact"],
        true
    );
}

#[tokio::test]
async fn root_search_spans_both_types() {
    let h = Harness::new().await;
    seed(&h, 2).await;
    h.call(
        T,
        "POST",
        "/Groups",
        Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"})),
    )
    .await;
    let search = |filter: Option<&str>| {
        let mut b = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
        if let Some(f) = filter {
            b["filter"] = json!(f);
        }
        b
    };
    let (s, all, _) = h.call(T, "POST", "/.search", Some(&search(None))).await;
    assert_eq!((s, all["totalResults"].as_u64()), (200, Some(3)));
    // userName exists only on users: groups are left out, not an error.
    let (_, users, _) = h
        .call(T, "POST", "/.search", Some(&search(Some("userName pr"))))
        .await;
    assert_eq!(users["totalResults"], 2);
    let (_, groups, _) = h
        .call(
            T,
            "POST",
            "/.search",
            Some(&search(Some("displayName eq \"g\""))),
        )
        .await;
    assert_eq!(groups["totalResults"], 1);
    let (s, err, _) = h
        .call(T, "POST", "/.search", Some(&search(Some("nope pr"))))
        .await;
    assert_eq!((s, err["scimType"].as_str()), (400, Some("invalidFilter")));
    let (s, _, _) = h.call(T, "GET", "/.search", None).await;
    assert_eq!(s, 405);
}
