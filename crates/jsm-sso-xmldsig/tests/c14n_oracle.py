#!/usr/bin/env python3
"""Reference outputs for the differential canonicalization test (tests/c14n_differential.rs).

Generates random, seeded, deterministic XML documents and canonicalizes each one with libxml2
(python lxml) -- the whole document and a randomly chosen apex element, with the four
algorithms and with exclusive c14n plus a random InclusiveNamespaces PrefixList -- and writes
the cases to stdout as a framed stream the Rust test reads without a JSON parser:

    case <n>\n
    <field> <byte length>\n<bytes>\n      (repeated)
    end\n

Fields: `input` (the document, UTF-8), `apex` (child-element indexes from the root, space
separated; empty for the root), `prefixes` (the PrefixList, space separated), and one field per
expected output: `doc.<alg>` and `sub.<alg>` for alg in inclusive, inclusive_comments,
exclusive, exclusive_comments, exclusive_prefixes. About 30 % of the documents are mutated
(characters deleted, inserted or repeated) and carry `mutant`; a mutant libxml2 refuses carries
only `input` and `lxml_refuses` (`parse: ...` or `c14n: ...`, with libxml2's message), and one
libxml2 accepts but cannot give a reference output for carries `no_reference`.

Where libxml2 (or lxml's use of it) departs from the W3C recommendations, the generator steers
around it and the Rust side covers the spec behaviour with its own tests:

* Inherited xml:* attributes. Canonical XML 1.0 (2.4, document subsets) gives the apex of a
  subtree the xml:* attributes of its ancestors (nearest wins) unless it has its own; lxml
  canonicalizes an element through a fake document without its ancestors, so they are lost.
  For the inclusive subtree outputs the oracle copies the inherited xml:* attributes onto the
  apex before asking lxml, which is exactly what the inheritance produces (exclusive c14n does
  not inherit). Covered by `inherited_xml_attributes` in src/c14n.rs and by the Merlin
  c14n-0 and c14n-27 vectors (tests/c14n_vectors.rs).
* That fake document holds a shallow copy of the element whose children still point at the
  original tree's namespace structs, and libxml2 then emits spurious `xmlns=""` on some
  descendants (those using a default namespace declared above the apex, or, below a root with
  comments beside it, those declaring a prefix). The oracle instead serializes the apex alone
  (lxml writes every in-scope namespace declaration on it), parses that as a document and
  canonicalizes it whole: the same node-set.
* libxml2 writes namespace URIs raw (`&` is not escaped to `&amp;`), while the spec renders
  namespace nodes like attributes. The generator never puts `&` in a namespace URI and mutants
  that do get `no_reference`; covered by `namespace_uri_is_escaped_like_an_attribute` in
  src/c14n.rs.
* lxml passes only those PrefixList entries to libxml2 that already exist in its string
  dictionary (`_convert_ns_prefixes` uses `xmlDictExists`), so `#default` -- never a name in a
  document -- is silently dropped. `prime_default_prefix` interns it once (parsing a namespace
  URI spelled `#default` puts the string in the per-thread dictionary every parser shares) and
  checks that libxml2 then honours it, so `#default` is covered here too.
* libxml2 refuses namespace names that are not RFC 3986 URIs, and C14N 1.0 requires
  canonicalization to fail on relative ones; our parser refuses both (xml.namespace). The
  generator uses absolute ASCII URIs; mutants exercise the rest.

Usage: c14n_oracle.py [--cases N] [--seed S]
Exits 3 with a message on stderr when lxml is not installed.
"""

import argparse
import random
import sys

try:
    from lxml import etree
except ImportError:  # pragma: no cover - reported to the Rust test
    sys.stderr.write("python3 has no lxml\n")
    sys.exit(3)

XML_NS = "http://www.w3.org/XML/1998/namespace"

# Absolute, ASCII, RFC 3986-valid URIs (see the module docstring); some share a prefix of
# characters so that sorting and "same URI under two prefixes" both get exercised.
URIS = [
    "urn:a",
    "urn:b",
    "urn:a:b",
    "http://example.org/",
    "http://example.org/ns",
    "http://example.org/ns?x=1;y='2'",
    "urn:oasis:names:tc:SAML:2.0:assertion",
    "http://www.w3.org/2000/09/xmldsig#",
    "urn:%C3%A9t%C3%A9",
    "urn:Z",
]
PREFIXES = ["a", "b", "c", "ds", "saml", "p0", "\u00e9", "A", "x-y", "_"]
LOCALS = ["r", "s", "Assertion", "x", "y", "\u00e9t\u00e9", "n.1", "Z", "_id", "a-b", "\u65e5\u672c"]
ATTR_LOCALS = ["id", "ID", "x", "y", "z", "a", "b", "Z", "\u00e9", "n-1", "_"]
XML_ATTRS = [("lang", ["en", "fr-CA", "", "de"]), ("space", ["preserve", "default"]),
             ("base", ["http://example.org/base/", "rel/"]), ("id", None)]

