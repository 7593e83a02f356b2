//! Interop with the reference implementation, `xmlsec1` (libxmlsec1 on libxml2), in both
//! directions, on freshly generated SAML-like documents:
//!
//! - **xmlsec1 signs, we verify**: each document carries an empty `ds:Signature` template
//!   (exclusive or inclusive c14n, with or without comments, `InclusiveNamespaces`, RSA-SHA256 /
//!   384 / 512 or ECDSA-SHA256, SHA-256 / 384 / 512 digests, `ds` declared on the signature, on
//!   the root or as the default namespace) and `xmlsec1 --sign` fills it in; our [`Verifier`]
//!   must accept it and hand back the signed element with its full text.
//! - **we sign, xmlsec1 verifies**: [`sign_enveloped`] with the RSA and the P-256 key, with and
//!   without the certificate in `KeyInfo`; `xmlsec1 --verify` must say `OK`.
//! - **tampering**: one byte of signed content changed after signing; xmlsec1 and we both refuse
//!   (ours: `xmldsig.digest.mismatch`).
//!
//! The documents vary the namespace layout (prefixed, default namespace, assertion as root,
//! redundant and re-declared prefixes, `xmlns=""`, `ds` on the root), `xml:*` attributes that
//! inclusive c14n inherits, attributes in several namespaces, unicode and character references,
//! comments, CDATA and processing instructions, CRLF line endings and compact or pretty layout.
//!
//! Without `xmlsec1` on PATH the test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which installs the Debian package).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and the \
              skip line and the interop summary go to stderr"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jsm_sso_xmldsig::{
    CodedError, DigestMethod, Document, Element, Limits, Placement, SignatureMethod, SigningKey,
    TrustedKeys, Verifier, VerifyOptions, sign_enveloped,
};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XS: &str = "http://www.w3.org/2001/XMLSchema";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const MARK: &str = "@@SIGNATURE@@";

const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_WC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const INC: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const INC_WC: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/peerbench")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// xmlsec1

struct Xmlsec1 {
    /// `--lax-key-search`, which xmlsec1 >= 1.3 needs to use a key that has no name.
    lax_key_search: bool,
    version: String,
}

/// The `xmlsec1` on PATH, or `None` after printing why the test skips (or panicking when
/// `JSM_SSO_REQUIRE_PEERS=1`).
fn xmlsec1() -> Option<Xmlsec1> {
    let required = std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    match Command::new("xmlsec1").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let help = Command::new("xmlsec1")
                .arg("--help-verify")
                .output()
                .map(|o| {
                    let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
                    text.push_str(&String::from_utf8_lossy(&o.stderr));
                    text
                })
                .unwrap_or_default();
            Some(Xmlsec1 {
                lax_key_search: help.contains("--lax-key-search"),
                version: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            })
        }
        _ if required => panic!(
            "xmlsec1 is not on PATH but JSM_SSO_REQUIRE_PEERS=1; install the Debian package \
             xmlsec1 (scripts/test.sh does)"
        ),
        _ => {
            eprintln!(
                "skip: xmlsec1 not found on PATH; interop_xmlsec1 did not run \
                 (set JSM_SSO_REQUIRE_PEERS=1 to make this a failure)"
            );
            None
        }
    }
}

const ID_ATTRS: [&str; 4] = [
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
];

impl Xmlsec1 {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("xmlsec1");
        cmd.args(args);
        cmd.output().unwrap()
    }

    /// Fills in the signature template of `input`, with `key` and its certificate.
    fn sign(&self, input: &Path, output: &Path, key: &str, cert: &str) -> Output {
        let keys = format!("{},{}", testdata(key).display(), testdata(cert).display());
        let (input, output) = (input.to_str().unwrap(), output.to_str().unwrap());
        let mut args = vec!["--sign", "--privkey-pem", &keys];
        args.extend(ID_ATTRS);
        args.extend(["--output", output, input]);
        self.run(&args)
    }

    /// Verifies `file`: with the certificate as trusted root when the signature carries it in
    /// `KeyInfo`, else with the certificate's public key loaded directly.
    fn verify(&self, file: &Path, cert: &str, cert_in_key_info: bool) -> Output {
        let cert = testdata(cert);
        let cert = cert.to_str().unwrap();
        let mut args = vec!["--verify"];
        if cert_in_key_info {
            args.extend(["--trusted-pem", cert]);
        } else {
            args.extend(["--pubkey-cert-pem", cert]);
            if self.lax_key_search {
                args.push("--lax-key-search");
            }
        }
        args.extend(ID_ATTRS);
        args.push(file.to_str().unwrap());
        self.run(&args)
    }
}

