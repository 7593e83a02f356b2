//! A validated, normalised email address.

use std::fmt;
use std::str::FromStr;

use crate::CodedError;

/// The longest local part accepted, in bytes (RFC 5321 section 4.5.3.1.1).
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// The longest address accepted, in bytes, after normalisation (RFC 5321 path limit
/// of 256 octets less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Input longer than this is refused before any IDNA work, so a huge attribute value
/// costs nothing. Generous, because a Unicode domain can shrink under mapping.
const MAX_INPUT_LEN: usize = 1024;

/// A syntactically valid email address in normal form.
///
/// Parsing is strict and never silently repairs input:
///
/// - no surrounding whitespace (it is refused, not trimmed), no whitespace inside, no
///   control characters (C0, DEL, C1);
/// - exactly one `@`, a non-empty local part of at most 64 bytes, at most 254 bytes in all;
/// - the local part is a dot-atom: ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``, or
///   non-ASCII characters (RFC 6531) other than zero-width and bidi-control ones, with dots
///   only between other characters; quoted local parts and comments are refused. It is kept
///   **as given**, because local parts are case-sensitive (RFC 5321);
/// - the domain goes through UTS 46 ToASCII in strict mode
///   ([`idna::domain_to_ascii_strict`]: STD3 rules, hyphen checks, DNS length checks, no
///   trailing dot), which also lower-cases it, so `Alice@Bücher.EXAMPLE` becomes
///   `Alice@xn--bcher-kva.example`. IP-address literals are refused.
///
/// Equality, ordering and hashing use the normal form. [`Display`](fmt::Display) and
/// [`AsRef<str>`] give the normal form.
///
/// ```
/// use jsm_sso_core::Email;
///
/// let email: Email = "Alice.Smith@Bücher.Example".parse()?;
/// assert_eq!(email.as_ref(), "Alice.Smith@xn--bcher-kva.example");
/// assert_eq!(email.local_part(), "Alice.Smith");
/// assert_eq!(email.domain(), "xn--bcher-kva.example");
/// assert!(" alice@example.com".parse::<Email>().is_err());
/// # Ok::<(), jsm_sso_core::email::EmailError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email {
    /// `local@domain` in normal form.
    normal: String,
    /// Byte index of the `@` in `normal`.
    at: usize,
}

impl Email {
    /// Parses and normalises an address; the same as [`str::parse`].
    ///
    /// # Errors
    ///
    /// An [`EmailError`] naming the first rule the input breaks.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        if input.is_empty() {
            return Err(EmailError::Empty);
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(EmailError::TooLong { len: input.len() });
        }
        if input.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter);
        }
        let starts = input.chars().next().is_some_and(char::is_whitespace);
        let ends = input.chars().next_back().is_some_and(char::is_whitespace);
        if starts || ends {
            return Err(EmailError::SurroundingWhitespace);
        }
        if input.chars().any(char::is_whitespace) {
            return Err(EmailError::Whitespace);
        }
        let (local, domain) = match input.split_once('@') {
            None => return Err(EmailError::MissingAt),
            Some((_, rest)) if rest.contains('@') => return Err(EmailError::MultipleAt),
            Some(parts) => parts,
        };
        if local.is_empty() {
            return Err(EmailError::LocalPartEmpty);
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(EmailError::LocalPartTooLong { len: local.len() });
        }
        if !is_dot_atom(local) {
            return Err(EmailError::LocalPartInvalid);
        }
        if domain.is_empty() {
            return Err(EmailError::DomainEmpty);
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::Domain)?;
        // ToASCII can map a non-empty input to nothing (for example a lone soft hyphen).
        if domain.is_empty() {
            return Err(EmailError::Domain);
        }
        let len = local.len() + 1 + domain.len();
        if len > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong { len });
        }
        let mut normal = String::with_capacity(len);
        normal.push_str(local);
        normal.push('@');
        normal.push_str(&domain);
        Ok(Self {
            normal,
            at: local.len(),
        })
    }

    /// The local part, exactly as given (case preserved).
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.normal.get(..self.at).unwrap_or_default()
    }

    /// The domain in lower-case ASCII (Punycode for internationalised names).
    #[must_use]
    pub fn domain(&self) -> &str {
        self.normal.get(self.at + 1..).unwrap_or_default()
    }

    /// The whole address in normal form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.normal
    }
}

