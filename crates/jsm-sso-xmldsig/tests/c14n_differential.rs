//! Differential canonicalization test against libxml2 (python lxml).
//!
//! `tests/c14n_oracle.py` generates thousands of seeded random documents (namespaces declared,
//! re-declared, un-declared and unused; attributes in several namespaces; xml:* attributes;
//! references, CDATA, comments, processing instructions, awkward white space and unicode) and
//! writes lxml's canonical forms of each: the whole document and a random apex element, under
//! the four algorithms and exclusive c14n with a random `InclusiveNamespaces PrefixList`. This
//! test parses every input with our hardened parser, canonicalizes it the same ten ways and
//! compares byte for byte. Where libxml2 departs from the W3C recommendations the oracle says
//! how it steers around it (see its docstring); those cases have spec-derived tests of their own.
//!
//! About a third of the documents are mutated first (characters deleted, inserted, repeated).
//! A mutant libxml2 refuses must be refused by our parser too -- a document the reference
//! implementation does not consider XML must never be one we verify -- except for the
//! [`LIBXML2_ONLY_REFUSALS`]; a mutant both accept is compared like any other document, and
//! one only we refuse must be refused for one of the [`MUTANT_REFUSALS`] reasons.
//!
//! Needs `python3` with `lxml` on PATH. Without them the test prints why and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (CI, scripts/test.sh), where a missing peer is a failure.
//! `JSM_SSO_C14N_CASES`, `JSM_SSO_C14N_SEED` and `JSM_SSO_C14N_SHOW` override the case count,
//! the seed and how many failures are printed.
#![expect(
    clippy::panic,
    clippy::expect_used,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed expect is a failed test, and the \
              skip line and the summary go to stderr"
)]

use std::io::BufRead;
use std::path::Path;
use std::process::Command;

use jsm_sso_xmldsig::c14n::{self, Algorithm};
use jsm_sso_xmldsig::{CodedError, Document, Element, Limits};

const DEFAULT_CASES: usize = 3000;
const DEFAULT_SEED: u64 = 20_240_611;
const SHOWN_FAILURES: usize = 5;

/// What we refuse on purpose in a mutant that libxml2 accepts: any DOCTYPE, and XML
/// declarations other than `version="1.0"` with UTF-8 (libxml2 takes `version="1."` and
/// unknown encoding names).
const MUTANT_REFUSALS: &[&str] = &["xml.doctype", "xml.declaration"];

/// libxml2 refusals we deliberately do not copy, by a fragment of libxml2's message.
const LIBXML2_ONLY_REFUSALS: &[(&str, &str)] = &[(
    "is not an NCName",
    "libxml2 checks xml:id values against the XML 1.0 4th-edition name classes (it refuses \
     xml:id=\"i1\u{20ac}\"); we apply the 5th edition's, as to every other name",
)];

/// The five ways each node is canonicalized: field suffix, algorithm, and whether the case's
/// PrefixList applies.
const VARIANTS: [(&str, Algorithm, bool); 5] = [
    ("inclusive", Algorithm::Inclusive, false),
    (
        "inclusive_comments",
        Algorithm::InclusiveWithComments,
        false,
    ),
    ("exclusive", Algorithm::Exclusive, false),
    (
        "exclusive_comments",
        Algorithm::ExclusiveWithComments,
        false,
    ),
    ("exclusive_prefixes", Algorithm::Exclusive, true),
];

struct Case {
    number: String,
    fields: Vec<(String, Vec<u8>)>,
}

impl Case {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn field(&self, name: &str) -> &[u8] {
        self.get(name)
            .unwrap_or_else(|| panic!("case {}: oracle gave no field {name}", self.number))
    }

    fn text(&self, name: &str) -> &str {
        std::str::from_utf8(self.field(name)).expect("oracle fields are utf-8")
    }
}

/// Reads the oracle's framed stream (see c14n_oracle.py).
fn read_cases(mut stream: impl BufRead) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).expect("read oracle output") == 0 {
            break;
        }
        let number = line
            .trim_end()
            .strip_prefix("case ")
            .unwrap_or_else(|| panic!("expected a case header, got {line:?}"))
            .to_owned();
        let mut fields = Vec::new();
        loop {
            line.clear();
            stream.read_line(&mut line).expect("read oracle output");
            let header = line.trim_end();
            if header == "end" {
                break;
            }
            let (name, len) = header
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad field header {header:?}"));
            let len: usize = len.parse().expect("field length");
            let mut value = vec![0; len + 1];
            stream.read_exact(&mut value).expect("read field");
            assert_eq!(
                value.pop(),
                Some(b'\n'),
                "field {name} not newline-terminated"
            );
            fields.push((name.to_owned(), value));
        }
        cases.push(Case { number, fields });
    }
    cases
}