fn said_ok(out: &Output) -> bool {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    out.status.success() && text.lines().any(|l| l.trim() == "OK")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory under the system temp dir, removed on drop unless the test failed.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "jsm-sso-xmlsec1-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generated documents

/// Which element carries the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signed {
    /// The document element (a Response, or an Assertion that is the root).
    Root,
    /// The `saml:Assertion` child of a Response.
    Assertion,
}

/// How the `ds` namespace is bound in the signature template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DsStyle {
    /// `<ds:Signature xmlns:ds="...">`.
    Prefixed,
    /// `<Signature xmlns="...">`.
    Default,
    /// `ds` is declared on the document element; the template only uses it.
    OnRoot,
}

struct Doc {
    name: String,
    /// The document with [`MARK`] where the signature goes (right after the signed element's
    /// `Issuer`).
    xml: String,
    signed: Signed,
    id: String,
    /// The full text the verified `NameID` must have.
    name_id: String,
    ds: DsStyle,
}

impl Doc {
    fn without_mark(&self) -> String {
        self.xml.replace(MARK, "")
    }
}

/// Deterministic variety without a dependency: xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `NameID` content and the text it must read as, per content flavour.
fn name_id(flavour: usize, n: usize) -> (String, String) {
    match flavour {
        // Unicode written raw and as character references, escapes.
        2 => (
            format!("j&#xE9;r&#244;me.&#x65E5;&#x672C;+{n}&amp;co\u{1F600}@example.org"),
            format!("jérôme.日本+{n}&co\u{1F600}@example.org"),
        ),
        // A comment and a CDATA section inside the value: the text is the whole value.
        3 => (
            format!("jane<!-- not here -->.customer+{n}<![CDATA[@]]>example.org"),
            format!("jane.customer+{n}@example.org"),
        ),
        _ => (
            format!("jane.customer+{n}@example.org"),
            format!("jane.customer+{n}@example.org"),
        ),
    }
}

