//! Client JSON in (checked and normalized against the schema) and resource JSON out
//! (rendered with `meta`, projected by `attributes` / `excludedAttributes`).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use crate::filter::eval::{Resolved, resolve};
use crate::filter::{AttrPath, Context};
use crate::schema::{AttrType, Attribute, ResourceKind, Returned};
use crate::store::{GroupRef, Resource};

/// Case-insensitive lookup of a JSON member (SCIM attribute names are case-insensitive).
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Whether `schemas` in `body` names `urn`.
pub(crate) fn require_schema(body: &Map<String, Value>, urn: &'static str) -> Result<(), Error> {
    let named = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)))
        });
    if named {
        Ok(())
    } else {
        Err(Error::MissingSchema { expected: urn })
    }
}

/// Checks and normalizes a create/replace body into stored attributes: canonical names,
/// read-only and unknown attributes dropped, Entra's string booleans made booleans, nulls
/// and empty values left out, at most one `primary` value.
pub(crate) fn normalize_body(
    kind: ResourceKind,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    require_schema(body, kind.schema().id)?;
    let mut out = Map::new();
    for (key, value) in body {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        if let Some(ext) = kind.extension(key) {
            let Value::Object(fields) = value else {
                return Err(invalid(ext.id, "must be an object"));
            };
            for (k, v) in fields {
                if let Some(attr) = ext.attribute(k) {
                    set_normalized(
                        &mut out,
                        Some(ext.id),
                        attr,
                        v,
                        &format!("{}:{}", ext.id, attr.name),
                    )?;
                }
            }
            continue;
        }
        let Ok(path) = crate::filter::parse::attr_path(key, 0) else {
            continue;
        };
        let Ok(r) = resolve(Context::Resource(kind), &path) else {
            continue;
        };
        if r.sub.is_some() {
            continue;
        }
        set_normalized(&mut out, r.container, r.attr, value, &path.to_string())?;
    }
    check_required(kind, &out)?;
    Ok(out)
}

fn set_normalized(
    out: &mut Map<String, Value>,
    container: Option<&'static str>,
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<(), Error> {
    if !attr.writable() {
        return Ok(());
    }
    let v = normalize_value(attr, value, path)?;
    let target = match container {
        Some(urn) => {
            let entry = out.entry(urn).or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => m,
                _ => return Ok(()),
            }
        }
        None => out,
    };
    if v.is_null() {
        target.remove(attr.name);
    } else {
        target.insert(attr.name.to_owned(), v);
    }
    Ok(())
}

/// The required attributes (`userName`, `displayName`) are present and non-empty.
pub(crate) fn check_required(kind: ResourceKind, attrs: &Map<String, Value>) -> Result<(), Error> {
    for attr in kind.schema().attributes.iter().filter(|a| a.required) {
        match attrs.get(attr.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => return Err(invalid(attr.name, "is required")),
        }
    }
    Ok(())
}

pub(crate) fn invalid(attribute: &str, detail: impl Into<String>) -> Error {
    Error::InvalidValue {
        attribute: attribute.to_owned(),
        detail: detail.into(),
    }
}

/// Normalizes one attribute value; `Value::Null` means "unassigned".
pub(crate) fn normalize_value(
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<Value, Error> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let v = normalize_single(attr, item, path)?;
            if !v.is_null() {
                out.push(v);
            }
        }
        fix_primary(&mut out);
        return Ok(if out.is_empty() {
            Value::Null
        } else {
            Value::Array(out)
        });
    }
    match value {
        // Entra sends a single-valued complex attribute (the manager) as a one-element list.
        Value::Array(items) if items.len() <= 1 => match items.first() {
            Some(v) => normalize_single(attr, v, path),
            None => Ok(Value::Null),
        },
        Value::Array(_) => Err(invalid(path, "must be a single value, not a list")),
        other => normalize_single(attr, other, path),
    }
}

