//! [`Located`]: a value with the byte range it came from, when the format tells.
//!
//! TOML (through `toml::Spanned`) gives every value a span; serde_json and YAML do not, so
//! the same file model reads all three formats and only TOML values carry positions. The
//! loader says which kind it is reading through a thread-local flag, set for the duration of
//! one `from_str` call by [`SpanMode`].

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

use serde::{Deserialize, Deserializer};

thread_local! {
    static SPANS: Cell<bool> = const { Cell::new(false) };
}

/// Sets the thread's span mode for as long as it lives, then restores the previous one.
pub(crate) struct SpanMode {
    previous: bool,
}

impl SpanMode {
    /// `true` while deserializing TOML (which can report spans).
    pub(crate) fn enter(spans: bool) -> Self {
        let previous = SPANS.with(|s| s.replace(spans));
        Self { previous }
    }
}

impl Drop for SpanMode {
    fn drop(&mut self) {
        let previous = self.previous;
        SPANS.with(|s| s.set(previous));
    }
}

/// A value and, for TOML, the byte range of its text in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located<T> {
    /// Where the value is written; `None` for JSON and YAML.
    pub(crate) span: Option<Range<usize>>,
    /// The value.
    pub(crate) value: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if SPANS.with(Cell::get) {
            let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
            let span = spanned.span();
            Ok(Self {
                span: Some(span),
                value: spanned.into_inner(),
            })
        } else {
            T::deserialize(deserializer).map(|value| Self { span: None, value })
        }
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Line and column (both 1-based, the column in characters) of a byte offset in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbü = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // The column counts characters, not bytes: `=` is the 4th character of line 2.
        assert_eq!(line_column(text, text.find("= 2").unwrap()), (2, 4));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }

    #[test]
    fn mode_is_restored() {
        {
            let _outer = SpanMode::enter(true);
            {
                let _inner = SpanMode::enter(false);
                assert!(!SPANS.with(Cell::get));
            }
            assert!(SPANS.with(Cell::get));
        }
        assert!(!SPANS.with(Cell::get));
    }
}
