//! The hardened parser: quick-xml events in, a namespace-resolved [`Document`] out.
//!
//! Everything a SAML message never needs is refused rather than handled: DTDs, entities beyond
//! the five predefined ones, undeclared prefixes, duplicate attributes, control characters,
//! encodings other than UTF-8. Limits bound the work any input can cause.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::names::{is_valid_ncname, split_qname};
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
    for (position, &b) in bytes.iter().enumerate() {
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
    if !text.contains('\r') {
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

struct Builder<'s> {
    src: &'s str,
    limits: Limits,
    doc: Document,
    /// Open elements, innermost last.
    open: Vec<NodeId>,
    /// Namespace bindings in scope, innermost last; `scope_marks` says where each open
    /// element's bindings start.
    scope: Vec<Binding>,
    scope_marks: Vec<usize>,
    /// The text node that adjacent text and references are appended to.
    open_text: Option<NodeId>,
    root: Option<NodeId>,
    pending: Vec<PendingAttr>,
}

impl<'s> Builder<'s> {
    fn new(src: &'s str, limits: Limits) -> Self {
        let mut doc = Document {
            buf: String::with_capacity(src.len()),
            nodes: Vec::with_capacity(src.len() / 24 + 4),
            attrs: Vec::new(),
            ns_decls: Vec::new(),
            ns_uris: Vec::new(),
            root: 0,
        };
        doc.nodes.push(RawNode {
            parent: 0,
            end: 1,
            kind: NodeKind::Document,
        });
        let empty = Span::default();
        doc.ns_uris.push(empty);
        let mut builder = Builder {
            src,
            limits,
            doc,
            open: Vec::new(),
            scope: Vec::new(),
            scope_marks: Vec::new(),
            open_text: None,
            root: None,
            pending: Vec::new(),
        };
        let xml = builder.push_str(XML_NAMESPACE_URI);
        builder.doc.ns_uris.push(xml);
        builder
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.doc.buf.len();
        self.doc.buf.push_str(s);
        Span {
            start: to_u32(start),
            end: to_u32(self.doc.buf.len()),
        }
    }

    fn malformed(position: u64, detail: impl Into<String>) -> XmlError {
        XmlError::Malformed {
            position: usize::try_from(position).unwrap_or(usize::MAX),
            detail: detail.into(),
        }
    }

    fn run(mut self) -> Result<Document, XmlError> {
        let mut reader = Reader::from_str(self.src);
        let config = reader.config_mut();
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        loop {
            let position = reader.buffer_position();
            let event = reader.read_event().map_err(|e| {
                let at = reader.error_position();
                match e {
                    quick_xml::Error::InvalidAttr(
                        quick_xml::events::attributes::AttrError::Duplicated(..),
                    ) => XmlError::DuplicateAttribute {
                        name: String::new(),
                    },
                    other => Self::malformed(at, other.to_string()),
                }
            })?;
            match event {
                Event::Start(start) => {
                    self.start(&start, position, reader.buffer_position(), false)?
                }
                Event::Empty(start) => {
                    self.start(&start, position, reader.buffer_position(), true)?
                }
                Event::End(_) => self.end(reader.buffer_position())?,
                Event::Text(text) => self.text(&text, position)?,
                Event::GeneralRef(reference) => {
                    if self.open.is_empty() {
                        return Err(Self::malformed(
                            position,
                            "reference outside the root element",
                        ));
                    }
                    let c = resolve_reference(&reference)?;
                    let mut utf8 = [0u8; 4];
                    self.append_text(c.encode_utf8(&mut utf8))?;
                }
                Event::CData(cdata) => {
                    if self.open.is_empty() {
                        return Err(Self::malformed(position, "cdata outside the root element"));
                    }
                    let span = self.push_str(&cdata);
                    self.push_node(NodeKind::CData(span))?;
                }
                Event::Comment(comment) => {
                    let span = self.push_str(&comment);
                    self.push_node(NodeKind::Comment(span))?;
                }
                Event::PI(pi) => {
                    let target = pi.target();
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(Self::malformed(
                            position,
                            "xml declaration not at the start of the document",
                        ));
                    }
                    if !is_valid_ncname(target) {
                        return Err(XmlError::Name {
                            name: target.to_owned(),
                        });
                    }
                    let target = self.push_str(target);
                    let data = self.push_str(pi.content().trim_start());
                    self.push_node(NodeKind::Pi { target, data })?;
                }
                Event::Decl(decl) => {
                    if position != 0 {
                        return Err(Self::malformed(
                            position,
                            "xml declaration not at the start of the document",
                        ));
                    }
                    let version = decl.version().map_err(|e| XmlError::Declaration {
                        detail: e.to_string(),
                    })?;
                    if version != "1.0" {
                        return Err(XmlError::Declaration {
                            detail: format!("version {version}"),
                        });
                    }
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(|e| XmlError::Declaration {
                            detail: e.to_string(),
                        })?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::Declaration {
                                detail: format!("encoding {encoding}"),
                            });
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Eof => break,
            }
        }
        if !self.open.is_empty() {
            return Err(Self::malformed(
                reader.buffer_position(),
                "document ends inside an element",
            ));
        }
        let Some(root) = self.root else {
            return Err(Self::malformed(reader.buffer_position(), "no root element"));
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
        self.open_text = None;
        let id = to_u32(self.doc.nodes.len());
        let parent = self.open.last().copied().unwrap_or(0);
        self.doc.nodes.push(RawNode {
            parent,
            end: id + 1,
            kind,
        });
        Ok(id)
    }

    fn text(&mut self, raw: &str, position: u64) -> Result<(), XmlError> {
        if self.open.is_empty() {
            if raw
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                return Ok(());
            }
            return Err(Self::malformed(position, "text outside the root element"));
        }
        if raw.contains("]]>") {
            return Err(Self::malformed(position, "']]>' in character data"));
        }
        self.append_text(raw)
    }

    /// Appends to the current text node, or starts one: adjacent text and references form a
    /// single node, as in the XPath data model c14n is defined on.
    fn append_text(&mut self, s: &str) -> Result<(), XmlError> {
        if let Some(id) = self.open_text {
            let end = self.doc.buf.len();
            if let Some(RawNode {
                kind: NodeKind::Text(span),
                ..
            }) = self.doc.nodes.get_mut(id as usize)
            {
                if span.end as usize == end {
                    self.doc.buf.push_str(s);
                    span.end = to_u32(self.doc.buf.len());
                    return Ok(());
                }
            }
        }
        let span = self.push_str(s);
        let id = self.push_node(NodeKind::Text(span))?;
        self.open_text = Some(id);
        Ok(())
    }

    fn lookup(&self, prefix: &str) -> Option<NsId> {
        self.scope
            .iter()
            .rev()
            .find(|b| self.doc.str(b.prefix) == prefix)
            .map(|b| b.uri)
    }

    fn intern_ns(&mut self, uri: &str) -> NsId {
        if uri.is_empty() {
            return NO_NAMESPACE;
        }
        if let Some(id) = self.doc.find_ns(uri) {
            return id;
        }
        let span = self.push_str(uri);
        self.doc.ns_uris.push(span);
        to_u32(self.doc.ns_uris.len() - 1)
    }

    /// Decodes an attribute value: references resolved, literal white space normalised to a
    /// space (XML 3.3.3; line endings were normalised already), `<` refused.
    fn push_attr_value(&mut self, raw: &str, position: u64) -> Result<Span, XmlError> {
        let start = self.doc.buf.len();
        let mut rest = raw;
        while let Some(i) = rest.find(['&', '<', '\t', '\n']) {
            let (before, from) = rest.split_at(i);
            self.doc.buf.push_str(before);
            let mut chars = from.chars();
            match chars.next() {
                Some('&') => {
                    let body = chars.as_str();
                    let Some(semi) = body.find(';') else {
                        return Err(Self::malformed(
                            position,
                            "unterminated reference in attribute",
                        ));
                    };
                    let name = body.get(..semi).unwrap_or_default();
                    self.doc.buf.push(resolve_reference(name)?);
                    rest = body.get(semi + 1..).unwrap_or_default();
                }
                Some('<') => return Err(Self::malformed(position, "'<' in attribute value")),
                _ => {
                    self.doc.buf.push(' ');
                    rest = chars.as_str();
                }
            }
        }
        self.doc.buf.push_str(rest);
        Ok(Span {
            start: to_u32(start),
            end: to_u32(self.doc.buf.len()),
        })
    }

    fn start(
        &mut self,
        start: &BytesStart<'_>,
        position: u64,
        tag_end: u64,
        is_empty: bool,
    ) -> Result<(), XmlError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err(Self::malformed(position, "more than one root element"));
        }
        let qname = start.name().0;
        let Some((prefix, local)) = split_qname(qname) else {
            return Err(XmlError::Name {
                name: qname.to_owned(),
            });
        };
        let scope_mark = self.scope.len();
        let decls_start = to_u32(self.doc.ns_decls.len());
        self.pending.clear();
        let mut count = 0usize;
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| match e {
                quick_xml::events::attributes::AttrError::Duplicated(..) => {
                    XmlError::DuplicateAttribute {
                        name: String::new(),
                    }
                }
                other => Self::malformed(position, other.to_string()),
            })?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let key = attr.key.0;
            let Some((attr_prefix, attr_local)) = split_qname(key) else {
                return Err(XmlError::Name {
                    name: key.to_owned(),
                });
            };
            let declared_prefix = match (attr_prefix, attr_local) {
                (None, "xmlns") => Some(""),
                (Some("xmlns"), p) => Some(p),
                _ => None,
            };
            let value = self.push_attr_value(&attr.value, position)?;
            match declared_prefix {
                Some(declared) => self.declare(declared, value)?,
                None => {
                    let prefix = match attr_prefix {
                        Some(p) => self.push_str(p),
                        None => Span::default(),
                    };
                    let local = self.push_str(attr_local);
                    self.pending.push(PendingAttr {
                        prefix,
                        local,
                        value,
                    });
                }
            }
        }
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
                let prefix_str = self.doc.str(p).to_owned();
                self.resolve_prefix(&prefix_str, true)?
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
            self.doc.attrs.push(Attr {
                prefix: p,
                local,
                ns: attr_ns,
                value,
            });
        }
        let attrs_end = to_u32(self.doc.attrs.len());

        let prefix = match prefix {
            Some(p) => self.push_str(p),
            None => Span::default(),
        };
        let local = self.push_str(local);
        let start_tag_end = usize::try_from(tag_end).unwrap_or(usize::MAX);
        let id = self.push_node(NodeKind::Element(ElementData {
            prefix,
            local,
            ns,
            attrs: attrs_start..attrs_end,
            ns_decls: decls_start..decls_end,
            source: SourceSpan {
                start_tag_end,
                end: start_tag_end,
            },
        }))?;
        if self.open.is_empty() {
            self.root = Some(id);
        }
        if is_empty {
            self.scope.truncate(scope_mark);
        } else {
            self.open.push(id);
            self.scope_marks.push(scope_mark);
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
    fn declare(&mut self, prefix: &str, value: Span) -> Result<(), XmlError> {
        let uri = self.doc.str(value).to_owned();
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
        let uri = self.intern_ns(&uri);
        let prefix = self.push_str(prefix);
        self.scope.push(Binding { prefix, uri });
        self.doc.ns_decls.push(NsDecl { prefix, uri });
        Ok(())
    }

    fn end(&mut self, end: u64) -> Result<(), XmlError> {
        let Some(id) = self.open.pop() else {
            return Err(Self::malformed(end, "end tag without a start tag"));
        };
        let mark = self.scope_marks.pop().unwrap_or(0);
        self.scope.truncate(mark);
        self.open_text = None;
        let count = to_u32(self.doc.nodes.len());
        if let Some(node) = self.doc.nodes.get_mut(id as usize) {
            node.end = count;
            if let NodeKind::Element(data) = &mut node.kind {
                data.source.end = usize::try_from(end).unwrap_or(usize::MAX);
            }
        }
        Ok(())
    }
}

/// Offsets fit in `u32`: inputs are capped far below 4 GiB and decoded text never grows.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
