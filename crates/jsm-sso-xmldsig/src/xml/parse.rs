//! The hardened parser: one pass over the bytes, a namespace-resolved [`Document`] out.
//!
//! Everything a SAML message never needs is refused rather than handled: DTDs, entities beyond
//! the five predefined ones, undeclared prefixes, duplicate attributes, control characters,
//! encodings other than UTF-8. Limits bound the work any input can cause.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::names::{is_valid_ncname, split_qname};
use super::scan::{any_special, is_space, name_end, next_attribute, qname, skip_space};
use super::tree::{
    Attr, Document, ElementData, NO_NAMESPACE, NodeId, NodeKind, NsDecl, NsId, RawNode, SourceSpan,
    Span, XML_NAMESPACE, XML_NAMESPACE_URI,
};
use crate::error::XmlError;

const XMLNS_NAMESPACE_URI: &str = "http://www.w3.org/2000/xmlns/";

/// Bounds on what a document may cost to parse. The defaults suit SAML messages and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_bytes: usize,
    max_depth: usize,
    max_attributes: usize,
    max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 2 * 1024 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_nodes: 100_000,
        }
    }
}

impl Limits {
    /// Largest accepted input in bytes (default 2 MiB).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Deepest accepted element nesting (default 64).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Most attributes on one element, namespace declarations included (default 64).
    pub fn max_attributes(&self) -> usize {
        self.max_attributes
    }

    /// Most nodes (elements, text, comments, processing instructions) in one document
    /// (default 100,000).
    pub fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    /// Sets the largest accepted input in bytes (at least 1, at most 256 MiB).
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.clamp(1, 256 * 1024 * 1024);
        self
    }

    /// Sets the deepest accepted element nesting (at least 1, at most 1024).
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth.clamp(1, 1024);
        self
    }

    /// Sets the most attributes on one element (at least 1, at most 4096).
    pub fn with_max_attributes(mut self, attributes: usize) -> Self {
        self.max_attributes = attributes.clamp(1, 4096);
        self
    }

    /// Sets the most nodes in one document (at least 1, at most 10,000,000).
    pub fn with_max_nodes(mut self, nodes: usize) -> Self {
        self.max_nodes = nodes.clamp(1, 10_000_000);
        self
    }
}

impl Document {
    /// Parses `input` (UTF-8 XML 1.0), refusing anything outside the hardened subset.
    ///
    /// ```
    /// use jsm_sso_xmldsig::{Document, Limits};
    /// let doc = Document::parse(br#"<a xmlns="urn:x"><b>1 &amp; 2</b></a>"#, &Limits::default())?;
    /// assert_eq!(doc.root().child("urn:x", "b").map(|b| b.text().into_owned()), Some("1 & 2".into()));
    /// assert!(Document::parse(b"<!DOCTYPE a []><a/>", &Limits::default()).is_err());
    /// # Ok::<(), jsm_sso_xmldsig::XmlError>(())
    /// ```
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        if input.len() > limits.max_bytes {
            return Err(XmlError::TooLarge {
                size: input.len(),
                limit: limits.max_bytes,
            });
        }
        let text = std::str::from_utf8(input).map_err(|e| XmlError::Utf8 {
            position: e.valid_up_to(),
        })?;
        check_chars(text)?;
        let text = normalize_line_endings(text);
        Builder::new(&text, *limits).run()
    }
}

/// Refuses characters XML 1.0 does not allow anywhere: C0 controls other than tab, line feed
/// and carriage return, and U+FFFE / U+FFFF. (Surrogates cannot occur in a `str`.)
fn check_chars(text: &str) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    // Eight bytes at a time, with per-byte exact tests (no borrows between bytes): a word goes
    // to the byte-by-byte check only if it holds a control other than tab, line feed and
    // carriage return, or 0xEF (the lead byte of U+FFFE / U+FFFF), which real documents
    // almost never do.
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // High bit of each byte set where the byte equals `c`.
    let eq = |x: u64, c: u8| {
        let y = x ^ (ONES * u64::from(c));
        !(((y & LOW7) + LOW7) | y) & HIGH
    };
    let mut start = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A cheap test first (may flag a byte next to a real hit), then the exact one.
        let ef = x ^ (0xEF * ONES);
        let maybe = (x.wrapping_sub(0x20 * ONES) & !x) | (ef.wrapping_sub(ONES) & !ef);
        if maybe & HIGH != 0 {
            // High bit set where the byte is below 0x20.
            let below_space = !(((x & LOW7) + (0x60 * ONES)) | x) & HIGH;
            let allowed = eq(x, b'\t') | eq(x, b'\n') | eq(x, b'\r');
            if (below_space & !allowed) | eq(x, 0xEF) != 0 {
                check_chars_slow(text, start, start + 8)?;
            }
        }
        start += 8;
    }
    check_chars_slow(text, start, bytes.len())
}