fn require_peers() -> bool {
    std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Skips (or fails, when peers are required) with a message saying what is missing.
fn missing_peer(why: &str) {
    if require_peers() {
        panic!("{why}, and JSM_SSO_REQUIRE_PEERS=1: install it (scripts/test.sh does)");
    }
    eprintln!(
        "SKIPPED c14n_differential: {why} (python3 -m pip install -r scripts/requirements-test.txt; \
         set JSM_SSO_REQUIRE_PEERS=1 to make this a failure)"
    );
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn apex<'d>(doc: &'d Document, path: &str) -> Option<Element<'d>> {
    let mut element = doc.root();
    for step in path.split_whitespace() {
        let index: usize = step.parse().ok()?;
        element = element.child_elements().nth(index)?;
    }
    Some(element)
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn canonicalization_matches_libxml2() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c14n_oracle.py");
    let cases_wanted = env_number("JSM_SSO_C14N_CASES", DEFAULT_CASES);
    let seed = env_number("JSM_SSO_C14N_SEED", DEFAULT_SEED);
    let output = match Command::new("python3")
        .arg(&script)
        .arg("--cases")
        .arg(cases_wanted.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .output()
    {
        Ok(output) => output,
        Err(e) => return missing_peer(&format!("python3 could not be run ({e})")),
    };
    if output.status.code() == Some(3) {
        return missing_peer(String::from_utf8_lossy(&output.stderr).trim());
    }
    assert!(
        output.status.success(),
        "c14n_oracle.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let cases = read_cases(output.stdout.as_slice());
    assert_eq!(cases.len(), cases_wanted, "oracle produced too few cases");

    let mut failures = Vec::new();
    let mut compared = 0usize;
    let mut refused_by_both = 0usize;
    let mut documents = 0usize;
    let mut stricter = 0usize;
    for case in &cases {
        let input = case.field("input");
        let parsed = Document::parse(input, &Limits::default());
        if let Some(why) = case.get("lxml_refuses") {
            // A mutant libxml2 refuses (not well-formed, or not canonicalizable): so must we.
            let why_text = String::from_utf8_lossy(why);
            let deliberate = LIBXML2_ONLY_REFUSALS
                .iter()
                .any(|(fragment, _)| why_text.contains(fragment));
            match parsed {
                Err(_) => refused_by_both += 1,
                Ok(_) if deliberate => {}
                Ok(_) => failures.push(format!(
                    "case {} (seed {seed}): libxml2 refuses it ({}), we accepted it\n--- input\n{}",
                    case.number,
                    show(why),
                    show(input)
                )),
            }
            continue;
        }
        if case.get("no_reference").is_some() {
            continue;
        }
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) if MUTANT_REFUSALS.contains(&e.code()) && case.get("mutant").is_some() => {
                stricter += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!(
                    "case {} (seed {seed}): lxml parsed it, we refused it: {e}\n--- input\n{}",
                    case.number,
                    show(input)
                ));
                continue;
            }
        };
        let Some(apex) = apex(&doc, case.text("apex")) else {
            failures.push(format!("case {}: apex path not found", case.number));
            continue;
        };
        documents += 1;
        let prefixes: Vec<&str> = case.text("prefixes").split_whitespace().collect();
        for (suffix, algorithm, with_prefixes) in VARIANTS {
            let list: &[&str] = if with_prefixes { &prefixes } else { &[] };
            for (scope, ours) in [
                ("doc", c14n::canonicalize_document(&doc, algorithm, list)),
                ("sub", c14n::canonicalize(apex, algorithm, list)),
            ] {
                compared += 1;
                let expected = case.field(&format!("{scope}.{suffix}"));
                if ours != expected {
                    failures.push(format!(
                        "case {} (seed {seed}): {scope}.{suffix} differs (apex path [{}], \
                         PrefixList {:?})\n--- input\n{}\n--- lxml\n{}\n--- ours\n{}",
                        case.number,
                        case.text("apex"),
                        prefixes,
                        show(input),
                        show(expected),
                        show(&ours)
                    ));
                }
            }
        }
    }
    let shown = env_number("JSM_SSO_C14N_SHOW", SHOWN_FAILURES);
    for failure in failures.iter().take(shown) {
        eprintln!("{failure}\n");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with libxml2 over {} cases, {compared} canonical forms compared \
         (first {} above; JSM_SSO_C14N_SHOW=n for more)",
        failures.len(),
        cases.len(),
        shown.min(failures.len())
    );
    eprintln!(
        "c14n_differential: {compared} canonical forms of {} documents match libxml2, \
         {refused_by_both} mutants refused by both, {stricter} refused by us only on purpose \
         (seed {seed})",
        documents
    );
}
