//! Interop of assertion decryption with the reference implementation, `xmlsec1` (libxmlsec1
//! on OpenSSL), in both directions, for every allowed content algorithm:
//!
//! - **xmlsec1 encrypts, we decrypt**: an `EncryptedData` template (AES-128/256-GCM,
//!   AES-128/256-CBC) with an `EncryptedKey` (`rsa-oaep-mgf1p`, with and without
//!   `OAEPparams`) inside `KeyInfo`; `xmlsec1 --encrypt --pubkey-cert-pem` fills it in from a
//!   SAML assertion, and [`decrypt_assertion`] must return the assertion as xmlsec1
//!   serialized it.
//! - **we encrypt, xmlsec1 decrypts**: [`encrypt_assertion`] with `rsa-oaep-mgf1p`, the key
//!   inside `KeyInfo` and as an Okta-style sibling named by `RetrievalMethod`;
//!   `xmlsec1 --decrypt --privkey-pem` must give back the assertion.
//! - **xmlenc11 `rsa-oaep` with SHA-256**: xmlsec1 1.2 (Debian bookworm) has no
//!   `xmlenc11#rsa-oaep` and only SHA-1 inside OAEP, so there the key transport's reference is
//!   OpenSSL itself (`openssl pkeyutl` with `rsa_oaep_md:sha256`, MGF1-SHA1 and MGF1-SHA256)
//!   while xmlsec1 still does the content encryption (`--aeskey`); both directions. When the
//!   xmlsec1 on PATH lists `rsa-oaep-enc11` (1.3+), its own templates are used as well.
//! - **tampering**: one byte of an xmlsec1 AES-GCM ciphertext changed; xmlsec1 and we both
//!   refuse (ours: `saml.decrypt.failed`).
//!
//! Without `xmlsec1` (or `openssl`) on PATH the test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`, which installs both).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and the \
              skip line and the interop summary go to stderr"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use jsm_sso_saml::decrypt::{
    ContentAlgorithm, DecryptionKey, EncryptOptions, KeyPlacement, KeyTransport, OaepHash,
    decrypt_assertion, encrypt_assertion,
};
use jsm_sso_xmldsig::{CodedError, Document, Limits};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/decrypt")
        .join(name)
}