/// Byte-by-byte check of `text[from..to]` (the bytes after `to` are read for U+FFFE/U+FFFF).
fn check_chars_slow(text: &str, from: usize, to: usize) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    for position in from..to {
        let Some(&b) = bytes.get(position) else {
            break;
        };
        let bad = match b {
            b'\t' | b'\n' | b'\r' => false,
            0..=0x1F => true,
            0xEF => matches!(
                (bytes.get(position + 1), bytes.get(position + 2)),
                (Some(0xBF), Some(0xBE | 0xBF))
            ),
            _ => false,
        };
        if bad {
            let code = text
                .get(position..)
                .and_then(|s| s.chars().next())
                .map_or(u32::from(b), u32::from);
            return Err(XmlError::Char { code, position });
        }
    }
    Ok(())
}

/// XML 2.11: every `\r\n` and lone `\r` reads as `\n`, before parsing.
fn normalize_line_endings(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0 [23]-[32]: `version="1.0"`, then optionally `encoding` (only UTF-8 here) and
/// `standalone` (`yes` or `no`), in that order, separated by white space. `pos` is just after
/// `<?xml`; returns the position after the closing `?>`.
fn check_declaration(src: &str, mut pos: usize) -> Result<usize, XmlError> {
    const NAMES: [&str; 3] = ["version", "encoding", "standalone"];
    let refuse = |detail: String| XmlError::Declaration { detail };
    let bytes = src.as_bytes();
    let mut next = 0;
    while let Some(attr) =
        next_attribute(bytes, &mut pos).map_err(|(_, why)| refuse(why.to_owned()))?
    {
        let name = src.get(attr.name).unwrap_or_default();
        let value = src.get(attr.value).unwrap_or_default();
        let index = NAMES.iter().position(|n| *n == name);
        match index {
            Some(i) if i >= next && (next > 0 || i == 0) => next = i + 1,
            _ => {
                return Err(refuse(format!(
                    "unexpected {name} (version, encoding, standalone in that order)"
                )));
            }
        }
        let ok = match index {
            Some(0) => value == "1.0",
            Some(1) => value.eq_ignore_ascii_case("utf-8"),
            _ => matches!(value, "yes" | "no"),
        };
        if !ok {
            return Err(refuse(format!("{name} {value}")));
        }
    }
    if bytes.get(pos..pos + 2) != Some(b"?>".as_slice()) {
        return Err(refuse("not closed with ?>".into()));
    }
    if next == 0 {
        return Err(refuse("version missing".into()));
    }
    Ok(pos + 2)
}

/// Resolves the body of a reference (`amp`, `#x41`, `#65`) to its character.
fn resolve_reference(name: &str) -> Result<char, XmlError> {
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => match name.strip_prefix('#') {
            Some(number) => {
                let value = match number.strip_prefix('x') {
                    Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        u32::from_str_radix(hex, 16).ok()
                    }
                    None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                        number.parse::<u32>().ok()
                    }
                    _ => None,
                };
                value
                    .and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or_else(|| XmlError::CharRef {
                        reference: name.to_owned(),
                    })
            }
            None => Err(XmlError::Entity {
                name: name.to_owned(),
            }),
        },
    }
}

/// One binding in scope while parsing.
struct Binding {
    /// Empty for the default namespace.
    prefix: Span,
    uri: NsId,
}

/// An attribute of the start tag being processed, before its prefix is resolved.
struct PendingAttr {
    prefix: Span,
    local: Span,
    value: Span,
}

/// An element whose end tag is still to come.
struct Open {
    id: NodeId,
    /// Its name as written, for matching the end tag.
    qname: Range<usize>,
}

struct Builder<'s> {
    src: &'s str,
    limits: Limits,
    doc: Document,
    /// Open elements, innermost last.
    open: Vec<Open>,
    /// Namespace bindings in scope, innermost last; `scope_marks` says where each open
    /// element's bindings start.
    scope: Vec<Binding>,
    scope_marks: Vec<usize>,
    root: Option<NodeId>,
    pending: Vec<PendingAttr>,
    /// Attribute names of the start tag being processed, as written (literal duplicates).
    raw_names: Vec<Range<usize>>,
    /// `xml:id` values seen so far (SAML never uses them; empty in practice).
    xml_ids: HashSet<String>,
}

fn span(range: Range<usize>) -> Span {
    Span {
        start: to_u32(range.start),
        end: to_u32(range.end),
    }
}

fn malformed(position: usize, detail: impl Into<String>) -> XmlError {
    XmlError::Malformed {
        position,
        detail: detail.into(),
    }
}