# Pieces of character data: (source text, is it safe right after "]]"?)
TEXT_PIECES = [
    "hello", " ", "  ", "\t", "\n", "\r\n", "\r", "\r\r\n", "a b", "&amp;", "&lt;", "&gt;",
    "&quot;", "&apos;", ">", "\"", "'", "&#xD;", "&#13;", "&#x9;", "&#10;", "&#x20AC;",
    "&#128512;", "&#x1F600;", "\u00e9", "\u65e5\u672c\u8a9e", "\U0001F600", "\U00010348",
    "\u00a0", "\u3000", "\u2028", "\u0085", "\x7f", "\ufffd", "=", "]", "]]&gt;", "]&gt;",
]
ATTR_PIECES = [
    "v", " ", "  ", "\t", "\n", "\r\n", "\r", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", ">",
    "&#x9;", "&#9;", "&#xA;", "&#10;", "&#xD;", "&#13;", "&#x20;", "&#x20AC;", "&#x1F600;",
    "\u00e9", "\U0001F600", "\u00a0", "\u0085", "=", "/", "]]>", "#", "%",
]
CDATA_PIECES = ["x", "<", "&", "&amp;", "]", "]]", "> ", "\r\n", "\r", "\t", "\u00e9", "\U0001F600", " ", "\"'"]
COMMENT_PIECES = [" c ", "x", "-", " - ", "<a>", "&amp;", "\r\n", "\t", "\u00e9", "\U0001F600", "'\""]
PI_TARGETS = ["pi", "x-y", "\u00e9", "target.1", "_"]
PI_DATA = ["", " ", "data", " data ", "\u00a0lead", "\u3000w", "a=\"1\"", "<&>", "\r\n x", "?", "\U0001F600", "\t"]
WS = ["", " ", "\n", "\t", "  \n  ", "\r\n"]


def gen_text(rng):
    out = []
    for _ in range(rng.randint(1, 4)):
        piece = rng.choice(TEXT_PIECES)
        # "]]>" is not allowed in character data: never follow a "]" with ">".
        if piece.startswith(">") and out and out[-1].endswith("]"):
            piece = "&gt;"
        out.append(piece)
    return "".join(out)


def gen_attr_value(rng, quote):
    out = []
    for _ in range(rng.randint(0, 4)):
        piece = rng.choice(ATTR_PIECES)
        out.append(piece)
    other = "'" if quote == '"' else '"'
    if rng.random() < 0.2:
        out.append(other)
    return "".join(out)


def gen_comment(rng):
    body = "".join(rng.choice(COMMENT_PIECES) for _ in range(rng.randint(0, 3)))
    # No "--" inside and no "-" at the end.
    while "--" in body:
        body = body.replace("--", "-x-")
    if body.endswith("-"):
        body += " "
    return "<!--" + body + "-->"


def gen_pi(rng):
    target = rng.choice(PI_TARGETS)
    data = "".join(rng.choice(PI_DATA) for _ in range(rng.randint(0, 2)))
    sep = rng.choice([" ", "  ", "\t", "\n", "\r\n"]) if data else rng.choice(["", " "])
    return "<?" + target + sep + data + "?>"


def gen_cdata(rng):
    body = "".join(rng.choice(CDATA_PIECES) for _ in range(rng.randint(0, 4)))
    while "]]>" in body:
        body = body.replace("]]>", "]] >")
    if body.endswith("]") or body.endswith("]]"):
        body += " "
    return "<![CDATA[" + body + "]]>"