fn required() -> bool {
    std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Whether `tool --version` runs; else a skip line (or a panic when peers are required).
fn have(tool: &str, arg: &str) -> bool {
    match Command::new(tool).arg(arg).output() {
        Ok(out) if out.status.success() => true,
        _ if required() => panic!(
            "{tool} is not on PATH but JSM_SSO_REQUIRE_PEERS=1; install the Debian package \
             {tool} (scripts/test.sh does)"
        ),
        _ => {
            eprintln!(
                "skip: {tool} not found on PATH; decrypt_interop_xmlsec1 did not run \
                 (set JSM_SSO_REQUIRE_PEERS=1 to make this a failure)"
            );
            false
        }
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
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
            "jsm-sso-decrypt-{tag}-{}-{nanos}",
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

fn sp_key() -> DecryptionKey {
    DecryptionKey::from_pem(&std::fs::read(vector("sp-rsa2048.key")).unwrap()).unwrap()
}

/// A SAML assertion, as text, for variant `n`: the `saml` prefix declared on the assertion or
/// only on the surrounding element, unicode and escaped characters, some length.
fn assertion(n: usize, own_namespace: bool) -> String {
    let ns = if own_namespace {
        format!(r#" xmlns:saml="{SAML}""#)
    } else {
        String::new()
    };
    let attrs: String = (0..n % 4 + 1)
        .map(|i| {
            format!(
                r#"<saml:Attribute Name="group{i}"><saml:AttributeValue>Ünïcödé &amp; &lt;group {i}&gt;</saml:AttributeValue></saml:Attribute>"#
            )
        })
        .collect();
    format!(
        r#"<saml:Assertion{ns} ID="_interop{n}" Version="2.0" IssueInstant="2025-06-01T12:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer><saml:Subject><saml:NameID>customer{n}@example.org</saml:NameID></saml:Subject><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#
    )
}

/// The document xmlsec1 encrypts a node of: the assertion inside an `EncryptedAssertion`.
fn data_document(assertion: &str) -> String {
    format!(r#"<saml:EncryptedAssertion xmlns:saml="{SAML}">{assertion}</saml:EncryptedAssertion>"#)
}

fn session_key(alg: ContentAlgorithm) -> &'static str {
    match alg {
        ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes128Cbc => "aes-128",
        ContentAlgorithm::Aes256Gcm | ContentAlgorithm::Aes256Cbc => "aes-256",
    }
}

/// The `EncryptedData` template; `key_method` is the `EncryptedKey`'s `EncryptionMethod`, or
/// `None` for no `KeyInfo` (content key given with `--aeskey`).
fn template(alg: ContentAlgorithm, key_method: Option<&str>) -> String {
    let key_info = key_method.map_or(String::new(), |method| {
        format!(
            "<ds:KeyInfo><xenc:EncryptedKey>{method}<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
        )
    });
    format!(
        r#"<xenc:EncryptedData xmlns:xenc="{XENC}" xmlns:ds="{DS}" Type="{XENC}Element"><xenc:EncryptionMethod Algorithm="{}"/>{key_info}<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#,
        alg.uri()
    )
}

/// `xmlsec1 --encrypt` of the assertion in `data` with `template`; the output document.
fn xmlsec1_encrypt(dir: &TempDir, tag: &str, data: &str, template: &str, keys: &[&str]) -> String {
    let (data_file, tmpl_file, out_file) = (
        dir.file(&format!("{tag}-data.xml")),
        dir.file(&format!("{tag}-tmpl.xml")),
        dir.file(&format!("{tag}-out.xml")),
    );
    std::fs::write(&data_file, data).unwrap();
    std::fs::write(&tmpl_file, template).unwrap();
    let mut args = vec!["--encrypt"];
    args.extend(keys);
    args.extend([
        "--xml-data",
        path(&data_file),
        "--node-name",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--output",
        path(&out_file),
        path(&tmpl_file),
    ]);
    let out = run("xmlsec1", &args);
    assert!(
        out.status.success(),
        "xmlsec1 --encrypt {tag}: {}",
        show(&out)
    );
    std::fs::read_to_string(&out_file).unwrap()
}

/// `xmlsec1 --decrypt` of `xml`; the decrypted document.
fn xmlsec1_decrypt(dir: &TempDir, tag: &str, xml: &str, keys: &[&str]) -> Output {
    let file = dir.file(&format!("{tag}-enc.xml"));
    std::fs::write(&file, xml).unwrap();
    let mut args = vec!["--decrypt"];
    args.extend(keys);
    args.push(path(&file));
    run("xmlsec1", &args)
}

fn our_decrypt(xml: &str) -> Result<Vec<u8>, jsm_sso_saml::decrypt::DecryptError> {
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    let encrypted = if doc.root().is(SAML, "EncryptedAssertion") {
        doc.root()
    } else {
        doc.root().child(SAML, "EncryptedAssertion").unwrap()
    };
    decrypt_assertion(encrypted, &[sp_key()])
}

/// Wraps `key` for the SP with `openssl pkeyutl` (OAEP with `digest` and MGF1-`mgf`).
fn openssl_wrap(dir: &TempDir, tag: &str, key: &[u8], digest: &str, mgf: &str) -> Vec<u8> {
    let (key_file, out_file, pub_file) = (
        dir.file(&format!("{tag}-cek.bin")),
        dir.file(&format!("{tag}-wrapped.bin")),
        dir.file("sp-pub.pem"),
    );
    std::fs::write(&key_file, key).unwrap();
    let out = run(
        "openssl",
        &[
            "x509",
            "-in",
            path(&vector("sp-rsa2048.crt")),
            "-pubkey",
            "-noout",
            "-out",
            path(&pub_file),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let out = run(
        "openssl",
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            path(&pub_file),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{digest}"),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{mgf}"),
            "-in",
            path(&key_file),
            "-out",
            path(&out_file),
        ],
    );
    assert!(
        out.status.success(),
        "openssl pkeyutl -encrypt: {}",
        show(&out)
    );
    std::fs::read(&out_file).unwrap()
}

/// Unwraps `wrapped` with the SP key with `openssl pkeyutl`.
fn openssl_unwrap(dir: &TempDir, tag: &str, wrapped: &[u8], digest: &str, mgf: &str) -> PathBuf {
    let (in_file, out_file) = (
        dir.file(&format!("{tag}-wrapped-in.bin")),
        dir.file(&format!("{tag}-cek-out.bin")),
    );
    std::fs::write(&in_file, wrapped).unwrap();
    let out = run(
        "openssl",
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            path(&vector("sp-rsa2048.key")),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{digest}"),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{mgf}"),
            "-in",
            path(&in_file),
            "-out",
            path(&out_file),
        ],
    );
    assert!(
        out.status.success(),
        "openssl pkeyutl -decrypt: {}",
        show(&out)
    );
    out_file
}

/// `text` as xmlsec1 prints it: without an encoding declaration libxml2 writes every
/// non-ASCII character as a hexadecimal character reference.
fn as_printed(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("&#x{:X};", u32::from(c))
            }
        })
        .collect()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap() + open.len();
    let end = start + text[start..].find(close).unwrap();
    &text[start..end]
}

