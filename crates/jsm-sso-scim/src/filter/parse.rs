//! Recursive-descent parser for filters and PATCH paths.

use super::lex::{Token, tokenize};
use super::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterLimits};
use crate::schema;

struct Parser<'a> {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
    limits: &'a FilterLimits,
    depth: usize,
    terms: usize,
}

pub(crate) fn parse_filter(text: &str, limits: &FilterLimits) -> Result<Filter, FilterError> {
    let mut p = Parser::new(text, limits)?;
    let filter = p.or(false)?;
    p.expect_end()?;
    Ok(filter)
}

/// Parses a PATCH path (RFC 7644 §3.5.2: `attrPath` or `valuePath ["." subAttr]`) into the
/// attribute, the value filter and the sub-attribute after the filter.
pub(crate) fn parse_patch_path(
    text: &str,
    limits: &FilterLimits,
) -> Result<(AttrPath, Option<Filter>, Option<String>), FilterError> {
    let mut p = Parser::new(text, limits)?;
    let (at, word) = p.word("an attribute path")?;
    let path = attr_path(&word, at)?;
    let mut filter = None;
    let mut sub = None;
    if p.peek() == Some(&Token::LBracket) {
        if path.sub.is_some() {
            return Err(syntax(
                at,
                "an attribute without sub-attribute before \"[\"",
                &word,
            ));
        }
        p.pos += 1;
        p.enter()?;
        filter = Some(p.or(true)?);
        p.expect(&Token::RBracket, "\"]\"")?;
        if let Some(Token::Word(w)) = p.peek().cloned() {
            let at = p.offset();
            let name = w
                .strip_prefix('.')
                .filter(|n| valid_name(n))
                .ok_or_else(|| syntax(at, "\".\" and a sub-attribute", &w))?;
            sub = Some(name.to_owned());
            p.pos += 1;
        }
    }
    p.expect_end()?;
    Ok((path, filter, sub))
}

fn syntax(position: usize, expected: &'static str, found: &str) -> FilterError {
    FilterError::Syntax {
        position,
        expected,
        found: format!("{:?}", found.chars().take(40).collect::<String>()),
    }
}

