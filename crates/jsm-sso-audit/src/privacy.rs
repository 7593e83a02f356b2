//! Per-field handling of personal data: keep, pseudonymise (HMAC-SHA256 with the integrator's
//! key, so events stay joinable) or drop; and a last-line scrubber that keeps raw SAML
//! responses and tokens out of the log whatever a caller puts into a free-text field.

use std::collections::BTreeMap;

use jsm_sso_core::Secret;
use ring::hmac;

use crate::error::ConfigError;
use crate::event::{AuditEvent, CustomerRef, Source};

/// A field of an event that can hold personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PersonalField {
    /// `customer.id`: the directory's opaque account id.
    CustomerId,
    /// `customer.email`.
    Email,
    /// `customer.subject`: the IdP's NameID or `sub` (often an email too).
    Subject,
    /// `customer.display_name`.
    DisplayName,
    /// `source.ip`.
    SourceIp,
    /// `source.user_agent`.
    UserAgent,
}

impl PersonalField {
    /// Every field, for configuration UIs.
    pub const ALL: [Self; 6] = [
        Self::CustomerId,
        Self::Email,
        Self::Subject,
        Self::DisplayName,
        Self::SourceIp,
        Self::UserAgent,
    ];

    /// The JSON path of the field (`customer.email`); also the HMAC domain separator, so the
    /// same text in two fields gets two pseudonyms.
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Self::CustomerId => "customer.id",
            Self::Email => "customer.email",
            Self::Subject => "customer.subject",
            Self::DisplayName => "customer.display_name",
            Self::SourceIp => "source.ip",
            Self::UserAgent => "source.user_agent",
        }
    }
}

/// What to do with a personal field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRule {
    /// Log it as it is.
    Keep,
    /// Replace it by `hmac:` and 32 hex digits of HMAC-SHA256(key, field path, value): the same
    /// value always gives the same pseudonym (joinable), and without the key it cannot be
    /// reversed or confirmed.
    Pseudonymise,
    /// Leave it out.
    Drop,
}

/// The privacy configuration applied to every event before it is sequenced and written.
///
/// [`Privacy::default`] needs no key: it keeps the opaque customer id, the source address
/// and user agent, and drops email, subject and display name. With a key
/// ([`Privacy::builder`]) the default is to pseudonymise email and subject instead.
#[derive(Clone)]
pub struct Privacy {
    rules: BTreeMap<PersonalField, FieldRule>,
    key: Option<hmac::Key>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy")
            .field("rules", &self.rules)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Default for Privacy {
    fn default() -> Self {
        let rules = PersonalField::ALL
            .iter()
            .map(|f| {
                let rule = match f {
                    PersonalField::CustomerId
                    | PersonalField::SourceIp
                    | PersonalField::UserAgent => FieldRule::Keep,
                    PersonalField::Email | PersonalField::Subject | PersonalField::DisplayName => {
                        FieldRule::Drop
                    }
                };
                (*f, rule)
            })
            .collect();
        Self { rules, key: None }
    }
}

/// Builds a [`Privacy`]; [`build`](PrivacyBuilder::build) refuses a rule that pseudonymises
/// without a key, and a key shorter than 32 bytes.
#[derive(Debug, Default)]
pub struct PrivacyBuilder {
    rules: BTreeMap<PersonalField, FieldRule>,
    key: Option<Secret>,
}

/// The shortest HMAC key accepted: 256 bits, the output size of SHA-256.
pub const MIN_KEY_BYTES: usize = 32;

impl PrivacyBuilder {
    /// The HMAC key (at least 32 random bytes); keep it secret and stable, or pseudonyms stop
    /// joining up.
    #[must_use]
    pub fn key(mut self, key: Secret) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets one field's rule.
    #[must_use]
    pub fn rule(mut self, field: PersonalField, rule: FieldRule) -> Self {
        self.rules.insert(field, rule);
        self
    }

    /// The configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError::PrivacyKeyMissing`] when a field is to be pseudonymised and no key was
    /// given; [`ConfigError::PrivacyKeyShort`] for a key under [`MIN_KEY_BYTES`].
    pub fn build(self) -> Result<Privacy, ConfigError> {
        let has_key = self.key.is_some();
        let mut rules = Privacy::default().rules;
        if has_key {
            rules.insert(PersonalField::Email, FieldRule::Pseudonymise);
            rules.insert(PersonalField::Subject, FieldRule::Pseudonymise);
        }
        rules.extend(self.rules);
        let key = match self.key {
            Some(secret) => {
                let bytes = secret.expose_secret().as_bytes();
                if bytes.len() < MIN_KEY_BYTES {
                    return Err(ConfigError::PrivacyKeyShort {
                        actual: bytes.len(),
                        minimum: MIN_KEY_BYTES,
                    });
                }
                Some(hmac::Key::new(hmac::HMAC_SHA256, bytes))
            }
            None => None,
        };
        if key.is_none()
            && let Some((field, _)) = rules.iter().find(|(_, r)| **r == FieldRule::Pseudonymise)
        {
            return Err(ConfigError::PrivacyKeyMissing {
                field: field.path(),
            });
        }
        Ok(Privacy { rules, key })
    }
}

impl Privacy {
    /// A builder starting from the defaults.
    #[must_use]
    pub fn builder() -> PrivacyBuilder {
        PrivacyBuilder::default()
    }

