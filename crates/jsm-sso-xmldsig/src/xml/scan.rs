//! Byte-level scanning of markup: white space, names and `name="value"` pairs.
//!
//! The parser works on the whole (UTF-8 checked, line-end normalised) input as bytes. Every
//! delimiter is ASCII, so every offset these helpers return is a `char` boundary of the input.

use std::ops::Range;

use super::names::{ascii_class, split_qname};

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
        .position(|&b| is_delimiter(b))
        .unwrap_or(rest.len())
}

/// Whether `b` ends a name (see [`name_end`]).
fn is_delimiter(b: u8) -> bool {
    is_space(b) || matches!(b, b'=' | b'>' | b'/' | b'?' | b'"' | b'\'')
}

/// A qualified name starting at `pos`, the same as [`name_end`] then
/// [`split_qname`](super::names::split_qname) but in one pass for the usual ASCII names:
/// where it ends, and its prefix and local part if it is a valid QName.
pub(super) fn qname(src: &str, pos: usize) -> (usize, Option<(Option<&str>, &str)>) {
    let bytes = src.as_bytes();
    let mut colon = None;
    let mut at_start = true;
    let mut i = pos;
    while let Some(&b) = bytes.get(i) {
        match ascii_class(b) {
            Some(2) => {}
            Some(1) if !at_start => {}
            _ if b == b':' && colon.is_none() && !at_start => {
                colon = Some(i);
                at_start = true;
                i += 1;
                continue;
            }
            _ if is_delimiter(b) => break,
            // Non-ASCII, or a character no name may hold here: the full rules decide.
            _ => {
                let end = name_end(bytes, pos);
                return (end, split_qname(src.get(pos..end).unwrap_or_default()));
            }
        }
        at_start = false;
        i += 1;
    }
    if at_start {
        return (i, None);
    }
    let split = match colon {
        Some(c) => src.get(pos..c).map(Some).zip(src.get(c + 1..i)),
        None => src.get(pos..i).map(|local| (None, local)),
    };
    (i, split)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether the eight bytes of `word` hold one of `needles` or, with `controls`, a byte below
/// 0x20. Exact as to whether there is one (borrows only spread from a byte that matched).
#[inline]
fn word_has(word: u64, needles: &[u8], controls: bool) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut hit = if controls {
        word.wrapping_sub(0x20 * ONES) & !word & HIGHS
    } else {
        0
    };
    for &needle in needles {
        hit |= zero(word ^ (ONES * u64::from(needle)));
    }
    hit != 0
}

/// Whether `bytes` holds one of `needles` (or, with `controls`, a byte below 0x20), eight bytes
/// at a time: for the short names, values and text of SAML, where a vector search costs more
/// in setting up than it saves.
#[inline]
pub(crate) fn any_special(bytes: &[u8], needles: &[u8], controls: bool) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_has(u64::from_le_bytes(word), needles, controls) {
            return true;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return false;
    }
    let mut word = [b' '; 8];
    match bytes
        .len()
        .checked_sub(8)
        .and_then(|start| bytes.get(start..))
    {
        // The last eight bytes, overlapping words already checked.
        Some(last) => word.copy_from_slice(last),
        // Fewer than eight: padded with spaces, which are neither a needle nor a control.
        None => {
            for (slot, &b) in word.iter_mut().zip(rest) {
                *slot = b;
            }
        }
    }
    word_has(u64::from_le_bytes(word), needles, controls)
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
    fn qnames_scan_like_name_end_then_split_qname() {
        for tag in [
            "a>",
            "a:b c",
            "a:b:c/",
            "a::b ",
            ":a>",
            "a:>",
            "1a ",
            "a1",
            "été:x>",
            "a:été ",
            "a<b>",
            "a&b ",
            "x-y.z_1:q ",
            "",
            ">",
            "a\tb",
            "a:1 ",
            "a.b:c.d?",
            "é b",
            "ab\u{B7}c ",
        ] {
            let end = name_end(tag.as_bytes(), 0);
            let expected = (end, split_qname(&tag[..end]));
            assert_eq!(qname(tag, 0), expected, "{tag:?}");
        }
    }

    /// The word-at-a-time check agrees with a byte-by-byte one at every length and offset.
    #[test]
    fn short_string_check_finds_every_special_byte() {
        for len in 0..24 {
            for at in 0..len {
                for b in 0u8..128 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let text = matches!(b, b'&' | b'<' | b'>' | b'\r');
                    assert_eq!(any_special(&bytes, b"&<>\r", false), text, "{len} {at} {b}");
                    let attr = matches!(b, b'&' | b'<' | b'"') || b < 0x20;
                    assert_eq!(any_special(&bytes, b"&<\"", true), attr, "{len} {at} {b}");
                }
            }
            assert!(!any_special(&vec![b'a'; len], b"&<\"", true));
        }
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
