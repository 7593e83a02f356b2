//! The filter tokenizer.

use super::FilterError;

/// One token with its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// An attribute path, keyword, operator, number, `true`/`false`/`null`.
    Word(String),
    /// A JSON string literal, already unescaped.
    Str(String),
}

impl Token {
    pub(super) fn describe(&self) -> String {
        match self {
            Self::LParen => "\"(\"".into(),
            Self::RParen => "\")\"".into(),
            Self::LBracket => "\"[\"".into(),
            Self::RBracket => "\"]\"".into(),
            Self::Word(w) => format!("{:?}", truncate(w)),
            Self::Str(_) => "a string".into(),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '+')
}

/// Splits `text` into tokens.
pub(super) fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push((
                    at,
                    match c {
                        '(' => Token::LParen,
                        ')' => Token::RParen,
                        '[' => Token::LBracket,
                        _ => Token::RBracket,
                    },
                ));
            }
            '"' => {
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, ch) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| FilterError::Syntax {
                    position: at,
                    expected: "a closing quote",
                    found: "end of filter".into(),
                })?;
                let literal = text.get(at..=end).unwrap_or_default();
                let value: String =
                    serde_json::from_str(literal).map_err(|_| FilterError::Syntax {
                        position: at,
                        expected: "a JSON string",
                        found: "an invalid escape".into(),
                    })?;
                out.push((at, Token::Str(value)));
            }
            c if word_char(c) => {
                let mut end = at;
                while let Some(&(i, ch)) = chars.peek() {
                    if !word_char(ch) {
                        break;
                    }
                    end = i + ch.len_utf8();
                    chars.next();
                }
                out.push((
                    at,
                    Token::Word(text.get(at..end).unwrap_or_default().into()),
                ));
            }
            other => {
                return Err(FilterError::Syntax {
                    position: at,
                    expected: "an attribute, operator, value or parenthesis",
                    found: format!("{other:?}"),
                });
            }
        }
    }
    Ok(out)
}
