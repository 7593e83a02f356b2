//! The parsed document: an arena of nodes in document order, read through [`Element`].
//!
//! Nodes are stored in pre-order, so the descendants of a node are exactly the nodes between
//! it and its `end`. Strings live in one buffer and nodes hold spans into it, which keeps a
//! parse at a handful of allocations.

use std::borrow::Cow;
use std::ops::Range;

/// Index of a node in [`Document::nodes`].
pub(crate) type NodeId = u32;

/// Index into the namespace URI table; [`NO_NAMESPACE`] is the empty namespace.
pub(crate) type NsId = u32;

/// The empty namespace (unprefixed attributes, elements with no default namespace).
pub(crate) const NO_NAMESPACE: NsId = 0;
/// `http://www.w3.org/XML/1998/namespace`, bound to the `xml` prefix by definition.
pub(crate) const XML_NAMESPACE: NsId = 1;
/// The URI of the `xml` prefix.
pub(crate) const XML_NAMESPACE_URI: &str = "http://www.w3.org/XML/1998/namespace";

/// A range of bytes in [`Document::buf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RawNode {
    /// Parent node; the document node is its own parent.
    pub(crate) parent: NodeId,
    /// One past the last descendant.
    pub(crate) end: NodeId,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Document,
    Element(ElementData),
    Text(Span),
    CData(Span),
    Comment(Span),
    Pi { target: Span, data: Span },
}

#[derive(Debug, Clone)]
pub(crate) struct ElementData {
    /// Empty when unprefixed.
    pub(crate) prefix: Span,
    pub(crate) local: Span,
    pub(crate) ns: NsId,
    /// Indices into [`Document::attrs`].
    pub(crate) attrs: Range<u32>,
    /// Indices into [`Document::ns_decls`], in the order written.
    pub(crate) ns_decls: Range<u32>,
    /// Byte offsets in the input: start of `<`, end of the start tag, end of the element.
    pub(crate) source: SourceSpan,
}

/// Where an element sat in the input, for inserting a signature without re-serialising.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SourceSpan {
    pub(crate) start_tag_end: u32,
    pub(crate) end: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    /// Empty when unprefixed.
    pub(crate) prefix: Span,
    pub(crate) local: Span,
    pub(crate) ns: NsId,
    pub(crate) value: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct NsDecl {
    /// Empty for the default namespace.
    pub(crate) prefix: Span,
    /// [`NO_NAMESPACE`] for `xmlns=""`.
    pub(crate) uri: NsId,
}

/// A parsed, namespace-resolved XML document.
///
/// Built by [`Document::parse`](crate::Document::parse), which refuses DTDs, unknown entities,
/// undeclared prefixes, duplicate attributes and documents past the [`Limits`](crate::Limits).
/// Read it through [`Document::root`]; to read *signed* content, go through
/// [`Verifier::verify_enveloped`](crate::Verifier::verify_enveloped) instead, which hands back
/// only the element the signature covers.
#[derive(Debug, Clone)]
pub struct Document {
    pub(crate) buf: String,
    pub(crate) nodes: Vec<RawNode>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) ns_decls: Vec<NsDecl>,
    /// Namespace URIs, interned; index 0 is the empty namespace, 1 the `xml` namespace.
    pub(crate) ns_uris: Vec<Span>,
    pub(crate) root: NodeId,
}