impl<'s> Builder<'s> {
    fn new(src: &'s str, limits: Limits) -> Self {
        // The input is the start of the string buffer: names, and text and values without
        // references, are spans into it; only decoded text and values are appended.
        let mut buf = String::with_capacity(src.len() + src.len() / 16 + 64);
        buf.push_str(src);
        let mut doc = Document {
            buf,
            nodes: Vec::with_capacity(src.len() / 24 + 4),
            attrs: Vec::with_capacity(src.len() / 64 + 4),
            ns_decls: Vec::new(),
            ns_uris: Vec::new(),
            root: 0,
        };
        doc.nodes.push(RawNode {
            parent: 0,
            end: 1,
            kind: NodeKind::Document,
        });
        doc.ns_uris.push(Span::default());
        let mut builder = Builder {
            src,
            limits,
            doc,
            open: Vec::new(),
            scope: Vec::new(),
            scope_marks: Vec::new(),
            root: None,
            pending: Vec::new(),
            raw_names: Vec::new(),
            xml_ids: HashSet::new(),
        };
        let xml = builder.push_str(XML_NAMESPACE_URI);
        builder.doc.ns_uris.push(xml);
        builder
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.doc.buf.len();
        self.doc.buf.push_str(s);
        span(start..self.doc.buf.len())
    }

    /// One pass over the input: character data up to the next `<`, then the markup it opens.
    fn run(mut self) -> Result<Document, XmlError> {
        let bytes = self.src.as_bytes();
        let mut pos = 0;
        loop {
            let rest = bytes.get(pos..).unwrap_or_default();
            let lt = memchr::memchr(b'<', rest).map_or(bytes.len(), |i| pos + i);
            if lt > pos {
                self.text(pos..lt)?;
            }
            if lt >= bytes.len() {
                break;
            }
            pos = match bytes.get(lt + 1) {
                Some(b'/') => self.end_tag(lt)?,
                Some(b'?') => self.pi(lt)?,
                Some(b'!') => self.bang(lt)?,
                _ => self.start_tag(lt)?,
            };
        }
        if !self.open.is_empty() {
            return Err(malformed(bytes.len(), "document ends inside an element"));
        }
        let Some(root) = self.root else {
            return Err(malformed(bytes.len(), "no root element"));
        };
        self.doc.root = root;
        let count = to_u32(self.doc.nodes.len());
        if let Some(document) = self.doc.nodes.first_mut() {
            document.end = count;
        }
        Ok(self.doc)
    }

    fn push_node(&mut self, kind: NodeKind) -> Result<NodeId, XmlError> {
        if self.doc.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = to_u32(self.doc.nodes.len());
        let parent = self.open.last().map_or(0, |o| o.id);
        self.doc.nodes.push(RawNode {
            parent,
            end: id + 1,
            kind,
        });
        Ok(id)
    }

    /// Character data between two pieces of markup: one text node, as in the XPath data model
    /// c14n is defined on (references do not split it).
    fn text(&mut self, range: Range<usize>) -> Result<(), XmlError> {
        let src = self.src;
        let raw = src.get(range.clone()).unwrap_or_default();
        let bytes = raw.as_bytes();
        if self.open.is_empty() {
            if bytes.iter().copied().all(is_space) {
                return Ok(());
            }
            return Err(malformed(range.start, "text outside the root element"));
        }
        // Short segments (the text of most elements) are checked a word at a time.
        let (bracket, amp) = if bytes.len() < 64 {
            if any_special(bytes, b"]&", false) {
                (
                    memchr::memchr(b']', bytes).is_some(),
                    memchr::memchr(b'&', bytes).is_some(),
                )
            } else {
                (false, false)
            }
        } else {
            (
                memchr::memchr(b']', bytes).is_some(),
                memchr::memchr(b'&', bytes).is_some(),
            )
        };
        if bracket && memchr::memmem::find(bytes, b"]]>").is_some() {
            return Err(malformed(range.start, "']]>' in character data"));
        }
        let text = if amp {
            self.decode_text(raw, range.start)?
        } else {
            span(range)
        };
        self.push_node(NodeKind::Text(text))?;
        Ok(())
    }

