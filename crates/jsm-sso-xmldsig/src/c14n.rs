//! Canonical XML 1.0 and Exclusive XML Canonicalization 1.0, with and without comments.
//!
//! Canonicalization works on a subtree of a parsed [`Document`] (the node-set of a same-document
//! reference, minus an excluded enveloped signature) or on the whole document. The input is
//! already namespace-resolved and validated by the parser, so canonicalization itself cannot
//! fail; an empty result is treated as fatal by the verifier.
//!
//! ```
//! use jsm_sso_xmldsig::{Document, Limits, c14n};
//! let doc = Document::parse(br#"<r xmlns:a="urn:a" xmlns:b="urn:b"><a:x z="1" a:y="2"/></r>"#,
//!                           &Limits::default())?;
//! let x = doc.root().child("urn:a", "x").ok_or("no x")?;
//! assert_eq!(c14n::canonicalize(x, c14n::Algorithm::Exclusive, &[]),
//!            br#"<a:x xmlns:a="urn:a" z="1" a:y="2"></a:x>"#);
//! assert_eq!(c14n::canonicalize(x, c14n::Algorithm::Inclusive, &[]),
//!            br#"<a:x xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:y="2"></a:x>"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::xml::{Document, Element, NO_NAMESPACE, NodeId, NodeKind, XML_NAMESPACE};

/// A canonicalization algorithm, by its W3C identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Canonical XML 1.0, comments removed (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`).
    Inclusive,
    /// Canonical XML 1.0 with comments.
    InclusiveWithComments,
    /// Exclusive XML Canonicalization 1.0, comments removed
    /// (`http://www.w3.org/2001/10/xml-exc-c14n#`).
    Exclusive,
    /// Exclusive XML Canonicalization 1.0 with comments.
    ExclusiveWithComments,
}

impl Algorithm {
    /// The algorithm's URI as it appears in `CanonicalizationMethod` and `Transform`.
    pub fn uri(self) -> &'static str {
        match self {
            Algorithm::Inclusive => "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            Algorithm::InclusiveWithComments => {
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
            }
            Algorithm::Exclusive => "http://www.w3.org/2001/10/xml-exc-c14n#",
            Algorithm::ExclusiveWithComments => {
                "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
            }
        }
    }

    /// The algorithm named by `uri`, if it is one of the four supported.
    pub fn from_uri(uri: &str) -> Option<Algorithm> {
        [
            Algorithm::Inclusive,
            Algorithm::InclusiveWithComments,
            Algorithm::Exclusive,
            Algorithm::ExclusiveWithComments,
        ]
        .into_iter()
        .find(|a| a.uri() == uri)
    }

    /// Whether comments are kept.
    pub fn with_comments(self) -> bool {
        matches!(
            self,
            Algorithm::InclusiveWithComments | Algorithm::ExclusiveWithComments
        )
    }

    /// Whether this is exclusive canonicalization.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            Algorithm::Exclusive | Algorithm::ExclusiveWithComments
        )
    }
}

/// Canonicalizes `element` and its subtree, as the node-set of a same-document reference to it.
///
/// `inclusive_prefixes` is the `InclusiveNamespaces PrefixList` of exclusive canonicalization
/// (`"#default"` names the default namespace); inclusive canonicalization ignores it.
pub fn canonicalize(
    element: Element<'_>,
    algorithm: Algorithm,
    inclusive_prefixes: &[&str],
) -> Vec<u8> {
    let mut out = Vec::new();
    canonicalize_into(
        element.doc,
        element.id,
        element.hidden,
        algorithm,
        inclusive_prefixes,
        &mut out,
    );
    out
}

/// Canonicalizes the whole document: the root element, and the comments and processing
/// instructions around it.
pub fn canonicalize_document(
    doc: &Document,
    algorithm: Algorithm,
    inclusive_prefixes: &[&str],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = Canonicalizer::new(doc, algorithm, inclusive_prefixes, None, &mut out);
    let mut after_root = false;
    for id in doc.top_level() {
        match doc.node(id).map(|n| &n.kind) {
            Some(NodeKind::Element(_)) => {
                c.element(id, true);
                after_root = true;
            }
            Some(NodeKind::Comment(_) | NodeKind::Pi { .. }) => {
                let before = c.out.len();
                if after_root {
                    c.out.push(b'\n');
                }
                let mark = c.out.len();
                c.leaf(id);
                if c.out.len() == mark {
                    c.out.truncate(before);
                } else if !after_root {
                    c.out.push(b'\n');
                }
            }
            _ => {}
        }
    }
    out
}

/// Canonicalizes the subtree at `apex`, leaving out the subtree at `exclude` (the enveloped
/// signature), appending to `out`.
pub(crate) fn canonicalize_into(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    algorithm: Algorithm,
    inclusive_prefixes: &[&str],
    out: &mut Vec<u8>,
) {
    let mut c = Canonicalizer::new(doc, algorithm, inclusive_prefixes, exclude, out);
    c.enter_context(apex);
    c.element(apex, true);
}

/// A namespace binding: prefix (empty for the default namespace) and URI.
type Binding<'d> = (&'d str, &'d str);

