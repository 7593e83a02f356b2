//! Jira Service Management through `jsm-sso-jira` (feature `jira`): the [`RequestDesk`]
//! on [`JiraClient`], and [`PropertyLedger`], the broker's ledger kept as a JSM user
//! property so every broker instance reads the same record.

use async_trait::async_trait;
use jsm_sso_core::directory::{CustomerId, PortalId};
use jsm_sso_jira::JiraClient;
use jsm_sso_jira::model::NewRequest;

use crate::error::BoxedError;
use crate::gate::{RaisedRequest, RequestDesk, RequestDraft};
use crate::provision::{Ledger, Managed};

/// The user property key the ledger uses.
pub const LEDGER_PROPERTY: &str = "jsm-sso.managed";

#[async_trait]
impl RequestDesk for JiraClient {
    async fn raise(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
        draft: &RequestDraft,
    ) -> Result<RaisedRequest, BoxedError> {
        let mut request = NewRequest::new(portal.as_str(), draft.request_type.as_str())
            .on_behalf_of(customer.as_str())
            .field("summary", draft.summary.as_str());
        // Only request types that have a description field take one.
        if !draft.description.is_empty() {
            request = request.field("description", draft.description.as_str());
        }
        for (id, value) in &draft.fields {
            request = request.field(id.as_str(), value.clone());
        }
        let raised = self
            .create_request(&request)
            .await
            .map_err(|e| Box::new(e) as BoxedError)?;
        Ok(RaisedRequest::new(raised.issue_key, raised.issue_id))
    }
}

/// A [`Ledger`] stored as the JSM user property [`LEDGER_PROPERTY`] on each customer.
#[derive(Debug, Clone)]
pub struct PropertyLedger {
    client: JiraClient,
}

impl PropertyLedger {
    /// A ledger on this site.
    #[must_use]
    pub fn new(client: JiraClient) -> Self {
        Self { client }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("ledger property of {customer} is not a ledger record: {reason}")]
struct Malformed {
    customer: String,
    reason: String,
}

impl jsm_sso_core::CodedError for Malformed {
    fn code(&self) -> &'static str {
        "broker.provision.ledger"
    }

    fn hint(&self) -> &'static str {
        "the jsm-sso.managed user property was changed by something else; delete it and sign in again"
    }
}

#[async_trait]
impl Ledger for PropertyLedger {
    async fn load(&self, customer: &CustomerId) -> Result<Option<Managed>, BoxedError> {
        let value = self
            .client
            .user_property(customer.as_str(), LEDGER_PROPERTY)
            .await
            .map_err(|e| Box::new(e) as BoxedError)?;
        value
            .map(|v| {
                serde_json::from_value(v).map_err(|e| {
                    Box::new(Malformed {
                        customer: customer.to_string(),
                        reason: e.to_string(),
                    }) as BoxedError
                })
            })
            .transpose()
    }

    async fn store(&self, customer: &CustomerId, managed: &Managed) -> Result<(), BoxedError> {
        let value = serde_json::to_value(managed).map_err(|e| {
            Box::new(Malformed {
                customer: customer.to_string(),
                reason: e.to_string(),
            }) as BoxedError
        })?;
        self.client
            .set_user_property(customer.as_str(), LEDGER_PROPERTY, &value)
            .await
            .map_err(|e| Box::new(e) as BoxedError)
    }

    async fn forget(&self, customer: &CustomerId) -> Result<(), BoxedError> {
        match self
            .client
            .delete_user_property(customer.as_str(), LEDGER_PROPERTY)
            .await
        {
            // The customer (and so the property) is gone already.
            Ok(()) | Err(jsm_sso_jira::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(Box::new(e)),
        }
    }
}