/// An attribute statement's children, per flavour, with `p` the SAML prefix (with colon or
/// empty for the default namespace).
fn attributes(flavour: usize, p: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    let groups = [
        "jsm-customers",
        "portal-a",
        "Portal B",
        "\u{00FC}ber",
        "x&amp;y",
    ];
    let _ = write!(
        out,
        r#"<{p}Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><{p}AttributeValue xsi:type="xs:string">jane.customer@example.org</{p}AttributeValue></{p}Attribute>"#
    );
    let count = 1 + rng.below(4);
    let _ = write!(out, r#"<{p}Attribute Name="groups">"#);
    for g in groups.iter().take(count) {
        let _ = write!(
            out,
            r#"<{p}AttributeValue xsi:type="xs:string">{g}</{p}AttributeValue>"#
        );
    }
    let _ = write!(out, r#"</{p}Attribute>"#);
    match flavour {
        2 => {
            // Escapes and character references in attribute values and text.
            let _ = write!(
                out,
                r#"<{p}Attribute Name="display&quot;name" FriendlyName="tab&#9;nl&#10;cr&#13;lt&lt;gt&gt;'"><{p}AttributeValue>&lt;b&gt;Jos&#xE9; &amp; &#x41;nn&#xE4;&lt;/b&gt; &gt; 1 "q" 'a' &#13;</{p}AttributeValue><{p}AttributeValue/></{p}Attribute>"#
            );
        }
        3 => {
            let _ = write!(
                out,
                r#"<!-- attribute comment --><?jsm-pi some data?><{p}Attribute Name="cdata"><{p}AttributeValue><![CDATA[<not-markup> & ]]> text</{p}AttributeValue></{p}Attribute>"#
            );
        }
        5 => {
            // Attributes in several namespaces, same local name, unsorted on purpose.
            let _ = write!(
                out,
                r#"<{p}Attribute xmlns:b="urn:ns:b" xmlns:a="urn:ns:a" b:k="2" Name="multi" a:k="1" z="last" a:a="first"><{p}AttributeValue a:lang="x" b:lang="y">v</{p}AttributeValue></{p}Attribute>"#
            );
        }
        _ => {}
    }
    out
}

/// Layout `layout`, content flavour `flavour`, document number `n`.
fn generate(n: usize, layout: usize, flavour: usize, rng: &mut Rng) -> Doc {
    let (name_markup, name_text) = name_id(flavour, n);
    let rid = format!("_r{n:03}x{:08x}", rng.next() as u32);
    let aid = format!("_a{n:03}x{:08x}", rng.next() as u32);
    let issuer = format!("https://idp{n}.example/saml2");
    let instant = "2026-01-02T03:04:05Z";
    let ns_std = format!(r#"xmlns:xs="{XS}" xmlns:xsi="{XSI}""#);
    let status = r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#;
    let conditions = |p: &str| {
        format!(
            r#"<{p}Conditions NotBefore="2026-01-02T03:00:00Z" NotOnOrAfter="2099-01-01T00:00:00Z"><{p}AudienceRestriction><{p}Audience>https://sp.example/metadata</{p}Audience></{p}AudienceRestriction></{p}Conditions>"#
        )
    };
    let (xml, signed, ds) = match layout {
        // The typical IdP response: prefixes declared on the root, assertion signed.
        0 | 1 => {
            let signed = if layout == 0 {
                Signed::Assertion
            } else {
                Signed::Root
            };
            let (root_mark, assertion_mark) = match signed {
                Signed::Root => (MARK, ""),
                Signed::Assertion => ("", MARK),
            };
            let xml = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" IssueInstant="{instant}" Destination="https://sp.example/acs">
  <saml:Issuer>{issuer}</saml:Issuer>{root_mark}
  {status}
  <saml:Assertion {ns_std} ID="{aid}" Version="2.0" IssueInstant="{instant}">
    <saml:Issuer>{issuer}</saml:Issuer>{assertion_mark}
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_markup}</saml:NameID>
    </saml:Subject>
    {conditions}
    <saml:AttributeStatement>{attrs}</saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#,
                conditions = conditions("saml:"),
                attrs = attributes(flavour, "saml:", rng),
            );
            let ds = if n.is_multiple_of(2) {
                DsStyle::Prefixed
            } else {
                DsStyle::Default
            };
            (xml, signed, ds)
        }
        // The assertion in the default namespace, inside a prefixed response.
        2 => {
            let xml = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{SAMLP}" ID="{rid}" Version="2.0" IssueInstant="{instant}"><Issuer xmlns="{SAML}">{issuer}</Issuer>{status}<Assertion xmlns="{SAML}" {ns_std} ID="{aid}" Version="2.0" IssueInstant="{instant}">
<Issuer>{issuer}</Issuer>{MARK}
<Subject><NameID>{name_markup}</NameID></Subject>{conditions}
<AttributeStatement>{attrs}</AttributeStatement>
</Assertion></samlp:Response>"#,
                conditions = conditions(""),
                attrs = attributes(flavour, "", rng),
            );
            let ds = if n.is_multiple_of(2) {
                DsStyle::Default
            } else {
                DsStyle::Prefixed
            };
            (xml, Signed::Assertion, ds)
        }
        // A bare assertion as the document, `saml2` prefix, xs only used in attribute values.
        3 => {
            let xml = format!(
                r#"<saml2:Assertion xmlns:saml2="{SAML}" {ns_std} ID="{aid}" IssueInstant="{instant}" Version="2.0">
	<saml2:Issuer>{issuer}</saml2:Issuer>{MARK}
	<saml2:Subject><saml2:NameID>{name_markup}</saml2:NameID></saml2:Subject>
	{conditions}
	<saml2:AttributeStatement>{attrs}</saml2:AttributeStatement>
</saml2:Assertion>"#,
                conditions = conditions("saml2:"),
                attrs = attributes(flavour, "saml2:", rng),
            );
            (xml, Signed::Root, DsStyle::Prefixed)
        }
        // Namespace confusion: unused and redundant declarations, a prefix bound to two URIs
        // in different subtrees, a default namespace undeclared with xmlns="".
        4 => {
            let xml = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:unused="urn:unused" xmlns:p="urn:p:outer" ID="{rid}" Version="2.0" IssueInstant="{instant}">
  <saml:Issuer xmlns:saml="{SAML}">{issuer}</saml:Issuer>
  {status}
  <saml:Assertion xmlns:saml="{SAML}" xmlns:p="urn:p:inner" {ns_std} ID="{aid}" Version="2.0" IssueInstant="{instant}" p:flag="inner">
    <saml:Issuer>{issuer}</saml:Issuer>{MARK}
    <saml:Subject><saml:NameID xmlns:unused="urn:unused" p:x="1">{name_markup}</saml:NameID></saml:Subject>
    {conditions}
    <saml:AttributeStatement xmlns="urn:default:one">{attrs}<ext xmlns="urn:ext"><inner xmlns="">plain</inner><p:deep xmlns:p="urn:p:deepest" p:y="2"/></ext></saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#,
                conditions = conditions("saml:"),
                attrs = attributes(flavour, "saml:", rng),
            );
            (xml, Signed::Assertion, DsStyle::Prefixed)
        }
        // xml:* attributes on the root (inclusive c14n of the assertion inherits them).
        5 => {
            let xml = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- before the root -->
<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xml:lang="en-GB" xml:space="preserve" ID="{rid}" Version="2.0" IssueInstant="{instant}">
  <saml:Issuer>{issuer}</saml:Issuer>
  {status}
  <saml:Assertion {ns_std} ID="{aid}" Version="2.0" IssueInstant="{instant}">
    <saml:Issuer>{issuer}</saml:Issuer>{MARK}
    <saml:Subject><saml:NameID xml:lang="fr">{name_markup}</saml:NameID></saml:Subject>
    {conditions}
    <saml:AttributeStatement>{attrs}</saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
<!-- after the root -->
"#,
                conditions = conditions("saml:"),
                attrs = attributes(flavour, "saml:", rng),
            );
            (xml, Signed::Assertion, DsStyle::Prefixed)
        }
        // `ds` declared on the root and used by the signature without declaring it.
        _ => {
            let xml = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:ds="{DS}" ID="{rid}" Version="2.0" IssueInstant="{instant}">
  <saml:Issuer>{issuer}</saml:Issuer>
  {status}
  <saml:Assertion {ns_std} ID="{aid}" Version="2.0" IssueInstant="{instant}">
    <saml:Issuer>{issuer}</saml:Issuer>{MARK}
    <saml:Subject><saml:NameID>{name_markup}</saml:NameID></saml:Subject>
    {conditions}
    <saml:AttributeStatement>{attrs}</saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#,
                conditions = conditions("saml:"),
                attrs = attributes(flavour, "saml:", rng),
            );
            (xml, Signed::Assertion, DsStyle::OnRoot)
        }
    };
    // Flavour 1: compact, no line breaks between elements; flavour 4: CRLF line endings.
    let xml = match flavour {
        1 => xml
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("")
            .replacen("?><", "?>\n<", 1),
        4 => xml.replace('\n', "\r\n"),
        _ => xml,
    };
    let id = match (signed, layout) {
        (Signed::Root, 3) | (Signed::Assertion, _) => aid,
        (Signed::Root, _) => rid,
    };
    Doc {
        name: format!("doc{n:02}-layout{layout}-flavour{flavour}"),
        xml,
        signed,
        id,
        name_id: name_text,
        ds,
    }
}