    /// Appends `raw` with its references resolved.
    fn decode_text(&mut self, raw: &str, position: usize) -> Result<Span, XmlError> {
        let start = self.doc.buf.len();
        let mut rest = raw;
        while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
            self.doc.buf.push_str(rest.get(..amp).unwrap_or_default());
            let body = rest.get(amp + 1..).unwrap_or_default();
            let name = match memchr::memchr(b';', body.as_bytes()) {
                Some(semi) => body.get(..semi).unwrap_or_default(),
                None => return Err(malformed(position, "unterminated reference")),
            };
            if name.is_empty() || name.bytes().any(is_space) {
                return Err(malformed(position, "malformed reference"));
            }
            self.doc.buf.push(resolve_reference(name)?);
            rest = body.get(name.len() + 1..).unwrap_or_default();
        }
        self.doc.buf.push_str(rest);
        Ok(span(start..self.doc.buf.len()))
    }

    /// Comments, CDATA sections, and the DOCTYPE that is refused.
    fn bang(&mut self, lt: usize) -> Result<usize, XmlError> {
        let bytes = self.src.as_bytes();
        let markup = bytes.get(lt..).unwrap_or_default();
        if markup.starts_with(b"<!--") {
            let start = lt + 4;
            let body = bytes.get(start..).unwrap_or_default();
            let Some(dashes) = memchr::memmem::find(body, b"--") else {
                return Err(malformed(lt, "comment is not closed"));
            };
            if body.get(dashes + 2) != Some(&b'>') {
                return Err(malformed(start + dashes, "'--' inside a comment"));
            }
            self.push_node(NodeKind::Comment(span(start..start + dashes)))?;
            Ok(start + dashes + 3)
        } else if markup.starts_with(b"<![CDATA[") {
            if self.open.is_empty() {
                return Err(malformed(lt, "cdata outside the root element"));
            }
            let start = lt + 9;
            let body = bytes.get(start..).unwrap_or_default();
            let Some(len) = memchr::memmem::find(body, b"]]>") else {
                return Err(malformed(lt, "cdata section is not closed"));
            };
            self.push_node(NodeKind::CData(span(start..start + len)))?;
            Ok(start + len + 3)
        } else if markup
            .get(2..9)
            .is_some_and(|d| d.eq_ignore_ascii_case(b"DOCTYPE"))
        {
            Err(XmlError::Doctype)
        } else {
            Err(malformed(lt, "unknown markup after '<!'"))
        }
    }

    /// Processing instructions, and the XML declaration at the very start.
    fn pi(&mut self, lt: usize) -> Result<usize, XmlError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let target_start = lt + 2;
        let target_end = name_end(bytes, target_start);
        let target = src.get(target_start..target_end).unwrap_or_default();
        if target == "xml" && lt == 0 {
            return check_declaration(src, target_end);
        }
        if target.eq_ignore_ascii_case("xml") {
            return Err(malformed(
                lt,
                "xml declaration not at the start of the document",
            ));
        }
        if !is_valid_ncname(target) {
            return Err(XmlError::Name {
                name: target.to_owned(),
            });
        }
        let after = bytes.get(target_end..).unwrap_or_default();
        let Some(close) = memchr::memmem::find(after, b"?>") else {
            return Err(malformed(lt, "processing instruction is not closed"));
        };
        let close = target_end + close;
        // Only XML white space separates target and data (XML 2.6); Unicode white space such
        // as U+00A0 or U+3000 belongs to the data.
        let mut data_start = target_end;
        if data_start < close && !skip_space(bytes, &mut data_start) {
            return Err(malformed(target_end, "white space must follow the target"));
        }
        self.push_node(NodeKind::Pi {
            target: span(target_start..target_end),
            data: span(data_start.min(close)..close),
        })?;
        Ok(close + 2)
    }

    fn lookup(&self, prefix: &str) -> Option<NsId> {
        self.scope
            .iter()
            .rev()
            .find(|b| self.doc.str(b.prefix) == prefix)
            .map(|b| b.uri)
    }

    fn intern_ns(&mut self, value: Span) -> NsId {
        if value.is_empty() {
            return NO_NAMESPACE;
        }
        if let Some(id) = self.doc.find_ns(self.doc.str(value)) {
            return id;
        }
        self.doc.ns_uris.push(value);
        to_u32(self.doc.ns_uris.len() - 1)
    }

    /// Decodes an attribute value: references resolved, literal white space normalised to a
    /// space (XML 3.3.3; line endings were normalised already), `<` refused.
    fn attr_value(&mut self, range: Range<usize>, position: usize) -> Result<Span, XmlError> {
        let raw = self.src.get(range.clone()).unwrap_or_default();
        let bytes = raw.as_bytes();
        // Line endings are normalised already, so the only controls left are tab and line feed.
        let special = if bytes.len() < 64 {
            any_special(bytes, b"&<", true)
        } else {
            memchr::memchr3(b'&', b'<', b'\t', bytes).is_some()
                || memchr::memchr(b'\n', bytes).is_some()
        };
        if !special {
            return Ok(span(range));
        }
        let start = self.doc.buf.len();
        let mut rest = raw;
        // A byte search: the four delimiters are ASCII, so `i` is always a char boundary.
        while let Some(i) = rest
            .bytes()
            .position(|b| matches!(b, b'&' | b'<' | b'\t' | b'\n'))
        {
            self.doc.buf.push_str(rest.get(..i).unwrap_or_default());
            let from = rest.get(i..).unwrap_or_default();
            let mut chars = from.chars();
            match chars.next() {
                Some('&') => {
                    let body = chars.as_str();
                    let Some(semi) = body.find(';') else {
                        return Err(malformed(position, "unterminated reference in attribute"));
                    };
                    let name = body.get(..semi).unwrap_or_default();
                    self.doc.buf.push(resolve_reference(name)?);
                    rest = body.get(semi + 1..).unwrap_or_default();
                }
                Some('<') => return Err(malformed(position, "'<' in attribute value")),
                _ => {
                    self.doc.buf.push(' ');
                    rest = chars.as_str();
                }
            }
        }
        self.doc.buf.push_str(rest);
        Ok(span(start..self.doc.buf.len()))
    }

    fn start_tag(&mut self, lt: usize) -> Result<usize, XmlError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err(malformed(lt, "more than one root element"));
        }
        let src = self.src;
        let bytes = src.as_bytes();
        let name_start = lt + 1;
        let (qname_end, split) = qname(src, name_start);
        let Some((prefix, local)) = split else {
            return Err(XmlError::Name {
                name: src
                    .get(name_start..qname_end)
                    .unwrap_or_default()
                    .to_owned(),
            });
        };
        let scope_mark = self.scope.len();
        let decls_start = to_u32(self.doc.ns_decls.len());
        self.pending.clear();
        self.raw_names.clear();
        let mut pos = qname_end;
        while let Some(attr) =
            next_attribute(bytes, &mut pos).map_err(|(at, why)| malformed(at, why))?
        {
            let key = src.get(attr.name.clone()).unwrap_or_default();
            if self
                .raw_names
                .iter()
                .any(|r| src.get(r.clone()) == Some(key))
            {
                return Err(XmlError::DuplicateAttribute {
                    name: key.to_owned(),
                });
            }
            if self.raw_names.len() >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            self.raw_names.push(attr.name.clone());
            let Some((attr_prefix, attr_local)) = split_qname(key) else {
                return Err(XmlError::Name {
                    name: key.to_owned(),
                });
            };
            let value = self.attr_value(attr.value, lt)?;
            let local_span = span(attr.name.end - attr_local.len()..attr.name.end);
            match (attr_prefix, attr_local) {
                (None, "xmlns") => self.declare(Span::default(), "", value)?,
                (Some("xmlns"), declared) => self.declare(local_span, declared, value)?,
                _ => {
                    let prefix = attr_prefix.map_or(Span::default(), |p| {
                        span(attr.name.start..attr.name.start + p.len())
                    });
                    self.pending.push(PendingAttr {
                        prefix,
                        local: local_span,
                        value,
                    });
                }
            }
        }
        let is_empty = match bytes.get(pos) {
            Some(b'>') => false,
            Some(b'/') if bytes.get(pos + 1) == Some(&b'>') => {
                pos += 1;
                true
            }
            _ => return Err(malformed(pos, "start tag is not closed")),
        };
        let tag_end = pos + 1;
        let decls_end = to_u32(self.doc.ns_decls.len());

        let ns = self.resolve_prefix(prefix.unwrap_or(""), prefix.is_some())?;
        let attrs_start = to_u32(self.doc.attrs.len());
        for i in 0..self.pending.len() {
            let Some(pending) = self.pending.get(i) else {
                break;
            };
            let (p, local, value) = (pending.prefix, pending.local, pending.value);
            let attr_ns = if p.is_empty() {
                NO_NAMESPACE
            } else {
                self.resolve_prefix(self.doc.str(p), true)?
            };
            let duplicate = self
                .doc
                .attrs
                .get(attrs_start as usize..)
                .unwrap_or_default()
                .iter()
                .any(|a| a.ns == attr_ns && self.doc.str(a.local) == self.doc.str(local));
            if duplicate {
                return Err(XmlError::DuplicateAttribute {
                    name: self.doc.str(local).to_owned(),
                });
            }
            if attr_ns == XML_NAMESPACE && self.doc.str(local) == "id" {
                self.check_xml_id(value, lt)?;
            }
            self.doc.attrs.push(Attr {
                prefix: p,
                local,
                ns: attr_ns,
                value,
            });
        }
        let attrs_end = to_u32(self.doc.attrs.len());

        let prefix = prefix.map_or(Span::default(), |p| span(name_start..name_start + p.len()));
        let local = span(qname_end - local.len()..qname_end);
        let id = self.push_node(NodeKind::Element(ElementData {
            prefix,
            local,
            ns,
            attrs: attrs_start..attrs_end,
            ns_decls: decls_start..decls_end,
            source: SourceSpan {
                start_tag_end: to_u32(tag_end),
                end: to_u32(tag_end),
            },
        }))?;
        if self.open.is_empty() {
            self.root = Some(id);
        }
        if is_empty {
            self.scope.truncate(scope_mark);
        } else {
            self.open.push(Open {
                id,
                qname: name_start..qname_end,
            });
            self.scope_marks.push(scope_mark);
        }
        Ok(tag_end)
    }

    fn end_tag(&mut self, lt: usize) -> Result<usize, XmlError> {
        let src = self.src;
        let bytes = src.as_bytes();
        let name_start = lt + 2;
        let qname_end = name_end(bytes, name_start);
        let mut pos = qname_end;
        skip_space(bytes, &mut pos);
        if bytes.get(pos) != Some(&b'>') {
            return Err(malformed(pos, "end tag is not closed"));
        }
        let end = pos + 1;
        let Some(open) = self.open.pop() else {
            return Err(malformed(lt, "end tag without a start tag"));
        };
        if src.get(open.qname) != src.get(name_start..qname_end) {
            return Err(malformed(lt, "end tag does not match the start tag"));
        }
        let mark = self.scope_marks.pop().unwrap_or(0);
        self.scope.truncate(mark);
        let count = to_u32(self.doc.nodes.len());
        if let Some(node) = self.doc.nodes.get_mut(open.id as usize) {
            node.end = count;
            if let NodeKind::Element(data) = &mut node.kind {
                data.source.end = to_u32(end);
            }
        }
        Ok(end)
    }

    /// `xml:id` (W3C xml:id 1.0, as libxml2 enforces it): the value, spaces trimmed, is an
    /// NCName, and no two elements share one.
    fn check_xml_id(&mut self, value: Span, position: usize) -> Result<(), XmlError> {
        let id = self.doc.str(value).trim_matches(' ');
        if !is_valid_ncname(id) {
            return Err(XmlError::Name {
                name: id.to_owned(),
            });
        }
        if !self.xml_ids.insert(id.to_owned()) {
            return Err(malformed(position, format!("xml:id {id:?} is used twice")));
        }
        Ok(())
    }

    /// Resolves a prefix of an element (`for_attribute` false) or attribute name.
    fn resolve_prefix(&self, prefix: &str, explicit: bool) -> Result<NsId, XmlError> {
        match prefix {
            "xml" => Ok(XML_NAMESPACE),
            "xmlns" => Err(XmlError::Namespace {
                detail: "the xmlns prefix cannot name an element or attribute",
            }),
            _ => match self.lookup(prefix) {
                Some(ns) => Ok(ns),
                None if !explicit => Ok(NO_NAMESPACE),
                None => Err(XmlError::UndeclaredPrefix {
                    prefix: prefix.to_owned(),
                }),
            },
        }
    }

    /// Records `xmlns:prefix="uri"` (or `xmlns="uri"` for an empty prefix).
    fn declare(&mut self, prefix_span: Span, prefix: &str, value: Span) -> Result<(), XmlError> {
        let uri = self.doc.str(value);
        if prefix == "xmlns" {
            return Err(XmlError::Namespace {
                detail: "the xmlns prefix cannot be declared",
            });
        }
        if uri == XMLNS_NAMESPACE_URI {
            return Err(XmlError::Namespace {
                detail: "the xmlns namespace cannot be bound",
            });
        }
        if (prefix == "xml") != (uri == XML_NAMESPACE_URI) {
            return Err(XmlError::Namespace {
                detail: "the xml prefix and the xml namespace belong only to each other",
            });
        }
        if prefix == "xml" {
            // Binding xml to its own namespace is allowed and changes nothing.
            return Ok(());
        }
        if !prefix.is_empty() && uri.is_empty() {
            return Err(XmlError::Namespace {
                detail: "a prefix cannot be un-declared in xml 1.0",
            });
        }
        // Every interned URI passed this check when it was first declared.
        let known = self.doc.find_ns(uri);
        if !uri.is_empty() && known.is_none() && !is_absolute_uri(uri) {
            // Canonical XML 1.0, 2.1: implementations "MUST report an operation failure on
            // documents containing relative namespace URIs". Canonicalization cannot fail, so
            // such documents are refused here, before anything is signed or verified. Names
            // that are not URIs at all (spaces, quotes, non-ASCII) are refused as libxml2
            // refuses them, so that xmlsec and we never disagree on what a document is.
            return Err(XmlError::Namespace {
                detail: "a namespace name must be an absolute uri (rfc 3986)",
            });
        }
        let uri = match known {
            Some(id) => id,
            None => self.intern_ns(value),
        };
        self.scope.push(Binding {
            prefix: prefix_span,
            uri,
        });
        self.doc.ns_decls.push(NsDecl {
            prefix: prefix_span,
            uri,
        });
        Ok(())
    }
}

