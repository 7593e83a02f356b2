//! Re-reading the policy file while serving (`SIGHUP`), without a restart.
//!
//! The new file must pass the same checks as at start: it compiles, and it asks for no
//! second factor when none is configured. A refused file changes nothing (the policy in
//! force stays), and both outcomes are audited (`policy.loaded`, `policy.refused`) with the
//! file's SHA-256. Portals a new policy declares that the start did not check are not
//! looked up at the JSM site; they are shown by id until the next start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use jsm_sso_audit::{AuditError, AuditEvent, AuditLog, Details, Timestamp};
use jsm_sso_core::CodedError;
use jsm_sso_policy::{CompiledPolicy, PolicyHandle};

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The new policy is in force.
    Loaded {
        /// Its hash (`sha256:...`).
        hash: String,
        /// Its rules.
        rules: usize,
    },
    /// The file was refused; the policy in force is unchanged.
    Refused {
        /// Why: the policy's error code, or `config.mfa.missing`.
        code: &'static str,
        /// The details.
        message: String,
    },
}

/// Re-reads one policy file into the handle the broker, SCIM and the admin pages decide
/// with.
#[derive(Debug, Clone)]
pub struct PolicyReloader {
    handle: Arc<PolicyHandle>,
    path: PathBuf,
    audit: AuditLog,
    has_second_factor: bool,
}

impl PolicyReloader {
    /// A reloader of `path` into `handle`, auditing to `audit`; `has_second_factor` says
    /// whether `[mfa]` is configured.
    #[must_use]
    pub fn new(
        handle: Arc<PolicyHandle>,
        path: PathBuf,
        audit: AuditLog,
        has_second_factor: bool,
    ) -> Self {
        Self {
            handle,
            path,
            audit,
            has_second_factor,
        }
    }

    /// The policy in force.
    #[must_use]
    pub fn current(&self) -> Arc<CompiledPolicy> {
        self.handle.current()
    }

    /// Records that the policy in force was loaded (at start).
    ///
    /// # Errors
    ///
    /// The audit log's, when it refuses events.
    pub async fn audit_current(&self) -> Result<(), AuditError> {
        let policy = self.handle.current();
        self.audit
            .record(AuditEvent::new(
                Timestamp::from_system_time(SystemTime::now()),
                loaded(&policy),
            ))
            .await
    }

    /// Reads the file again and, if it passes, puts it in force; audits either way.
    ///
    /// # Errors
    ///
    /// The audit log's, when it refuses the event (the reload itself has happened or not
    /// as the returned value would have said).
    pub async fn reload(&self) -> Result<Reloaded, AuditError> {
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        let digest = hex_sha256(&bytes);
        let candidate =
            jsm_sso_policy::load_file(&self.path).map_err(|e| (e.code(), e.to_string()));
        let checked = candidate.and_then(|policy| {
            let rules: Vec<&str> = policy.rules_requiring_mfa().collect();
            if !self.has_second_factor && !rules.is_empty() {
                return Err((
                    "config.mfa.missing",
                    format!(
                        "the rules {} require a second factor and there is no [mfa]",
                        rules.join(", ")
                    ),
                ));
            }
            Ok(policy)
        });
        match checked {
            Ok(policy) => {
                let event = AuditEvent::new(
                    Timestamp::from_system_time(SystemTime::now()),
                    loaded(&policy),
                );
                let outcome = Reloaded::Loaded {
                    hash: policy.hash().to_owned(),
                    rules: policy.rule_count(),
                };
                let _in_force = self.handle.replace(policy);
                self.audit.record(event).await?;
                Ok(outcome)
            }
            Err((code, message)) => {
                let event = AuditEvent::new(
                    Timestamp::from_system_time(SystemTime::now()),
                    Details::PolicyRefused { digest },
                )
                .failed(code);
                self.audit.record(event).await?;
                Ok(Reloaded::Refused { code, message })
            }
        }
    }
}

fn loaded(policy: &CompiledPolicy) -> Details {
    Details::PolicyLoaded {
        digest: policy
            .hash()
            .strip_prefix("sha256:")
            .unwrap_or(policy.hash())
            .to_owned(),
        rules: u64::try_from(policy.rule_count()).unwrap_or(u64::MAX),
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