fn normalize_single(attr: &'static Attribute, value: &Value, path: &str) -> Result<Value, Error> {
    if attr.kind != AttrType::Complex {
        return normalize_scalar(attr, value, path);
    }
    let fields = match value {
        Value::Object(m) => m,
        Value::Null => return Ok(Value::Null),
        // Entra sends the enterprise manager as a bare id string.
        Value::String(s) if attr.sub("value").is_some() => {
            return Ok(json!({"value": s}));
        }
        _ => return Err(invalid(path, "must be an object")),
    };
    let mut out = Map::new();
    for (k, v) in fields {
        let Some(sub) = attr.sub(k) else { continue };
        if !sub.writable() {
            continue;
        }
        let n = normalize_scalar(sub, v, &format!("{path}.{}", sub.name))?;
        if !n.is_null() {
            out.insert(sub.name.to_owned(), n);
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}

/// Checks a scalar against its type; Entra's `"True"`/`"False"` become booleans.
pub(crate) fn normalize_scalar(
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Value, Error> {
    let bad = |what: &str| invalid(path, format!("must be {what}"));
    match (attr.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => {
            Ok(value.clone())
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => Err(bad("a string")),
        (AttrType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (AttrType::Boolean, _) => Err(bad("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        (AttrType::Integer, _) => Err(bad("an integer")),
        (AttrType::Decimal, Value::Number(_)) => Ok(value.clone()),
        (AttrType::Decimal, _) => Err(bad("a number")),
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
            Ok(value.clone())
        }
        (AttrType::DateTime, _) => Err(bad("an RFC 3339 date-time")),
        (AttrType::Complex, _) => Err(bad("an object")),
    }
}

/// At most one value may be `primary: true`; the last one marked wins (the newest).
pub(crate) fn fix_primary(items: &mut [Value]) {
    let last = items
        .iter()
        .rposition(|i| i.get("primary") == Some(&Value::Bool(true)));
    if let Some(last) = last {
        for (n, item) in items.iter_mut().enumerate() {
            if n != last
                && let Some(m) = item.as_object_mut()
                && m.get("primary") == Some(&Value::Bool(true))
            {
                m.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

fn timestamp(t: std::time::SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// The resource in its SCIM JSON form. `groups` are the user's groups (ignored for groups).
pub(crate) fn render(resource: &Resource, base_url: &str, groups: &[GroupRef]) -> Value {
    let kind = resource.kind;
    let mut schemas = vec![json!(kind.schema().id)];
    for ext in kind.extensions() {
        if resource.attributes.contains_key(ext.id) {
            schemas.push(json!(ext.id));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(resource.id));
    for (k, v) in &resource.attributes {
        out.insert(k.clone(), v.clone());
    }
    match kind {
        ResourceKind::User if !groups.is_empty() => {
            let list: Vec<Value> = groups
                .iter()
                .map(|g| {
                    json!({"value": g.id, "$ref": format!("{base_url}/Groups/{}", g.id),
                           "display": g.display_name, "type": "direct"})
                })
                .collect();
            out.insert("groups".into(), Value::Array(list));
        }
        ResourceKind::Group => {
            if let Some(Value::Array(members)) = out.get_mut("members") {
                for m in members.iter_mut().filter_map(Value::as_object_mut) {
                    let endpoint = if m.get("type").and_then(Value::as_str) == Some("Group") {
                        "Groups"
                    } else {
                        "Users"
                    };
                    if let Some(id) = m.get("value").and_then(Value::as_str) {
                        let r = format!("{base_url}/{endpoint}/{id}");
                        m.insert("$ref".into(), Value::String(r));
                    }
                }
            }
        }
        ResourceKind::User => {}
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": timestamp(resource.created),
            "lastModified": timestamp(resource.last_modified),
            "location": format!("{base_url}{}/{}", kind.endpoint(), resource.id),
            "version": resource.etag(),
        }),
    );
    Value::Object(out)
}

/// `attributes` / `excludedAttributes`: comma-separated attribute paths.
#[derive(Debug, Clone, Default)]
pub(crate) struct Projection {
    include: Vec<Resolved>,
    exclude: Vec<Resolved>,
}

impl Projection {
    pub(crate) fn new(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Self {
        let parse = |list: Option<&str>| -> Vec<Resolved> {
            list.unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| crate::filter::parse::attr_path(s, 0).ok())
                .filter_map(|p: AttrPath| resolve(Context::Resource(kind), &p).ok())
                .collect()
        };
        Self {
            include: parse(attributes),
            exclude: parse(excluded),
        }
    }

    /// Applies the projection to a rendered resource.
    pub(crate) fn apply(&self, value: Value) -> Value {
        let Value::Object(mut full) = value else {
            return value;
        };
        if !self.include.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = full.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for r in &self.include {
                copy_attr(&full, &mut out, r);
            }
            return Value::Object(out);
        }
        for r in &self.exclude {
            if r.attr.returned == Returned::Always
                || r.sub.is_some_and(|s| s.returned == Returned::Always)
            {
                continue;
            }
            let container = match r.container {
                Some(urn) => full.get_mut(urn).and_then(Value::as_object_mut),
                None => Some(&mut full),
            };
            let Some(container) = container else { continue };
            match r.sub {
                None => {
                    container.remove(r.attr.name);
                }
                Some(sub) => match container.get_mut(r.attr.name) {
                    Some(Value::Array(items)) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            i.remove(sub.name);
                        }
                    }
                    Some(Value::Object(o)) => {
                        o.remove(sub.name);
                    }
                    _ => {}
                },
            }
        }
        Value::Object(full)
    }
}

fn copy_attr(full: &Map<String, Value>, out: &mut Map<String, Value>, r: &Resolved) {
    let src = match r.container {
        Some(urn) => full.get(urn).and_then(Value::as_object),
        None => Some(full),
    };
    let Some(v) = src.and_then(|s| s.get(r.attr.name)) else {
        return;
    };
    let picked = match r.sub {
        None => v.clone(),
        Some(sub) => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|i| i.get(sub.name).map(|x| json!({ sub.name: x })))
                    .collect(),
            ),
            Value::Object(o) => match o.get(sub.name) {
                Some(x) => json!({ sub.name: x }),
                None => return,
            },
            _ => return,
        },
    };
    let dest = match r.container {
        Some(urn) => {
            let entry = out.entry(urn).or_insert_with(|| Value::Object(Map::new()));
            match entry.as_object_mut() {
                Some(m) => m,
                None => return,
            }
        }
        None => out,
    };
    match (dest.get_mut(r.attr.name), picked) {
        (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
        (Some(Value::Array(existing)), Value::Array(new)) if existing.len() == new.len() => {
            for (e, n) in existing.iter_mut().zip(new) {
                if let (Some(e), Value::Object(n)) = (e.as_object_mut(), n) {
                    e.extend(n);
                }
            }
        }
        (_, picked) => {
            dest.insert(r.attr.name.to_owned(), picked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA;

    fn norm(body: Value) -> Result<Map<String, Value>, Error> {
        normalize_body(ResourceKind::User, body.as_object().unwrap())
    }

    #[test]
    fn normalizes_names_types_and_drops_read_only() {
        let out = norm(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "a@example.com",
            "Active": "False",
            "id": "forged", "groups": [{"value": "g"}], "password": "p", "unknown": 1,
            "emails": [{"Value": "a@example.com", "primary": "True"}, {"value": "b@example.com", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": "m1"}
        }))
        .unwrap();
        assert_eq!(out["userName"], "a@example.com");
        assert_eq!(out["active"], false);
        assert!(
            !out.contains_key("id") && !out.contains_key("groups") && !out.contains_key("password")
        );
        assert_eq!(out["emails"][0]["primary"], false);
        assert_eq!(out["emails"][1]["primary"], true);
        assert_eq!(out[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m1");
    }

    #[test]
    fn rejects_bad_types_and_missing_required() {
        let e = norm(json!({"schemas": [crate::schema::USER_SCHEMA], "userName": 5})).unwrap_err();
        assert_eq!(
            jsm_sso_core::CodedError::code(&e),
            "scim.attribute.invalid_value"
        );
        let e = norm(
            json!({"schemas": [crate::schema::USER_SCHEMA], "userName": "a", "active": "yes"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("active"));
        let e = norm(json!({"schemas": [crate::schema::USER_SCHEMA]})).unwrap_err();
        assert!(e.to_string().contains("userName"));
        let e = norm(json!({"userName": "a"})).unwrap_err();
        assert_eq!(jsm_sso_core::CodedError::code(&e), "scim.request.schema");
        let e =
            norm(json!({"schemas": [crate::schema::USER_SCHEMA], "userName": "a", "name": "x"}))
                .unwrap_err();
        assert!(e.to_string().contains("name"));
        let e = norm(
            json!({"schemas": [crate::schema::USER_SCHEMA], "userName": "a", "displayName": ["x", "y"]}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("displayName"));
    }
}
