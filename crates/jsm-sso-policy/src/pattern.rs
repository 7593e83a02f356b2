//! Values of `group` and `attribute` conditions: `/regex/` (anchored), a glob (`*`, `?`),
//! or an exact string.

use regex::{Regex, RegexBuilder};

use crate::error::Problem;
use crate::name::Name;

/// The longest pattern accepted, in bytes.
pub(crate) const MAX_PATTERN_LEN: usize = 1024;
/// The compiled-size limit of one regex (bytes of the regex engine's program).
pub(crate) const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A compiled condition value, with the text it was written as.
#[derive(Debug, Clone)]
pub(crate) struct ValuePattern {
    kind: Kind,
    /// As written (`/.../` for a regex); for an exact pattern, the value itself.
    shown: Name,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Matches `shown` exactly (case-sensitive).
    Exact,
    /// A glob: `*` any run of characters, `?` one character.
    Glob(Glob),
    /// An anchored regular expression.
    Regex(Regex),
}

impl ValuePattern {
    /// Parses a value as written in the policy.
    pub(crate) fn parse(text: &str) -> Result<Self, (Problem, String)> {
        if text.len() > MAX_PATTERN_LEN {
            return Err((
                Problem::PatternTooLarge,
                format!(
                    "pattern is {} bytes; at most {MAX_PATTERN_LEN} are allowed",
                    text.len()
                ),
            ));
        }
        let kind = if let Some(source) = text
            .strip_prefix('/')
            .and_then(|t| t.strip_suffix('/'))
            .filter(|_| text.len() >= 2)
        {
            Kind::Regex(compile_regex(source)?)
        } else if text.contains(['*', '?']) {
            Kind::Glob(Glob::new(text)?)
        } else {
            Kind::Exact
        };
        Ok(Self {
            kind,
            shown: Name::from(text),
        })
    }

    /// Whether `value` matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        match &self.kind {
            Kind::Exact => self.shown == *value,
            Kind::Glob(g) => g.matches(value),
            Kind::Regex(re) => re.is_match(value),
        }
    }

    /// The exact value, if this is an exact pattern (it can go in an index).
    pub(crate) fn exact(&self) -> Option<&str> {
        match self.kind {
            Kind::Exact => Some(&self.shown),
            Kind::Glob(_) | Kind::Regex(_) => None,
        }
    }

    /// Every value this matches is also matched by `other` (conservative: `false` when
    /// unsure).
    pub(crate) fn covered_by(&self, other: &Self) -> bool {
        let other_is_star = matches!(other.kind, Kind::Glob(_)) && other.shown.as_str() == "*";
        match self.kind {
            Kind::Exact => other.matches(&self.shown),
            Kind::Glob(_) | Kind::Regex(_) => {
                other_is_star
                    || (std::mem::discriminant(&self.kind) == std::mem::discriminant(&other.kind)
                        && self.shown == other.shown)
            }
        }
    }

    /// As written in the policy.
    pub(crate) fn display(&self) -> Name {
        self.shown.clone()
    }
}

fn compile_regex(source: &str) -> Result<Regex, (Problem, String)> {
    RegexBuilder::new(&format!("^(?:{source})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => (
                Problem::PatternTooLarge,
                format!("regex /{source}/ compiles to more than {limit} bytes"),
            ),
            other => (
                Problem::RegexInvalid,
                format!(
                    "regex /{source}/ does not compile: {}",
                    one_line(&other.to_string())
                ),
            ),
        })
}

/// The last non-empty line of a multi-line regex error (the one saying what is wrong).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(text)
        .trim_start_matches("error: ")
        .to_owned()
}

/// A glob over characters: `*` matches any run (also empty), `?` exactly one character;
/// everything else matches itself. No character classes, no escapes.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    chars: Box<[char]>,
    /// The pattern's bytes when it is ASCII (the common case): matched without decoding.
    ascii: Option<Box<[u8]>>,
}

impl Glob {
    fn new(source: &str) -> Result<Self, (Problem, String)> {
        if source.chars().all(|c| c == '*') {
            // `*` alone would match every group: almost always a mistake. A rule that should
            // not look at groups leaves `group` out.
            return Err((
                Problem::GlobInvalid,
                format!("glob {source:?} matches everything; leave the condition out instead"),
            ));
        }
        Ok(Self {
            chars: source.chars().collect(),
            ascii: source.is_ascii().then(|| source.as_bytes().into()),
        })
    }

    fn matches(&self, value: &str) -> bool {
        if let Some(pattern) = &self.ascii
            && value.is_ascii()
        {
            wildcard_match(pattern, value.as_bytes(), b'*', b'?')
        } else {
            let text: Vec<char> = value.chars().collect();
            wildcard_match(&self.chars, &text, '*', '?')
        }
    }
}

/// Linear-time glob matching (no backtracking blow-up): the classic two-pointer algorithm
/// that remembers only the last `*`.
fn wildcard_match<T: PartialEq + Copy>(pattern: &[T], text: &[T], star_sym: T, one: T) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(&pc), _) if pc == star_sym => {
                star = Some((p, t));
                p += 1;
            }
            (Some(&pc), Some(&tc)) if pc == one || pc == tc => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == star_sym))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ValuePattern {
        ValuePattern::parse(s).unwrap()
    }

    #[test]
    fn exact_glob_regex() {
        assert!(p("staff").matches("staff"));
        assert!(!p("staff").matches("Staff"));
        assert!(!p("staff").matches("staff2"));
        assert!(p("partner-gold*").matches("partner-gold"));
        assert!(p("partner-gold*").matches("partner-gold-emea"));
        assert!(!p("partner-gold*").matches("partner-silver"));
        assert!(p("a?c").matches("abc"));
        assert!(p("a?c").matches("aüc"));
        assert!(!p("a?c").matches("ac"));
        assert!(p("*-admins").matches("eu-admins"));
        assert!(p("a*b*c").matches("aXXbYYc"));
        assert!(!p("a*b*c").matches("aXXbYY"));
        // Regexes are anchored: a partial match is no match.
        assert!(p("/EMEA|APAC/").matches("APAC"));
        assert!(!p("/EMEA|APAC/").matches("APAC-North"));
        assert!(p("/dept-[0-9]+/").matches("dept-42"));
        assert!(!p("/dept-[0-9]+/").matches("xdept-42"));
        // A lone slash or `//` is no regex delimiter pair worth compiling: `/` is exact.
        assert!(p("/").matches("/"));
    }

    #[test]
    fn glob_is_linear_on_hostile_input() {
        let glob = p("*a*a*a*a*a*a*a*a*b");
        let value = "a".repeat(5000);
        assert!(!glob.matches(&value));
    }

    #[test]
    fn bad_patterns() {
        let code = |s: &str| ValuePattern::parse(s).unwrap_err().0.code();
        assert_eq!(code("/(unclosed/"), "policy.pattern.regex");
        assert_eq!(code("/a{99999}{99999}/"), "policy.pattern.too_large");
        assert_eq!(code("/(a{1000}){1000}/"), "policy.pattern.too_large");
        assert_eq!(code(&"x".repeat(2000)), "policy.pattern.too_large");
        assert_eq!(code("*"), "policy.pattern.glob");
        assert_eq!(code("**"), "policy.pattern.glob");
    }

    #[test]
    fn coverage() {
        assert!(p("gold").covered_by(&p("g*")));
        assert!(p("gold").covered_by(&p("/go.d/")));
        assert!(p("g*").covered_by(&p("g*")));
        assert!(!p("g*").covered_by(&p("gold")));
        assert!(!p("/a/").covered_by(&p("/b/")));
    }
}
