//! The discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`
//! (RFC 7644 §4).

use serde_json::{Value, json};

use crate::error::Error;
use crate::schema::{self, ResourceKind};
use crate::service::{Inner, Reply};

pub(crate) fn answer(
    inner: &Inner,
    first: &str,
    second: Option<&str>,
    path: &str,
) -> Result<Reply, Error> {
    let base = &inner.base_url;
    let not_found = || Error::UnknownEndpoint {
        path: path.to_owned(),
    };
    match (first, second) {
        ("ServiceProviderConfig", None) => Ok(Reply::ok(service_provider_config(inner))),
        ("ResourceTypes", None) => {
            let all: Vec<Value> = [ResourceKind::User, ResourceKind::Group]
                .iter()
                .map(|k| k.resource_type_json(base))
                .collect();
            Ok(Reply::ok(list(all)))
        }
        ("ResourceTypes", Some(name)) => [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .find(|k| k.name() == name)
            .map(|k| Reply::ok(k.resource_type_json(base)))
            .ok_or_else(not_found),
        ("Schemas", None) => {
            let all: Vec<Value> = schema::ALL
                .iter()
                .map(|s| s.to_json(&format!("{base}/Schemas/{}", s.id)))
                .collect();
            Ok(Reply::ok(list(all)))
        }
        ("Schemas", Some(urn)) => schema::ALL
            .iter()
            .find(|s| s.id == urn)
            .map(|s| Reply::ok(s.to_json(&format!("{base}/Schemas/{}", s.id))))
            .ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn service_provider_config(inner: &Inner) -> Value {
    json!({
        "schemas": [schema::SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/jsm-sso/jsm-sso/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": inner.limits.max_body},
        "filter": {"supported": true, "maxResults": inner.limits.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A per-IdP bearer token in the Authorization header",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", inner.base_url),
        },
    })
}
