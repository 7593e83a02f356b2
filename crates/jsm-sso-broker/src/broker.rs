//! [`Broker`] and [`BrokerBuilder`]: the sign-in flow from discovery to a portal session.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsm_sso_audit::{AuditLog, CustomerRef, Details, MfaMethod, Source, Timestamp};
use jsm_sso_core::directory::PortalId;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::{AccessPolicy, CodedError, CustomerDirectory, Decision, VerifiedIdentity};
use serde::{Deserialize, Serialize};

use crate::error::{Error, clip};
use crate::gate::{Action, RaisedRequest, RateLimit, RequestDesk, RequestDraft};
use crate::idp::{BeginOptions, Callback, Challenge, IdentityProvider, Seams};
use crate::mfa::{Enrolment, MfaAccount, MfaVerdict, SecondFactor};
use crate::provision::{Ledger, MemoryLedger, Person, Provisioned, Provisioner, RetryPolicy};
use crate::registry::{Discovery, LoginHint, Registry};
use crate::session::{Session, SessionClaims, SessionKeys, unix};
use crate::trail::{AuditContext, Auditor};

/// How long a started sign-in may take by default (the protocol crates use the same).
pub const DEFAULT_LOGIN_TTL: Duration = Duration::from_secs(600);
/// How long a portal session lasts by default (shorter if the IdP says so).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How long a second-factor challenge stays open.
pub const MFA_CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Wrong codes allowed per second-factor challenge.
pub const MFA_MAX_ATTEMPTS: u32 = 5;
/// The longest return URL accepted, in bytes.
const MAX_RETURN_TO: usize = 2048;

/// A sign-in to start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRequest {
    /// What the customer gave: an email, an IdP pick, or nothing.
    pub hint: LoginHint,
    /// The portal the customer came from, if any (its IdP allow list applies).
    pub portal: Option<PortalId>,
    /// Where to send the customer after sign-in: a local path.
    pub return_to: Option<String>,
    /// Where the request came from, for the audit trail.
    pub source: Option<Source>,
    /// Ask the IdP to authenticate again even with a session.
    pub force_authn: bool,
}

impl LoginRequest {
    /// A sign-in with a hint.
    #[must_use]
    pub fn new(hint: LoginHint) -> Self {
        Self {
            hint,
            portal: None,
            return_to: None,
            source: None,
            force_authn: false,
        }
    }

    /// Sets the portal.
    #[must_use]
    pub fn portal(mut self, portal: impl Into<PortalId>) -> Self {
        self.portal = Some(portal.into());
        self
    }

    /// Sets the return path.
    #[must_use]
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// Sets the source.
    #[must_use]
    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }
}

/// An IdP offered on the choice page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpChoice {
    /// The id to send back as an explicit pick.
    pub id: IdpId,
    /// The name to show.
    pub display_name: String,
    /// The protocol.
    pub protocol: Protocol,
}

/// What [`Broker::begin_login`] asks the front end to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Begin {
    /// Send the browser to the IdP.
    Redirect {
        /// The IdP chosen.
        idp: IdpId,
        /// Where and how.
        challenge: Challenge,
    },
    /// Several IdPs fit: show these and start again with the one picked.
    Choose(Vec<IdpChoice>),
}

/// A signed-in customer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedIn {
    /// The session token for the front end's cookie (`HttpOnly; Secure; SameSite=Lax`).
    pub token: String,
    /// What the token says.
    pub session: Session,
    /// Where to send the customer (the local path given at the start).
    pub return_to: Option<String>,
    /// What provisioning changed.
    pub provisioned: Provisioned,
}

/// What [`Broker::finish_login`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Done: a session.
    SignedIn(Box<SignedIn>),
    /// The policy requires a second factor: ask for a code and call
    /// [`Broker::complete_mfa`] with `challenge`.
    MfaRequired {
        /// The challenge id (random, single use, five minutes).
        challenge: String,
        /// An enrolment to show first, when the customer has no factor yet.
        enrolment: Option<Enrolment>,
    },
}

