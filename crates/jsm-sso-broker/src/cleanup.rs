//! Stale-customer cleanup: a plan (who would be removed and why), then an apply step that
//! is a dry run unless asked otherwise. Removal goes through [`Provisioner::remove`], the
//! same code SCIM uses; every removal is audited.

use std::time::{Duration, SystemTime};

use jsm_sso_audit::{Actor, Details, Timestamp};
use jsm_sso_core::CodedError;
use jsm_sso_core::directory::{Customer, CustomerId};

use crate::Broker;
use crate::error::Error;
use crate::provision::Provisioner;
use crate::trail::AuditContext;

/// What counts as stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanupOptions {
    /// Customers not seen for this long are stale (default 180 days).
    pub stale_after: Duration,
    /// Consider only customers the broker created (default yes): customers an agent added
    /// by hand are never removed.
    pub only_created_by_broker: bool,
    /// Customers listed per directory call.
    pub page_size: usize,
    /// Stop planning after this many candidates (a run removes at most this many).
    pub max_candidates: usize,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(180 * 24 * 3600),
            only_created_by_broker: true,
            page_size: 100,
            max_candidates: 10_000,
        }
    }
}

impl CleanupOptions {
    /// Options with a staleness age.
    #[must_use]
    pub fn stale_after(mut self, age: Duration) -> Self {
        self.stale_after = age;
        self
    }

    /// Whether only broker-created customers are considered.
    #[must_use]
    pub fn only_created_by_broker(mut self, only: bool) -> Self {
        self.only_created_by_broker = only;
        self
    }
}

/// Why a customer is a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CleanupReason {
    /// Not seen since `last_seen` (`None`: never signed in through the broker).
    Stale {
        /// The last recorded sign-in.
        last_seen: Option<SystemTime>,
    },
    /// The IdP account was deprovisioned (SCIM deactivation).
    Deprovisioned,
}

impl CleanupReason {
    /// `stale` or `deprovisioned` (the audit event's reason).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stale { .. } => "stale",
            Self::Deprovisioned => "deprovisioned",
        }
    }
}

/// A customer the plan would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The customer.
    pub customer: Customer,
    /// Why.
    pub reason: CleanupReason,
}

/// What a cleanup run would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanupPlan {
    /// Customers not seen since this time are stale.
    pub stale_before: SystemTime,
    /// The candidates, in directory order.
    pub candidates: Vec<Candidate>,
    /// Whether planning stopped at `max_candidates`.
    pub truncated: bool,
    correlation: String,
}

/// Whether [`Broker::apply_cleanup`] removes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupMode {
    /// Check each candidate again and report what would be removed; change nothing.
    #[default]
    DryRun,
    /// Remove.
    Remove,
}

/// What a cleanup run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CleanupReport {
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Removed (or, in a dry run, would be removed).
    pub removed: Vec<CustomerId>,
    /// Candidates that signed in since the plan, and were kept.
    pub kept: Vec<CustomerId>,
    /// Removals that failed, with the error code.
    pub failed: Vec<(CustomerId, &'static str)>,
}

fn context(correlation: &str) -> AuditContext {
    AuditContext::new(correlation).actor(Actor::System {
        component: "cleanup".into(),
    })
}

/// Whether the customer is a candidate now.
async fn judge(
    provisioner: &Provisioner,
    customer: &Customer,
    stale_before: SystemTime,
    only_created: bool,
) -> Result<Option<CleanupReason>, Error> {
    let managed = provisioner
        .ledger()
        .load(&customer.id)
        .await
        .map_err(Error::Ledger)?;
    if let Some(m) = &managed
        && m.deprovisioned
    {
        return Ok(Some(CleanupReason::Deprovisioned));
    }
    if only_created && !managed.is_some_and(|m| m.created) {
        return Ok(None);
    }
    let stale = customer.last_seen.is_none_or(|seen| seen < stale_before);
    Ok(stale.then_some(CleanupReason::Stale {
        last_seen: customer.last_seen,
    }))
}

impl Broker {
    /// Works out which customers a cleanup would remove (audited as `cleanup.planned`).
    ///
    /// # Errors
    ///
    /// The directory's code (listing), `broker.provision.ledger`, the audit log's code.
    pub async fn plan_cleanup(&self, options: &CleanupOptions) -> Result<CleanupPlan, Error> {
        let now = self.now();
        let stale_before = now
            .checked_sub(options.stale_after)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let provisioner = self.provisioner();
        let directory = provisioner.directory();
        let mut cursor: Option<String> = None;
        let mut candidates = Vec::new();
        let mut truncated = false;
        'pages: loop {
            let page = directory
                .list_customers(cursor.as_deref(), options.page_size.clamp(1, 1000))
                .await
                .map_err(|source| Error::Directory {
                    step: "list_customers",
                    source,
                })?;
            for customer in page.customers {
                let reason = judge(
                    provisioner,
                    &customer,
                    stale_before,
                    options.only_created_by_broker,
                )
                .await?;
                if let Some(reason) = reason {
                    if candidates.len() == options.max_candidates {
                        truncated = true;
                        break 'pages;
                    }
                    candidates.push(Candidate { customer, reason });
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let correlation = format!("cleanup-{}", crate::session::unix(now));
        let details = Details::CleanupPlanned {
            candidates: u64::try_from(candidates.len()).unwrap_or(u64::MAX),
            stale_before: Timestamp::from_system_time(stale_before),
        };
        self.auditor().ok(&context(&correlation), details).await?;
        Ok(CleanupPlan {
            stale_before,
            candidates,
            truncated,
            correlation,
        })
    }

    /// Applies a plan: each candidate is checked again (a customer who signed in since the
    /// plan is kept) and, unless `mode` is [`CleanupMode::DryRun`], removed through
    /// [`Provisioner::remove`] (audited as `customer.removed`). The run is audited as
    /// `cleanup.applied`. A failed removal is recorded and the run goes on.
    ///
    /// # Errors
    ///
    /// The audit log's code (the log fails closed), `broker.provision.ledger`.
    pub async fn apply_cleanup(
        &self,
        plan: &CleanupPlan,
        mode: CleanupMode,
    ) -> Result<CleanupReport, Error> {
        let provisioner = self.provisioner();
        let context = context(&plan.correlation);
        let mut report = CleanupReport {
            dry_run: mode == CleanupMode::DryRun,
            ..CleanupReport::default()
        };
        for candidate in &plan.candidates {
            let id = candidate.customer.id.clone();
            // The customer as the directory knows them now.
            let current = match provisioner
                .directory()
                .find_customer_by_email(&candidate.customer.email)
                .await
            {
                Ok(Some(c)) if c.id == id => c,
                Ok(_) => continue,
                Err(e) => {
                    report.failed.push((id, e.code()));
                    continue;
                }
            };
            let still = judge(provisioner, &current, plan.stale_before, false).await?;
            let Some(reason) = still else {
                report.kept.push(id);
                continue;
            };
            if mode == CleanupMode::DryRun {
                report.removed.push(id);
                continue;
            }
            match provisioner
                .remove(&current, reason.as_str(), &context)
                .await
            {
                Ok(()) => report.removed.push(id),
                Err(Error::Audit(e)) => return Err(Error::Audit(e)),
                Err(e) => report.failed.push((id, e.code())),
            }
        }
        if mode == CleanupMode::Remove {
            let details = Details::CleanupApplied {
                removed: u64::try_from(report.removed.len()).unwrap_or(u64::MAX),
                failed: u64::try_from(report.failed.len()).unwrap_or(u64::MAX),
            };
            self.auditor().ok(&context, details).await?;
        }
        Ok(report)
    }
}
