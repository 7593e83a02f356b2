//! Checking a filter against a schema and testing resources with it.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrPath, CompValue, CompareOp, Filter, FilterError};
use crate::schema::{AttrType, Attribute, ResourceKind};

/// What a filter's attribute names refer to.
#[derive(Debug, Clone, Copy)]
pub enum Context {
    /// Attributes of a resource of this type (`userName`, `emails.value`,
    /// `urn:...:enterprise:2.0:User:department`).
    Resource(ResourceKind),
    /// Sub-attributes of one value of this complex attribute (inside `emails[...]`).
    Complex(&'static Attribute),
}

/// An attribute path resolved against the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    /// The extension URN whose object holds the attribute, or `None` for the top level.
    pub(crate) container: Option<&'static str>,
    /// The attribute.
    pub(crate) attr: &'static Attribute,
    /// The sub-attribute, when named.
    pub(crate) sub: Option<&'static Attribute>,
}

impl Resolved {
    /// The attribute compared: the sub-attribute, or `value` of a multi-valued complex one.
    fn leaf(&self) -> &'static Attribute {
        match self.sub {
            Some(s) => s,
            None if self.attr.kind == AttrType::Complex && self.attr.multi_valued => {
                self.attr.sub("value").unwrap_or(self.attr)
            }
            None => self.attr,
        }
    }
}

pub(crate) fn resolve(ctx: Context, path: &AttrPath) -> Result<Resolved, FilterError> {
    let unknown = || FilterError::UnknownAttribute {
        attribute: path.to_string(),
    };
    let (container, attr) = match ctx {
        Context::Resource(kind) => match &path.uri {
            None => (None, kind.attribute(&path.name)),
            Some(uri) if uri.eq_ignore_ascii_case(kind.schema().id) => {
                (None, kind.attribute(&path.name))
            }
            Some(uri) => {
                let ext = kind.extension(uri).ok_or_else(unknown)?;
                (Some(ext.id), ext.attribute(&path.name))
            }
        },
        Context::Complex(parent) => {
            if path.uri.is_some() || path.sub.is_some() {
                return Err(unknown());
            }
            (None, parent.sub(&path.name))
        }
    };
    let attr = attr.ok_or_else(unknown)?;
    let sub = match &path.sub {
        Some(s) => Some(attr.sub(s).ok_or_else(unknown)?),
        None => None,
    };
    Ok(Resolved {
        container,
        attr,
        sub,
    })
}

impl Filter {
    /// Checks every attribute against the schema of `ctx` and every operator against the
    /// attribute's type.
    ///
    /// # Errors
    ///
    /// `scim.filter.unknown_attribute`, `scim.filter.unsupported_comparison`.
    pub fn validate(&self, ctx: Context) -> Result<(), FilterError> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                a.validate(ctx)?;
                b.validate(ctx)
            }
            Self::Not(a) => a.validate(ctx),
            Self::Present(path) => resolve(ctx, path).map(|_| ()),
            Self::Compare { path, op, .. } => {
                let r = resolve(ctx, path)?;
                let leaf = r.leaf();
                let ok = match leaf.kind {
                    AttrType::Complex => false,
                    AttrType::Boolean | AttrType::Binary => {
                        matches!(op, CompareOp::Eq | CompareOp::Ne)
                    }
                    _ => true,
                };
                if ok {
                    Ok(())
                } else {
                    Err(FilterError::UnsupportedComparison {
                        attribute: path.to_string(),
                        op: op.as_str(),
                        kind: leaf.kind.as_str(),
                    })
                }
            }
            Self::ValuePath { path, filter } => {
                let r = resolve(ctx, path)?;
                if r.attr.kind != AttrType::Complex {
                    return Err(FilterError::UnsupportedComparison {
                        attribute: path.to_string(),
                        op: "[]",
                        kind: r.attr.kind.as_str(),
                    });
                }
                filter.validate(Context::Complex(r.attr))
            }
        }
    }

    /// Whether `value` (a resource in its JSON form, or one value of a complex attribute
    /// for [`Context::Complex`]) matches. Call [`validate`](Self::validate) first: an
    /// attribute that does not resolve never matches.
    #[must_use]
    pub fn matches(&self, ctx: Context, value: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches(ctx, value) && b.matches(ctx, value),
            Self::Or(a, b) => a.matches(ctx, value) || b.matches(ctx, value),
            Self::Not(a) => !a.matches(ctx, value),
            Self::Present(path) => resolve(ctx, path).is_ok_and(|r| {
                let target = target(value, &r);
                if r.sub.is_none() && !r.attr.multi_valued {
                    return target.is_some_and(present);
                }
                leaves(target, &r).into_iter().any(present)
            }),
            Self::Compare {
                path,
                op,
                value: lit,
            } => resolve(ctx, path).is_ok_and(|r| {
                let leaf_attr = r.leaf();
                let values = leaves(target(value, &r), &r);
                match (op, lit) {
                    (CompareOp::Eq, CompValue::Null) => !values.into_iter().any(present),
                    (CompareOp::Ne, CompValue::Null) => values.into_iter().any(present),
                    (CompareOp::Ne, _) => !values
                        .into_iter()
                        .any(|v| compare(v, CompareOp::Eq, lit, leaf_attr)),
                    _ => values.into_iter().any(|v| compare(v, *op, lit, leaf_attr)),
                }
            }),
            Self::ValuePath { path, filter } => resolve(ctx, path).is_ok_and(|r| {
                let inner = Context::Complex(r.attr);
                match target(value, &r) {
                    Some(Value::Array(items)) => items.iter().any(|i| filter.matches(inner, i)),
                    Some(obj @ Value::Object(_)) => filter.matches(inner, obj),
                    _ => false,
                }
            }),
        }
    }
}

