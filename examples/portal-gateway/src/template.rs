//! Field templates of `[[portal.request_type]] fill`: the policy's template syntax
//! ([`jsm_sso_policy::Template`]: `{attr.NAME}`, `{email}`, `{email.domain}`,
//! `{email.local}`, `{idp}`, `{subject}`), rendered over the session instead of the verified
//! identity. The session keeps only the attributes the templates name (the broker's
//! `SessionClaims`), so a template naming an attribute the IdP did not send renders
//! nothing and the field is left out, as the policy leaves out such a field.

use jsm_sso_broker::Session;
use jsm_sso_policy::{Template, TemplateValues};

/// What a template reads from a portal session.
#[derive(Debug, Clone, Copy)]
pub struct SessionValues<'s>(pub &'s Session);

impl TemplateValues for SessionValues<'_> {
    fn email(&self) -> Option<&str> {
        Some(&self.0.email)
    }
    fn idp(&self) -> &str {
        self.0.idp.as_str()
    }
    fn subject(&self) -> &str {
        &self.0.subject
    }
    fn attribute(&self, name: &str) -> &[String] {
        self.0.attribute(name)
    }
}

/// The value of `template` for a signed-in customer; `None` when it does not parse (checked
/// at start, so only possible for settings built in code) or names an attribute the session
/// does not hold.
#[must_use]
pub fn fill(template: &str, session: &Session) -> Option<String> {
    Template::parse(template)
        .ok()?
        .render(&SessionValues(session))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(email: &str) -> Session {
        serde_json::from_value(serde_json::json!({
            "id": "s1", "idp": "acme", "protocol": "saml2", "subject": "u-1",
            "email": email, "customer": "c1", "portals": ["2"],
            "mfa": false, "iat": 0, "exp": 1,
            "attributes": { "department": ["Sales", "{attr.x}"] }
        }))
        .unwrap()
    }

    #[test]
    fn renders_in_one_pass_over_the_session() {
        // An email's local part may hold braces: the value is never expanded again.
        let s = session("{subject}@acme.example");
        assert_eq!(
            fill(
                "{email} / {email.local} at {email.domain} via {idp} ({subject}) {{x}}",
                &s
            )
            .unwrap(),
            "{subject}@acme.example / {subject} at acme.example via acme (u-1) {x}"
        );
        assert_eq!(
            fill(
                "{attr.department} ({email.local})",
                &session("a@acme.example")
            )
            .unwrap(),
            "Sales, {attr.x} (a)"
        );
    }

    #[test]
    fn a_missing_attribute_or_a_bad_template_fills_nothing() {
        let s = session("a@acme.example");
        assert_eq!(fill("cc-{attr.cost_centre}", &s), None);
        assert_eq!(fill("{mail}", &s), None);
    }
}
