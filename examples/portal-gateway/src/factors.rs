//! [`FileFactorStore`]: TOTP factors of a single instance kept in one JSON file
//! (`[mfa] secrets_file`), so enrolments survive a restart. Only sealed text is written
//! (the broker seals every secret with the MFA key, bound to the account); each change
//! rewrites the file through a temporary file and a rename, so a crash leaves the old or the
//! new file, never half of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jsm_sso_broker::error::BoxedError;
use jsm_sso_broker::totp::{FactorStore, StoredFactor};
use jsm_sso_core::CodedError;
use serde::{Deserialize, Serialize};

/// A problem with the factors file.
#[derive(Debug, thiserror::Error)]
pub enum FactorFileError {
    /// The file cannot be read or written.
    #[error("MFA secrets file {path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
    /// The file is not a factors file.
    #[error("MFA secrets file {path} is not a factors file: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// The parse error.
        detail: String,
    },
}

impl CodedError for FactorFileError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "config.file.unreadable",
            Self::Invalid { .. } => "config.value.invalid",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Io { .. } => "let the gateway read and write the file and its directory",
            Self::Invalid { .. } => {
                "restore the file from a backup, or point secrets_file at a new path"
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Entry {
    Pending(String),
    Confirmed(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contents {
    version: u32,
    factors: BTreeMap<String, Entry>,
}

/// A [`FactorStore`] in a JSON file, for one instance (a fleet keeps factors elsewhere).
#[derive(Debug)]
pub struct FileFactorStore {
    path: PathBuf,
    factors: tokio::sync::Mutex<BTreeMap<String, Entry>>,
}

impl FileFactorStore {
    /// Opens the file, or starts an empty store when it does not exist yet (it is created at
    /// the first enrolment).
    ///
    /// # Errors
    ///
    /// [`FactorFileError`] when the file exists and cannot be read or parsed.
    pub fn open(path: &Path) -> Result<Self, FactorFileError> {
        let name = path.display().to_string();
        let factors = match std::fs::read(path) {
            Ok(bytes) => {
                let contents: Contents =
                    serde_json::from_slice(&bytes).map_err(|e| FactorFileError::Invalid {
                        path: name.clone(),
                        detail: e.to_string(),
                    })?;
                if contents.version != 1 {
                    return Err(FactorFileError::Invalid {
                        path: name,
                        detail: format!("version {} (1 expected)", contents.version),
                    });
                }
                contents.factors
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(FactorFileError::Io {
                    path: name,
                    detail: e.to_string(),
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            factors: tokio::sync::Mutex::new(factors),
        })
    }

    fn write(&self, factors: &BTreeMap<String, Entry>) -> Result<(), FactorFileError> {
        let io = |e: std::io::Error| FactorFileError::Io {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        };
        let contents = Contents {
            version: 1,
            factors: factors.clone(),
        };
        let json = serde_json::to_vec_pretty(&contents).map_err(|e| FactorFileError::Invalid {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut temp, &json).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[async_trait]
impl FactorStore for FileFactorStore {
    async fn get(&self, account: &str) -> Result<Option<StoredFactor>, BoxedError> {
        Ok(self
            .factors
            .lock()
            .await
            .get(account)
            .map(|entry| match entry {
                Entry::Pending(s) => StoredFactor::Pending(s.clone()),
                Entry::Confirmed(s) => StoredFactor::Confirmed(s.clone()),
            }))
    }

    async fn put(&self, account: &str, factor: &StoredFactor) -> Result<(), BoxedError> {
        let entry = match factor {
            StoredFactor::Pending(s) => Entry::Pending(s.clone()),
            StoredFactor::Confirmed(s) => Entry::Confirmed(s.clone()),
            other => {
                return Err(Box::new(FactorFileError::Invalid {
                    path: self.path.display().to_string(),
                    detail: format!("a factor this build cannot store: {other:?}"),
                }));
            }
        };
        let mut factors = self.factors.lock().await;
        let previous = factors.insert(account.to_owned(), entry);
        if let Err(e) = self.write(&factors) {
            // Keep memory and file in step: the change did not happen.
            match previous {
                Some(p) => factors.insert(account.to_owned(), p),
                None => factors.remove(account),
            };
            return Err(Box::new(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn survives_a_reopen_and_refuses_a_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("factors.json");
        let store = FileFactorStore::open(&path).unwrap();
        assert_eq!(store.get("a").await.unwrap(), None);
        store
            .put("a", &StoredFactor::Pending("sealed-1".into()))
            .await
            .unwrap();
        store
            .put("a", &StoredFactor::Confirmed("sealed-2".into()))
            .await
            .unwrap();
        let reopened = FileFactorStore::open(&path).unwrap();
        assert_eq!(
            reopened.get("a").await.unwrap(),
            Some(StoredFactor::Confirmed("sealed-2".into()))
        );

        std::fs::write(&path, "{\"version\":2,\"factors\":{}}").unwrap();
        let e = FileFactorStore::open(&path).unwrap_err();
        assert_eq!(e.code(), "config.value.invalid");
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(
            FileFactorStore::open(&path).unwrap_err().code(),
            "config.value.invalid"
        );
    }

    #[tokio::test]
    async fn a_failed_write_leaves_no_change() {
        let dir = tempfile::tempdir().unwrap();
        // The file's directory does not exist: the write fails.
        let path = dir.path().join("missing").join("factors.json");
        let store = FileFactorStore::open(&path).unwrap();
        let e = store
            .put("a", &StoredFactor::Confirmed("x".into()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "config.file.unreadable");
        assert_eq!(store.get("a").await.unwrap(), None);
    }
}