/// Whether `uri` is an absolute URI (RFC 3986, 4.3, with fragment allowed): a scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`), then only characters a URI may contain:
/// unreserved, reserved, and `%` with two hex digits.
fn is_absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut scheme = scheme.bytes();
    if !(scheme.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    {
        return false;
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let ok = match b {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 2;
                true
            }
            _ => {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'.' | b'_' | b'~' // unreserved
                        | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' // gen-delims
                        | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                    )
            }
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    // One fragment at most; brackets only around an IP literal in the authority.
    let path = match rest.strip_prefix("//") {
        Some(hier) => hier.get(hier.find(['/', '?', '#']).unwrap_or(hier.len())..),
        None => Some(rest),
    };
    rest.matches('#').count() <= 1
        && !path.unwrap_or_default().contains(['[', ']'])
        && authority_is_valid(rest)
}

/// The authority of a hierarchical URI (`//[userinfo@]host[:port]`): a port is digits, an
/// IP literal is bracketed, and `@`, `[` or `]` appear nowhere else -- as libxml2 checks it.
fn authority_is_valid(after_scheme: &str) -> bool {
    let Some(hier) = after_scheme.strip_prefix("//") else {
        return true;
    };
    let end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
    let authority = hier.get(..end).unwrap_or_default();
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            if userinfo.contains(['@', '[', ']']) {
                return false;
            }
            host_port
        }
        None => authority,
    };
    let (host, port) = match host_port.strip_prefix('[') {
        Some(literal) => {
            let Some((_, after)) = literal.split_once(']') else {
                return false;
            };
            match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None if after.is_empty() => ("", None),
                None => return false,
            }
        }
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && !host.contains(['@', '[', ']'])
}

