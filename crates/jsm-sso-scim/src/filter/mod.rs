//! The SCIM filter language (RFC 7644 §3.4.2.2): [`Filter::parse`] with [`FilterLimits`],
//! [`Filter::validate`] against a resource type's schema, and [`Filter::matches`].
//!
//! Precedence: `not(...)` and grouping bind tightest, then `and`, then `or`; keywords and
//! operators are case-insensitive. Value filters (`emails[type eq "work"]`) test each value
//! of a multi-valued attribute. String comparisons follow the attribute's `caseExact`
//! (`userName` compares case-insensitively, `id` exactly).

pub(crate) mod eval;
mod lex;
pub(crate) mod parse;

use std::fmt;

use jsm_sso_core::CodedError;

pub use eval::Context;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`.
    Compare {
        /// The attribute.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `attr pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`, whose
    /// attribute names are sub-attributes of `attr`.
    ValuePath {
        /// The multi-valued attribute.
        path: AttrPath,
        /// The filter each value is tested with.
        filter: Box<Filter>,
    },
}

/// An attribute path: `[schema-urn ":"] name ["." sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, when given.
    pub uri: Option<String>,
    /// The attribute name as written.
    pub name: String,
    /// The sub-attribute name, when given.
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co` (contains)
    Co,
    /// `sw` (starts with)
    Sw,
    /// `ew` (ends with)
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl CompareOp {
    /// The operator keyword.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

/// A comparison literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string.
    String(String),
}

/// Limits applied while parsing; hostile filters fail fast with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// Longest filter in bytes (default 4096).
    pub max_len: usize,
    /// Deepest nesting of parentheses, `not` and value filters (default 16).
    pub max_depth: usize,
    /// Most comparisons (`attr op value`, `attr pr`) in one filter (default 64).
    pub max_terms: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 16,
            max_terms: 64,
        }
    }
}

/// Why a filter (or a PATCH path, which shares the grammar) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Not valid filter syntax.
    #[error("filter syntax error at byte {position}: expected {expected}, found {found}")]
    Syntax {
        /// Byte offset.
        position: usize,
        /// What the grammar wanted.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// Longer than [`FilterLimits::max_len`].
    #[error("filter of {actual} bytes exceeds the limit of {limit}")]
    TooLong {
        /// The limit.
        limit: usize,
        /// The length.
        actual: usize,
    },
    /// Nested deeper than [`FilterLimits::max_depth`].
    #[error("filter nesting exceeds the limit of {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More terms than [`FilterLimits::max_terms`].
    #[error("filter has more than {limit} comparisons")]
    TooManyTerms {
        /// The limit.
        limit: usize,
    },
    /// An attribute the resource type does not define.
    #[error("unknown attribute {attribute:?} in filter")]
    UnknownAttribute {
        /// The attribute path as written.
        attribute: String,
    },
    /// An operator the attribute's type does not support (`gt` on a boolean, `co` on a
    /// complex attribute).
    #[error("operator {op} is not supported on {attribute} ({kind})")]
    UnsupportedComparison {
        /// The attribute path.
        attribute: String,
        /// The operator.
        op: &'static str,
        /// The attribute's type.
        kind: &'static str,
    },
}

impl CodedError for FilterError {
    fn code(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "scim.filter.syntax",
            Self::TooLong { .. } => "scim.filter.too_long",
            Self::TooDeep { .. } => "scim.filter.too_deep",
            Self::TooManyTerms { .. } => "scim.filter.too_many_terms",
            Self::UnknownAttribute { .. } => "scim.filter.unknown_attribute",
            Self::UnsupportedComparison { .. } => "scim.filter.unsupported_comparison",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => {
                "write filters as in RFC 7644 3.4.2.2, e.g. userName eq \"alice@example.com\""
            }
            Self::TooLong { .. } | Self::TooDeep { .. } | Self::TooManyTerms { .. } => {
                "simplify the filter or raise FilterLimits on the service"
            }
            Self::UnknownAttribute { .. } => "use attribute names listed by /Schemas",
            Self::UnsupportedComparison { .. } => {
                "booleans take eq/ne only; complex attributes need a sub-attribute"
            }
        }
    }
}

impl Filter {
    /// Parses a filter under `limits`.
    ///
    /// # Errors
    ///
    /// [`FilterError`] for bad syntax or a limit exceeded.
    pub fn parse(text: &str, limits: &FilterLimits) -> Result<Self, FilterError> {
        parse::parse_filter(text, limits)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => {
                let quoted = serde_json::Value::String(s.clone()).to_string();
                f.write_str(&quoted)
            }
        }
    }
}

/// The canonical text form: every `and`/`or` in parentheses, so parsing it again gives the
/// same filter.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::And(a, b) => write!(f, "({a} and {b})"),
            Self::Or(a, b) => write!(f, "({a} or {b})"),
            Self::Not(a) => write!(f, "not ({a})"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

pub(crate) use parse::parse_patch_path;