/// `atext` of RFC 5322 plus non-ASCII characters (RFC 6531) other than invisible
/// format characters, joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    fn atext(c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
        } else {
            !is_invisible_format(c)
        }
    }
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// Zero-width and bidirectional-control characters: they make two addresses look the
/// same (or reorder what an administrator reads in the audit log).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Email {
    type Error = EmailError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normal)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.normal).finish()
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.normal
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.normal
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.normal)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Why an email address was refused. Each variant has its own code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// The input is empty.
    #[error("email address is empty")]
    Empty,
    /// The input starts or ends with whitespace (it is refused, not trimmed).
    #[error("email address has leading or trailing whitespace")]
    SurroundingWhitespace,
    /// The input contains a control character (C0, DEL or C1).
    #[error("email address contains a control character")]
    ControlCharacter,
    /// The input contains whitespace.
    #[error("email address contains whitespace")]
    Whitespace,
    /// There is no `@`.
    #[error("email address has no @")]
    MissingAt,
    /// There is more than one `@`.
    #[error("email address has more than one @")]
    MultipleAt,
    /// Nothing before the `@`.
    #[error("email address has an empty local part")]
    LocalPartEmpty,
    /// The local part is longer than [`MAX_LOCAL_PART_LEN`] bytes.
    #[error("email local part is {len} bytes, more than {MAX_LOCAL_PART_LEN}")]
    LocalPartTooLong {
        /// Length of the local part in bytes.
        len: usize,
    },
    /// The local part is not a dot-atom (a special character, a quote, or a stray dot).
    #[error("email local part has a character or dot that is not allowed")]
    LocalPartInvalid,
    /// Nothing after the `@`.
    #[error("email address has an empty domain")]
    DomainEmpty,
    /// The domain fails UTS 46 ToASCII (strict): bad characters, labels or length.
    #[error("email domain is not a valid domain name")]
    Domain,
    /// The address is longer than [`MAX_EMAIL_LEN`] bytes (after normalisation).
    #[error("email address is {len} bytes, more than {MAX_EMAIL_LEN}")]
    TooLong {
        /// Length in bytes (of the normal form, or of the raw input when that is huge).
        len: usize,
    },
}