impl Document {
    pub(crate) fn str(&self, span: Span) -> &str {
        self.buf
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    pub(crate) fn node(&self, id: NodeId) -> Option<&RawNode> {
        self.nodes.get(id as usize)
    }

    pub(crate) fn element_data(&self, id: NodeId) -> Option<&ElementData> {
        match self.node(id).map(|n| &n.kind) {
            Some(NodeKind::Element(data)) => Some(data),
            _ => None,
        }
    }

    pub(crate) fn ns_uri(&self, ns: NsId) -> &str {
        self.ns_uris
            .get(ns as usize)
            .map(|span| self.str(*span))
            .unwrap_or_default()
    }

    /// The interned id of a namespace URI, if any element or attribute of this document uses
    /// or declares it.
    pub(crate) fn find_ns(&self, uri: &str) -> Option<NsId> {
        if uri.is_empty() {
            return Some(NO_NAMESPACE);
        }
        self.ns_uris
            .iter()
            .position(|span| self.str(*span) == uri)
            .and_then(|i| u32::try_from(i).ok())
    }

    pub(crate) fn attrs_of(&self, data: &ElementData) -> &[Attr] {
        self.attrs
            .get(data.attrs.start as usize..data.attrs.end as usize)
            .unwrap_or_default()
    }

    pub(crate) fn ns_decls_of(&self, data: &ElementData) -> &[NsDecl] {
        self.ns_decls
            .get(data.ns_decls.start as usize..data.ns_decls.end as usize)
            .unwrap_or_default()
    }

    /// Children of a node, in document order.
    pub(crate) fn child_ids(&self, id: NodeId) -> ChildIds<'_> {
        let end = self.node(id).map_or(id, |n| n.end);
        ChildIds {
            doc: self,
            next: id.saturating_add(1),
            end,
        }
    }

    /// The document's root element.
    pub fn root(&self) -> Element<'_> {
        Element {
            doc: self,
            id: self.root,
            hidden: None,
        }
    }

    /// Top-level nodes: comments and processing instructions around the root element, and
    /// the root element itself, in document order.
    pub(crate) fn top_level(&self) -> ChildIds<'_> {
        self.child_ids(0)
    }
}

/// Iterator over the ids of a node's children.
pub(crate) struct ChildIds<'d> {
    doc: &'d Document,
    next: NodeId,
    end: NodeId,
}

impl Iterator for ChildIds<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        self.next = self.doc.node(id).map_or(self.end, |n| n.end);
        Some(id)
    }
}

/// An element of a [`Document`]: its name, attributes, children and text.
///
/// There is deliberately no way to reach an element's parent or siblings: code holding an
/// `Element` sees that element's subtree and nothing else. That is what makes the element
/// returned by signature verification safe to read.
#[derive(Debug, Clone, Copy)]
pub struct Element<'d> {
    pub(crate) doc: &'d Document,
    pub(crate) id: NodeId,
    /// A child left out of [`Element::children`]: the enveloped signature, which the digest
    /// did not cover.
    pub(crate) hidden: Option<NodeId>,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Node<'d> {
    /// A child element.
    Element(Element<'d>),
    /// Character data, with references resolved and line endings normalised.
    Text(&'d str),
    /// The content of a `<![CDATA[...]]>` section.
    CData(&'d str),
    /// The content of a comment.
    Comment(&'d str),
    /// A processing instruction.
    ProcessingInstruction {
        /// The target, `name` in `<?name data?>`.
        target: &'d str,
        /// Everything after the target and its separating white space.
        data: &'d str,
    },
}

/// An attribute of an [`Element`].
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'d> {
    doc: &'d Document,
    attr: &'d Attr,
}

impl<'d> Attribute<'d> {
    /// The local part of the name.
    pub fn local_name(&self) -> &'d str {
        self.doc.str(self.attr.local)
    }

    /// The prefix as written, if any.
    pub fn prefix(&self) -> Option<&'d str> {
        (!self.attr.prefix.is_empty()).then(|| self.doc.str(self.attr.prefix))
    }

    /// The namespace URI; unprefixed attributes have none.
    pub fn namespace(&self) -> Option<&'d str> {
        (self.attr.ns != NO_NAMESPACE).then(|| self.doc.ns_uri(self.attr.ns))
    }

    /// The normalised value, with references resolved.
    pub fn value(&self) -> &'d str {
        self.doc.str(self.attr.value)
    }
}

