//! PATCH (RFC 7644 §3.5.2): [`parse`] a `PatchOp` body into [`PatchOperation`]s and
//! [`apply`] them to a resource's attributes.
//!
//! Accepted client quirks: capitalised ops (`"Replace"`, Entra ID), case-insensitive member
//! names (`"Operations"`, `"Path"`), string booleans (`"False"`), no-path values whose keys
//! are paths (`{"name.givenName": "B"}`), `remove` on `members` with a value list, and
//! `add`/`replace` on `emails[type eq "work"].value` when no such value exists yet (it is
//! created, as Entra ID expects).
//!
//! Member-style operations (`add` to a multi-valued attribute, `remove` of values by list
//! or by `[value eq "..."]`) in a row are merged and applied with a hash set, so a
//! 10,000-member group change costs linear time, not quadratic.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::filter::eval::{Resolved, resolve};
use crate::filter::{
    AttrPath, CompValue, CompareOp, Context, Filter, FilterLimits, parse_patch_path,
};
use crate::resource::{
    check_required, fix_primary, get_ci, invalid, normalize_scalar, normalize_value, require_schema,
};
use crate::schema::{self, AttrType, ResourceKind};

/// Default limit on operations per PATCH request.
pub const MAX_OPERATIONS: usize = 20_000;

/// `add`, `remove` or `replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    /// Add values.
    Add,
    /// Remove values.
    Remove,
    /// Replace values.
    Replace,
}

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The path as sent.
    pub raw: String,
    /// The attribute (with a sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter (`emails[type eq "work"]`).
    pub filter: Option<Filter>,
    /// The sub-attribute after the filter (`.value`).
    pub sub: Option<String>,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation.
    pub op: PatchOp,
    /// The target, when given.
    pub path: Option<PatchPath>,
    /// The value, for `add` and `replace` (and Entra's `remove` with a value list).
    pub value: Option<Value>,
}

/// Parses a `PatchOp` request body.
///
/// # Errors
///
/// `scim.request.schema` without the PatchOp schema, `scim.request.malformed` when
/// `Operations` is missing or not a list, `scim.patch.invalid_operation`,
/// `scim.patch.invalid_path`, `scim.patch.no_target` (remove without path),
/// `scim.patch.too_many_operations`.
pub fn parse(
    body: &Value,
    max_operations: usize,
    limits: &FilterLimits,
) -> Result<Vec<PatchOperation>, Error> {
    let body = body.as_object().ok_or_else(|| Error::MalformedBody {
        detail: "PATCH body must be a JSON object".into(),
    })?;
    require_schema(body, schema::PATCH_OP)?;
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::MalformedBody {
            detail: "Operations must be a list".into(),
        })?;
    if ops.len() > max_operations {
        return Err(Error::TooManyOperations {
            limit: max_operations,
            actual: ops.len(),
        });
    }
    if ops.is_empty() {
        return Err(Error::MalformedBody {
            detail: "Operations is empty".into(),
        });
    }
    ops.iter()
        .enumerate()
        .map(|(index, op)| parse_one(index, op, limits))
        .collect()
}

