//! Field templates of `[[portal.request_type]] fill` (`{email}`, `{email.domain}`,
//! `{email.local}`, `{idp}`, `{subject}`): parsed once and checked at start, rendered in one
//! pass, so a value that itself contains `{...}` (an email's local part may) is never
//! expanded again.

use jsm_sso_broker::Session;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Email,
    EmailDomain,
    EmailLocal,
    Idp,
    Subject,
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
    /// unclosed `{`, a lone `}`, or `{attr.NAME}` (identity attributes do not reach the
    /// gateway's session in this build).
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
                        n if n.starts_with("attr.") => {
                            return Err(format!(
                                "{text:?}: {{{n}}} (an identity attribute) is not built into \
                                 portal-gateway yet"
                            ));
                        }
                        n => return Err(format!("{text:?}: unknown placeholder {{{n}}}")),
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

    /// The value for a signed-in customer.
    #[must_use]
    pub fn render(&self, session: &Session) -> String {
        let (local, domain) = session
            .email
            .rsplit_once('@')
            .unwrap_or((&session.email, ""));
        self.0
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.as_str(),
                Part::Slot(Slot::Email) => session.email.as_str(),
                Part::Slot(Slot::EmailDomain) => domain,
                Part::Slot(Slot::EmailLocal) => local,
                Part::Slot(Slot::Idp) => session.idp.as_str(),
                Part::Slot(Slot::Subject) => session.subject.as_str(),
            })
            .collect()
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
            t.render(&session),
            "{subject}@acme.example / {subject} at acme.example via acme (u-1) {x}"
        );
    }

    #[test]
    fn refusals() {
        for (bad, why) in [
            ("{mail}", "unknown placeholder"),
            ("{email", "not closed"),
            ("x}", "without its"),
            ("{attr.department}", "not built"),
            ("{}", "unknown placeholder"),
        ] {
            let e = Template::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