impl CodedError for EmailError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "core.email.empty",
            Self::SurroundingWhitespace => "core.email.surrounding_whitespace",
            Self::ControlCharacter => "core.email.control_character",
            Self::Whitespace => "core.email.whitespace",
            Self::MissingAt => "core.email.missing_at",
            Self::MultipleAt => "core.email.multiple_at",
            Self::LocalPartEmpty => "core.email.local_part_empty",
            Self::LocalPartTooLong { .. } => "core.email.local_part_too_long",
            Self::LocalPartInvalid => "core.email.local_part_invalid",
            Self::DomainEmpty => "core.email.domain_empty",
            Self::Domain => "core.email.domain",
            Self::TooLong { .. } => "core.email.too_long",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Empty | Self::MissingAt | Self::LocalPartEmpty | Self::DomainEmpty => {
                "check which IdP attribute or claim is mapped to the email; it does not hold an address"
            }
            Self::SurroundingWhitespace | Self::Whitespace | Self::ControlCharacter => {
                "the IdP sends the email with spaces or control characters; clean the user's email in the IdP"
            }
            Self::MultipleAt | Self::LocalPartInvalid => {
                "the IdP sends an address with quoting or extra @; use a plain address in the IdP"
            }
            Self::LocalPartTooLong { .. } | Self::TooLong { .. } => {
                "the IdP sends an address longer than RFC 5321 allows; check the email attribute mapping"
            }
            Self::Domain => {
                "the domain after @ is not a valid host name (IDNA/STD3); check the user's email in the IdP"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        Email::parse(input).unwrap_err().code()
    }

    #[test]
    fn accepts_and_normalises() {
        let e = Email::parse("Alice.Smith+tag@Example.COM").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith+tag@example.com");
        assert_eq!(e.local_part(), "Alice.Smith+tag");
        assert_eq!(e.domain(), "example.com");
        assert_eq!(e.to_string(), "Alice.Smith+tag@example.com");
    }

    #[test]
    fn idna_maps_unicode_domains_to_punycode() {
        let e = Email::parse("jürgen@Bücher.de").unwrap();
        assert_eq!(e.domain(), "xn--bcher-kva.de");
        assert_eq!(e.local_part(), "jürgen");
        // Already-ASCII Punycode is accepted unchanged, so both spellings are equal.
        assert_eq!(Email::parse("jürgen@xn--bcher-kva.de").unwrap(), e);
        // Full-width letters and dots map like a browser maps them.
        let wide = Email::parse("a@ＥＸＡＭＰＬＥ．com").unwrap();
        assert_eq!(wide.domain(), "example.com");
    }

    #[test]
    fn local_part_case_is_kept_domain_case_is_not() {
        let a = Email::parse("Bob@EXAMPLE.com").unwrap();
        let b = Email::parse("Bob@example.com").unwrap();
        let c = Email::parse("bob@example.com").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn empty() {
        assert_eq!(code(""), "core.email.empty");
    }

    #[test]
    fn surrounding_whitespace_is_refused_not_trimmed() {
        assert_eq!(
            code(" alice@example.com"),
            "core.email.surrounding_whitespace"
        );
        assert_eq!(
            code("alice@example.com "),
            "core.email.surrounding_whitespace"
        );
        assert_eq!(
            code("alice@example.com\u{a0}"),
            "core.email.surrounding_whitespace"
        );
    }

    #[test]
    fn control_characters() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}',
        ] {
            let input = format!("ali{c}ce@example.com");
            assert_eq!(code(&input), "core.email.control_character", "{c:?}");
        }
        // Control characters win over whitespace, wherever they are.
        assert_eq!(code("alice@example.com\n"), "core.email.control_character");
    }

    #[test]
    fn interior_whitespace() {
        assert_eq!(code("al ice@example.com"), "core.email.whitespace");
        assert_eq!(code("alice@exa mple.com"), "core.email.whitespace");
        assert_eq!(code("alice\u{2028}x@example.com"), "core.email.whitespace");
        assert_eq!(code("alice\u{3000}x@example.com"), "core.email.whitespace");
    }

    #[test]
    fn missing_at() {
        assert_eq!(code("alice.example.com"), "core.email.missing_at");
    }

    #[test]
    fn multiple_at() {
        assert_eq!(code("alice@@example.com"), "core.email.multiple_at");
        assert_eq!(
            code("alice@evil.example@example.com"),
            "core.email.multiple_at"
        );
    }

    #[test]
    fn local_part_empty() {
        assert_eq!(code("@example.com"), "core.email.local_part_empty");
    }

    #[test]
    fn local_part_too_long() {
        let ok = format!("{}@example.com", "a".repeat(64));
        assert!(Email::parse(&ok).is_ok());
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(code(&long), "core.email.local_part_too_long");
        assert_eq!(
            Email::parse(&long).unwrap_err(),
            EmailError::LocalPartTooLong { len: 65 }
        );
    }

    #[test]
    fn local_part_invalid() {
        for bad in [
            "\"alice\"@example.com",
            "a(comment)@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "a<b@example.com",
            "a,b@example.com",
            "a\\b@example.com",
            "a:b@example.com",
            "a;b@example.com",
            "a[b]@example.com",
            "ali\u{200b}ce@example.com",
            "alice\u{202e}moc@example.com",
            "\u{feff}alice@example.com",
        ] {
            assert_eq!(code(bad), "core.email.local_part_invalid", "{bad}");
        }
    }

    #[test]
    fn domain_empty() {
        assert_eq!(code("alice@"), "core.email.domain_empty");
    }

    #[test]
    fn domain_invalid() {
        for bad in [
            "alice@exa_mple.com",
            "alice@-example.com",
            "alice@example-.com",
            "alice@example.com.",
            "alice@.example.com",
            "alice@example..com",
            "alice@[192.0.2.1]",
            "alice@exa/mple.com",
            "alice@\u{ad}",
        ] {
            assert_eq!(code(bad), "core.email.domain", "{bad}");
        }
        let long_label = format!("alice@{}.com", "a".repeat(64));
        assert_eq!(code(&long_label), "core.email.domain");
    }

    #[test]
    fn too_long() {
        // 64 + 1 + 190 = 255 bytes: every label and the domain are valid on their own.
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(60),
            "b".repeat(61),
            "c".repeat(63)
        );
        let input = format!("{}@{domain}", "l".repeat(64));
        assert_eq!(input.len(), 255);
        assert_eq!(code(&input), "core.email.too_long");
        let just_fits = format!("{}@{domain}", "l".repeat(63));
        assert_eq!(Email::parse(&just_fits).unwrap().as_str().len(), 254);
        // Huge input is refused before any IDNA work.
        let huge = format!("a@{}", "b".repeat(10_000));
        assert_eq!(code(&huge), "core.email.too_long");
    }

    #[test]
    fn every_variant_has_a_distinct_code_and_a_hint() {
        let all = [
            EmailError::Empty,
            EmailError::SurroundingWhitespace,
            EmailError::ControlCharacter,
            EmailError::Whitespace,
            EmailError::MissingAt,
            EmailError::MultipleAt,
            EmailError::LocalPartEmpty,
            EmailError::LocalPartTooLong { len: 65 },
            EmailError::LocalPartInvalid,
            EmailError::DomainEmpty,
            EmailError::Domain,
            EmailError::TooLong { len: 255 },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!(e.code().starts_with("core.email."));
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
    }

    #[test]
    fn parse_from_str_and_try_from_agree() {
        let a: Email = "x@example.com".parse().unwrap();
        let b = Email::try_from("x@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(String::from(a), "x@example.com");
    }
}