fn parse_one(index: usize, op: &Value, limits: &FilterLimits) -> Result<PatchOperation, Error> {
    let bad = |detail: &str| Error::InvalidOperation {
        index,
        detail: detail.to_owned(),
    };
    let op_obj = op.as_object().ok_or_else(|| bad("must be an object"))?;
    let name = get_ci(op_obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("op is missing"))?;
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => PatchOp::Add,
        "remove" => PatchOp::Remove,
        "replace" => PatchOp::Replace,
        _ => return Err(bad("op must be add, remove or replace")),
    };
    let path = match get_ci(op_obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(p, limits)?),
        Some(_) => return Err(bad("path must be a string")),
    };
    let value = get_ci(op_obj, "value").cloned();
    match (kind, &path, &value) {
        (PatchOp::Remove, None, _) => Err(Error::NoTarget {
            path: "(none): remove needs a path".into(),
        }),
        (PatchOp::Add | PatchOp::Replace, _, None) => Err(bad("value is missing")),
        (PatchOp::Add | PatchOp::Replace, None, Some(v)) if !v.is_object() => {
            Err(bad("value without path must be an object"))
        }
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

fn parse_path(raw: &str, limits: &FilterLimits) -> Result<PatchPath, Error> {
    let (attr, filter, sub) = parse_patch_path(raw, limits).map_err(|e| Error::InvalidPath {
        path: raw.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(PatchPath {
        raw: raw.to_owned(),
        attr,
        filter,
        sub,
    })
}

/// A resolved target.
#[derive(Debug, Clone, Copy)]
struct Target<'f> {
    r: Resolved,
    filter: Option<&'f Filter>,
    sub: Option<&'static schema::Attribute>,
}

/// A merged run of member-style operations.
enum Step<'o> {
    /// One ordinary operation.
    Single(PatchOp, Option<&'o PatchPath>, Option<&'o Value>),
    /// Add these values to a multi-valued attribute.
    AddValues(Resolved, Vec<&'o Value>, String),
    /// Remove the values whose `value` is one of these.
    RemoveKeys(Resolved, Vec<String>),
}

/// Applies operations to a resource's stored attributes. All-or-nothing: on error the
/// caller discards the copy it passed in.
///
/// # Errors
///
/// `scim.patch.invalid_path` (unknown attribute, filter on a single-valued attribute),
/// `scim.attribute.mutability` (read-only or required target), `scim.attribute.invalid_value`,
/// `scim.patch.no_target`.
pub fn apply(
    kind: ResourceKind,
    attrs: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<(), Error> {
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(ops.len());
    for op in ops {
        let step = member_step(kind, op)?;
        match (steps.last_mut(), step) {
            (Some(Step::AddValues(r, vals, _)), Some(Step::AddValues(r2, more, _)))
                if same(r, &r2) =>
            {
                vals.extend(more);
            }
            (Some(Step::RemoveKeys(r, keys)), Some(Step::RemoveKeys(r2, more))) if same(r, &r2) => {
                keys.extend(more);
            }
            (_, Some(step)) => steps.push(step),
            (_, None) => steps.push(Step::Single(op.op, op.path.as_ref(), op.value.as_ref())),
        }
    }
    for step in steps {
        match step {
            Step::Single(op, path, value) => apply_one(kind, attrs, op, path, value)?,
            Step::AddValues(r, values, raw) => {
                let mut items = Vec::with_capacity(values.len());
                for v in values {
                    match normalize_value(r.attr, v, &raw)? {
                        Value::Array(a) => items.extend(a),
                        Value::Null => {}
                        other => items.push(other),
                    }
                }
                add_values(attrs, &r, items);
            }
            Step::RemoveKeys(r, keys) => remove_keys(attrs, &r, &keys),
        }
    }
    check_required(kind, attrs)
}

fn same(a: &Resolved, b: &Resolved) -> bool {
    a.container == b.container && a.attr.name == b.attr.name
}

/// Recognises the member-style shapes that can be merged.
fn member_step(kind: ResourceKind, op: &PatchOperation) -> Result<Option<Step<'_>>, Error> {
    let Some(path) = &op.path else {
        return Ok(None);
    };
    if path.sub.is_some() || path.attr.sub.is_some() {
        return Ok(None);
    }
    let Ok(r) = resolve(Context::Resource(kind), &path.attr) else {
        return Ok(None);
    };
    if !r.attr.multi_valued || !r.attr.writable() || r.attr.sub("value").is_none() {
        return Ok(None);
    }
    Ok(match (op.op, &path.filter, &op.value) {
        (PatchOp::Add, None, Some(v)) => Some(Step::AddValues(r, vec![v], path.raw.clone())),
        (PatchOp::Remove, None, Some(Value::Array(items))) => {
            let keys: Option<Vec<String>> = items.iter().map(|i| value_key(&r, i)).collect();
            keys.map(|k| Step::RemoveKeys(r, k))
        }
        (
            PatchOp::Remove,
            Some(Filter::Compare {
                path: p,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            }),
            _,
        ) if p.uri.is_none() && p.sub.is_none() && p.name.eq_ignore_ascii_case("value") => {
            Some(Step::RemoveKeys(r, vec![fold(&r, s)]))
        }
        _ => None,
    })
}

fn fold(r: &Resolved, s: &str) -> String {
    if r.attr.sub("value").is_some_and(|v| v.case_exact) {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}

fn value_key(r: &Resolved, item: &Value) -> Option<String> {
    item.get("value")
        .and_then(Value::as_str)
        .map(|s| fold(r, s))
}

fn container_mut<'a>(
    attrs: &'a mut Map<String, Value>,
    r: &Resolved,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match r.container {
        None => Some(attrs),
        Some(urn) => {
            if create && !attrs.contains_key(urn) {
                attrs.insert(urn.to_owned(), Value::Object(Map::new()));
            }
            attrs.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

fn tidy(attrs: &mut Map<String, Value>, r: &Resolved) {
    if let Some(c) = container_mut(attrs, r, false) {
        let empty = match c.get(r.attr.name) {
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            c.remove(r.attr.name);
        }
    }
    if let Some(urn) = r.container
        && attrs
            .get(urn)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        attrs.remove(urn);
    }
}

fn add_values(attrs: &mut Map<String, Value>, r: &Resolved, items: Vec<Value>) {
    let Some(c) = container_mut(attrs, r, true) else {
        return;
    };
    let entry = c
        .entry(r.attr.name)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    if let Value::Array(existing) = entry {
        let mut seen: HashSet<String> = existing.iter().map(|e| key_of(r, e)).collect();
        for item in items {
            if seen.insert(key_of(r, &item)) {
                existing.push(item);
            }
        }
        fix_primary(existing);
    }
    tidy(attrs, r);
}

fn key_of(r: &Resolved, v: &Value) -> String {
    value_key(r, v).unwrap_or_else(|| v.to_string())
}

fn remove_keys(attrs: &mut Map<String, Value>, r: &Resolved, keys: &[String]) {
    let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
    if let Some(c) = container_mut(attrs, r, false)
        && let Some(Value::Array(items)) = c.get_mut(r.attr.name)
    {
        items.retain(|i| value_key(r, i).is_none_or(|k| !keys.contains(k.as_str())));
    }
    tidy(attrs, r);
}

fn apply_one(
    kind: ResourceKind,
    attrs: &mut Map<String, Value>,
    op: PatchOp,
    path: Option<&PatchPath>,
    value: Option<&Value>,
) -> Result<(), Error> {
    let Some(path) = path else {
        // No path: the value is an object of attributes (or of paths, as Entra sends).
        let Some(Value::Object(fields)) = value else {
            return Err(Error::NoTarget {
                path: "(none)".into(),
            });
        };
        for (key, v) in fields {
            if ["schemas", "id", "meta"]
                .iter()
                .any(|k| key.eq_ignore_ascii_case(k))
            {
                continue;
            }
            if let Some(ext) = kind.extension(key) {
                let Value::Object(ext_fields) = v else {
                    return Err(invalid(ext.id, "must be an object"));
                };
                for (k, ev) in ext_fields {
                    if let Ok(p) = parse_path(&format!("{}:{k}", ext.id), &FilterLimits::default())
                        && resolve(Context::Resource(kind), &p.attr).is_ok()
                    {
                        apply_one(kind, attrs, op, Some(&p), Some(ev))?;
                    }
                }
                continue;
            }
            let Ok(p) = parse_path(key, &FilterLimits::default()) else {
                continue;
            };
            match resolve(Context::Resource(kind), &p.attr) {
                Ok(r) if !r.attr.writable() => continue,
                Ok(_) => apply_one(kind, attrs, op, Some(&p), Some(v))?,
                Err(_) => continue,
            }
        }
        return Ok(());
    };
    if path.filter.is_none()
        && let Some(ext) = kind.extension(path.raw.trim())
    {
        // The whole extension: its attributes one by one (replace merges), or all removed.
        if op == PatchOp::Remove {
            attrs.remove(ext.id);
            return Ok(());
        }
        let Some(Value::Object(fields)) = value else {
            return Err(invalid(ext.id, "must be an object"));
        };
        let wrapped = Value::Object(Map::from_iter([(
            ext.id.to_owned(),
            Value::Object(fields.clone()),
        )]));
        return apply_one(kind, attrs, op, None, Some(&wrapped));
    }
    let t = target(kind, path)?;
    match t.filter {
        None => apply_plain(attrs, op, &t, value, &path.raw),
        Some(f) => apply_filtered(attrs, op, &t, f, value, &path.raw),
    }?;
    tidy(attrs, &t.r);
    Ok(())
}

fn target<'p>(kind: ResourceKind, path: &'p PatchPath) -> Result<Target<'p>, Error> {
    let bad = |detail: String| Error::InvalidPath {
        path: path.raw.clone(),
        detail,
    };
    let r = resolve(Context::Resource(kind), &path.attr).map_err(|e| bad(e.to_string()))?;
    if !r.attr.writable() || r.sub.is_some_and(|s| !s.writable()) {
        return Err(Error::Mutability {
            attribute: path.raw.clone(),
            detail: "read-only".into(),
        });
    }
    let mut sub = r.sub;
    if let Some(f) = &path.filter {
        if !(r.attr.multi_valued && r.attr.kind == AttrType::Complex) {
            return Err(bad(
                "a value filter needs a multi-valued complex attribute".into()
            ));
        }
        f.validate(Context::Complex(r.attr))
            .map_err(|e| bad(e.to_string()))?;
        if let Some(s) = &path.sub {
            let s = r
                .attr
                .sub(s)
                .ok_or_else(|| bad(format!("unknown sub-attribute {s:?}")))?;
            if !s.writable() {
                return Err(Error::Mutability {
                    attribute: path.raw.clone(),
                    detail: "read-only".into(),
                });
            }
            sub = Some(s);
        }
    }
    Ok(Target {
        r,
        filter: path.filter.as_ref(),
        sub,
    })
}

fn apply_plain(
    attrs: &mut Map<String, Value>,
    op: PatchOp,
    t: &Target<'_>,
    value: Option<&Value>,
    raw: &str,
) -> Result<(), Error> {
    let attr = t.r.attr;
    let required = attr.required && t.sub.is_none();
    if op == PatchOp::Remove && required {
        return Err(Error::Mutability {
            attribute: raw.to_owned(),
            detail: "required attributes cannot be removed".into(),
        });
    }
    if let Some(sub) = t.sub {
        // name.givenName, manager.value, emails.type (every value).
        let v = match (op, value) {
            (PatchOp::Remove, _) => Value::Null,
            (_, Some(v)) => normalize_scalar(sub, v, raw)?,
            (_, None) => Value::Null,
        };
        let c = container_mut(attrs, &t.r, op != PatchOp::Remove)
            .ok_or_else(|| invalid(raw, "no container"))?;
        if attr.multi_valued {
            if let Some(Value::Array(items)) = c.get_mut(attr.name) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    set_or_remove(item, sub.name, v.clone());
                }
            }
        } else {
            let obj = c
                .entry(attr.name)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = obj {
                set_or_remove(o, sub.name, v);
            }
        }
        return Ok(());
    }
    match op {
        PatchOp::Remove => {
            let c = container_mut(attrs, &t.r, false);
            if let (Some(c), Some(Value::Array(list))) = (c, value) {
                // Entra: remove members listed in value.
                let r = &t.r;
                let keys: HashSet<String> = list.iter().filter_map(|i| value_key(r, i)).collect();
                if let Some(Value::Array(items)) = c.get_mut(attr.name) {
                    items.retain(|i| value_key(r, i).is_none_or(|k| !keys.contains(&k)));
                }
            } else if let Some(c) = container_mut(attrs, &t.r, false) {
                c.remove(attr.name);
            }
            Ok(())
        }
        PatchOp::Add | PatchOp::Replace => {
            let v = normalize_value(attr, value.unwrap_or(&Value::Null), raw)?;
            if v.is_null() && required {
                return Err(Error::Mutability {
                    attribute: raw.to_owned(),
                    detail: "required attributes cannot be removed".into(),
                });
            }
            if attr.multi_valued && op == PatchOp::Add {
                if let Value::Array(items) = v {
                    add_values(attrs, &t.r, items);
                }
                return Ok(());
            }
            let c = container_mut(attrs, &t.r, true).ok_or_else(|| invalid(raw, "no container"))?;
            match (c.get_mut(attr.name), v) {
                // A complex single value is merged: unnamed sub-attributes stay.
                (Some(Value::Object(existing)), Value::Object(new)) if !attr.multi_valued => {
                    existing.extend(new);
                }
                (_, Value::Null) => {
                    c.remove(attr.name);
                }
                (_, v) => {
                    c.insert(attr.name.to_owned(), v);
                }
            }
            Ok(())
        }
    }
}

