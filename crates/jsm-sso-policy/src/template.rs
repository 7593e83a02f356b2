//! Field value templates: literal text with `{source}` placeholders.
//!
//! Sources: `attr.NAME` (the attribute's values, joined with ", "), `email`, `email.domain`,
//! `email.local`, `idp`, `subject`. `{{` and `}}` are literal braces.

use jsm_sso_core::VerifiedIdentity;

use crate::error::Problem;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Text(Box<str>),
    /// An attribute's values.
    Attr(Box<str>),
    /// The whole email (verified or not: it is a value, not a grant).
    Email,
    /// The email's domain (ASCII).
    EmailDomain,
    /// The email's local part.
    EmailLocal,
    /// The IdP id.
    Idp,
    /// The subject (NameID or `sub`).
    Subject,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    source: Box<str>,
    parts: Box<[Part]>,
}

/// Why a template could not be filled in for an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Missing(pub(crate) String);

impl Template {
    /// Parses a template as written in the policy.
    pub(crate) fn parse(source: &str) -> Result<Self, (Problem, String)> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => {
                    return Err((
                        Problem::TemplateSyntax,
                        format!(
                            "template {source:?} has a `}}` without `{{` (write `}}}}` for a brace)"
                        ),
                    ));
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for n in chars.by_ref() {
                        if n == '}' {
                            closed = true;
                            break;
                        }
                        name.push(n);
                    }
                    if !closed {
                        return Err((
                            Problem::TemplateSyntax,
                            format!("template {source:?} has a `{{` without `}}`"),
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text).into()));
                    }
                    parts.push(placeholder(source, name.trim())?);
                }
                other => text.push(other),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text.into()));
        }
        Ok(Self {
            source: source.into(),
            parts: parts.into(),
        })
    }

    /// The template as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The attribute names this template reads.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Attr(name) => Some(&**name),
            _ => None,
        })
    }

    /// Fills the template in, or says which source the identity lacks.
    pub(crate) fn render(&self, identity: &VerifiedIdentity) -> Result<String, Missing> {
        let mut out = String::new();
        for part in &*self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attr(name) => {
                    let values = identity.attribute(name);
                    if values.is_empty() {
                        return Err(Missing(format!("attribute {name:?}")));
                    }
                    out.push_str(&values.join(", "));
                }
                Part::Email | Part::EmailDomain | Part::EmailLocal => {
                    let email = identity
                        .email
                        .as_ref()
                        .ok_or_else(|| Missing("email".into()))?;
                    out.push_str(match part {
                        Part::EmailDomain => email.domain(),
                        Part::EmailLocal => email.local_part(),
                        _ => email.as_str(),
                    });
                }
                Part::Idp => out.push_str(identity.idp.as_str()),
                Part::Subject => out.push_str(&identity.subject.value),
            }
        }
        Ok(out)
    }
}

fn placeholder(source: &str, name: &str) -> Result<Part, (Problem, String)> {
    if name.is_empty() {
        return Err((
            Problem::TemplateSyntax,
            format!("template {source:?} has an empty placeholder `{{}}`"),
        ));
    }
    Ok(match name {
        "email" => Part::Email,
        "email.domain" => Part::EmailDomain,
        "email.local" => Part::EmailLocal,
        "idp" => Part::Idp,
        "subject" => Part::Subject,
        other => match other.strip_prefix("attr.") {
            Some(attr) if !attr.is_empty() => Part::Attr(attr.into()),
            Some(_) => {
                return Err((
                    Problem::TemplateSource,
                    format!("template {source:?}: `{{attr.}}` names no attribute"),
                ));
            }
            None => {
                return Err((
                    Problem::TemplateSource,
                    format!("template {source:?} names an unknown source {other:?}"),
                ));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::identity::{Protocol, Subject};
    use std::time::SystemTime;

    fn identity() -> VerifiedIdentity {
        let mut id = VerifiedIdentity::new(
            "okta",
            Protocol::Oidc,
            Subject::new("u-1"),
            SystemTime::UNIX_EPOCH,
        );
        id.email = Some("Ann@Bücher.example".parse().unwrap());
        id.attributes
            .insert("department".into(), vec!["Sales".into(), "EMEA".into()]);
        id
    }

    #[test]
    fn renders_every_source() {
        let t = Template::parse(
            "{attr.department} / {email} / {email.domain} / {email.local} / {idp} / {subject} {{x}}",
        )
        .unwrap();
        assert_eq!(
            t.render(&identity()).unwrap(),
            "Sales, EMEA / Ann@xn--bcher-kva.example / xn--bcher-kva.example / Ann / okta / u-1 {x}"
        );
        assert_eq!(t.attributes().collect::<Vec<_>>(), ["department"]);
        assert_eq!(
            Template::parse("plain")
                .unwrap()
                .render(&identity())
                .unwrap(),
            "plain"
        );
    }

    #[test]
    fn missing_values_are_reported() {
        let t = Template::parse("{attr.cost_centre}").unwrap();
        assert_eq!(
            t.render(&identity()).unwrap_err(),
            Missing("attribute \"cost_centre\"".into())
        );
        let mut id = identity();
        id.email = None;
        assert!(
            Template::parse("{email.domain}")
                .unwrap()
                .render(&id)
                .is_err()
        );
    }

    #[test]
    fn template_errors() {
        let code = |s: &str| Template::parse(s).unwrap_err().0.code();
        assert_eq!(code("{attr.department"), "policy.template.syntax");
        assert_eq!(code("dept}"), "policy.template.syntax");
        assert_eq!(code("{}"), "policy.template.syntax");
        assert_eq!(code("{department}"), "policy.template.source");
        assert_eq!(code("{claims.department}"), "policy.template.source");
        assert_eq!(code("{attr.}"), "policy.template.source");
    }
}
