//! Field value templates: literal text with `{source}` placeholders.
//!
//! Sources: `attr.NAME` (the attribute's values, joined with ", "), `email`, `email.domain`,
//! `email.local`, `idp`, `subject`. `{{` and `}}` are literal braces. A template is rendered
//! in one pass, so a value that itself contains `{...}` is never expanded again.
//!
//! The policy renders over a [`VerifiedIdentity`]; a front end can render the same syntax
//! over what it keeps of a sign-in (a session) by implementing [`TemplateValues`].

use jsm_sso_core::{CodedError, VerifiedIdentity};

use crate::error::Problem;

/// What a [`Template`] reads its placeholders from.
pub trait TemplateValues {
    /// The email, if known (`{email}`).
    fn email(&self) -> Option<&str>;
    /// The email's domain (`{email.domain}`); by default the text after the last `@`.
    fn email_domain(&self) -> Option<&str> {
        self.email()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d)
    }
    /// The email's local part (`{email.local}`); by default the text before the last `@`.
    fn email_local(&self) -> Option<&str> {
        self.email()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(l, _)| l)
    }
    /// The IdP id (`{idp}`).
    fn idp(&self) -> &str;
    /// The subject, NameID or `sub` (`{subject}`).
    fn subject(&self) -> &str;
    /// An attribute's values (`{attr.NAME}`); empty when not sent.
    fn attribute(&self, name: &str) -> &[String];
}

impl TemplateValues for VerifiedIdentity {
    fn email(&self) -> Option<&str> {
        self.email.as_ref().map(|e| e.as_str())
    }
    // The normalised (ASCII) domain, as the policy's domain rules compare it.
    fn email_domain(&self) -> Option<&str> {
        self.email.as_ref().map(|e| e.domain())
    }
    fn email_local(&self) -> Option<&str> {
        self.email.as_ref().map(|e| e.local_part())
    }
    fn idp(&self) -> &str {
        self.idp.as_str()
    }
    fn subject(&self) -> &str {
        &self.subject.value
    }
    fn attribute(&self, name: &str) -> &[String] {
        VerifiedIdentity::attribute(self, name)
    }
}

/// A template that does not parse: `policy.template.syntax` (unbalanced braces, an empty
/// placeholder) or `policy.template.source` (an unknown source, `{attr.}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Which rule it breaks.
    pub problem: Problem,
    /// What is wrong, quoting the template.
    pub message: String,
}

impl CodedError for TemplateError {
    fn code(&self) -> &'static str {
        self.problem.code()
    }

    fn hint(&self) -> &'static str {
        "use {attr.NAME}, {email}, {email.domain}, {email.local}, {idp} or {subject}; write {{ and }} for braces"
    }
}

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

/// A parsed field template.
///
/// ```
/// use jsm_sso_policy::{Template, TemplateValues};
///
/// struct Values;
/// impl TemplateValues for Values {
///     fn email(&self) -> Option<&str> { Some("ann@acme.example") }
///     fn idp(&self) -> &str { "okta" }
///     fn subject(&self) -> &str { "u-1" }
///     fn attribute(&self, name: &str) -> &[String] { &[] }
/// }
/// let t = Template::parse("{email.local} at {email.domain} via {idp}")?;
/// assert_eq!(t.render(&Values).unwrap(), "ann at acme.example via okta");
/// assert!(Template::parse("{attr.team}")?.render(&Values).is_err());
/// # Ok::<(), jsm_sso_policy::TemplateError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: Box<str>,
    parts: Box<[Part]>,
}

/// Why a template could not be filled in: the source it lacks (`email`, `attribute "x"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

impl Template {
    /// Parses a template as written in the policy.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] naming the rule the text breaks.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        Self::parse_parts(source).map_err(|(problem, message)| TemplateError { problem, message })
    }

    fn parse_parts(source: &str) -> Result<Self, (Problem, String)> {
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
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The attribute names this template reads.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Attr(name) => Some(&**name),
            _ => None,
        })
    }

    /// Fills the template in, or says which source `values` lacks.
    ///
    /// # Errors
    ///
    /// [`Missing`]: an attribute that was not sent, or no email.
    pub fn render(&self, values: &impl TemplateValues) -> Result<String, Missing> {
        let mut out = String::new();
        for part in &*self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attr(name) => {
                    let found = values.attribute(name);
                    if found.is_empty() {
                        return Err(Missing(format!("attribute {name:?}")));
                    }
                    out.push_str(&found.join(", "));
                }
                Part::Email | Part::EmailDomain | Part::EmailLocal => {
                    let value = match part {
                        Part::EmailDomain => values.email_domain(),
                        Part::EmailLocal => values.email_local(),
                        _ => values.email(),
                    };
                    out.push_str(value.ok_or_else(|| Missing("email".into()))?);
                }
                Part::Idp => out.push_str(values.idp()),
                Part::Subject => out.push_str(values.subject()),
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
        let code = |s: &str| Template::parse(s).unwrap_err().code();
        assert_eq!(code("{attr.department"), "policy.template.syntax");
        assert_eq!(code("dept}"), "policy.template.syntax");
        assert_eq!(code("{}"), "policy.template.syntax");
        assert_eq!(code("{department}"), "policy.template.source");
        assert_eq!(code("{claims.department}"), "policy.template.source");
        assert_eq!(code("{attr.}"), "policy.template.source");
    }
}