struct Canonicalizer<'d, 'o, 'p> {
    doc: &'d Document,
    out: &'o mut Vec<u8>,
    exclusive: bool,
    comments: bool,
    inclusive_prefixes: &'p [&'p str],
    exclude: Option<NodeId>,
    /// Bindings declared in the input, innermost last.
    in_scope: Vec<Binding<'d>>,
    /// Bindings the output has rendered so far, innermost last.
    rendered: Vec<Binding<'d>>,
    /// Scratch space for one start tag: namespace nodes to render, attributes to sort.
    ns_scratch: Vec<Binding<'d>>,
    attr_scratch: Vec<AttrOut<'d>>,
}

#[derive(Clone, Copy)]
struct AttrOut<'d> {
    ns: &'d str,
    local: &'d str,
    prefix: &'d str,
    value: &'d str,
}

fn lookup<'d>(bindings: &[Binding<'d>], prefix: &str) -> Option<&'d str> {
    bindings
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, uri)| *uri)
}

impl<'d, 'o, 'p> Canonicalizer<'d, 'o, 'p> {
    fn new(
        doc: &'d Document,
        algorithm: Algorithm,
        inclusive_prefixes: &'p [&'p str],
        exclude: Option<NodeId>,
        out: &'o mut Vec<u8>,
    ) -> Self {
        Canonicalizer {
            doc,
            out,
            exclusive: algorithm.is_exclusive(),
            comments: algorithm.with_comments(),
            inclusive_prefixes,
            exclude,
            in_scope: Vec::new(),
            rendered: Vec::new(),
            ns_scratch: Vec::new(),
            attr_scratch: Vec::new(),
        }
    }

    /// Puts the declarations of the apex's ancestors in scope.
    fn enter_context(&mut self, apex: NodeId) {
        let mut ancestors = Vec::new();
        let mut id = self.doc.node(apex).map_or(0, |n| n.parent);
        while id != 0 {
            ancestors.push(id);
            id = self.doc.node(id).map_or(0, |n| n.parent);
        }
        for &ancestor in ancestors.iter().rev() {
            self.declare(ancestor);
        }
    }

    fn declare(&mut self, id: NodeId) {
        let doc = self.doc;
        if let Some(data) = doc.element_data(id) {
            for decl in doc.ns_decls_of(data) {
                self.in_scope
                    .push((doc.str(decl.prefix), doc.ns_uri(decl.uri)));
            }
        }
    }

    fn element(&mut self, id: NodeId, is_apex: bool) {
        let doc = self.doc;
        let Some(data) = doc.element_data(id) else {
            return;
        };
        let scope_mark = self.in_scope.len();
        let rendered_mark = self.rendered.len();
        self.declare(id);

        self.ns_scratch.clear();
        if self.exclusive {
            self.exclusive_namespaces(id);
        } else {
            self.inclusive_namespaces(id, is_apex);
        }
        self.ns_scratch.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let prefix = doc.str(data.prefix);
        let local = doc.str(data.local);
        self.out.push(b'<');
        self.write_qname(prefix, local);
        for i in 0..self.ns_scratch.len() {
            let Some(&(p, uri)) = self.ns_scratch.get(i) else {
                break;
            };
            if p.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            escape_attribute(uri, self.out);
            self.out.push(b'"');
            self.rendered.push((p, uri));
        }

        self.attr_scratch.clear();
        for attr in doc.attrs_of(data) {
            self.attr_scratch.push(AttrOut {
                ns: doc.ns_uri(attr.ns),
                local: doc.str(attr.local),
                prefix: doc.str(attr.prefix),
                value: doc.str(attr.value),
            });
        }
        if is_apex && !self.exclusive {
            self.inherit_xml_attributes(id);
        }
        self.attr_scratch
            .sort_unstable_by(|a, b| (a.ns, a.local).cmp(&(b.ns, b.local)));
        for i in 0..self.attr_scratch.len() {
            let Some(attr) = self.attr_scratch.get(i).copied() else {
                break;
            };
            self.out.push(b' ');
            self.write_qname(attr.prefix, attr.local);
            self.out.extend_from_slice(b"=\"");
            escape_attribute(attr.value, self.out);
            self.out.push(b'"');
        }
        self.out.push(b'>');

        for child in doc.child_ids(id) {
            if Some(child) == self.exclude {
                continue;
            }
            match doc.node(child).map(|n| &n.kind) {
                Some(NodeKind::Element(_)) => self.element(child, false),
                Some(NodeKind::Text(span) | NodeKind::CData(span)) => {
                    escape_text(doc.str(*span), self.out);
                }
                Some(_) => self.leaf(child),
                None => {}
            }
        }

        self.out.extend_from_slice(b"</");
        self.write_qname(prefix, local);
        self.out.push(b'>');
        self.in_scope.truncate(scope_mark);
        self.rendered.truncate(rendered_mark);
    }

    /// Comments (when kept) and processing instructions.
    fn leaf(&mut self, id: NodeId) {
        let doc = self.doc;
        match doc.node(id).map(|n| &n.kind) {
            Some(NodeKind::Comment(span)) if self.comments => {
                self.out.extend_from_slice(b"<!--");
                self.out.extend_from_slice(doc.str(*span).as_bytes());
                self.out.extend_from_slice(b"-->");
            }
            Some(NodeKind::Pi { target, data }) => {
                self.out.extend_from_slice(b"<?");
                self.out.extend_from_slice(doc.str(*target).as_bytes());
                let data = doc.str(*data);
                if !data.is_empty() {
                    self.out.push(b' ');
                    self.out.extend_from_slice(data.as_bytes());
                }
                self.out.extend_from_slice(b"?>");
            }
            _ => {}
        }
    }

    fn write_qname(&mut self, prefix: &str, local: &str) {
        if !prefix.is_empty() {
            self.out.extend_from_slice(prefix.as_bytes());
            self.out.push(b':');
        }
        self.out.extend_from_slice(local.as_bytes());
    }

    /// Inclusive c14n: the apex renders every namespace in scope; below it, an element renders
    /// the bindings that differ from what its output parent rendered.
    fn inclusive_namespaces(&mut self, id: NodeId, is_apex: bool) {
        if is_apex {
            for i in (0..self.in_scope.len()).rev() {
                let Some(&(p, uri)) = self.in_scope.get(i) else {
                    continue;
                };
                let shadowed = self
                    .in_scope
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .any(|(q, _)| *q == p);
                if !shadowed && !uri.is_empty() {
                    self.ns_scratch.push((p, uri));
                }
            }
        } else {
            let doc = self.doc;
            let Some(data) = doc.element_data(id) else {
                return;
            };
            for decl in doc.ns_decls_of(data) {
                let p = doc.str(decl.prefix);
                let uri = lookup(&self.in_scope, p).unwrap_or_default();
                self.consider(p, uri);
            }
        }
    }

    /// Exclusive c14n: render the namespaces the element visibly uses (its own prefix and its
    /// attributes' prefixes), plus the `InclusiveNamespaces` prefixes, when not already
    /// rendered with the same URI by an output ancestor.
    fn exclusive_namespaces(&mut self, id: NodeId) {
        let doc = self.doc;
        let Some(data) = doc.element_data(id) else {
            return;
        };
        let element_prefix = doc.str(data.prefix);
        let uri = lookup(&self.in_scope, element_prefix).unwrap_or_default();
        self.consider(element_prefix, uri);
        for attr in doc.attrs_of(data) {
            if attr.ns != NO_NAMESPACE && attr.ns != XML_NAMESPACE {
                let p = doc.str(attr.prefix);
                self.consider(p, doc.ns_uri(attr.ns));
            }
        }
        for &listed in self.inclusive_prefixes {
            let wanted = if listed == "#default" { "" } else { listed };
            let binding = self
                .in_scope
                .iter()
                .rev()
                .find(|(p, _)| *p == wanted)
                .copied();
            if let Some((p, uri)) = binding {
                self.consider(p, uri);
            }
        }
    }

    /// Queues `xmlns:p="uri"` unless the output already has that binding in scope. The empty
    /// default namespace is "rendered" at the top, so `xmlns=""` appears only to undo an
    /// output ancestor's non-empty default.
    fn consider(&mut self, p: &'d str, uri: &'d str) {
        if p == "xml" || self.ns_scratch.iter().any(|(q, _)| *q == p) {
            return;
        }
        let rendered = lookup(&self.rendered, p).unwrap_or_default();
        if rendered != uri {
            self.ns_scratch.push((p, uri));
        }
    }

    /// Canonical XML 1.0 imports `xml:*` attributes of the apex's ancestors (nearest wins)
    /// that the apex does not carry itself.
    fn inherit_xml_attributes(&mut self, apex: NodeId) {
        let doc = self.doc;
        let mut id = doc.node(apex).map_or(0, |n| n.parent);
        while id != 0 {
            if let Some(data) = doc.element_data(id) {
                for attr in doc.attrs_of(data) {
                    let local = doc.str(attr.local);
                    let present = self
                        .attr_scratch
                        .iter()
                        .any(|a| a.ns == crate::xml::XML_NAMESPACE_URI && a.local == local);
                    if attr.ns == XML_NAMESPACE && !present {
                        self.attr_scratch.push(AttrOut {
                            ns: crate::xml::XML_NAMESPACE_URI,
                            local,
                            prefix: "xml",
                            value: doc.str(attr.value),
                        });
                    }
                }
            }
            id = doc.node(id).map_or(0, |n| n.parent);
        }
    }
}

/// Text nodes: `&`, `<`, `>` and carriage return are escaped.
fn escape_text(s: &str, out: &mut Vec<u8>) {
    escape(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Attribute values: `&`, `<`, `"`, tab, line feed and carriage return are escaped.
fn escape_attribute(s: &str, out: &mut Vec<u8>) {
    escape(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape(s: &str, out: &mut Vec<u8>, replacement: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = replacement(b) {
            out.extend_from_slice(bytes.get(last..i).unwrap_or_default());
            out.extend_from_slice(rep);
            last = i + 1;
        }
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
}