/// What is kept between begin and finish.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingLogin {
    v: u8,
    idp: IdpId,
    portal: Option<PortalId>,
    return_to: Option<String>,
    correlation: String,
}

/// What is kept while a second factor is asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingMfa {
    v: u8,
    login: PendingLogin,
    identity: VerifiedIdentity,
    decision: Decision,
    attempts: u32,
    expires: u64,
}

fn login_key(state: &str) -> String {
    format!("broker:login:{state}")
}

fn mfa_key(challenge: &str) -> String {
    format!("broker:mfa:{challenge}")
}

pub(crate) fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Config("the system random generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Only a local path: `/x`, never `//host`, `/\host` or a URL with a scheme.
fn check_return_to(path: &str) -> Result<(), Error> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= MAX_RETURN_TO
        && !path.chars().any(|c| c.is_control());
    if local {
        Ok(())
    } else {
        Err(Error::ReturnToInvalid {
            return_to: clip(path),
        })
    }
}

/// Builds a [`Broker`]; every setting is checked in [`build`](Self::build).
pub struct BrokerBuilder {
    seams: Seams,
    policy: Arc<dyn AccessPolicy>,
    directory: Arc<dyn CustomerDirectory>,
    audit: AuditLog,
    keys: SessionKeys,
    registry: Registry,
    domains: Vec<(String, IdpId)>,
    ledger: Arc<dyn Ledger>,
    retry: RetryPolicy,
    factor: Option<Arc<dyn SecondFactor>>,
    desk: Option<Arc<dyn RequestDesk>>,
    rate_limit: RateLimit,
    login_ttl: Duration,
    session_ttl: Duration,
    session_claims: SessionClaims,
    errors: Vec<Error>,
}

impl std::fmt::Debug for BrokerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerBuilder").finish_non_exhaustive()
    }
}

impl BrokerBuilder {
    /// Registers an IdP.
    #[must_use]
    pub fn idp(mut self, idp: Arc<dyn IdentityProvider>) -> Self {
        if let Err(e) = self.registry.add(idp) {
            self.errors.push(e);
        }
        self
    }

    /// Maps an email domain (`acme.com`, or `*.acme.com` for its subdomains) to an IdP.
    /// Map a domain to several IdPs to offer a choice.
    #[must_use]
    pub fn domain(mut self, domain: &str, idp: impl Into<IdpId>) -> Self {
        self.domains.push((domain.to_owned(), idp.into()));
        self
    }

    /// The IdPs offered for an email whose domain is not mapped (default none: refused
    /// with `broker.discovery.no_idp`).
    #[must_use]
    pub fn fallback_idps<I: Into<IdpId>>(mut self, idps: impl IntoIterator<Item = I>) -> Self {
        self.registry
            .set_fallback(idps.into_iter().map(Into::into).collect());
        self
    }

    /// Restricts a portal to these IdPs (portals not named allow every IdP).
    #[must_use]
    pub fn portal_idps<I: Into<IdpId>>(
        mut self,
        portal: impl Into<PortalId>,
        idps: impl IntoIterator<Item = I>,
    ) -> Self {
        self.registry
            .restrict_portal(portal.into(), idps.into_iter().map(Into::into).collect());
        self
    }