fn set_or_remove(obj: &mut Map<String, Value>, key: &str, v: Value) {
    if v.is_null() {
        obj.remove(key);
    } else {
        obj.insert(key.to_owned(), v);
    }
}

fn apply_filtered(
    attrs: &mut Map<String, Value>,
    op: PatchOp,
    t: &Target<'_>,
    filter: &Filter,
    value: Option<&Value>,
    raw: &str,
) -> Result<(), Error> {
    let attr = t.r.attr;
    let ctx = Context::Complex(attr);
    let new_value = match (op, t.sub, value) {
        (PatchOp::Remove, _, _) | (_, _, None) => Value::Null,
        (_, Some(sub), Some(v)) => normalize_scalar(sub, v, raw)?,
        (_, None, Some(v)) => {
            let n = normalize_value(attr, v, raw)?;
            match n {
                Value::Array(mut a) if a.len() == 1 => a.pop().unwrap_or(Value::Null),
                Value::Array(_) => return Err(invalid(raw, "a filtered path takes one value")),
                other => other,
            }
        }
    };
    let c = container_mut(attrs, &t.r, op != PatchOp::Remove)
        .ok_or_else(|| invalid(raw, "no container"))?;
    let items = match c.get_mut(attr.name) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    let mut matched = false;
    if let Some(items) = items {
        match op {
            PatchOp::Remove => {
                if let Some(sub) = t.sub {
                    for i in items.iter_mut().filter(|i| filter.matches(ctx, i)) {
                        if let Some(o) = i.as_object_mut() {
                            o.remove(sub.name);
                        }
                    }
                    items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
                } else {
                    items.retain(|i| !filter.matches(ctx, i));
                }
                return Ok(());
            }
            PatchOp::Add | PatchOp::Replace => {
                for i in items.iter_mut() {
                    if !filter.matches(ctx, i) {
                        continue;
                    }
                    matched = true;
                    match (t.sub, i.as_object_mut(), &new_value) {
                        (Some(sub), Some(o), v) => set_or_remove(o, sub.name, v.clone()),
                        (None, Some(o), Value::Object(n)) if op == PatchOp::Add => {
                            o.extend(n.clone())
                        }
                        (None, _, v) => *i = v.clone(),
                        (Some(_), None, _) => {}
                    }
                }
                fix_primary(items);
            }
        }
    }
    if matched || op == PatchOp::Remove {
        return Ok(());
    }
    // Nothing matched: create the value the filter describes (emails[type eq "work"].value),
    // when the filter is a plain conjunction of equalities.
    let mut seed = Map::new();
    if !equalities(filter, &mut seed) {
        return Err(Error::NoTarget {
            path: raw.to_owned(),
        });
    }
    match (t.sub, new_value) {
        (Some(sub), v) => set_or_remove(&mut seed, sub.name, v),
        (None, Value::Object(n)) => seed.extend(n),
        (None, _) => {
            return Err(Error::NoTarget {
                path: raw.to_owned(),
            });
        }
    }
    let c = container_mut(attrs, &t.r, true).ok_or_else(|| invalid(raw, "no container"))?;
    let entry = c
        .entry(attr.name)
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = entry {
        items.push(Value::Object(seed));
        fix_primary(items);
    }
    Ok(())
}

