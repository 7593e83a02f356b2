//! The hardened XML tree: parsing with limits, and read access to elements.

mod names;
mod parse;
mod scan;
mod tree;

pub use parse::Limits;
pub use tree::{Attribute, Document, Element, Node};

pub(crate) use names::is_valid_ncname;
pub(crate) use scan::any_special;
pub(crate) use tree::{NO_NAMESPACE, NodeId, NodeKind, XML_NAMESPACE, XML_NAMESPACE_URI};
