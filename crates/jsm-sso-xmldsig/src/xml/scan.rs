//! Byte-level scanning of markup: white space, names and `name="value"` pairs.
//!
//! The parser works on the whole (UTF-8 checked, line-end normalised) input as bytes. Every
//! delimiter is ASCII, so every offset these helpers return is a `char` boundary of the input.

use std::ops::Range;

/// XML 1.0 white space (production S).
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Advances `pos` past white space; returns whether there was any.
pub(super) fn skip_space(bytes: &[u8], pos: &mut usize) -> bool {
    let start = *pos;
    while bytes.get(*pos).copied().is_some_and(is_space) {
        *pos += 1;
    }
    *pos > start
}

/// The end of a name starting at `pos`: the first white space or markup delimiter. What lies
/// between is checked by the caller against the name rules, so stray characters (`<`, `&`,
/// `"`) end up in the name and make it invalid rather than being skipped.
pub(super) fn name_end(bytes: &[u8], pos: usize) -> usize {
    let rest = bytes.get(pos..).unwrap_or_default();
    pos + rest
        .iter()
        .position(|&b| is_space(b) || matches!(b, b'=' | b'>' | b'/' | b'?' | b'"' | b'\''))
        .unwrap_or(rest.len())
}

/// A `name="value"` pair: the name and the value between the quotes, as byte ranges.
pub(super) struct RawAttr {
    pub(super) name: Range<usize>,
    pub(super) value: Range<usize>,
}

/// Where and why an attribute list did not scan.
pub(super) type ScanError = (usize, &'static str);

/// Reads the next attribute of a start tag (or pseudo-attribute of the XML declaration) at
/// `pos`. `Ok(None)` when the list ends: `pos` then points at the `>`, `/` or `?` that closes
/// the tag, which the caller checks. XML 1.0 [40], [44]: attributes are separated by white
/// space (`<a x="1"y="2"/>` is refused, as libxml2 refuses it).
pub(super) fn next_attribute(bytes: &[u8], pos: &mut usize) -> Result<Option<RawAttr>, ScanError> {
    let spaced = skip_space(bytes, pos);
    match bytes.get(*pos) {
        None => return Err((*pos, "tag is not closed")),
        Some(b'>' | b'/' | b'?') => return Ok(None),
        Some(_) if !spaced => return Err((*pos, "attributes must be separated by white space")),
        Some(_) => {}
    }
    let name_start = *pos;
    *pos = name_end(bytes, name_start);
    if *pos == name_start {
        return Err((*pos, "attribute without a name"));
    }
    let name = name_start..*pos;
    skip_space(bytes, pos);
    if bytes.get(*pos) != Some(&b'=') {
        return Err((*pos, "attribute without a value"));
    }
    *pos += 1;
    skip_space(bytes, pos);
    let quote = match bytes.get(*pos) {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => return Err((*pos, "attribute value is not quoted")),
    };
    let value_start = *pos + 1;
    let rest = bytes.get(value_start..).unwrap_or_default();
    let Some(len) = memchr::memchr(quote, rest) else {
        return Err((*pos, "attribute value is not closed"));
    };
    *pos = value_start + len + 1;
    Ok(Some(RawAttr {
        name,
        value: value_start..value_start + len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(tag: &str) -> Result<Vec<(&str, &str)>, &'static str> {
        let bytes = tag.as_bytes();
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(a) = next_attribute(bytes, &mut pos).map_err(|e| e.1)? {
            out.push((&tag[a.name], &tag[a.value]));
        }
        Ok(out)
    }

    #[test]
    fn attribute_lists() {
        assert_eq!(
            scan(r#" a="1" b='"' c="'" d = "x" />"#),
            Ok(vec![("a", "1"), ("b", "\""), ("c", "'"), ("d", "x")])
        );
        assert_eq!(scan(">"), Ok(vec![]));
        assert_eq!(scan(" ?>"), Ok(vec![]));
        assert!(scan(r#" a="1"b="2">"#).is_err());
        assert!(scan(r#" a=1>"#).is_err());
        assert!(scan(r#" a>"#).is_err());
        assert!(scan(r#" ="1">"#).is_err());
        assert!(scan(r#" a="1"#).is_err());
        assert!(scan(r#" a="1""#).is_err());
    }
}
