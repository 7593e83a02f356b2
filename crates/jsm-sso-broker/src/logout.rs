//! Single Logout through the broker: a sign-out that also ends the customer's session at the
//! IdP, and the IdP's own logout requests.
//!
//! The broker keeps the pending logout (which IdP, which request id) in the state store
//! under a random `RelayState`, single use, ten minutes, so that the IdP's answer can be
//! matched even though the local session (the cookie) has already ended.

use std::time::Duration;

use jsm_sso_core::identity::{IdpId, Protocol};
use serde::{Deserialize, Serialize};

use crate::broker::random_id;
use crate::error::Error;
use crate::idp::{Callback, LogoutOutcome, Redirect};
use crate::{Broker, Session};

/// How long the IdP may take to answer a logout request.
const LOGOUT_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingLogout {
    idp: IdpId,
    request_id: String,
}

fn logout_key(relay_state: &str) -> String {
    format!("broker:logout:{relay_state}")
}

impl Broker {
    /// Starts Single Logout for `session` at its IdP. The front end ends the local session
    /// first (clears the cookie) and then sends the browser to the returned redirect;
    /// `Ok(None)` when the IdP has no logout endpoint (OIDC here, or a SAML IdP without an
    /// SLO URL), so only the local session ends.
    ///
    /// # Errors
    ///
    /// `broker.discovery.unknown_idp` when the session's IdP is no longer configured; the
    /// protocol's error (signing, configuration); the store's.
    pub async fn begin_logout(&self, session: &Session) -> Result<Option<Redirect>, Error> {
        let idp = self
            .inner
            .registry
            .get(&session.idp)
            .ok_or_else(|| Error::UnknownIdp(session.idp.clone()))?;
        let relay_state = random_id()?;
        let Some(start) = idp
            .begin_logout(session, &relay_state)
            .await
            .map_err(|cause| Error::Protocol {
                idp: session.idp.clone(),
                cause,
            })?
        else {
            return Ok(None);
        };
        let pending = PendingLogout {
            idp: session.idp.clone(),
            request_id: start.request_id,
        };
        let value =
            serde_json::to_vec(&pending).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        let expires = self.inner.seams.clock.now() + LOGOUT_TTL;
        self.inner
            .seams
            .store
            .put(&logout_key(&relay_state), value, expires)
            .await?;
        Ok(Some(start.redirect))
    }

    /// Handles a logout message the IdP sent to the front end's logout URL: the answer to a
    /// logout [`begin_logout`](Self::begin_logout) started (matched by its `RelayState`,
    /// single use), or an IdP-initiated request, validated by the IdP that claims to have
    /// sent it and checked against `session`, the session the browser brought (if any).
    ///
    /// # Errors
    ///
    /// `broker.logout.unknown` when no pending logout and no IdP matches;
    /// `broker.callback.pending_malformed`; the protocol's error for the first failed check
    /// (signature, destination, issuer, `InResponseTo`, status).
    pub async fn finish_logout(
        &self,
        message: &Callback,
        session: Option<&Session>,
    ) -> Result<LogoutOutcome, Error> {
        let relay_state = message.get("RelayState").filter(|r| r.len() <= 256);
        let answer = message.get("SAMLResponse").is_some();
        if answer && let Some(relay_state) = relay_state {
            let store = &self.inner.seams.store;
            if let Some(raw) = store.take(&logout_key(relay_state)).await? {
                let pending: PendingLogout = serde_json::from_slice(&raw)
                    .map_err(|e| Error::PendingMalformed(e.to_string()))?;
                let idp = self
                    .inner
                    .registry
                    .get(&pending.idp)
                    .ok_or_else(|| Error::UnknownIdp(pending.idp.clone()))?;
                return idp
                    .finish_logout(message, Some(&pending.request_id), None)
                    .await
                    .map_err(|cause| Error::Protocol {
                        idp: pending.idp.clone(),
                        cause,
                    });
            }
        }
        if answer {
            return Err(Error::LogoutUnknown);
        }
        // An IdP-initiated request: the session's IdP when it claims the message, else any
        // IdP that does. Only the claimed IdP's keys verify it.
        let session_idp = session
            .filter(|s| s.protocol == Protocol::Saml2)
            .and_then(|s| self.inner.registry.get(&s.idp))
            .filter(|idp| idp.sends_logout(message));
        let idp = session_idp
            .or_else(|| self.inner.registry.idps().find(|i| i.sends_logout(message)))
            .ok_or(Error::LogoutUnknown)?;
        let session = session.filter(|s| s.idp == *idp.id());
        idp.finish_logout(message, None, session)
            .await
            .map_err(|cause| Error::Protocol {
                idp: idp.id().clone(),
                cause,
            })
    }
}
