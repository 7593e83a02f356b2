//! Loading ([`Format`], [`load_str`], [`load_file`]), the [`AccessPolicy`] seam, and hot
//! reload ([`PolicyHandle`]).

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use jsm_sso_core::decision::{OrganizationRef, StepOutcome};
use jsm_sso_core::directory::PortalId;
use jsm_sso_core::{AccessPolicy, Decision, VerifiedIdentity};

use crate::compiled::CompiledPolicy;
use crate::error::Error;
use crate::eval::Evaluation;

/// The syntax of a policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (the documented format; errors carry line and column).
    Toml,
    /// YAML, the same structure.
    Yaml,
    /// JSON, the same structure (see `docs/policy.schema.json`).
    Json,
}

impl Format {
    /// The format a file name's extension says: `.toml`, `.yaml`/`.yml`, `.json`.
    #[must_use]
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Parses, validates and compiles a policy text. `origin` names it in diagnostics
/// (a file name, or `<string>`).
///
/// # Errors
///
/// [`Error::Invalid`] with every problem found, each at `origin:line:column`.
pub fn load_str(text: &str, format: Format, origin: &str) -> Result<CompiledPolicy, Error> {
    crate::load::compile(text, format, origin)
}

/// Reads a policy file (format from its extension) and compiles it.
///
/// # Errors
///
/// [`Error::Io`] if it cannot be read, [`Error::UnknownFormat`] for another extension,
/// [`Error::Invalid`] with every problem found.
pub fn load_file(path: &Path) -> Result<CompiledPolicy, Error> {
    let shown = path.display().to_string();
    let format = Format::from_path(path).ok_or_else(|| Error::UnknownFormat {
        path: shown.clone(),
    })?;
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: shown.clone(),
        message: e.to_string().to_lowercase(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Io {
        path: shown.clone(),
        message: "the file is not UTF-8".into(),
    })?;
    load_str(&text, format, &shown)
}

impl CompiledPolicy {
    /// The decision in the core's terms: organizations by name, portals by id, and the
    /// explanation as steps — a leading `policy` step ([`StepOutcome::Skipped`], naming the
    /// policy hash), then every candidate rule in file order, then a `default` step when
    /// the default decided.
    #[must_use]
    pub fn to_decision(&self, evaluation: &Evaluation) -> Decision {
        let mut decision = if evaluation.allow {
            Decision::allow()
        } else {
            Decision::deny(evaluation.reason.clone())
        };
        if evaluation.allow {
            decision.organizations = evaluation
                .organizations
                .iter()
                .filter_map(|key| {
                    self.organizations
                        .iter()
                        .find(|(k, _)| **k == **key)
                        .map(|(_, name)| OrganizationRef::Name(name.to_string()))
                })
                .collect();
            decision.portals = evaluation
                .portals
                .iter()
                .map(|p| PortalId::from(p.as_str()))
                .collect();
            decision.fields = evaluation.fields.clone();
            decision.require_mfa = evaluation.require_mfa;
        }
        let explanation = &evaluation.explanation;
        let steps = &mut decision.explanation;
        steps.push(
            "policy",
            StepOutcome::Skipped,
            format!(
                "policy {} ({}), {} candidate rules checked",
                self.hash, self.origin, explanation.candidates
            ),
        );
        for m in &explanation.matched {
            let conditions: Vec<String> = m
                .conditions
                .iter()
                .map(|c| format!("{} {} matches {}", c.condition, c.value, c.pattern))
                .collect();
            let mut detail = format!(
                "{}: {}",
                m.effect,
                if conditions.is_empty() {
                    "no conditions".into()
                } else {
                    conditions.join("; ")
                }
            );
            if let Some(by) = &m.overridden_by {
                detail.push_str(&format!(" (overridden by deny rule {by})"));
            }
            steps.push(m.rule.as_str(), StepOutcome::Matched, detail);
        }
        for n in &explanation.near_misses {
            steps.push(
                n.rule.as_str(),
                StepOutcome::NotMatched,
                format!(
                    "{}: expected one of [{}], identity has [{}]",
                    n.condition,
                    n.expected.join(", "),
                    n.actual.join(", ")
                ),
            );
        }
        match explanation.basis {
            "default_allow" => steps.push(
                "default",
                StepOutcome::Matched,
                "no rule matched; the policy's default is allow",
            ),
            "default_deny" => steps.push(
                "default",
                StepOutcome::Matched,
                "no allow rule matched; the policy's default is deny",
            ),
            _ => {}
        }
        decision
    }
}

impl AccessPolicy for CompiledPolicy {
    fn decide(&self, identity: &VerifiedIdentity) -> Decision {
        self.to_decision(&self.evaluate(identity))
    }
}

/// A compiled policy that can be replaced while decisions are being made.
///
/// Readers take the current policy without locking ([`arc_swap`]); [`PolicyHandle::reload`]
/// validates the new text completely before swapping it in, so a bad file never takes
/// effect: the old policy stays and the errors are returned.
#[derive(Debug)]
pub struct PolicyHandle {
    current: ArcSwap<CompiledPolicy>,
}

impl PolicyHandle {
    /// A handle serving `policy`.
    #[must_use]
    pub fn new(policy: CompiledPolicy) -> Self {
        Self {
            current: ArcSwap::from_pointee(policy),
        }
    }

    /// The policy in force now (cheap; the value stays valid after a reload).
    #[must_use]
    pub fn current(&self) -> Arc<CompiledPolicy> {
        self.current.load_full()
    }

    /// Compiles `text` and, only if it is valid, makes it the policy in force.
    ///
    /// # Errors
    ///
    /// The new text's [`Error`]; the policy in force is unchanged.
    pub fn reload(
        &self,
        text: &str,
        format: Format,
        origin: &str,
    ) -> Result<Arc<CompiledPolicy>, Error> {
        let new = Arc::new(load_str(text, format, origin)?);
        self.current.store(Arc::clone(&new));
        Ok(new)
    }

    /// Re-reads a policy file and, only if it is valid, makes it the policy in force.
    ///
    /// # Errors
    ///
    /// As [`load_file`]; the policy in force is unchanged.
    pub fn reload_file(&self, path: &Path) -> Result<Arc<CompiledPolicy>, Error> {
        let new = Arc::new(load_file(path)?);
        self.current.store(Arc::clone(&new));
        Ok(new)
    }

    /// Puts an already compiled policy in force (for callers that check more than
    /// compilation before a swap, such as a front end refusing a policy that needs a
    /// second factor it lacks).
    pub fn replace(&self, policy: CompiledPolicy) -> Arc<CompiledPolicy> {
        let new = Arc::new(policy);
        self.current.store(Arc::clone(&new));
        new
    }

    /// Evaluates with the policy in force.
    #[must_use]
    pub fn evaluate(&self, identity: &VerifiedIdentity) -> Evaluation {
        self.current.load().evaluate(identity)
    }
}

impl AccessPolicy for PolicyHandle {
    fn decide(&self, identity: &VerifiedIdentity) -> Decision {
        self.current.load().decide(identity)
    }
}
