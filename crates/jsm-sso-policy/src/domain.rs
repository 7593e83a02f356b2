//! Email-domain patterns: `example.com` (exactly) and `*.example.com` (sub-domains only),
//! compared on the normalised ASCII (IDNA) form.

use crate::error::Problem;

/// A compiled email-domain condition value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum DomainPattern {
    /// The domain itself, lower-case ASCII.
    Exact(Box<str>),
    /// Any sub-domain of this (lower-case ASCII) domain, not the domain itself.
    SubdomainsOf(Box<str>),
}

impl DomainPattern {
    /// Parses and normalises one pattern as written in the policy.
    pub(crate) fn parse(text: &str) -> Result<Self, (Problem, String)> {
        if text.is_empty() {
            return Err((Problem::DomainInvalid, "empty email domain".into()));
        }
        if text.contains("://") {
            return Err((
                Problem::DomainInvalid,
                format!("email domain {text:?} has a scheme; write the bare domain"),
            ));
        }
        if text.contains('@') {
            return Err((
                Problem::DomainInvalid,
                format!("email domain {text:?} contains @; write only the part after it"),
            ));
        }
        if text.chars().any(char::is_uppercase) {
            return Err((
                Problem::DomainUpperCase,
                format!("email domain {text:?} has upper-case letters"),
            ));
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.contains('*') {
            return Err((
                Problem::DomainWildcard,
                format!("email domain {text:?}: a wildcard may only be the whole first label"),
            ));
        }
        if rest.contains(['/', ':', ' ', '?', '#']) {
            return Err((
                Problem::DomainInvalid,
                format!("email domain {text:?} is not a bare domain"),
            ));
        }
        let ascii = if is_plain_ldh(rest) {
            // Already in normal form: lower-case ASCII letters, digits and hyphens, no
            // Punycode label; UTS 46 would return it unchanged.
            rest.to_owned()
        } else {
            match idna::domain_to_ascii_strict(rest) {
                Ok(ascii) if !ascii.is_empty() => ascii,
                _ => {
                    return Err((
                        Problem::DomainInvalid,
                        format!("email domain {text:?} is not a valid domain name"),
                    ));
                }
            }
        };
        if wildcard && !ascii.contains('.') {
            return Err((
                Problem::DomainPublicSuffix,
                format!("{text:?} covers a whole top-level domain"),
            ));
        }
        if ascii.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err((
                Problem::DomainInvalid,
                format!("email domain {text:?} is an IP address"),
            ));
        }
        if wildcard {
            if psl::suffix_str(&ascii) == Some(ascii.as_str()) {
                return Err((
                    Problem::DomainPublicSuffix,
                    format!("{text:?} covers the public suffix {ascii:?}"),
                ));
            }
            Ok(Self::SubdomainsOf(ascii.into()))
        } else {
            Ok(Self::Exact(ascii.into()))
        }
    }

    /// Whether an email domain (already lower-case ASCII) matches.
    pub(crate) fn matches(&self, domain: &str) -> bool {
        match self {
            Self::Exact(d) => **d == *domain,
            Self::SubdomainsOf(parent) => is_subdomain(domain, parent),
        }
    }

    /// Every domain this matches is also matched by `other`.
    pub(crate) fn covered_by(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Exact(a), _) => other.matches(a),
            (Self::SubdomainsOf(a), Self::SubdomainsOf(b)) => a == b || is_subdomain(a, b),
            (Self::SubdomainsOf(_), Self::Exact(_)) => false,
        }
    }

    /// Some domain is matched by both.
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.covered_by(other) || other.covered_by(self)
    }

    /// As written after normalisation: `example.com` or `*.example.com`.
    pub(crate) fn display(&self) -> String {
        match self {
            Self::Exact(d) => d.to_string(),
            Self::SubdomainsOf(d) => format!("*.{d}"),
        }
    }
}

