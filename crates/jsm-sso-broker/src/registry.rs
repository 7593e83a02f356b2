//! The IdP registry and home-realm discovery.
//!
//! Many IdPs side by side; an email domain maps to one IdP or to a choice; a portal may
//! allow only some IdPs; an explicit pick by id is checked against the same rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsm_sso_core::Email;
use jsm_sso_core::directory::PortalId;
use jsm_sso_core::identity::IdpId;

use crate::error::{Error, clip};
use crate::idp::IdentityProvider;

/// What the customer gave to start a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginHint {
    /// An email address: home-realm discovery by its domain.
    Email(Email),
    /// An IdP picked explicitly (a button on the sign-in page).
    Idp(IdpId),
    /// Nothing: every IdP the portal allows is offered.
    None,
}

impl LoginHint {
    /// Reads what a sign-in form sent: text with an `@` is an email address, other text an
    /// IdP id, blank text no hint.
    ///
    /// # Errors
    ///
    /// `broker.discovery.hint_invalid` for text with an `@` that is not an email address.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::None);
        }
        if text.contains('@') {
            return text
                .parse::<Email>()
                .map(Self::Email)
                .map_err(|_| Error::HintInvalid { hint: clip(text) });
        }
        Ok(Self::Idp(IdpId::from(text)))
    }
}

/// The result of discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Exactly one IdP fits: send the customer there.
    Idp(IdpId),
    /// Several fit: let the customer choose (ids in configuration order).
    Choice(Vec<IdpId>),
}

/// The configured IdPs, the domain map and the per-portal allow lists.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    /// In registration order.
    idps: Vec<Arc<dyn IdentityProvider>>,
    /// Lower-case domain (or `*.suffix`) to IdPs.
    domains: BTreeMap<String, Vec<IdpId>>,
    /// IdPs offered for an email whose domain is not mapped (empty: refuse).
    fallback: Vec<IdpId>,
    /// Portals with a restricted IdP list.
    portals: BTreeMap<PortalId, Vec<IdpId>>,
}

impl Registry {
    pub(crate) fn add(&mut self, idp: Arc<dyn IdentityProvider>) -> Result<(), Error> {
        if self.get(idp.id()).is_some() {
            return Err(Error::Config(format!(
                "identity provider {} is registered twice",
                idp.id()
            )));
        }
        self.idps.push(idp);
        Ok(())
    }

    pub(crate) fn map_domain(&mut self, domain: &str, idp: IdpId) -> Result<(), Error> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let bare = domain.strip_prefix("*.").unwrap_or(&domain);
        if bare.is_empty()
            || bare.contains('*')
            || bare.contains('@')
            || bare.starts_with('.')
            || bare.contains("..")
        {
            return Err(Error::Config(format!(
                "domain {domain:?} is not a domain or a *.suffix"
            )));
        }
        let list = self.domains.entry(domain).or_default();
        if !list.contains(&idp) {
            list.push(idp);
        }
        Ok(())
    }

    pub(crate) fn set_fallback(&mut self, idps: Vec<IdpId>) {
        self.fallback = idps;
    }

    pub(crate) fn restrict_portal(&mut self, portal: PortalId, idps: Vec<IdpId>) {
        self.portals.insert(portal, idps);
    }

    /// Checks that every id named in the maps is registered.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.idps.is_empty() {
            return Err(Error::Config("no identity provider is registered".into()));
        }
        if let Some((portal, _)) = self.portals.iter().find(|(_, idps)| idps.is_empty()) {
            return Err(Error::Config(format!(
                "portal {portal} allows no identity provider: nobody could sign in to it"
            )));
        }
        let named = self
            .domains
            .values()
            .flatten()
            .chain(&self.fallback)
            .chain(self.portals.values().flatten());
        for id in named {
            if self.get(id).is_none() {
                return Err(Error::Config(format!(
                    "identity provider {id} is named in the discovery configuration but not registered"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, id: &IdpId) -> Option<&Arc<dyn IdentityProvider>> {
        self.idps.iter().find(|i| i.id() == id)
    }

    pub(crate) fn idps(&self) -> impl Iterator<Item = &Arc<dyn IdentityProvider>> {
        self.idps.iter()
    }

    pub(crate) fn allowed(&self, idp: &IdpId, portal: Option<&PortalId>) -> bool {
        match portal.and_then(|p| self.portals.get(p)) {
            Some(list) => list.contains(idp),
            None => true,
        }
    }

    /// The IdPs mapped to a domain: the exact domain first, else the closest `*.suffix`.
    fn for_domain(&self, domain: &str) -> Option<&Vec<IdpId>> {
        if let Some(list) = self.domains.get(domain) {
            return Some(list);
        }
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(list) = self.domains.get(&format!("*.{parent}")) {
                return Some(list);
            }
            rest = parent;
        }
        None
    }

    pub(crate) fn discover(
        &self,
        hint: &LoginHint,
        portal: Option<&PortalId>,
    ) -> Result<Discovery, Error> {
        match hint {
            LoginHint::Idp(id) => {
                if self.get(id).is_none() {
                    return Err(Error::UnknownIdp(id.clone()));
                }
                if let Some(portal) = portal
                    && !self.allowed(id, Some(portal))
                {
                    return Err(Error::IdpNotAllowed {
                        idp: id.clone(),
                        portal: portal.clone(),
                    });
                }
                Ok(Discovery::Idp(id.clone()))
            }
            LoginHint::Email(email) => {
                let domain = email.domain().to_ascii_lowercase();
                let mapped = self.for_domain(&domain).unwrap_or(&self.fallback);
                if mapped.is_empty() {
                    return Err(Error::NoIdpForDomain { domain });
                }
                let fits: Vec<IdpId> = mapped
                    .iter()
                    .filter(|id| self.allowed(id, portal))
                    .cloned()
                    .collect();
                match (fits.as_slice(), portal) {
                    ([], Some(portal)) => Err(Error::IdpNotAllowed {
                        idp: mapped.first().cloned().unwrap_or_else(|| IdpId::from("")),
                        portal: portal.clone(),
                    }),
                    ([], None) => Err(Error::NoIdpForDomain { domain }),
                    ([one], _) => Ok(Discovery::Idp(one.clone())),
                    _ => Ok(Discovery::Choice(fits)),
                }
            }
            LoginHint::None => {
                let fits: Vec<IdpId> = self
                    .idps
                    .iter()
                    .map(|i| i.id().clone())
                    .filter(|id| self.allowed(id, portal))
                    .collect();
                match fits.as_slice() {
                    [one] => Ok(Discovery::Idp(one.clone())),
                    _ => Ok(Discovery::Choice(fits)),
                }
            }
        }
    }
}
