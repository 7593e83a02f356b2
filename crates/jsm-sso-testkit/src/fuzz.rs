//! Replaying the workspace's cargo-fuzz seed corpus on stable Rust, so CI catches a panic on
//! a seed without nightly. Only meaningful inside the jsm-sso repository (the corpus lives in
//! its `fuzz/corpus/`).

use std::path::{Path, PathBuf};

/// `fuzz/corpus/` of this repository.
pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

/// The path of one corpus file, `fuzz/corpus/<target>/<name>`.
pub fn corpus_file(target: &str, name: &str) -> PathBuf {
    Path::new(CORPUS).join(target).join(name)
}

/// Runs `logic` on every file of `fuzz/corpus/<target>/`, in name order, and returns how many
/// files it ran.
///
/// # Panics
/// When the directory or a file cannot be read, or `logic` panics on a file (naming it): this
/// is a test helper, and a failure must stop the test.
#[expect(
    clippy::panic,
    reason = "test helper: a failing seed must fail the calling test"
)]
pub fn replay_corpus(target: &str, logic: fn(&[u8])) -> usize {
    let dir = Path::new(CORPUS).join(target);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for path in &entries {
        let data =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if std::panic::catch_unwind(|| logic(&data)).is_err() {
            panic!("{target}: panicked on {}", path.display());
        }
    }
    entries.len()
}