class Gen:
    def __init__(self, rng, max_depth):
        self.rng = rng
        self.max_depth = max_depth
        self.parts = []
        self.ids = 0

    def element(self, depth, scope):
        rng = self.rng
        decls = []
        declared = set()
        if rng.random() < 0.3:
            # Default namespace: a URI, or un-declaring it with xmlns="".
            decls.append(("", rng.choice(URIS + ["", ""])))
            declared.add("")
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            p = rng.choice(PREFIXES)
            if p in declared:
                continue
            declared.add(p)
            decls.append((p, rng.choice(URIS)))
        if rng.random() < 0.03:
            decls.append(("xml", XML_NS))
        inner = dict(scope)
        for p, uri in decls:
            if p != "xml":
                inner[p] = uri

        bound = sorted(p for p, uri in inner.items() if p and uri)
        if bound and rng.random() < 0.6:
            prefix = rng.choice(bound)
            qname = prefix + ":" + rng.choice(LOCALS)
        else:
            qname = rng.choice(LOCALS)

        attrs = []
        seen = set()
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            r = rng.random()
            if r < 0.45 or not bound:
                local = rng.choice(ATTR_LOCALS)
                key, name = ("", local), local
            elif r < 0.85:
                p = rng.choice(bound)
                local = rng.choice(ATTR_LOCALS)
                key, name = (inner[p], local), p + ":" + local
            else:
                local, values = rng.choice(XML_ATTRS)
                key, name = (XML_NS, local), "xml:" + local
                if key not in seen:
                    seen.add(key)
                    if values is None:  # xml:id values must be unique
                        self.ids += 1
                        value = "i%d" % self.ids
                    else:
                        value = rng.choice(values)
                    attrs.append((name, value))
                continue
            if key in seen:
                continue
            seen.add(key)
            quote = rng.choice(['"', "'"])
            attrs.append((name, gen_attr_value(rng, quote), quote))

        items = []
        for p, uri in decls:
            name = "xmlns" if p == "" else "xmlns:" + p
            items.append((name, uri, '"'))
        for a in attrs:
            if len(a) == 2:
                items.append((a[0], a[1], '"'))
            else:
                items.append(a)
        rng.shuffle(items)

        out = self.parts
        out.append("<" + qname)
        for name, value, quote in items:
            out.append(rng.choice([" ", " ", "\n  ", "\t", "  "]))
            out.append(name + rng.choice(["=", "=", " = "]) + quote + value + quote)
        out.append(rng.choice(["", "", " ", "\n"]))

        if depth >= self.max_depth or rng.random() < 0.2:
            out.append("/>")
            return
        out.append(">")
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 5])):
            r = rng.random()
            if r < 0.4 and depth < self.max_depth:
                self.element(depth + 1, inner)
            elif r < 0.7:
                out.append(gen_text(rng))
            elif r < 0.8:
                out.append(gen_cdata(rng))
            elif r < 0.9:
                out.append(gen_comment(rng))
            else:
                out.append(gen_pi(rng))
        out.append("</" + qname + rng.choice(["", "", " ", "\n"]) + ">")


def gen_document(rng):
    g = Gen(rng, rng.choice([2, 3, 4, 5, 6]))
    parts = g.parts
    if rng.random() < 0.05:
        parts.append("\ufeff")
    if rng.random() < 0.4:
        decl = rng.choice([
            '<?xml version="1.0"?>',
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
        ])
        parts.append(decl)
    for _ in range(rng.choice([0, 0, 1, 2])):
        parts.append(rng.choice(WS))
        parts.append(gen_comment(rng) if rng.random() < 0.6 else gen_pi(rng))
    parts.append(rng.choice(WS))
    g.element(1, {})
    for _ in range(rng.choice([0, 0, 1, 2])):
        parts.append(rng.choice(WS))
        parts.append(gen_comment(rng) if rng.random() < 0.6 else gen_pi(rng))
    parts.append(rng.choice(WS))
    return "".join(parts).encode("utf-8")


def element_children(el):
    return [c for c in el if isinstance(c.tag, str)]


def c14n(node, exclusive=False, with_comments=False, prefixes=None):
    return etree.tostring(node, method="c14n", exclusive=exclusive,
                          with_comments=with_comments, inclusive_ns_prefixes=prefixes)


def outputs(node, prefixes):
    return {
        "inclusive": c14n(node),
        "inclusive_comments": c14n(node, with_comments=True),
        "exclusive": c14n(node, exclusive=True),
        "exclusive_comments": c14n(node, exclusive=True, with_comments=True),
        "exclusive_prefixes": c14n(node, exclusive=True, prefixes=prefixes),
    }


def new_parser():
    return etree.XMLParser(resolve_entities=False, strip_cdata=False, remove_blank_text=False,
                           no_network=True, huge_tree=False)


def prime_default_prefix():
    """Makes lxml hand `#default` in a PrefixList through to libxml2 (see the docstring)."""
    primer = etree.fromstring(b'<x xmlns:y="#default"/>', new_parser())
    probe = etree.fromstring(b'<r xmlns="urn:d"><a:s xmlns:a="urn:a"/></r>', new_parser())
    got = c14n(probe[0], exclusive=True, prefixes=["#default"])
    if got != b'<a:s xmlns="urn:d" xmlns:a="urn:a"></a:s>':
        sys.stderr.write("cannot make lxml honour #default in a PrefixList (got %r)\n" % got)
        sys.exit(1)
    return primer