    /// Where the broker records what it manages (default a [`MemoryLedger`]).
    #[must_use]
    pub fn ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = ledger;
        self
    }

    /// How directory calls are retried.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The second factor (required when a decision says `require_mfa`).
    #[must_use]
    pub fn second_factor(mut self, factor: Arc<dyn SecondFactor>) -> Self {
        self.factor = Some(factor);
        self
    }

    /// Where requests are raised.
    #[must_use]
    pub fn request_desk(mut self, desk: Arc<dyn RequestDesk>) -> Self {
        self.desk = Some(desk);
        self
    }

    /// The per-customer request limit (default ten an hour).
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// How long a started sign-in may take (default ten minutes).
    #[must_use]
    pub fn login_ttl(mut self, ttl: Duration) -> Self {
        self.login_ttl = ttl;
        self
    }

    /// How long a portal session lasts at most (default eight hours).
    #[must_use]
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Which groups and attributes sessions carry to the front end (default: none).
    #[must_use]
    pub fn session_claims(mut self, claims: SessionClaims) -> Self {
        self.session_claims = claims;
        self
    }

    /// Checks the configuration and builds the broker.
    ///
    /// # Errors
    ///
    /// `broker.config`: no IdP, an IdP registered twice, a domain or portal naming an IdP
    /// that is not registered, a bad domain, a rate limit or TTL out of range.
    pub fn build(mut self) -> Result<Broker, Error> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        for (domain, idp) in self.domains {
            self.registry.map_domain(&domain, idp)?;
        }
        self.registry.validate()?;
        self.rate_limit.check_config()?;
        let minute = Duration::from_secs(60);
        if self.login_ttl < minute || self.login_ttl > Duration::from_secs(3600) {
            return Err(Error::Config("login_ttl must be 1 to 60 minutes".into()));
        }
        if self.session_ttl < minute {
            return Err(Error::Config(
                "session_ttl must be at least a minute".into(),
            ));
        }
        let auditor = Auditor::new(self.audit, self.seams.clock.clone());
        let provisioner = Provisioner::new(
            self.directory,
            self.ledger,
            self.retry,
            auditor.clone(),
            self.seams.clock.clone(),
        );
        Ok(Broker {
            inner: Arc::new(Inner {
                seams: self.seams,
                policy: self.policy,
                keys: self.keys,
                registry: self.registry,
                factor: self.factor,
                desk: self.desk,
                rate_limit: self.rate_limit,
                login_ttl: self.login_ttl,
                session_ttl: self.session_ttl,
                session_claims: self.session_claims,
                auditor,
                provisioner,
            }),
        })
    }
}

pub(crate) struct Inner {
    pub(crate) seams: Seams,
    policy: Arc<dyn AccessPolicy>,
    keys: SessionKeys,
    pub(crate) registry: Registry,
    factor: Option<Arc<dyn SecondFactor>>,
    desk: Option<Arc<dyn RequestDesk>>,
    rate_limit: RateLimit,
    login_ttl: Duration,
    session_ttl: Duration,
    session_claims: SessionClaims,
    auditor: Auditor,
    provisioner: Provisioner,
}