    /// The rule for a field.
    #[must_use]
    pub fn rule(&self, field: PersonalField) -> FieldRule {
        self.rules.get(&field).copied().unwrap_or(FieldRule::Drop)
    }

    /// The value as this configuration would log it: for an admin query by email, pass the
    /// address here and search for the result. `None` when the field is dropped.
    #[must_use]
    pub fn protect(&self, field: PersonalField, value: &str) -> Option<String> {
        match self.rule(field) {
            FieldRule::Keep => Some(value.to_owned()),
            FieldRule::Drop => None,
            FieldRule::Pseudonymise => self.key.as_ref().map(|key| pseudonym(key, field, value)),
        }
    }

    /// Applies the rules and the secret scrubber to an event in place.
    pub fn apply(&self, event: &mut AuditEvent) {
        if let Some(customer) = event.customer.as_mut() {
            let CustomerRef {
                id,
                email,
                subject,
                display_name,
            } = customer;
            self.protect_in_place(PersonalField::CustomerId, id);
            self.protect_in_place(PersonalField::Email, email);
            self.protect_in_place(PersonalField::Subject, subject);
            self.protect_in_place(PersonalField::DisplayName, display_name);
            if *customer == CustomerRef::default() {
                event.customer = None;
            }
        }
        if let Some(source) = event.source.as_mut() {
            let Source { ip, user_agent } = source;
            self.protect_in_place(PersonalField::SourceIp, ip);
            self.protect_in_place(PersonalField::UserAgent, user_agent);
            if *source == Source::default() {
                event.source = None;
            }
        }
        scrub_secrets(event);
    }

    fn protect_in_place(&self, field: PersonalField, value: &mut Option<String>) {
        if let Some(v) = value.take() {
            *value = self.protect(field, &v);
        }
    }
}

fn pseudonym(key: &hmac::Key, field: PersonalField, value: &str) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(field.path().as_bytes());
    ctx.update(&[0]);
    if field == PersonalField::Email {
        // addresses differ in case only by accident; one person, one pseudonym
        ctx.update(value.to_lowercase().as_bytes());
    } else {
        ctx.update(value.as_bytes());
    }
    let tag = ctx.sign();
    let mut out = String::from("hmac:");
    for b in tag.as_ref().iter().take(16) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// What replaces a value that looks like a token or a SAML message.
pub const REDACTED: &str = "[redacted]";

/// `true` when `text` looks like a bearer token, a JWT, or a (raw or base64) SAML message:
/// things that must never reach an audit log.
#[must_use]
pub fn looks_secret(text: &str) -> bool {
    const MARKERS: [&str; 9] = [
        "<samlp:",
        "<saml2p:",
        "<saml:",
        "<saml2:",
        "urn:oasis:names:tc:SAML:2.0:protocol",
        "PHNhbWxwO",  // base64 of "<samlp:"
        "PHNhbWwycD", // base64 of "<saml2p"
        "PD94bWwg",   // base64 of "<?xml "
        "Bearer ",
    ];
    MARKERS.iter().any(|m| text.contains(m)) || contains_jwt(text)
}

/// A JWT/JWS compact form: `eyJ` (base64url of `{"`) then base64url, a dot, base64url, a dot.
fn contains_jwt(text: &str) -> bool {
    text.match_indices("eyJ").any(|(start, _)| {
        let rest = text.get(start..).unwrap_or_default();
        let mut dots = 0;
        let mut run = 0usize;
        for c in rest.chars() {
            if c == '.' {
                if run < 4 {
                    return false;
                }
                dots += 1;
                run = 0;
                if dots == 2 {
                    return true;
                }
            } else if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                run += 1;
            } else {
                return false;
            }
        }
        false
    })
}

/// Replaces every string in the event's details, outcome code and free-text fields that
/// [`looks_secret`] by [`REDACTED`].
pub(crate) fn scrub_secrets(event: &mut AuditEvent) {
    // one cheap pass over the JSON text; the tree walk only when something looks wrong
    match serde_json::to_string(&*event) {
        Ok(text) if looks_secret(&text) => {}
        _ => return,
    }
    let Ok(mut value) = serde_json::to_value(&*event) else {
        return;
    };
    if !scrub_value(&mut value) {
        return;
    }
    if let Ok(scrubbed) = serde_json::from_value::<AuditEvent>(value) {
        *event = scrubbed;
    }
}

fn scrub_value(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) if looks_secret(s) => {
            *s = REDACTED.to_owned();
            true
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().fold(false, |acc, v| scrub_value(v) | acc)
        }
        serde_json::Value::Object(map) => {
            map.values_mut().fold(false, |acc, v| scrub_value(v) | acc)
        }
        _ => false,
    }
}
