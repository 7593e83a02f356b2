//! Field templates of `[[portal.request_type]] fill` (`{email}`, `{email.domain}`,
//! `{email.local}`, `{idp}`, `{subject}`, `{attr.NAME}`): parsed once and checked at start,
//! rendered in one pass, so a value that itself contains `{...}` (an email's local part may)
//! is never expanded again.
//!
//! The syntax and meaning are those of the policy's field templates (jsm-sso-policy): an
//! attribute's values are joined with ", ", and a template naming an attribute the
//! customer's IdP did not send renders nothing, so the field is left out rather than filled
//! with half a value. The gateway renders over the session (which keeps only the attributes
//! the templates name, see `SessionClaims`), the policy over the verified identity.

use jsm_sso_broker::Session;

/// What a placeholder stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Email,
    EmailDomain,
    EmailLocal,
    Idp,
    Subject,
    Attribute(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Slot(Slot),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses `text`; `{{` and `}}` are literal braces.
    ///
    /// # Errors
    ///
    /// The reason, for a `config.value.invalid` problem: an unknown placeholder, an
    /// unclosed `{`, a lone `}`, or `{attr.}` without a name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(format!("{text:?} has a `}}` without its `{{`")),
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!("{text:?} has a `{{` that is not closed"));
                    }
                    let slot = match name.as_str() {
                        "email" => Slot::Email,
                        "email.domain" => Slot::EmailDomain,
                        "email.local" => Slot::EmailLocal,
                        "idp" => Slot::Idp,
                        "subject" => Slot::Subject,
                        n => match n.strip_prefix("attr.") {
                            Some(attr) if !attr.is_empty() => Slot::Attribute(attr.to_owned()),
                            Some(_) => {
                                return Err(format!("{text:?}: {{attr.}} names no attribute"));
                            }
                            None => {
                                return Err(format!("{text:?}: unknown placeholder {{{n}}}"));
                            }
                        },
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Slot(slot));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self(parts))
    }

    /// The identity attributes the template names (the session must keep them).
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|part| match part {
            Part::Slot(Slot::Attribute(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The value for a signed-in customer; `None` when it names an attribute the session
    /// does not hold.
    #[must_use]
    pub fn render(&self, session: &Session) -> Option<String> {
        let (local, domain) = session
            .email
            .rsplit_once('@')
            .unwrap_or((&session.email, ""));
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot(Slot::Email) => out.push_str(&session.email),
                Part::Slot(Slot::EmailDomain) => out.push_str(domain),
                Part::Slot(Slot::EmailLocal) => out.push_str(local),
                Part::Slot(Slot::Idp) => out.push_str(session.idp.as_str()),
                Part::Slot(Slot::Subject) => out.push_str(&session.subject),
                Part::Slot(Slot::Attribute(name)) => {
                    let values = session.attribute(name);
                    if values.is_empty() {
                        return None;
                    }
                    out.push_str(&values.join(", "));
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_escapes() {
        assert!(Template::parse("{email.domain}").is_ok());
        assert!(Template::parse("{{literal}} {idp}:{subject} <{email}> {email.local}").is_ok());
        assert_eq!(
            Template::parse("plain").unwrap().0,
            vec![Part::Text("plain".into())]
        );
        assert_eq!(
            Template::parse("a{{b}}").unwrap().0,
            vec![Part::Text("a{b}".into())]
        );
    }

    #[test]
    fn renders_in_one_pass() {
        // An email's local part may hold braces: the value is never expanded again.
        let session: Session = serde_json::from_value(serde_json::json!({
            "id": "s1", "idp": "acme", "protocol": "saml2", "subject": "u-1",
            "email": "{subject}@acme.example", "customer": "c1", "portals": ["2"],
            "mfa": false, "iat": 0, "exp": 1
        }))
        .unwrap();
        let t = Template::parse(
            "{email} / {email.local} at {email.domain} via {idp} ({subject}) {{x}}",
        )
        .unwrap();
        assert_eq!(
            t.render(&session).unwrap(),
            "{subject}@acme.example / {subject} at acme.example via acme (u-1) {x}"
        );
    }

    #[test]
    fn attributes_join_and_a_missing_one_renders_nothing() {
        let session: Session = serde_json::from_value(serde_json::json!({
            "id": "s1", "idp": "acme", "protocol": "saml2", "subject": "u-1",
            "email": "a@acme.example", "customer": "c1", "portals": ["2"],
            "mfa": false, "iat": 0, "exp": 1,
            "attributes": { "department": ["Sales", "{attr.x}"] }
        }))
        .unwrap();
        let t = Template::parse("{attr.department} ({email.local})").unwrap();
        assert_eq!(t.attributes().collect::<Vec<_>>(), ["department"]);
        assert_eq!(t.render(&session).unwrap(), "Sales, {attr.x} (a)");
        let missing = Template::parse("cc-{attr.cost_centre}").unwrap();
        assert_eq!(missing.render(&session), None);
    }

    #[test]
    fn refusals() {
        for (bad, why) in [
            ("{mail}", "unknown placeholder"),
            ("{email", "not closed"),
            ("x}", "without its"),
            ("{attr.}", "names no attribute"),
            ("{}", "unknown placeholder"),
        ] {
            let e = Template::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