MUTATIONS = ["<", ">", "&", "\"", "'", "]]>", "=", " ", "/", ":", "<!--", "-->", "--", "&#0;",
             "&#xD800;", "&#x110000;", "&#x9;", "&foo;", "&amp", "\x01", "<a>", "</a>", "<a/>",
             "?>", "<?", "<?xml version=\"1.0\"?>", "<![CDATA[", "x:y", "a:b=\"1\"",
             "xmlns:p=\"\"", "xmlns:xml=\"urn:x\"", "xmlns=\"ns\"", "b=\"2\"", "\ufffe",
             "\U0001F600", "\r\n", "\t", "<!DOCTYPE a>", "<!ENTITY a \"b\">", "&#x20AC;", "\u00a0"]


def mutate(rng, data):
    """A near-miss of a valid document: a few characters deleted, inserted or repeated."""
    text = data.decode("utf-8")
    for _ in range(rng.choice([1, 1, 1, 2])):
        if not text:
            break
        i = rng.randrange(len(text))
        r = rng.random()
        if r < 0.35:
            text = text[:i] + text[i + rng.randint(1, 3):]
        elif r < 0.85:
            text = text[:i] + rng.choice(MUTATIONS) + text[i:]
        else:
            j = min(len(text), i + rng.randint(1, 12))
            text = text[:j] + text[i:j] + text[j:]
    return text.encode("utf-8")


def make_case(rng):
    """A generated document, or (30 %) a mutated one. For a mutant libxml2 refuses -- not
    well-formed, or (relative namespace URIs) not canonicalizable -- the case carries only
    `input` and `lxml_refuses` (`parse: ...` or `c14n: ...`, with libxml2's message), and we must refuse it too."""
    data = gen_document(rng)
    if rng.random() < 0.3:
        data = mutate(rng, data)
        try:
            root = etree.fromstring(data, new_parser())
        except etree.XMLSyntaxError as e:
            return [("input", data), ("lxml_refuses", ("parse: %s" % e).encode())]
        if any("&" in uri for el in root.iter() if isinstance(el.tag, str)
               for uri in el.nsmap.values() if uri):
            # libxml2 writes namespace URIs unescaped (see the docstring): no reference output.
            return [("input", data), ("mutant", b"1"), ("no_reference", b"& in a namespace URI")]
        try:
            return [("mutant", b"1")] + canonical_fields(rng, data, root)
        except etree.C14NError as e:
            return [("input", data), ("lxml_refuses", ("c14n: %s" % e).encode())]
    return canonical_fields(rng, data, etree.fromstring(data, new_parser()))


def canonical_fields(rng, data, root):

    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    apex = root if rng.random() < 0.1 else rng.choice(elements)
    path = []
    node = apex
    while node.getparent() is not None:
        parent = node.getparent()
        path.append(element_children(parent).index(node))
        node = parent
    path.reverse()

    pool = PREFIXES + ["#default", "#default", "nope"]
    prefixes = rng.sample(pool, rng.choice([0, 1, 1, 2, 3]))

    fields = [("input", data), ("apex", " ".join(map(str, path)).encode()),
              ("prefixes", " ".join(prefixes).encode())]
    for alg, out in outputs(root.getroottree(), prefixes).items():
        fields.append(("doc." + alg, out))
    # lxml canonicalizes an element through a fake document holding a shallow copy of it whose
    # children still point at the original tree's namespace structs; libxml2 then emits spurious
    # xmlns="" on some descendants (see the docstring). Instead, serialize the apex on its own
    # (lxml writes every in-scope namespace declaration on its start tag, nearest wins), parse
    # that as a document of its own and canonicalize the whole of it: the same node-set.
    alone = etree.fromstring(etree.tostring(apex, encoding="UTF-8", with_tail=False), new_parser())
    sub = outputs(alone.getroottree(), prefixes)
    # lxml would also lose the apex's inherited xml:* attributes (see the docstring): put them
    # on the apex, nearest ancestor first, and canonicalize inclusively again.
    inherited = False
    anc = apex.getparent()
    while anc is not None:
        for name, value in anc.attrib.items():
            if name.startswith("{" + XML_NS + "}") and name not in alone.attrib:
                alone.set(name, value)
                inherited = True
        anc = anc.getparent()
    if inherited:
        sub["inclusive"] = c14n(alone.getroottree())
        sub["inclusive_comments"] = c14n(alone.getroottree(), with_comments=True)
    for alg, out in sub.items():
        fields.append(("sub." + alg, out))
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    primer = prime_default_prefix()
    rng = random.Random(args.seed)
    out = sys.stdout.buffer
    for n in range(args.cases):
        fields = make_case(rng)
        out.write(b"case %d\n" % n)
        for name, value in fields:
            out.write(b"%s %d\n" % (name.encode(), len(value)))
            out.write(value)
            out.write(b"\n")
        out.write(b"end\n")
    out.flush()
    del primer


if __name__ == "__main__":
    main()