impl<'d> Element<'d> {
    fn data(&self) -> Option<&'d ElementData> {
        self.doc.element_data(self.id)
    }

    /// The local part of the name (`Assertion` in `saml:Assertion`).
    pub fn local_name(&self) -> &'d str {
        self.data().map_or("", |d| self.doc.str(d.local))
    }

    /// The prefix as written, if any. Never match on it: prefixes are the sender's choice.
    pub fn prefix(&self) -> Option<&'d str> {
        self.data()
            .filter(|d| !d.prefix.is_empty())
            .map(|d| self.doc.str(d.prefix))
    }

    /// The namespace URI of the element, if it is in one.
    pub fn namespace(&self) -> Option<&'d str> {
        self.data()
            .filter(|d| d.ns != NO_NAMESPACE)
            .map(|d| self.doc.ns_uri(d.ns))
    }

    /// Whether the element has this namespace URI and local name.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.local_name() == local_name && self.namespace().unwrap_or_default() == namespace
    }

    /// The value of the attribute with no namespace and this local name (`ID`, `Destination`).
    pub fn attribute(&self, local_name: &str) -> Option<&'d str> {
        self.attribute_ns("", local_name)
    }

    /// The value of the attribute with this namespace URI (empty for none) and local name.
    pub fn attribute_ns(&self, namespace: &str, local_name: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| {
                a.local_name() == local_name && a.namespace().unwrap_or_default() == namespace
            })
            .map(|a| a.value())
    }

    /// The attributes in the order written (namespace declarations are not attributes).
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'d>> + 'd {
        let doc = self.doc;
        let attrs = self.data().map(|d| doc.attrs_of(d)).unwrap_or_default();
        attrs.iter().map(move |attr| Attribute { doc, attr })
    }

    /// The children in document order.
    pub fn children(&self) -> impl Iterator<Item = Node<'d>> + 'd {
        let doc = self.doc;
        let hidden = self.hidden;
        doc.child_ids(self.id)
            .filter(move |id| Some(*id) != hidden)
            .filter_map(move |id| {
                let node = doc.node(id)?;
                Some(match &node.kind {
                    NodeKind::Element(_) => Node::Element(Element {
                        doc,
                        id,
                        hidden: None,
                    }),
                    NodeKind::Text(s) => Node::Text(doc.str(*s)),
                    NodeKind::CData(s) => Node::CData(doc.str(*s)),
                    NodeKind::Comment(s) => Node::Comment(doc.str(*s)),
                    NodeKind::Pi { target, data } => Node::ProcessingInstruction {
                        target: doc.str(*target),
                        data: doc.str(*data),
                    },
                    NodeKind::Document => return None,
                })
            })
    }

    /// The child elements in document order.
    pub fn child_elements(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        self.children().filter_map(|node| match node {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this namespace URI and local name.
    pub fn child(&self, namespace: &str, local_name: &str) -> Option<Element<'d>> {
        self.child_elements().find(|e| e.is(namespace, local_name))
    }

    /// All child elements with this namespace URI and local name.
    pub fn children_named<'n>(
        &self,
        namespace: &'n str,
        local_name: &'n str,
    ) -> impl Iterator<Item = Element<'d>> + 'n
    where
        'd: 'n,
    {
        self.child_elements()
            .filter(move |e| e.is(namespace, local_name))
    }

    /// The element's own text: all its text and CDATA children joined, comments and
    /// processing instructions skipped. A comment inside `<NameID>` never cuts the value
    /// short (`a@evil.example<!---->.good.example` reads as the whole address).
    pub fn text(&self) -> Cow<'d, str> {
        let mut parts = self.children().filter_map(|node| match node {
            Node::Text(s) | Node::CData(s) => Some(s),
            _ => None,
        });
        let Some(first) = parts.next() else {
            return Cow::Borrowed("");
        };
        match parts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut joined = String::with_capacity(first.len() + second.len());
                joined.push_str(first);
                joined.push_str(second);
                parts.for_each(|s| joined.push_str(s));
                Cow::Owned(joined)
            }
        }
    }

    /// Whether the element has any child element.
    pub fn has_child_elements(&self) -> bool {
        self.child_elements().next().is_some()
    }
}