#[test]
fn xmlsec1_encrypts_we_decrypt() {
    if !have("xmlsec1", "--version") {
        return;
    }
    let dir = TempDir::new("xmlsec1-enc");
    let cert = path(&vector("sp-rsa2048.crt")).to_owned();
    let mut count = 0;
    for (i, alg) in ContentAlgorithm::ALL.into_iter().enumerate() {
        for (j, (method, label)) in [
            (format!(r#"<xenc:EncryptionMethod Algorithm="{MGF1P}"/>"#), "mgf1p"),
            (
                format!(r#"<xenc:EncryptionMethod Algorithm="{MGF1P}"><ds:DigestMethod Algorithm="{SHA1}"/></xenc:EncryptionMethod>"#),
                "mgf1p+sha1",
            ),
            (
                format!(r#"<xenc:EncryptionMethod Algorithm="{MGF1P}"><xenc:OAEPparams>anNtLXNzbyBsYWJlbA==</xenc:OAEPparams><ds:DigestMethod Algorithm="{SHA1}"/></xenc:EncryptionMethod>"#),
                "mgf1p+OAEPparams",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let n = i * 3 + j;
            let assertion = assertion(n, n % 2 == 0);
            let tag = format!("{alg:?}-{j}");
            let xml = xmlsec1_encrypt(
                &dir,
                &tag,
                &data_document(&assertion),
                &template(alg, Some(&method)),
                &["--pubkey-cert-pem", &cert, "--session-key", session_key(alg)],
            );
            assert!(xml.contains(alg.uri()), "{xml}");
            let plain = our_decrypt(&xml).unwrap_or_else(|e| panic!("{tag} ({label}): {e}\n{xml}"));
            assert_eq!(String::from_utf8(plain).unwrap(), assertion, "{tag} ({label})");
            count += 1;

            // xmlsec1's own answer on the same file, to be sure the vector is sound.
            let out = xmlsec1_decrypt(&dir, &tag, &xml, &["--privkey-pem", path(&vector("sp-rsa2048.key"))]);
            assert!(String::from_utf8_lossy(&out.stdout).contains(&as_printed(&assertion)), "{}", show(&out));
        }
    }
    assert_eq!(count, 12);
    eprintln!(
        "interop: xmlsec1 encrypted {count} assertions (4 content algorithms x rsa-oaep-mgf1p variants); all decrypted"
    );
}

#[test]
fn we_encrypt_xmlsec1_decrypts() {
    if !have("xmlsec1", "--version") {
        return;
    }
    let dir = TempDir::new("xmlsec1-dec");
    let cert = std::fs::read(vector("sp-rsa2048.crt")).unwrap();
    let key = path(&vector("sp-rsa2048.key")).to_owned();
    let mut count = 0;
    for (i, alg) in ContentAlgorithm::ALL.into_iter().enumerate() {
        for placement in [
            KeyPlacement::InsideKeyInfo,
            KeyPlacement::SiblingWithRetrievalMethod,
        ] {
            for params in [None, Some(b"jsm-sso label".to_vec())] {
                let assertion = assertion(i + count, true);
                let options = EncryptOptions::default()
                    .content(alg)
                    .key_transport(KeyTransport::RsaOaepMgf1p {
                        digest: OaepHash::Sha1,
                    })
                    .placement(placement)
                    .oaep_params(params.clone());
                let xml = encrypt_assertion(assertion.as_bytes(), &cert, &options).unwrap();
                let tag = format!("{alg:?}-{placement:?}-{}", params.is_some());
                // xmlsec1 resolves RetrievalMethod's #id only for attributes declared as IDs.
                let out = xmlsec1_decrypt(
                    &dir,
                    &tag,
                    &xml,
                    &[
                        "--privkey-pem",
                        &key,
                        "--id-attr:Id",
                        &format!("{XENC}:EncryptedKey"),
                    ],
                );
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && text.contains(&as_printed(&assertion)),
                    "{tag}: {}\n{xml}",
                    show(&out)
                );
                count += 1;
            }
        }
    }
    assert_eq!(count, 16);
    eprintln!(
        "interop: xmlsec1 decrypted {count} assertions we encrypted (4 content algorithms x 2 layouts x label or not)"
    );
}

/// Every (digest, MGF1) pair openssl and we check against each other for xmlenc11 rsa-oaep.
const OAEP11: [(OaepHash, &str, OaepHash, &str); 3] = [
    (OaepHash::Sha256, "sha256", OaepHash::Sha1, "sha1"),
    (OaepHash::Sha256, "sha256", OaepHash::Sha256, "sha256"),
    (OaepHash::Sha512, "sha512", OaepHash::Sha256, "sha256"),
];

fn oaep11_method(digest: OaepHash, mgf: OaepHash) -> String {
    let mgf = if mgf == OaepHash::Sha1 {
        String::new() // the default, left implicit
    } else {
        format!(
            r#"<xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="{}"/>"#,
            mgf.mgf_uri()
        )
    };
    format!(
        r#"<xenc:EncryptionMethod Algorithm="{RSA_OAEP11}"><ds:DigestMethod Algorithm="{}"/>{mgf}</xenc:EncryptionMethod>"#,
        digest.digest_uri()
    )
}

#[test]
fn xmlenc11_rsa_oaep_sha256_with_openssl_and_xmlsec1() {
    if !have("xmlsec1", "--version") || !have("openssl", "version") {
        return;
    }
    let dir = TempDir::new("oaep11");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut count = 0;
    for (i, alg) in ContentAlgorithm::ALL.into_iter().enumerate() {
        for (digest, digest_name, mgf, mgf_name) in OAEP11 {
            let tag = format!("{alg:?}-{digest_name}-{mgf_name}");
            let assertion = assertion(i, true);
            // xmlsec1 encrypts the content with a key of ours; openssl wraps that key.
            let mut cek = vec![
                0u8;
                if session_key(alg) == "aes-128" {
                    16
                } else {
                    32
                }
            ];
            getrandom::fill(&mut cek).unwrap();
            let cek_file = dir.file(&format!("{tag}-aes.bin"));
            std::fs::write(&cek_file, &cek).unwrap();
            let xml = xmlsec1_encrypt(
                &dir,
                &tag,
                &data_document(&assertion),
                &template(alg, None),
                &["--aeskey", path(&cek_file)],
            );
            let wrapped = openssl_wrap(&dir, &tag, &cek, digest_name, mgf_name);
            let key_info = format!(
                "<ds:KeyInfo xmlns:ds=\"{DS}\"><xenc:EncryptedKey>{}<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData>",
                oaep11_method(digest, mgf),
                b64.encode(&wrapped)
            );
            let xml = xml.replacen("<xenc:CipherData>", &key_info, 1);
            let plain = our_decrypt(&xml).unwrap_or_else(|e| panic!("{tag}: {e}\n{xml}"));
            assert_eq!(String::from_utf8(plain).unwrap(), assertion, "{tag}");

            // And back: we encrypt, openssl unwraps our EncryptedKey, xmlsec1 decrypts the
            // content with that key.
            let options = EncryptOptions::default()
                .content(alg)
                .key_transport(KeyTransport::RsaOaep { digest, mgf })
                .include_certificate(false);
            let ours = encrypt_assertion(
                assertion.as_bytes(),
                &std::fs::read(vector("sp-rsa2048.crt")).unwrap(),
                &options,
            )
            .unwrap();
            let ek = between(&ours, "<xenc:EncryptedKey", "</xenc:EncryptedKey>");
            let wrapped = b64
                .decode(between(ek, "<xenc:CipherValue>", "</xenc:CipherValue>"))
                .unwrap();
            let cek_file = openssl_unwrap(&dir, &tag, &wrapped, digest_name, mgf_name);
            let key_info = between(&ours, "<ds:KeyInfo>", "</ds:KeyInfo><xenc:CipherData>");
            let data_only = ours.replacen(&format!("<ds:KeyInfo>{key_info}</ds:KeyInfo>"), "", 1);
            assert!(!data_only.contains("EncryptedKey"));
            let out = xmlsec1_decrypt(&dir, &tag, &data_only, &["--aeskey", path(&cek_file)]);
            assert!(
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains(&as_printed(&assertion)),
                "{tag}: {}",
                show(&out)
            );
            count += 1;
        }
    }
    assert_eq!(count, 12);

    // xmlsec1 1.3+ speaks xmlenc11 rsa-oaep itself.
    let transforms = run("xmlsec1", &["--list-transforms"]);
    if String::from_utf8_lossy(&transforms.stdout).contains("rsa-oaep-enc11") {
        let cert = path(&vector("sp-rsa2048.crt")).to_owned();
        for alg in ContentAlgorithm::ALL {
            let assertion = assertion(7, true);
            let method = oaep11_method(OaepHash::Sha256, OaepHash::Sha1);
            let xml = xmlsec1_encrypt(
                &dir,
                &format!("{alg:?}-enc11"),
                &data_document(&assertion),
                &template(alg, Some(&method)),
                &[
                    "--pubkey-cert-pem",
                    &cert,
                    "--session-key",
                    session_key(alg),
                ],
            );
            assert_eq!(
                String::from_utf8(our_decrypt(&xml).unwrap()).unwrap(),
                assertion
            );
        }
        eprintln!("interop: xmlsec1 (1.3+) xmlenc11 rsa-oaep templates decrypted too");
    } else {
        eprintln!(
            "note: this xmlsec1 has no xmlenc11#rsa-oaep (1.2.x); its key transport was checked \
             against openssl pkeyutl instead"
        );
    }
    eprintln!(
        "interop: xmlenc11 rsa-oaep (SHA-256/512 digests, MGF1-SHA1/SHA256) with openssl + xmlsec1: {count} both ways"
    );
}

#[test]
fn tampered_xmlsec1_ciphertext_is_refused_by_both() {
    if !have("xmlsec1", "--version") {
        return;
    }
    let dir = TempDir::new("tamper");
    let cert = path(&vector("sp-rsa2048.crt")).to_owned();
    let key = path(&vector("sp-rsa2048.key")).to_owned();
    let assertion = assertion(3, true);
    let method = format!(r#"<xenc:EncryptionMethod Algorithm="{MGF1P}"/>"#);
    let xml = xmlsec1_encrypt(
        &dir,
        "gcm",
        &data_document(&assertion),
        &template(ContentAlgorithm::Aes256Gcm, Some(&method)),
        &["--pubkey-cert-pem", &cert, "--session-key", "aes-256"],
    );
    // The content CipherValue is the last one; change one byte in the middle of it.
    let start = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = start + xml[start..].find("</xenc:CipherValue>").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut data = b64
        .decode(xml[start..end].replace(['\n', '\r', ' '], ""))
        .unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x01;
    let tampered = format!("{}{}{}", &xml[..start], b64.encode(&data), &xml[end..]);
    assert_eq!(
        our_decrypt(&tampered).unwrap_err().code(),
        "saml.decrypt.failed"
    );
    let out = xmlsec1_decrypt(&dir, "tampered", &tampered, &["--privkey-pem", &key]);
    assert!(
        !out.status.success(),
        "xmlsec1 accepted a tampered GCM ciphertext: {}",
        show(&out)
    );
}