/// Thirty-six documents: every layout with every content flavour at least once.
fn documents() -> Vec<Doc> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..36)
        .map(|n| {
            let layout = n % 7;
            let flavour = (n + n / 7) % 6;
            generate(n, layout, flavour, &mut rng)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Signature templates for xmlsec1

#[derive(Debug, Clone, Copy)]
struct Algorithms {
    name: &'static str,
    signed_info_c14n: &'static str,
    signed_info_prefixes: Option<&'static str>,
    method: SignatureMethod,
    /// The c14n transform after enveloped-signature; `None`: enveloped only (the reference is
    /// then canonicalized with the default, inclusive C14N 1.0).
    transform: Option<&'static str>,
    transform_prefixes: Option<&'static str>,
    digest: DigestMethod,
    /// What `KeyInfo` holds: the certificate, a key name, or nothing.
    key_info: KeyInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyInfo {
    Certificate,
    KeyName,
    None,
}

const ALGORITHMS: [Algorithms; 8] = [
    Algorithms {
        name: "exc/rsa-sha256/sha256",
        signed_info_c14n: EXC,
        signed_info_prefixes: None,
        method: SignatureMethod::RsaSha256,
        transform: Some(EXC),
        transform_prefixes: None,
        digest: DigestMethod::Sha256,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "exc-with-comments/rsa-sha256/sha256",
        signed_info_c14n: EXC_WC,
        signed_info_prefixes: None,
        method: SignatureMethod::RsaSha256,
        transform: Some(EXC_WC),
        transform_prefixes: None,
        digest: DigestMethod::Sha256,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "inclusive/rsa-sha256/sha256",
        signed_info_c14n: INC,
        signed_info_prefixes: None,
        method: SignatureMethod::RsaSha256,
        transform: Some(INC),
        transform_prefixes: None,
        digest: DigestMethod::Sha256,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "inclusive-with-comments/rsa-sha512/sha512",
        signed_info_c14n: INC,
        signed_info_prefixes: None,
        method: SignatureMethod::RsaSha512,
        transform: Some(INC_WC),
        transform_prefixes: None,
        digest: DigestMethod::Sha512,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "exc/ecdsa-sha256/sha256",
        signed_info_c14n: EXC,
        signed_info_prefixes: None,
        method: SignatureMethod::EcdsaSha256,
        transform: Some(EXC),
        transform_prefixes: None,
        digest: DigestMethod::Sha256,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "exc-prefixlist/rsa-sha512/sha384",
        signed_info_c14n: EXC,
        signed_info_prefixes: Some("ds xs"),
        method: SignatureMethod::RsaSha512,
        transform: Some(EXC),
        transform_prefixes: Some("xs xsi #default"),
        digest: DigestMethod::Sha384,
        key_info: KeyInfo::Certificate,
    },
    Algorithms {
        name: "exc/rsa-sha384/sha512, enveloped transform only, KeyName",
        signed_info_c14n: EXC,
        signed_info_prefixes: None,
        method: SignatureMethod::RsaSha384,
        transform: None,
        transform_prefixes: None,
        digest: DigestMethod::Sha512,
        key_info: KeyInfo::KeyName,
    },
    Algorithms {
        name: "exc/ecdsa-sha256/sha512, no KeyInfo",
        signed_info_c14n: EXC,
        signed_info_prefixes: None,
        method: SignatureMethod::EcdsaSha256,
        transform: Some(EXC),
        transform_prefixes: None,
        digest: DigestMethod::Sha512,
        key_info: KeyInfo::None,
    },
];

impl Algorithms {
    fn is_ecdsa(&self) -> bool {
        matches!(
            self.method,
            SignatureMethod::EcdsaSha256 | SignatureMethod::EcdsaSha384
        )
    }

    fn key_and_cert(&self) -> (&'static str, &'static str) {
        if self.is_ecdsa() {
            ("idp-ec.key", "idp-ec.crt")
        } else {
            ("idp-rsa.key", "idp-rsa.crt")
        }
    }

    /// The empty `ds:Signature` xmlsec1 fills in.
    fn template(&self, id: &str, style: DsStyle) -> String {
        let (open, p) = match style {
            DsStyle::Prefixed => (format!(r#"<ds:Signature xmlns:ds="{DS}">"#), "ds:"),
            DsStyle::Default => (format!(r#"<Signature xmlns="{DS}">"#), ""),
            DsStyle::OnRoot => ("<ds:Signature>".to_owned(), "ds:"),
        };
        let method = |element: &str, uri: &str, prefixes: Option<&str>| match prefixes {
            None => format!(r#"<{p}{element} Algorithm="{uri}"/>"#),
            Some(list) => format!(
                r#"<{p}{element} Algorithm="{uri}"><ec:InclusiveNamespaces xmlns:ec="{EXC}" PrefixList="{list}"/></{p}{element}>"#
            ),
        };
        let mut t = open;
        let _ = write!(t, "\n<{p}SignedInfo>\n");
        t.push_str(&method(
            "CanonicalizationMethod",
            self.signed_info_c14n,
            self.signed_info_prefixes,
        ));
        t.push_str(&method("SignatureMethod", self.method.uri(), None));
        let _ = write!(t, "\n<{p}Reference URI=\"#{id}\"><{p}Transforms>");
        t.push_str(&method("Transform", ENVELOPED, None));
        if let Some(transform) = self.transform {
            t.push_str(&method("Transform", transform, self.transform_prefixes));
        }
        let _ = write!(t, "</{p}Transforms>");
        t.push_str(&method("DigestMethod", self.digest.uri(), None));
        let _ = write!(
            t,
            "<{p}DigestValue></{p}DigestValue></{p}Reference>\n</{p}SignedInfo>\n<{p}SignatureValue/>"
        );
        match self.key_info {
            KeyInfo::Certificate => {
                let _ = write!(t, "<{p}KeyInfo><{p}X509Data/></{p}KeyInfo>");
            }
            KeyInfo::KeyName => {
                let _ = write!(t, "<{p}KeyInfo><{p}KeyName>idp</{p}KeyName></{p}KeyInfo>");
            }
            KeyInfo::None => {}
        }
        let _ = write!(t, "</{p}Signature>");
        t
    }
}

// ---------------------------------------------------------------------------------------------
// Our side

/// Trusts both IdP keys, as during a key rollover from RSA to EC.
fn our_verifier() -> Verifier {
    let mut keys = TrustedKeys::from_pem(&read("idp-rsa.crt")).unwrap();
    keys.extend(TrustedKeys::from_pem(&read("idp-ec.crt")).unwrap());
    Verifier::new(keys, VerifyOptions::default())
}

fn signed_element<'d>(doc: &'d Document, signed: Signed) -> Element<'d> {
    match signed {
        Signed::Root => doc.root(),
        Signed::Assertion => doc.root().child(SAML, "Assertion").unwrap(),
    }
}

/// The `NameID` under a verified element (a Response or an Assertion).
fn verified_name_id(element: Element<'_>) -> Option<String> {
    let assertion = if element.is(SAML, "Assertion") {
        element
    } else {
        element.child(SAML, "Assertion")?
    };
    assertion
        .child(SAML, "Subject")?
        .child(SAML, "NameID")
        .map(|n| n.text().into_owned())
}

/// Changes one byte of signed content: a letter of the `NameID` value.
fn tamper(xml: &str) -> String {
    let start = xml.find("NameID").unwrap();
    let value = start + xml[start..].find('>').unwrap() + 1;
    let bytes = xml.as_bytes();
    let offset = (value..xml.len())
        .find(|&i| bytes[i].is_ascii_lowercase())
        .unwrap();
    let mut out = xml.as_bytes().to_vec();
    out[offset] = if out[offset] == b'z' {
        b'y'
    } else {
        out[offset] + 1
    };
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The two directions

#[test]
fn xmlsec1_signs_we_verify() {
    let Some(xmlsec1) = xmlsec1() else { return };
    let dir = TempDir::new("signs");
    let verifier = our_verifier();
    let mut failures = Vec::new();
    let mut accepted = 0;
    let mut by_algorithm = [0usize; ALGORITHMS.len()];
    for (n, doc) in documents().iter().enumerate() {
        let alg_index = (n * 5 + n / 8) % ALGORITHMS.len();
        let alg = &ALGORITHMS[alg_index];
        let template = doc.xml.replace(MARK, &alg.template(&doc.id, doc.ds));
        let input = dir.file(&format!("{}.template.xml", doc.name));
        let output = dir.file(&format!("{}.signed.xml", doc.name));
        std::fs::write(&input, &template).unwrap();
        let (key, cert) = alg.key_and_cert();
        let signed = xmlsec1.sign(&input, &output, key, cert);
        assert!(
            signed.status.success(),
            "xmlsec1 could not sign {} ({}): {}",
            doc.name,
            alg.name,
            show(&signed)
        );
        let xml = std::fs::read(&output).unwrap();

        let parsed = Document::parse(&xml, &Limits::default());
        let outcome = parsed.as_ref().map_err(|e| e.code()).and_then(|d| {
            let element = signed_element(d, doc.signed);
            verifier
                .verify_enveloped(element)
                .map_err(|e| e.code())
                .map(|v| {
                    (
                        v.info().signature_method,
                        v.info().digest_method,
                        v.info().reference_id.clone(),
                        verified_name_id(v.element()),
                    )
                })
        });
        match outcome {
            Ok((method, digest, reference, name)) => {
                assert_eq!(method, alg.method, "{}", doc.name);
                assert_eq!(digest, alg.digest, "{}", doc.name);
                assert_eq!(reference, doc.id, "{}", doc.name);
                assert_eq!(name.as_deref(), Some(doc.name_id.as_str()), "{}", doc.name);
                accepted += 1;
                by_algorithm[alg_index] += 1;
            }
            Err(code) => {
                let theirs = xmlsec1.verify(&output, cert, alg.key_info == KeyInfo::Certificate);
                failures.push(format!(
                    "{} ({}): we refused with {code}; xmlsec1 --verify on the same file says {}",
                    doc.name,
                    alg.name,
                    if said_ok(&theirs) { "OK" } else { "FAIL" }
                ));
                continue;
            }
        }

        // One byte of signed content changed: both refuse.
        let tampered_path = dir.file(&format!("{}.tampered.xml", doc.name));
        let tampered = tamper(std::str::from_utf8(&xml).unwrap());
        std::fs::write(&tampered_path, &tampered).unwrap();
        let theirs = xmlsec1.verify(&tampered_path, cert, alg.key_info == KeyInfo::Certificate);
        assert!(!said_ok(&theirs), "xmlsec1 accepted tampered {}", doc.name);
        let d = Document::parse(tampered.as_bytes(), &Limits::default()).unwrap();
        let ours = verifier
            .verify_enveloped(signed_element(&d, doc.signed))
            .map(|_| ())
            .map_err(|e| e.code());
        assert_eq!(
            ours,
            Err("xmldsig.digest.mismatch"),
            "tampered {}",
            doc.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} of 36 xmlsec1-signed documents refused ({}):\n{}",
        failures.len(),
        xmlsec1.version,
        failures.join("\n")
    );
    assert_eq!(accepted, 36);
    assert!(
        by_algorithm.iter().all(|&count| count > 0),
        "every algorithm combination is exercised: {by_algorithm:?}"
    );
    eprintln!(
        "interop: {} verified {accepted} documents signed by {} ({} algorithm combinations), and both refused all {accepted} tampered copies",
        env!("CARGO_PKG_NAME"),
        xmlsec1.version,
        ALGORITHMS.len()
    );
}

#[test]
fn we_sign_xmlsec1_verifies() {
    let Some(xmlsec1) = xmlsec1() else { return };
    let dir = TempDir::new("verifies");
    let verifier = our_verifier();
    let mut failures = Vec::new();
    for (n, doc) in documents().iter().enumerate() {
        let ec = n % 2 == 1;
        let with_cert = !n.is_multiple_of(3);
        let (key_file, cert) = if ec {
            ("idp-ec.key", "idp-ec.crt")
        } else {
            ("idp-rsa.key", "idp-rsa.crt")
        };
        let mut key = SigningKey::from_pem(&read(key_file)).unwrap();
        if with_cert {
            key = key.with_certificate_pem(&read(cert)).unwrap();
        }
        let source = doc.without_mark();
        let signed = sign_enveloped(
            source.as_bytes(),
            &doc.id,
            &key,
            &Placement::after_saml_issuer(),
        )
        .unwrap_or_else(|e| panic!("signing {}: {} {e}", doc.name, e.code()));
        let path = dir.file(&format!("{}.ours.xml", doc.name));
        std::fs::write(&path, &signed).unwrap();

        let theirs = xmlsec1.verify(&path, cert, with_cert);
        if !said_ok(&theirs) {
            failures.push(format!(
                "{} ({}, certificate in KeyInfo: {with_cert}): xmlsec1 says {}",
                doc.name,
                if ec { "ecdsa-p256" } else { "rsa-2048" },
                show(&theirs)
            ));
            continue;
        }
        // And we read back what we signed.
        let d = Document::parse(signed.as_bytes(), &Limits::default()).unwrap();
        let verified = verifier
            .verify_enveloped(signed_element(&d, doc.signed))
            .unwrap_or_else(|e| panic!("{}: {} {e}", doc.name, e.code()));
        assert_eq!(
            verified_name_id(verified.element()).as_deref(),
            Some(doc.name_id.as_str())
        );

        let tampered_path = dir.file(&format!("{}.ours.tampered.xml", doc.name));
        let tampered = tamper(&signed);
        std::fs::write(&tampered_path, &tampered).unwrap();
        let theirs = xmlsec1.verify(&tampered_path, cert, with_cert);
        assert!(!said_ok(&theirs), "xmlsec1 accepted tampered {}", doc.name);
        let d = Document::parse(tampered.as_bytes(), &Limits::default()).unwrap();
        let ours = verifier
            .verify_enveloped(signed_element(&d, doc.signed))
            .map(|_| ())
            .map_err(|e| e.code());
        assert_eq!(ours, Err("xmldsig.digest.mismatch"), "{}", doc.name);
    }
    assert!(
        failures.is_empty(),
        "{} of 36 documents we signed were refused by {}:\n{}",
        failures.len(),
        xmlsec1.version,
        failures.join("\n")
    );
    eprintln!(
        "interop: {} verified all 36 documents we signed (RSA-2048 and P-256), and refused all 36 tampered copies",
        xmlsec1.version
    );
}

/// The generator itself: every document is well-formed for us, and the templates are too.
#[test]
fn generated_documents_parse() {
    for (n, doc) in documents().iter().enumerate() {
        let plain = doc.without_mark();
        let parsed = Document::parse(plain.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {} {e}", doc.name, e.code()));
        let element = signed_element(&parsed, doc.signed);
        assert_eq!(element.attribute("ID"), Some(doc.id.as_str()));
        assert_eq!(
            verified_name_id(element).as_deref(),
            Some(doc.name_id.as_str()),
            "{}",
            doc.name
        );
        let alg = &ALGORITHMS[n % ALGORITHMS.len()];
        let with_template = doc.xml.replace(MARK, &alg.template(&doc.id, doc.ds));
        Document::parse(with_template.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("{} template: {} {e}", doc.name, e.code()));
    }
}

/// Regression (found by this interop test): xmlsec1 digests a `URI="#id"` reference without
/// comments even under a `#WithComments` transform, as XML-DSig says; we used to keep them and
/// refused with `xmldsig.digest.mismatch`. Stored xmlsec1 output, so it runs without xmlsec1.
#[test]
fn xmlsec1_with_comments_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/interop");
    for (file, signed, name_id, method) in [
        (
            "xmlsec1-exc-withcomments.xml",
            Signed::Root,
            "jane.customer+8@example.org",
            SignatureMethod::RsaSha256,
        ),
        (
            "xmlsec1-inclusive-withcomments.xml",
            Signed::Root,
            "jane.customer+24@example.org",
            SignatureMethod::RsaSha512,
        ),
    ] {
        let xml = std::fs::read(dir.join(file)).unwrap();
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let verified = our_verifier()
            .verify_enveloped(signed_element(&doc, signed))
            .unwrap_or_else(|e| panic!("{file}: {} {e}", e.code()));
        assert_eq!(verified.info().signature_method, method, "{file}");
        assert_eq!(
            verified_name_id(verified.element()).as_deref(),
            Some(name_id),
            "{file}"
        );
        // The comments are outside the digest, but the signed text is still all there: a comment
        // cannot be used to cut the NameID short.
        let tampered =
            String::from_utf8(xml)
                .unwrap()
                .replacen("<!-- not here -->", "<!-- moved -->", 1);
        let doc = Document::parse(tampered.as_bytes(), &Limits::default()).unwrap();
        assert!(
            our_verifier()
                .verify_enveloped(signed_element(&doc, signed))
                .is_ok(),
            "{file}: comments are not signed content"
        );
    }
}