fn target<'v>(value: &'v Value, r: &Resolved) -> Option<&'v Value> {
    let container = match r.container {
        Some(urn) => value.get(urn)?,
        None => value,
    };
    container.get(r.attr.name)
}

fn leaves<'v>(target: Option<&'v Value>, r: &Resolved) -> Vec<&'v Value> {
    let Some(v) = target else {
        return Vec::new();
    };
    let pick = |item: &'v Value| -> Option<&'v Value> {
        match r.sub {
            Some(s) => item.get(s.name),
            None if r.attr.kind == AttrType::Complex => item.get("value"),
            None => Some(item),
        }
    };
    match v {
        Value::Array(items) if r.attr.multi_valued => items.iter().filter_map(pick).collect(),
        other if r.attr.multi_valued => pick(other).into_iter().collect(),
        other => match r.sub {
            Some(s) => other.get(s.name).into_iter().collect(),
            None => vec![other],
        },
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(v: &Value, op: CompareOp, lit: &CompValue, attr: &Attribute) -> bool {
    match (v, lit) {
        (Value::String(s), CompValue::String(t)) => {
            if attr.kind == AttrType::DateTime
                && let (Ok(a), Ok(b)) = (
                    OffsetDateTime::parse(s, &Rfc3339),
                    OffsetDateTime::parse(t, &Rfc3339),
                )
            {
                return ordered(a.cmp(&b), op);
            }
            if attr.case_exact {
                strings(s, t, op)
            } else {
                strings(&s.to_lowercase(), &t.to_lowercase(), op)
            }
        }
        (Value::Bool(b), CompValue::Bool(c)) => op == CompareOp::Eq && b == c,
        // Entra sends booleans as strings ("True"); compare them as booleans.
        (Value::Bool(b), CompValue::String(t)) => {
            op == CompareOp::Eq && t.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        (Value::Number(a), CompValue::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| ordered(o, op)),
            _ => false,
        },
        _ => false,
    }
}

fn strings(s: &str, t: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => s.contains(t),
        CompareOp::Sw => s.starts_with(t),
        CompareOp::Ew => s.ends_with(t),
        _ => ordered(s.cmp(t), op),
    }
}

fn ordered(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FilterLimits;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "2819c223",
            "userName": "Bjensen@Example.com",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Tour Operations", "manager": {"value": "26118915"}
            },
            "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T18:29:49Z"}
        })
    }

    fn m(text: &str) -> bool {
        let f = Filter::parse(text, &FilterLimits::default()).unwrap();
        let ctx = Context::Resource(ResourceKind::User);
        f.validate(ctx).unwrap();
        f.matches(ctx, &user())
    }

    #[test]
    fn user_name_is_case_insensitive_id_is_exact() {
        assert!(m("userName eq \"bjensen@example.com\""));
        assert!(m("USERNAME Eq \"BJENSEN@EXAMPLE.COM\""));
        assert!(m("id eq \"2819c223\""));
        assert!(!m("id eq \"2819C223\""));
    }

    #[test]
    fn operators() {
        assert!(m("userName sw \"bjen\""));
        assert!(m("userName ew \".COM\""));
        assert!(m("name.familyName co \"ens\""));
        assert!(m("userName ne \"other\""));
        assert!(!m("userName ne \"bjensen@example.com\""));
        assert!(m("userName gt \"a\" and userName lt \"c\""));
        assert!(m("meta.lastModified gt \"2011-05-13T04:42:34Z\""));
        assert!(m("meta.created ge \"2011-08-01T18:29:49.793Z\""));
        assert!(!m("meta.created lt \"2011-08-01T18:29:49.793Z\""));
        assert!(m("active eq true"));
        assert!(m("active eq \"True\""));
        assert!(!m("active eq false"));
        assert!(!m("title pr"));
        assert!(m("name pr"));
        assert!(m("emails pr"));
        assert!(m("title eq null"));
        assert!(m("not (title pr)"));
    }

    #[test]
    fn multi_valued_and_value_filters() {
        assert!(m("emails co \"jensen.org\""));
        assert!(m("emails.type eq \"home\""));
        assert!(m("emails[type eq \"work\" and value co \"@example.com\"]"));
        assert!(!m("emails[type eq \"home\" and value co \"@example.com\"]"));
        assert!(m("emails[not (type eq \"home\")]"));
        assert!(m(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"tour operations\""
        ));
        assert!(m(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915\""
        ));
        assert!(m("urn:ietf:params:scim:schemas:core:2.0:User:userName pr"));
    }

    #[test]
    fn validation_errors() {
        let ctx = Context::Resource(ResourceKind::User);
        let check = |t: &str| {
            Filter::parse(t, &FilterLimits::default())
                .unwrap()
                .validate(ctx)
                .unwrap_err()
                .to_string()
        };
        assert!(check("nope eq 1").contains("unknown attribute"));
        assert!(check("active gt true").contains("not supported"));
        assert!(check("name eq \"x\"").contains("not supported"));
        assert!(check("emails[nope eq 1]").contains("unknown attribute"));
        assert!(check("userName[value eq 1]").contains("not supported"));
        assert!(check("urn:x:y:z eq 1").contains("unknown attribute"));
        assert!(check("name.nope eq 1").contains("unknown attribute"));
    }
}