fn valid_name(name: &str) -> bool {
    if name == "$ref" {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits `urn:...:name.sub` into its parts. A known schema URN is matched as a prefix
/// (URNs contain dots: `...:enterprise:2.0:User`); an unknown one up to its last colon.
pub(crate) fn attr_path(word: &str, at: usize) -> Result<AttrPath, FilterError> {
    let (uri, rest) = if word.len() > 4
        && word
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        let known = schema::ALL.iter().find_map(|s| {
            word.get(..s.id.len())
                .filter(|p| p.eq_ignore_ascii_case(s.id))
                .and_then(|_| word.get(s.id.len()..))
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| (s.id.to_owned(), r))
        });
        match known {
            Some(k) => k,
            None => {
                let (u, r) = word
                    .rsplit_once(':')
                    .ok_or_else(|| syntax(at, "an attribute path", word))?;
                (u.to_owned(), r)
            }
        }
    } else {
        (String::new(), word)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !valid_name(name) || sub.is_some_and(|s| !valid_name(s)) {
        return Err(syntax(at, "an attribute path", word));
    }
    Ok(AttrPath {
        uri: (!uri.is_empty()).then_some(uri),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

impl<'a> Parser<'a> {
    fn new(text: &str, limits: &'a FilterLimits) -> Result<Self, FilterError> {
        if text.len() > limits.max_len {
            return Err(FilterError::TooLong {
                limit: limits.max_len,
                actual: text.len(),
            });
        }
        Ok(Self {
            tokens: tokenize(text)?,
            pos: 0,
            end: text.len(),
            limits,
            depth: 0,
            terms: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(at, _)| *at)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of filter".to_owned(), Token::describe)
    }

    fn expect(&mut self, token: &Token, expected: &'static str) -> Result<(), FilterError> {
        if self.peek() == Some(token) {
            self.pos += 1;
            Ok(())
        } else {
            Err(FilterError::Syntax {
                position: self.offset(),
                expected,
                found: self.found(),
            })
        }
    }

    fn expect_end(&self) -> Result<(), FilterError> {
        if self.pos == self.tokens.len() {
            Ok(())
        } else {
            Err(FilterError::Syntax {
                position: self.offset(),
                expected: "end of filter, \"and\" or \"or\"",
                found: self.found(),
            })
        }
    }

    fn word(&mut self, expected: &'static str) -> Result<(usize, String), FilterError> {
        match self.tokens.get(self.pos) {
            Some((at, Token::Word(w))) => {
                let r = (*at, w.clone());
                self.pos += 1;
                Ok(r)
            }
            _ => Err(FilterError::Syntax {
                position: self.offset(),
                expected,
                found: self.found(),
            }),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(FilterError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    fn or(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.and(in_value)?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and(in_value)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(in_value)?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary(in_value)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        if self.keyword("not") && matches!(self.tokens.get(self.pos + 1), Some((_, Token::LParen)))
        {
            self.pos += 2;
            self.enter()?;
            let inner = self.or(in_value)?;
            self.expect(&Token::RParen, "\")\"")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or(in_value)?;
            self.expect(&Token::RParen, "\")\"")?;
            self.depth -= 1;
            return Ok(inner);
        }
        let (at, word) = self.word("an attribute, \"not\" or \"(\"")?;
        let path = attr_path(&word, at)?;
        if self.peek() == Some(&Token::LBracket) {
            if in_value {
                return Err(FilterError::Syntax {
                    position: self.offset(),
                    expected: "an operator (value filters do not nest)",
                    found: "\"[\"".into(),
                });
            }
            if path.sub.is_some() {
                return Err(syntax(
                    at,
                    "an attribute without sub-attribute before \"[\"",
                    &word,
                ));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or(true)?;
            self.expect(&Token::RBracket, "\"]\"")?;
            self.depth -= 1;
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        self.term()?;
        let (op_at, op) = self.word("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")?;
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op).ok_or_else(|| {
            syntax(
                op_at,
                "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)",
                &op,
            )
        })?;
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(FilterError::TooManyTerms {
                limit: self.limits.max_terms,
            });
        }
        Ok(())
    }

    fn value(&mut self) -> Result<CompValue, FilterError> {
        let at = self.offset();
        match self.tokens.get(self.pos).map(|(_, t)| t.clone()) {
            Some(Token::Str(s)) => {
                self.pos += 1;
                Ok(CompValue::String(s))
            }
            Some(Token::Word(w)) => {
                self.pos += 1;
                match w.to_ascii_lowercase().as_str() {
                    "true" => Ok(CompValue::Bool(true)),
                    "false" => Ok(CompValue::Bool(false)),
                    "null" => Ok(CompValue::Null),
                    _ => match serde_json::from_str::<serde_json::Value>(&w) {
                        Ok(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => {
                            Ok(CompValue::Number(n))
                        }
                        // Other numbers through the correctly rounded std parser, so a
                        // filter's canonical text parses back to the same value.
                        Ok(serde_json::Value::Number(_)) => w
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(CompValue::Number)
                            .ok_or_else(|| syntax(at, "a finite number", &w)),
                        _ => Err(syntax(at, "a string, number, true, false or null", &w)),
                    },
                }
            }
            _ => Err(FilterError::Syntax {
                position: at,
                expected: "a string, number, true, false or null",
                found: self.found(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    fn p(text: &str) -> Filter {
        parse_filter(text, &FilterLimits::default()).unwrap()
    }

    fn err(text: &str) -> FilterError {
        parse_filter(text, &FilterLimits::default()).unwrap_err()
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let f = p("a eq 1 or b eq 2 and c eq 3");
        assert_eq!(f.to_string(), "(a eq 1 or (b eq 2 and c eq 3))");
        let f = p("(a eq 1 or b eq 2) and c eq 3");
        assert_eq!(f.to_string(), "((a eq 1 or b eq 2) and c eq 3)");
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let f = p("userName EQ \"x\" AND Not (active Eq False)");
        assert_eq!(
            f.to_string(),
            "(userName eq \"x\" and not (active eq false))"
        );
    }

    #[test]
    fn urn_paths_and_value_filters() {
        let f =
            p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"");
        let Filter::Compare { path, .. } = f else {
            panic!()
        };
        assert_eq!(path.uri.as_deref(), Some(schema::ENTERPRISE_USER_SCHEMA));
        assert_eq!(path.name, "manager");
        assert_eq!(path.sub.as_deref(), Some("value"));
        let f = p("emails[type eq \"work\" and value co \"@example.com\"]");
        assert!(matches!(f, Filter::ValuePath { .. }));
        let f = p("urn:example:custom:1.0:Thing:color eq \"red\"");
        let Filter::Compare { path, .. } = f else {
            panic!()
        };
        assert_eq!(path.uri.as_deref(), Some("urn:example:custom:1.0:Thing"));
        assert_eq!(path.name, "color");
    }

    #[test]
    fn literals() {
        assert_eq!(p("a eq null").to_string(), "a eq null");
        assert_eq!(p("a gt -1.5e3").to_string(), "a gt -1500.0");
        assert_eq!(p(r#"a eq "q\"uote""#).to_string(), r#"a eq "q\"uote""#);
        // Found by the fuzzer: a long integer must survive printing and parsing again.
        let big = p("c eq -1999999999999999999999999999999999999999999999999999999999999999990");
        assert_eq!(p(&big.to_string()), big);
        assert_eq!(err("a eq 1e999").code(), "scim.filter.syntax");
    }

    #[test]
    fn rejections_carry_codes() {
        assert_eq!(err("userName eq").code(), "scim.filter.syntax");
        assert_eq!(err("userName xx \"a\"").code(), "scim.filter.syntax");
        assert_eq!(err("userName eq \"a").code(), "scim.filter.syntax");
        assert_eq!(err("userName eq bogus").code(), "scim.filter.syntax");
        assert_eq!(err("(userName eq \"a\"").code(), "scim.filter.syntax");
        assert_eq!(err("userName eq \"a\")").code(), "scim.filter.syntax");
        assert_eq!(err("emails[type[x eq 1]]").code(), "scim.filter.syntax");
        assert_eq!(err("a eq 1 and").code(), "scim.filter.syntax");
        assert_eq!(err("1abc eq 1").code(), "scim.filter.syntax");
        assert_eq!(err("a eq \"\\q\"").code(), "scim.filter.syntax");
        assert_eq!(err("a eq 1 # b").code(), "scim.filter.syntax");
        assert_eq!(err("").code(), "scim.filter.syntax");
        let long = format!("a eq \"{}\"", "x".repeat(5000));
        assert_eq!(err(&long).code(), "scim.filter.too_long");
        let deep = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
        assert_eq!(err(&deep).code(), "scim.filter.too_deep");
        let many = vec!["a pr"; 70].join(" or ");
        assert_eq!(err(&many).code(), "scim.filter.too_many_terms");
    }

    #[test]
    fn patch_paths() {
        let l = FilterLimits::default();
        let (a, f, s) = parse_patch_path("emails[type eq \"work\"].value", &l).unwrap();
        assert_eq!(a.name, "emails");
        assert!(f.is_some());
        assert_eq!(s.as_deref(), Some("value"));
        let (a, f, s) = parse_patch_path("name.givenName", &l).unwrap();
        assert_eq!(
            (a.name.as_str(), a.sub.as_deref(), f, s),
            ("name", Some("givenName"), None, None)
        );
        assert!(parse_patch_path("emails[type eq \"work\"]value", &l).is_err());
        assert!(parse_patch_path("emails[type eq \"work\"].", &l).is_err());
        assert!(parse_patch_path("a b", &l).is_err());
        assert!(parse_patch_path("name.givenName[x eq 1]", &l).is_err());
    }
}