/// Collects `a eq "x" and b eq true` into an object; `false` for any other shape.
fn equalities(filter: &Filter, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => equalities(a, out) && equalities(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.uri.is_none() && path.sub.is_none() => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                _ => return false,
            };
            out.insert(path.name.clone(), v);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOperation> {
        parse(&v, MAX_OPERATIONS, &FilterLimits::default()).unwrap()
    }

    fn patch(kind: ResourceKind, start: Value, body: Value) -> Result<Value, Error> {
        let mut attrs = start.as_object().unwrap().clone();
        let ops = parse(&body, MAX_OPERATIONS, &FilterLimits::default())?;
        apply(kind, &mut attrs, &ops)?;
        Ok(Value::Object(attrs))
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [schema::PATCH_OP], "Operations": ops})
    }

    fn user() -> Value {
        json!({"userName": "a@example.com", "active": true,
               "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
               "name": {"givenName": "A", "familyName": "B"}})
    }

    #[test]
    fn entra_capitalised_ops_and_string_booleans() {
        let out = patch(ResourceKind::User, user(), body(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "name.givenName", "value": "Babs"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "h@example.org"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-1"}
        ]))).unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["name"], json!({"givenName": "Babs", "familyName": "B"}));
        assert_eq!(out["emails"][0]["value"], "b@example.com");
        assert_eq!(
            out["emails"][1],
            json!({"type": "home", "value": "h@example.org"})
        );
        assert_eq!(
            out[schema::ENTERPRISE_USER_SCHEMA]["manager"]["value"],
            "m-1"
        );
    }

    #[test]
    fn no_path_replace_with_object_and_path_keys() {
        let out = patch(ResourceKind::User, user(), body(json!([
            {"op": "replace", "value": {"active": false, "name.familyName": "C",
              "emails[type eq \"work\"].value": "c@example.com",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
              "id": "ignored", "unknownAttr": 1}}
        ]))).unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["name"]["familyName"], "C");
        assert_eq!(out["name"]["givenName"], "A");
        assert_eq!(out["emails"][0]["value"], "c@example.com");
        assert_eq!(out[schema::ENTERPRISE_USER_SCHEMA]["department"], "Ops");
    }

    #[test]
    fn whole_extension_as_path() {
        let ext = schema::ENTERPRISE_USER_SCHEMA;
        let out = patch(
            ResourceKind::User,
            user(),
            body(json!([
                {"op": "add", "path": ext, "value": {"department": "Ops", "costCenter": "7"}},
                {"op": "replace", "path": ext, "value": {"department": "Sales"}}
            ])),
        )
        .unwrap();
        assert_eq!(out[ext], json!({"department": "Sales", "costCenter": "7"}));
        let out = patch(
            ResourceKind::User,
            out,
            body(json!([{"op": "remove", "path": ext}])),
        )
        .unwrap();
        assert!(out.get(ext).is_none());
        let e = patch(
            ResourceKind::User,
            user(),
            body(json!([{"op": "add", "path": ext, "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(
            jsm_sso_core::CodedError::code(&e),
            "scim.attribute.invalid_value"
        );
    }

    #[test]
    fn members_add_and_remove_shapes() {
        let g = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
        let out = patch(
            ResourceKind::Group,
            g.clone(),
            body(json!([
                {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u1"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}]},
                {"op": "remove", "path": "members[value eq \"u3\"]"},
                {"op": "remove", "path": "members[value eq \"nobody\"]"}
            ])),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "u1"}]));
        let out = patch(
            ResourceKind::Group,
            g.clone(),
            body(json!([{"op": "remove", "path": "members"}])),
        )
        .unwrap();
        assert!(out.get("members").is_none());
        let out = patch(
            ResourceKind::Group,
            g,
            body(json!([
                {"op": "replace", "path": "members", "value": [{"value": "u9"}]},
                {"op": "replace", "path": "displayName", "value": "H"}
            ])),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"displayName": "H", "members": [{"value": "u9"}]})
        );
    }

    #[test]
    fn errors_have_their_codes() {
        use jsm_sso_core::CodedError;
        let code = |ops: Value| {
            patch(ResourceKind::User, user(), body(ops))
                .unwrap_err()
                .code()
        };
        assert_eq!(code(json!([{"op": "remove"}])), "scim.patch.no_target");
        assert_eq!(
            code(json!([{"op": "move", "path": "x"}])),
            "scim.patch.invalid_operation"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "title"}])),
            "scim.patch.invalid_operation"
        );
        assert_eq!(
            code(json!([{"op": "add", "value": 5}])),
            "scim.patch.invalid_operation"
        );
        assert_eq!(
            code(json!([{"path": "title"}])),
            "scim.patch.invalid_operation"
        );
        assert_eq!(code(json!([5])), "scim.patch.invalid_operation");
        assert_eq!(
            code(json!([{"op": "add", "path": 5, "value": 1}])),
            "scim.patch.invalid_operation"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "nope", "value": 1}])),
            "scim.patch.invalid_path"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "emails[", "value": 1}])),
            "scim.patch.invalid_path"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "title[value eq 1]", "value": 1}])),
            "scim.patch.invalid_path"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "emails[nope eq 1]", "value": 1}])),
            "scim.patch.invalid_path"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "emails[type eq \"work\"].nope", "value": 1}])),
            "scim.patch.invalid_path"
        );
        assert_eq!(
            code(json!([{"op": "replace", "path": "id", "value": "x"}])),
            "scim.attribute.mutability"
        );
        assert_eq!(
            code(json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}])),
            "scim.attribute.mutability"
        );
        assert_eq!(
            code(json!([{"op": "remove", "path": "userName"}])),
            "scim.attribute.mutability"
        );
        assert_eq!(
            code(json!([{"op": "replace", "path": "userName", "value": null}])),
            "scim.attribute.mutability"
        );
        assert_eq!(
            code(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
            "scim.attribute.invalid_value"
        );
        assert_eq!(
            code(json!([{"op": "replace", "path": "emails[type co \"zz\"].value", "value": "x"}])),
            "scim.patch.no_target"
        );
        assert_eq!(
            code(
                json!([{"op": "replace", "path": "emails[value pr]", "value": [{"value": "a"}, {"value": "b"}]}])
            ),
            "scim.attribute.invalid_value"
        );
        let e = parse(&json!({"Operations": []}), 10, &FilterLimits::default()).unwrap_err();
        assert_eq!(e.code(), "scim.request.schema");
        let e = parse(
            &json!({"schemas": [schema::PATCH_OP]}),
            10,
            &FilterLimits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "scim.request.malformed");
        let e = parse(
            &json!({"schemas": [schema::PATCH_OP], "Operations": []}),
            10,
            &FilterLimits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "scim.request.malformed");
        let many = vec![json!({"op": "remove", "path": "title"}); 11];
        let e = parse(&body(json!(many)), 10, &FilterLimits::default()).unwrap_err();
        assert_eq!(e.code(), "scim.patch.too_many_operations");
        let e = parse(&json!([1]), 10, &FilterLimits::default()).unwrap_err();
        assert_eq!(e.code(), "scim.request.malformed");
    }

    #[test]
    fn ten_thousand_single_member_removes_merge_into_one_pass() {
        let members: Vec<Value> = (0..10_000)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let g = json!({"displayName": "G", "members": members});
        let removes: Vec<Value> = (0..10_000)
            .filter(|i| i % 2 == 0)
            .map(|i| json!({"op": "remove", "path": format!("members[value eq \"u{i}\"]")}))
            .collect();
        let parsed = ops(body(json!(removes)));
        let mut attrs = g.as_object().unwrap().clone();
        apply(ResourceKind::Group, &mut attrs, &parsed).unwrap();
        assert_eq!(attrs["members"].as_array().unwrap().len(), 5_000);
        assert_eq!(attrs["members"][0]["value"], "u1");
    }
}