/// A domain that needs no IDNA processing: labels of 1 to 63 lower-case ASCII letters,
/// digits and inner hyphens, none starting with `xn--` (which must be checked as Punycode),
/// at most 253 bytes in all, and a last label that is not all digits.
fn is_plain_ldh(domain: &str) -> bool {
    domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && !label.starts_with("xn--")
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// `child` is a proper sub-domain of `parent` (label boundary, not a string suffix).
fn is_subdomain(child: &str, parent: &str) -> bool {
    child.len() > parent.len()
        && child.ends_with(parent)
        && child
            .as_bytes()
            .get(child.len() - parent.len() - 1)
            .is_some_and(|&b| b == b'.')
}

/// The proper parent domains of `domain`, nearest first: `a.b.c` gives `b.c`, `c`.
pub(crate) fn parents(domain: &str) -> impl Iterator<Item = &str> {
    domain
        .char_indices()
        .filter(|&(_, c)| c == '.')
        .filter_map(move |(i, _)| domain.get(i + 1..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        DomainPattern::parse(text).unwrap_err().0.code()
    }

    #[test]
    fn exact_and_wildcard() {
        let exact = DomainPattern::parse("acme.com").unwrap();
        assert!(exact.matches("acme.com"));
        assert!(!exact.matches("x.acme.com"));
        let wild = DomainPattern::parse("*.acme.com").unwrap();
        assert!(wild.matches("x.acme.com"));
        assert!(wild.matches("a.b.acme.com"));
        assert!(!wild.matches("acme.com"));
        assert!(!wild.matches("evilacme.com"));
    }

    #[test]
    fn idn_is_compared_in_ascii() {
        let wild = DomainPattern::parse("*.bücher.example").unwrap();
        assert_eq!(
            wild,
            DomainPattern::SubdomainsOf("xn--bcher-kva.example".into())
        );
        assert!(wild.matches("shop.xn--bcher-kva.example"));
        let exact = DomainPattern::parse("bücher.example").unwrap();
        assert!(exact.matches("xn--bcher-kva.example"));
        // Written in Punycode directly: the same pattern.
        assert_eq!(
            DomainPattern::parse("xn--bcher-kva.example").unwrap(),
            exact
        );
    }

    #[test]
    fn malformed_domains() {
        assert_eq!(code("Acme.com"), "policy.domain.upper_case");
        assert_eq!(code("BÜCHER.example"), "policy.domain.upper_case");
        assert_eq!(code("alice@acme.com"), "policy.domain.invalid");
        assert_eq!(code("https://acme.com"), "policy.domain.invalid");
        assert_eq!(code("acme.com/path"), "policy.domain.invalid");
        assert_eq!(code(""), "policy.domain.invalid");
        assert_eq!(code("acme..com"), "policy.domain.invalid");
        assert_eq!(code("-acme.com"), "policy.domain.invalid");
        assert_eq!(code("192.168.1.1"), "policy.domain.invalid");
        assert_eq!(code("a.*.acme.com"), "policy.domain.wildcard");
        assert_eq!(code("acme.*"), "policy.domain.wildcard");
        assert_eq!(code("*acme.com"), "policy.domain.wildcard");
        assert_eq!(code("**.acme.com"), "policy.domain.wildcard");
    }

    #[test]
    fn wildcard_over_public_suffix() {
        assert_eq!(code("*.com"), "policy.domain.public_suffix");
        assert_eq!(code("*.co.uk"), "policy.domain.public_suffix");
        assert_eq!(code("*.github.io"), "policy.domain.public_suffix");
        assert!(DomainPattern::parse("*.acme.co.uk").is_ok());
        // An exact public suffix is no wildcard: it only matches that literal domain.
        assert!(DomainPattern::parse("co.uk").is_ok());
    }

    #[test]
    fn coverage() {
        let p = |s| DomainPattern::parse(s).unwrap();
        assert!(p("x.acme.com").covered_by(&p("*.acme.com")));
        assert!(p("*.x.acme.com").covered_by(&p("*.acme.com")));
        assert!(!p("acme.com").covered_by(&p("*.acme.com")));
        assert!(!p("*.acme.com").covered_by(&p("acme.com")));
        assert!(p("*.acme.com").overlaps(&p("a.acme.com")));
        assert!(!p("acme.com").overlaps(&p("beta.com")));
    }

    #[test]
    fn the_fast_path_agrees_with_idna() {
        for d in [
            "acme.com",
            "a-b.c0.example",
            "x.y.z.example.org",
            "123.example",
        ] {
            assert!(is_plain_ldh(d), "{d}");
            assert_eq!(idna::domain_to_ascii_strict(d).unwrap(), d);
        }
        for d in [
            "xn--bcher-kva.example",
            "-a.com",
            "a-.com",
            "a..com",
            "1.2.3.4",
            "bücher.de",
        ] {
            assert!(!is_plain_ldh(d), "{d}");
        }
        assert!(!is_plain_ldh(&format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn parents_walk_labels() {
        let all: Vec<_> = parents("a.b.acme.com").collect();
        assert_eq!(all, ["b.acme.com", "acme.com", "com"]);
        assert_eq!(parents("localhost").count(), 0);
    }
}