/// The sign-in flow: discovery, protocol, policy, second factor, provisioning, session,
/// gate, cleanup — every step audited. Cheap to clone; framework-agnostic (the front end
/// turns HTTP requests into calls and the results into responses).
#[derive(Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idps: Vec<&IdpId> = self.inner.registry.idps().map(|i| i.id()).collect();
        f.debug_struct("Broker")
            .field("idps", &idps)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A builder with the required parts: the shared seams (store, replay cache, clock),
    /// the access policy, the customer directory, the audit log and the session keys.
    #[must_use]
    pub fn builder(
        seams: Seams,
        policy: Arc<dyn AccessPolicy>,
        directory: Arc<dyn CustomerDirectory>,
        audit: AuditLog,
        keys: SessionKeys,
    ) -> BrokerBuilder {
        BrokerBuilder {
            seams,
            policy,
            directory,
            audit,
            keys,
            registry: Registry::default(),
            domains: Vec::new(),
            ledger: Arc::new(MemoryLedger::new()),
            retry: RetryPolicy::default(),
            factor: None,
            desk: None,
            rate_limit: RateLimit::default(),
            login_ttl: DEFAULT_LOGIN_TTL,
            session_ttl: DEFAULT_SESSION_TTL,
            session_claims: SessionClaims::default(),
            errors: Vec::new(),
        }
    }

    /// The provisioning code the broker uses (for SCIM and administration tools).
    #[must_use]
    pub fn provisioner(&self) -> &Provisioner {
        &self.inner.provisioner
    }

    /// The session keys (to verify a token outside the gate).
    #[must_use]
    pub fn session_keys(&self) -> &SessionKeys {
        &self.inner.keys
    }

    pub(crate) fn auditor(&self) -> &Auditor {
        &self.inner.auditor
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.inner.seams.clock.now()
    }

    /// Home-realm discovery alone: which IdP (or which choice) fits a hint and a portal.
    ///
    /// # Errors
    ///
    /// `broker.discovery.unknown_idp`, `broker.discovery.no_idp`,
    /// `broker.discovery.idp_not_allowed`.
    pub fn discover(
        &self,
        hint: &LoginHint,
        portal: Option<&PortalId>,
    ) -> Result<Discovery, Error> {
        self.inner.registry.discover(hint, portal)
    }

    /// Starts a sign-in: discovery, then the IdP's challenge, with the pending sign-in kept
    /// in the store (single use, [`DEFAULT_LOGIN_TTL`]).
    ///
    /// # Errors
    ///
    /// `broker.login.return_to_invalid`, the discovery codes, the protocol's code, the
    /// store's code, the audit log's code.
    pub async fn begin_login(&self, request: &LoginRequest) -> Result<Begin, Error> {
        let mut context = AuditContext::new(random_id()?);
        if let Some(source) = &request.source {
            context = context.source(source.clone());
        }
        let hint_domain = match &request.hint {
            LoginHint::Email(email) => Some(email.domain().to_ascii_lowercase()),
            _ => None,
        };
        match self
            .begin_inner(request, &mut context, hint_domain.clone())
            .await
        {
            Ok(begin) => Ok(begin),
            Err(Error::Audit(e)) => Err(Error::Audit(e)),
            Err(e) => {
                let details = Details::SigninStarted { hint_domain };
                self.inner
                    .auditor
                    .failed(&context, details, e.code())
                    .await?;
                Err(e)
            }
        }
    }

    async fn begin_inner(
        &self,
        request: &LoginRequest,
        context: &mut AuditContext,
        hint_domain: Option<String>,
    ) -> Result<Begin, Error> {
        if let Some(path) = &request.return_to {
            check_return_to(path)?;
        }
        let registry = &self.inner.registry;
        let id = match registry.discover(&request.hint, request.portal.as_ref())? {
            Discovery::Idp(id) => id,
            Discovery::Choice(ids) => {
                let choices = ids
                    .iter()
                    .filter_map(|id| registry.get(id))
                    .map(|idp| IdpChoice {
                        id: idp.id().clone(),
                        display_name: idp.display_name().to_owned(),
                        protocol: idp.protocol(),
                    })
                    .collect();
                return Ok(Begin::Choose(choices));
            }
        };
        let idp = registry
            .get(&id)
            .ok_or_else(|| Error::UnknownIdp(id.clone()))?;
        *context = context.clone().idp(id.clone(), idp.protocol());
        let options = BeginOptions {
            login_hint: match &request.hint {
                LoginHint::Email(email) => Some(email.as_str().to_owned()),
                _ => None,
            },
            force_authn: request.force_authn,
        };
        let challenge = idp.begin(&options).await.map_err(|cause| Error::Protocol {
            idp: id.clone(),
            cause,
        })?;
        if challenge.state.is_empty() {
            return Err(Error::Config(format!(
                "identity provider {id} returned a challenge without state"
            )));
        }
        let pending = PendingLogin {
            v: 1,
            idp: id.clone(),
            portal: request.portal.clone(),
            return_to: request.return_to.clone(),
            correlation: context.correlation_id().unwrap_or_default().to_owned(),
        };
        let value =
            serde_json::to_vec(&pending).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        let expires = self.now() + self.inner.login_ttl;
        self.inner
            .seams
            .store
            .put(&login_key(&challenge.state), value, expires)
            .await?;
        self.inner
            .auditor
            .ok(context, Details::SigninStarted { hint_domain })
            .await?;
        Ok(Begin::Redirect { idp: id, challenge })
    }

    /// Finishes a sign-in from the IdP's callback: the pending sign-in (single use), the
    /// protocol's validation, the policy, then either a second-factor challenge or
    /// provisioning and a session.
    ///
    /// # Errors
    ///
    /// `broker.callback.*`, the protocol's code, `broker.policy.denied` (with the policy's
    /// reason; nothing provisioned), `broker.identity.email_unverified`,
    /// `broker.mfa.unavailable`, the provisioning codes, the store's and the audit log's.
    pub async fn finish_login(
        &self,
        callback: &Callback,
        source: Option<Source>,
    ) -> Result<LoginOutcome, Error> {
        let mut context = AuditContext::default();
        if let Some(source) = source {
            context = context.source(source);
        }
        let result = self.finish_inner(callback, &mut context).await;
        self.audit_failure(&context, result).await
    }

    async fn audit_failure<T>(
        &self,
        context: &AuditContext,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        match result {
            Ok(value) => Ok(value),
            Err(Error::Audit(e)) => Err(Error::Audit(e)),
            Err(e) => {
                let details = Details::SigninFailed {
                    stage: e.stage().to_owned(),
                };
                self.inner
                    .auditor
                    .failed(context, details, e.code())
                    .await?;
                Err(e)
            }
        }
    }

    async fn finish_inner(
        &self,
        callback: &Callback,
        context: &mut AuditContext,
    ) -> Result<LoginOutcome, Error> {
        let state = callback
            .state()
            .ok_or_else(|| Error::CallbackMalformed("no RelayState or state".into()))?;
        if state.len() > 256 {
            return Err(Error::StateUnknown);
        }
        let raw = self
            .inner
            .seams
            .store
            .take(&login_key(state))
            .await?
            .ok_or(Error::StateUnknown)?;
        let pending: PendingLogin =
            serde_json::from_slice(&raw).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        *context = AuditContext::new(pending.correlation.clone()).source_of(context);
        if let Some(arrived) = callback.idp()
            && *arrived != pending.idp
        {
            return Err(Error::IdpMismatch {
                expected: pending.idp.clone(),
                actual: arrived.clone(),
            });
        }
        let idp = self
            .inner
            .registry
            .get(&pending.idp)
            .ok_or_else(|| Error::UnknownIdp(pending.idp.clone()))?;
        *context = context.clone().idp(pending.idp.clone(), idp.protocol());
        // Checked again here: in a fleet, the instance that began the sign-in may run an
        // older configuration than this one.
        if let Some(portal) = &pending.portal
            && !self.inner.registry.allowed(&pending.idp, Some(portal))
        {
            return Err(Error::IdpNotAllowed {
                idp: pending.idp.clone(),
                portal: portal.clone(),
            });
        }
        let identity = idp
            .finish(callback)
            .await
            .map_err(|cause| Error::Protocol {
                idp: pending.idp.clone(),
                cause,
            })?;
        if identity.idp != pending.idp {
            return Err(Error::IdpMismatch {
                expected: pending.idp.clone(),
                actual: identity.idp.clone(),
            });
        }
        *context = context.clone().with_identity(&identity);
        let decision = self.inner.policy.decide(&identity);
        self.audit_decision(context, &decision).await?;
        if let jsm_sso_core::decision::Effect::Deny { reason } = &decision.effect {
            return Err(Error::Denied {
                reason: reason.clone(),
            });
        }
        let person = Person::from_identity(&identity)?;
        if decision.require_mfa {
            let factor = self.inner.factor.as_ref().ok_or(Error::MfaUnavailable)?;
            let account = MfaAccount::new(
                identity.idp.clone(),
                identity.subject.value.clone(),
                person.email.as_str(),
            );
            let enrolment = factor.enrolment(&account).await.map_err(Error::Mfa)?;
            let challenge = random_id()?;
            let expires = self.now() + MFA_CHALLENGE_TTL;
            let record = PendingMfa {
                v: 1,
                login: pending,
                identity,
                decision,
                attempts: 0,
                expires: unix(expires),
            };
            let value =
                serde_json::to_vec(&record).map_err(|e| Error::PendingMalformed(e.to_string()))?;
            self.inner
                .seams
                .store
                .put(&mfa_key(&challenge), value, expires)
                .await?;
            return Ok(LoginOutcome::MfaRequired {
                challenge,
                enrolment,
            });
        }
        let signed_in = self
            .complete(&pending, &identity, &person, &decision, false, context)
            .await?;
        Ok(LoginOutcome::SignedIn(Box::new(signed_in)))
    }

    async fn audit_decision(
        &self,
        context: &AuditContext,
        decision: &Decision,
    ) -> Result<(), Error> {
        let details = Details::PolicyDecided {
            allow: decision.is_allowed(),
            matched_rules: decision
                .explanation
                .matched()
                .map(|s| s.rule.clone())
                .collect(),
            organizations: decision
                .organizations
                .iter()
                .map(|o| match o {
                    jsm_sso_core::decision::OrganizationRef::Id(id) => id.to_string(),
                    jsm_sso_core::decision::OrganizationRef::Name(name) => name.clone(),
                })
                .collect(),
            portals: decision.portals.iter().map(ToString::to_string).collect(),
            require_mfa: decision.require_mfa,
        };
        if decision.is_allowed() {
            self.inner.auditor.ok(context, details).await
        } else {
            self.inner
                .auditor
                .failed(context, details, "broker.policy.denied")
                .await
        }
    }

    /// Checks a second-factor code for a challenge from [`LoginOutcome::MfaRequired`], then
    /// provisions and signs in.
    ///
    /// # Errors
    ///
    /// `broker.mfa.challenge_unknown`, `broker.mfa.refused` (try again on the same
    /// challenge), `broker.mfa.attempts_exhausted`, the factor's code, the provisioning
    /// codes, the store's and the audit log's.
    pub async fn complete_mfa(
        &self,
        challenge: &str,
        code: &str,
        source: Option<Source>,
    ) -> Result<LoginOutcome, Error> {
        let mut context = AuditContext::default();
        if let Some(source) = source {
            context = context.source(source);
        }
        let result = self.mfa_inner(challenge, code, &mut context).await;
        self.audit_failure(&context, result).await
    }

    async fn mfa_inner(
        &self,
        challenge: &str,
        code: &str,
        context: &mut AuditContext,
    ) -> Result<LoginOutcome, Error> {
        if challenge.is_empty() || challenge.len() > 256 {
            return Err(Error::MfaChallengeUnknown);
        }
        let key = mfa_key(challenge);
        let store = &self.inner.seams.store;
        let raw = store.take(&key).await?.ok_or(Error::MfaChallengeUnknown)?;
        let mut pending: PendingMfa =
            serde_json::from_slice(&raw).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        *context = AuditContext::new(pending.login.correlation.clone())
            .source_of(context)
            .with_identity(&pending.identity);
        let factor = self.inner.factor.as_ref().ok_or(Error::MfaUnavailable)?;
        let person = Person::from_identity(&pending.identity)?;
        let account = MfaAccount::new(
            pending.identity.idp.clone(),
            pending.identity.subject.value.clone(),
            person.email.as_str(),
        );
        match factor.verify(&account, code).await.map_err(Error::Mfa)? {
            MfaVerdict::Accepted { enrolled } => {
                if enrolled {
                    let details = Details::MfaEnrolled {
                        method: MfaMethod::Totp,
                    };
                    self.inner.auditor.ok(context, details).await?;
                }
                let details = Details::MfaPassed {
                    method: MfaMethod::Totp,
                };
                self.inner.auditor.ok(context, details).await?;
                let signed_in = self
                    .complete(
                        &pending.login,
                        &pending.identity,
                        &person,
                        &pending.decision,
                        true,
                        context,
                    )
                    .await?;
                Ok(LoginOutcome::SignedIn(Box::new(signed_in)))
            }
            MfaVerdict::Refused => {
                pending.attempts += 1;
                let details = Details::MfaFailed {
                    method: MfaMethod::Totp,
                };
                let left = MFA_MAX_ATTEMPTS.saturating_sub(pending.attempts);
                let error = if left == 0 {
                    Error::MfaAttemptsExhausted
                } else {
                    Error::MfaRefused {
                        attempts_left: left,
                    }
                };
                self.inner
                    .auditor
                    .failed(context, details, error.code())
                    .await?;
                let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(pending.expires);
                if left > 0 && expires > self.now() {
                    let value = serde_json::to_vec(&pending)
                        .map_err(|e| Error::PendingMalformed(e.to_string()))?;
                    store.put(&key, value, expires).await?;
                }
                Err(error)
            }
        }
    }

    /// Provisioning, the session and the success event.
    async fn complete(
        &self,
        pending: &PendingLogin,
        identity: &VerifiedIdentity,
        person: &Person,
        decision: &Decision,
        mfa: bool,
        context: &AuditContext,
    ) -> Result<SignedIn, Error> {
        let provisioned = self
            .inner
            .provisioner
            .apply(person, decision, context)
            .await?;
        let now = self.now();
        let mut expires = now + self.inner.session_ttl;
        if let Some(idp_expiry) = identity.session_expiry {
            expires = expires.min(idp_expiry);
        }
        let session = Session {
            id: random_id()?,
            idp: identity.idp.clone(),
            protocol: identity.protocol,
            subject: identity.subject.value.clone(),
            email: person.email.as_str().to_owned(),
            customer: provisioned.customer.id.clone(),
            portals: provisioned.portals.clone(),
            mfa,
            iat: unix(now),
            exp: unix(expires),
            subject_format: identity.subject.format.clone(),
            idp_session: identity.idp_session.clone(),
            groups: self.inner.session_claims.groups_of(identity),
            attributes: self.inner.session_claims.attributes_of(identity),
        };
        if session.exp <= session.iat {
            return Err(Error::SessionExpired {
                expired_at: expires,
            });
        }
        let token = self.inner.keys.seal(&session)?;
        let context = context
            .clone()
            .with_customer_id(provisioned.customer.id.as_str());
        let details = Details::SigninSucceeded {
            mfa,
            session_expiry: Some(Timestamp::from_system_time(expires)),
        };
        self.inner.auditor.ok(&context, details).await?;
        Ok(SignedIn {
            token,
            session,
            return_to: pending.return_to.clone(),
            provisioned,
        })
    }

    /// The portal gate: whether the session token lets its customer do `action` on
    /// `portal`. Every action needs a live session signed by one of the broker's keys that
    /// grants the portal; raising a request also passes the rate limit, in
    /// [`raise_request`](Self::raise_request). A refusal is audited (`gate.denied` with
    /// the code).
    ///
    /// # Errors
    ///
    /// `broker.session.malformed`, `broker.session.signature`, `broker.session.expired`,
    /// `broker.gate.portal_denied`, the audit log's code.
    pub async fn authorize(
        &self,
        token: &str,
        portal: &PortalId,
        action: Action,
    ) -> Result<Session, Error> {
        let checked = self.check_gate(token, portal, action);
        match checked {
            Ok(session) => Ok(session),
            Err(e) => {
                self.gate_denied(None, portal, &e).await?;
                Err(e)
            }
        }
    }

    fn check_gate(
        &self,
        token: &str,
        portal: &PortalId,
        _action: Action,
    ) -> Result<Session, Error> {
        let session = self.inner.keys.open(token, self.now())?;
        if !session.grants(portal) {
            return Err(Error::PortalDenied {
                portal: portal.clone(),
            });
        }
        Ok(session)
    }

    async fn gate_denied(
        &self,
        session: Option<&Session>,
        portal: &PortalId,
        error: &Error,
    ) -> Result<(), Error> {
        let mut context = AuditContext::default();
        if let Some(session) = session {
            context = AuditContext::new(session.id.clone())
                .idp(session.idp.clone(), session.protocol)
                .customer(
                    CustomerRef::by_id(session.customer.as_str()).with_email(session.email.clone()),
                );
        }
        let details = Details::GateDenied {
            portal: Some(portal.to_string()),
        };
        self.inner
            .auditor
            .failed(&context, details, error.code())
            .await
    }

    /// Raises a request through the gate: the session must grant the portal, the draft must
    /// be sound, the customer must be under the rate limit; the request is raised in the
    /// helpdesk on the customer's behalf and audited (`request.raised`).
    ///
    /// # Errors
    ///
    /// The [`authorize`](Self::authorize) codes, `broker.gate.request_invalid`,
    /// `broker.gate.deprovisioned`, `broker.provision.ledger`, `broker.gate.rate_limited`, `broker.config` without a request desk, the desk's
    /// code, the store's and the audit log's.
    pub async fn raise_request(
        &self,
        token: &str,
        portal: &PortalId,
        draft: &RequestDraft,
    ) -> Result<RaisedRequest, Error> {
        let session = self.authorize(token, portal, Action::RaiseRequest).await?;
        let context = AuditContext::new(session.id.clone())
            .idp(session.idp.clone(), session.protocol)
            .customer(
                CustomerRef::by_id(session.customer.as_str()).with_email(session.email.clone()),
            );
        let checked = async {
            draft.check()?;
            // Sessions are stateless; before a request is raised, the ledger says whether
            // the IdP deprovisioned the account since (SCIM deactivation).
            let managed = self
                .inner
                .provisioner
                .ledger()
                .load(&session.customer)
                .await
                .map_err(Error::Ledger)?;
            if managed.is_some_and(|m| m.deprovisioned) {
                return Err(Error::Deprovisioned {
                    customer: session.customer.clone(),
                });
            }
            let desk = self
                .inner
                .desk
                .as_ref()
                .ok_or_else(|| Error::Config("no request desk is configured".into()))?;
            self.inner
                .rate_limit
                .take(
                    self.inner.seams.replay.as_ref(),
                    &session.customer,
                    self.now(),
                )
                .await?;
            Ok::<_, Error>(desk)
        }
        .await;
        let desk = match checked {
            Ok(desk) => desk,
            Err(e) => {
                self.gate_denied(Some(&session), portal, &e).await?;
                return Err(e);
            }
        };
        match desk.raise(&session.customer, portal, draft).await {
            Ok(raised) => {
                let details = Details::RequestRaised {
                    portal: portal.to_string(),
                    request_key: Some(raised.key.clone()),
                };
                self.inner.auditor.ok(&context, details).await?;
                Ok(raised)
            }
            Err(source) => {
                let error = Error::Desk(source);
                let details = Details::RequestRaised {
                    portal: portal.to_string(),
                    request_key: None,
                };
                self.inner
                    .auditor
                    .failed(&context, details, error.code())
                    .await?;
                Err(error)
            }
        }
    }
}

impl AuditContext {
    /// Keeps the source of another context (the request's), dropping the rest.
    fn source_of(mut self, other: &AuditContext) -> Self {
        self.source = other.source.clone();
        self
    }
}