/// Offsets fit in `u32`: inputs are capped far below 4 GiB and decoded text never grows.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Node;
    use jsm_sso_core::CodedError;

    #[test]
    fn char_check_finds_bad_characters_at_every_offset_of_a_word() {
        for len in 0..24 {
            for at in 0..len {
                let mut text = "a".repeat(len);
                text.replace_range(at..=at, "\u{1}");
                assert_eq!(
                    check_chars(&text),
                    Err(XmlError::Char {
                        code: 1,
                        position: at
                    }),
                    "len {len} at {at}"
                );
            }
            for code in 0..0x20u8 {
                for at in 0..len {
                    let mut text = "a".repeat(len);
                    text.replace_range(at..=at, &char::from(code).to_string());
                    let expected = if matches!(code, b'\t' | b'\n' | b'\r') {
                        Ok(())
                    } else {
                        Err(XmlError::Char {
                            code: u32::from(code),
                            position: at,
                        })
                    };
                    assert_eq!(
                        check_chars(&text),
                        expected,
                        "len {len} at {at} code {code}"
                    );
                }
            }
            let mut ok = "a".repeat(len);
            ok.push_str("\t\n\r\u{FFFD}\u{EFFF}");
            assert_eq!(check_chars(&ok), Ok(()));
        }
        // U+FFFF (EF BF BF) straddling a word boundary.
        for at in 0..12 {
            let text = format!("{}\u{FFFF}abcdefgh", "a".repeat(at));
            assert_eq!(
                check_chars(&text),
                Err(XmlError::Char {
                    code: 0xFFFF,
                    position: at
                })
            );
            let text = format!("{}\u{FFFE}", "a".repeat(at));
            assert_eq!(
                check_chars(&text),
                Err(XmlError::Char {
                    code: 0xFFFE,
                    position: at
                })
            );
        }
    }

    fn parse(xml: &str) -> Result<Document, XmlError> {
        Document::parse(xml.as_bytes(), &Limits::default())
    }

    /// Regression: the PI data was cut with `str::trim_start`, which also strips Unicode white
    /// space (U+00A0, U+3000, U+2028...) that belongs to the data; only XML's S separates the
    /// target from the data. libxml2 keeps it, so signatures over such PIs failed to verify.
    #[test]
    fn pi_data_keeps_leading_non_xml_white_space() {
        let doc = parse("<r><?pi \u{a0}x ?><?q \t\n\u{3000}y?><?e?></r>").expect("parses");
        let pis: Vec<(&str, &str)> = doc
            .root()
            .children()
            .filter_map(|n| match n {
                Node::ProcessingInstruction { target, data } => Some((target, data)),
                _ => None,
            })
            .collect();
        assert_eq!(pis, [("pi", "\u{a0}x "), ("q", "\u{3000}y"), ("e", "")]);
    }

    /// Regression: relative namespace URIs were accepted, though Canonical XML 1.0 (2.1) says
    /// canonicalization must fail on them (libxml2 does), and so were namespace names that are
    /// not URIs at all, which libxml2 refuses to parse; absolute ones of any scheme are fine.
    #[test]
    fn relative_namespace_uris_are_refused() {
        for bad in [
            r#"<r xmlns="ns"/>"#,
            r#"<r xmlns:a="myns"/>"#,
            r#"<r xmlns:a="../x"/>"#,
            r#"<r xmlns:a="/abs/path"/>"#,
            r#"<r xmlns:a="1urn:x"/>"#,
            r#"<r xmlns:a=":x"/>"#,
            r#"<r xmlns:a="a b:c"/>"#,
            r#"<r xmlns:a="urn:a b"/>"#,
            r#"<r xmlns:a="urn:&#xE9;"/>"#,
            r#"<r xmlns:a="urn:%zz"/>"#,
        ] {
            let err = parse(bad).err();
            assert_eq!(
                err.as_ref().map(|e| e.code()),
                Some("xml.namespace"),
                "{bad}"
            );
        }
        for good in [
            r#"<r xmlns="urn:x"/>"#,
            r#"<r xmlns=""/>"#,
            r#"<r xmlns:a="http://example.org/ns?q=1#f"/>"#,
            r#"<r xmlns:a="x-y+z.1:opaque"/>"#,
            r#"<r xmlns:a="URN:X"/>"#,
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }

    /// Regression: quick-xml read attributes with no white space between them, which XML
    /// forbids (a parser differential: libxml2, xmlsec and .NET refuse such documents).
    #[test]
    fn attributes_must_be_separated_by_white_space() {
        for bad in [
            "<a b='1'c='2'/>",
            r#"<a b="1"c="2"></a>"#,
            r#"<a b="x'y"c='1'/>"#,
            r#"<r><a xmlns:p="urn:p"p:b="1"/></r>"#,
        ] {
            let err = parse(bad).err();
            assert_eq!(
                err.as_ref().map(|e| e.code()),
                Some("xml.malformed"),
                "{bad}"
            );
        }
        for good in [
            "<a b='1' c='2'/>",
            "<a b='1'\n\tc=\"2\" />",
            "<a b = '1'/>",
            "<a/>",
            "<a />",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        assert!(parse(r#"<a a="1" b='"' c="'"/>"#).is_ok());
    }

    /// Regression: the XML declaration's pseudo-attributes were only looked up by name, so a
    /// missing separator, an unknown or out-of-order pseudo-attribute and `standalone="maybe"`
    /// were accepted.
    #[test]
    fn declaration_is_checked_in_full() {
        for bad in [
            r#"<?xml version="1.0"encoding="UTF-8"?><a/>"#,
            r#"<?xml version="1.0" standalone="maybe"?><a/>"#,
            r#"<?xml version="1.0" standalone="yes" encoding="UTF-8"?><a/>"#,
            r#"<?xml version="1.0" foo="x"?><a/>"#,
            r#"<?xml encoding="UTF-8" version="1.0"?><a/>"#,
            r#"<?xml version="1.0" version="1.0"?><a/>"#,
            "<?xml?><a/>",
        ] {
            let err = parse(bad).err();
            assert_eq!(
                err.as_ref().map(|e| e.code()),
                Some("xml.declaration"),
                "{bad}"
            );
        }
        for good in [
            r#"<?xml version="1.0"?><a/>"#,
            r#"<?xml version='1.0' encoding='utf-8' standalone='no' ?><a/>"#,
            r#"<?xml  version = "1.0"  standalone="yes"?><a/>"#,
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }

    /// Literal duplicates were reported with an empty name.
    #[test]
    fn duplicate_attribute_names_are_reported() {
        for (input, name) in [
            (r#"<a x="1" x="2"/>"#, "x"),
            (r#"<a xml:lang="en" xml:lang="fr"/>"#, "xml:lang"),
            (r#"<a xmlns:p="urn:u" xmlns:p="urn:v"/>"#, "xmlns:p"),
            (
                r#"<a xmlns:p="urn:u" xmlns:q="urn:u" p:x="1" q:x="2"/>"#,
                "x",
            ),
        ] {
            assert_eq!(
                parse(input).err(),
                Some(XmlError::DuplicateAttribute { name: name.into() }),
                "{input}"
            );
        }
    }

    /// Regression: xml:id values were not checked; libxml2 refuses a non-NCName or a repeated
    /// one, so the two parsers disagreed on such documents.
    #[test]
    fn xml_id_is_an_unique_ncname() {
        for (bad, code) in [
            (r#"<r xml:id="a b"/>"#, "xml.name"),
            (r#"<r xml:id="1a"/>"#, "xml.name"),
            (r#"<r xml:id="a:b"/>"#, "xml.name"),
            (r#"<r xml:id=""/>"#, "xml.name"),
            (
                r#"<r><a xml:id="x"/><b xml:id=" x "/></r>"#,
                "xml.malformed",
            ),
        ] {
            let err = parse(bad).err();
            assert_eq!(err.as_ref().map(|e| e.code()), Some(code), "{bad}");
        }
        let doc = parse(r#"<r xml:id=" a "><b xml:id="b"/><c id="a" ID="b"/></r>"#).expect("ok");
        // The value itself is kept as written (c14n renders it unchanged).
        assert_eq!(
            doc.root().attribute_ns(XML_NAMESPACE_URI, "id"),
            Some(" a ")
        );
    }

    #[test]
    fn absolute_uris() {
        for good in [
            "urn:a",
            "a:",
            "h.t-t+p://x",
            "http://example.org/p?q=1&r='2';s#f",
            "urn:%C3%A9t%C3%A9",
            "http://[::1]:80/~u/(x)*,$!@",
            "http://[::1]/",
            "http://user:pw@host:8080/p//q",
            "urn:a:b:c",
            "http://example.org",
            "http://x.org?q=a:b#c:d",
        ] {
            assert!(is_absolute_uri(good), "{good}");
        }
        for bad in [
            "",
            "noscheme",
            "9a:b",
            "a_b:c",
            "\u{e9}:x",
            "urn:\u{e9}",
            "urn:a b",
            "urn:a\"b",
            "urn:a<b",
            "urn:a\tb",
            "urn:%C3%t",
            "urn:%A",
            "urn:a{b}",
            "urn:a\\b",
            "urn:a|b",
            "urn:a^b",
            "urn:a`b",
            "http://example.or:g/ns",
            "http://e:xample.org/",
            "http://www.wtp://www.w3.org/",
            "http://[::1/",
            "http://[::1]x/",
            "http://a@b@c/",
            "http://a[b]/",
            "http://x.org/a#b#c",
            "urn:a[1]",
            "http://x.org/p?q=[1]",
        ] {
            assert!(!is_absolute_uri(bad), "{bad}");
        }
    }
}
