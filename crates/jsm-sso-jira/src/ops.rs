//! The JSM operations, as typed methods on [`JiraClient`]. Each is one call (or a
//! [`Pager`] of calls) exactly as Atlassian's spec defines it; arguments the spec types
//! narrowly (organization ids are `int32`) are checked before anything is sent.

use http::Method;
use serde_json::{Value, json};

use crate::client::{Call, JiraClient};
use crate::error::Error;
use crate::model::{
    CustomerRequest, NewRequest, Organization, PropertyKeys, RequestType, RequestTypeFields,
    ServiceDesk, User,
};
use crate::paging::{Pager, Style};

/// Page size asked of the servicedeskapi (its documented default and usual maximum).
const SD_LIMIT: u32 = 50;
/// Page size asked of the platform user search (its maximum).
const SEARCH_LIMIT: u32 = 100;
/// Longest property key Jira takes, in bytes.
const MAX_PROPERTY_KEY: usize = 255;
/// Longest account id the platform API takes.
const MAX_ACCOUNT_ID: usize = 128;

fn invalid(what: &'static str, value: &str) -> Error {
    Error::InvalidArgument {
        what,
        value: value.chars().take(200).collect(),
    }
}

/// Organization ids are `int32` in the spec.
fn organization_id(id: &str) -> Result<String, Error> {
    match id.parse::<i32>() {
        Ok(n) if n > 0 && n.to_string() == id => Ok(id.to_owned()),
        _ => Err(invalid("organization id", id)),
    }
}

fn request_type_id(id: &str) -> Result<String, Error> {
    match id.parse::<i32>() {
        Ok(n) if n > 0 && n.to_string() == id => Ok(id.to_owned()),
        _ => Err(invalid("request type id", id)),
    }
}

fn plain(what: &'static str, value: &str, max: usize) -> Result<String, Error> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(invalid(what, value));
    }
    Ok(value.to_owned())
}

fn account_id(id: &str) -> Result<String, Error> {
    plain("account id", id, MAX_ACCOUNT_ID)
}

fn service_desk_id(id: &str) -> Result<String, Error> {
    plain("service desk id", id, 255)
}

fn property_key(key: &str) -> Result<String, Error> {
    plain("property key", key, MAX_PROPERTY_KEY)
}

fn account_ids(ids: &[&str]) -> Result<Vec<String>, Error> {
    if ids.is_empty() {
        return Err(invalid("account id list", ""));
    }
    ids.iter().map(|id| account_id(id)).collect()
}

impl JiraClient {
    /// Users named in a servicedeskapi body: `accountIds` (Cloud) or `usernames` (Data
    /// Center).
    fn users_body(&self, ids: Vec<String>) -> Value {
        if self.is_data_center() {
            json!({ "usernames": ids })
        } else {
            json!({ "accountIds": ids })
        }
    }

    // ---------------------------------------------------------------- customers

    /// Creates a customer (`POST /rest/servicedeskapi/customer?strictConflictStatusCode=true`).
    /// An existing email is [`Error::Conflict`]; [`ensure_customer`](Self::ensure_customer)
    /// turns that into a look-up.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] for an email Jira knows; any other API error.
    pub async fn create_customer(&self, email: &str, display_name: &str) -> Result<User, Error> {
        let email = plain("email", email, 254)?;
        // Safe to retry: a repeat after a lost answer gets 409, which the caller maps to a
        // look-up.
        let call = Call::new("create customer", Method::POST, Self::sd(["customer"]))
            .query("strictConflictStatusCode", "true")
            .json(&json!({ "email": email, "displayName": display_name }))?
            .idempotent();
        self.json(&call).await
    }

    /// The customer with this email, created if there is none. Returns the user and
    /// whether it was created now.
    ///
    /// # Errors
    ///
    /// Any API error; [`Error::Conflict`] if Jira reports the email taken but no customer
    /// with it can be found (an agent account holds it, or it is hidden from the caller).
    pub async fn ensure_customer(
        &self,
        email: &str,
        display_name: &str,
    ) -> Result<(User, bool), Error> {
        match self.create_customer(email, display_name).await {
            Ok(user) => Ok((user, true)),
            Err(Error::Conflict(api)) => match self.find_customer_by_email(email).await? {
                Some(user) => Ok((user, false)),
                None => Err(Error::Conflict(api)),
            },
            Err(e) => Err(e),
        }
    }

    /// Searches users (`GET /rest/api/3/user/search?query=`), paged within Jira's
    /// 1,000-result window. Data Center searches by `username`.
    pub fn search_users(&self, query: &str) -> Pager<User> {
        let param = if self.is_data_center() {
            "username"
        } else {
            "query"
        };
        let call = Call::new(
            "search users",
            Method::GET,
            self.platform(["user", "search"]),
        )
        .query(param, query);
        Pager::new(
            self.clone(),
            call,
            Style::UserSearch {
                max_results: SEARCH_LIMIT,
            },
        )
    }

    /// The customer account whose email is `email` (ASCII case ignored), from the user
    /// search (`accountType: "customer"` on Cloud).
    ///
    /// # Errors
    ///
    /// Any API error.
    pub async fn find_customer_by_email(&self, email: &str) -> Result<Option<User>, Error> {
        let email = plain("email", email, 254)?;
        let data_center = self.is_data_center();
        let mut users = self.search_users(&email);
        while let Some(user) = users.next().await {
            let user = user?;
            let customer = data_center || user.account_type.as_deref() == Some("customer");
            if customer && user.has_email(&email) {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// The customer of a service desk with this email, from the desk's (experimental)
    /// customer list filtered by `query`.
    ///
    /// # Errors
    ///
    /// Any API error; [`Error::NotFound`] for an unknown service desk.
    pub async fn find_desk_customer(
        &self,
        service_desk: &str,
        email: &str,
    ) -> Result<Option<User>, Error> {
        let mut customers = self.desk_customers(service_desk, Some(email))?;
        while let Some(user) = customers.next().await {
            let user = user?;
            if user.has_email(email) {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// Revokes a customer's portal-only access (`PUT
    /// /rest/servicedeskapi/customer/user/{accountId}/revoke-portal-only-access`): the
    /// account can no longer sign in to any portal. Needs site-admin rights.
    ///
    /// # Errors
    ///
    /// Any API error; [`Error::NotFound`] for an unknown account.
    pub async fn revoke_portal_only_access(&self, account: &str) -> Result<(), Error> {
        let call = Call::new(
            "revoke portal-only access",
            Method::PUT,
            Self::sd([
                "customer".to_owned(),
                "user".to_owned(),
                account_id(account)?,
                "revoke-portal-only-access".to_owned(),
            ]),
        );
        self.unit(&call).await
    }

    // ---------------------------------------------------------------- organizations

    /// Every organization (`GET /rest/servicedeskapi/organization`).
    pub fn organizations(&self) -> Pager<Organization> {
        let call = Call::new(
            "list organizations",
            Method::GET,
            Self::sd(["organization"]),
        );
        Pager::new(self.clone(), call, Style::ServiceDesk { limit: SD_LIMIT })
    }

    /// The organizations a user belongs to (`GET /rest/servicedeskapi/organization?accountId=`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty or overlong account id.
    pub fn organizations_of(&self, account: &str) -> Result<Pager<Organization>, Error> {
        let call = Call::new(
            "list organizations of user",
            Method::GET,
            Self::sd(["organization"]),
        )
        .query("accountId", account_id(account)?);
        Ok(Pager::new(
            self.clone(),
            call,
            Style::ServiceDesk { limit: SD_LIMIT },
        ))
    }

    /// One organization (`GET /rest/servicedeskapi/organization/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none; [`Error::InvalidArgument`] for a non-numeric id.
    pub async fn organization(&self, id: &str) -> Result<Organization, Error> {
        let call = Call::new(
            "get organization",
            Method::GET,
            Self::sd(["organization".to_owned(), organization_id(id)?]),
        );
        self.json(&call).await
    }

    /// Creates an organization (`POST /rest/servicedeskapi/organization`). Not retried.
    ///
    /// # Errors
    ///
    /// Any API error.
    pub async fn create_organization(&self, name: &str) -> Result<Organization, Error> {
        let call = Call::new(
            "create organization",
            Method::POST,
            Self::sd(["organization"]),
        )
        .json(&json!({ "name": plain("organization name", name, 255)? }))?;
        self.json(&call).await
    }

    /// Deletes an organization (`DELETE /rest/servicedeskapi/organization/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub async fn delete_organization(&self, id: &str) -> Result<(), Error> {
        let call = Call::new(
            "delete organization",
            Method::DELETE,
            Self::sd(["organization".to_owned(), organization_id(id)?]),
        );
        self.unit(&call).await
    }

    /// The members of an organization (`GET /rest/servicedeskapi/organization/{id}/user`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a non-numeric id.
    pub fn organization_members(&self, id: &str) -> Result<Pager<User>, Error> {
        let call = Call::new(
            "list organization members",
            Method::GET,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "user".to_owned(),
            ]),
        );
        Ok(Pager::new(
            self.clone(),
            call,
            Style::ServiceDesk { limit: SD_LIMIT },
        ))
    }

    /// Adds users to an organization (`POST .../organization/{id}/user` with `accountIds`).
    /// Members already in it are not an error, so this is retried like an idempotent call.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown organization; any other API error.
    pub async fn add_organization_members(&self, id: &str, accounts: &[&str]) -> Result<(), Error> {
        let body = self.users_body(account_ids(accounts)?);
        let call = Call::new(
            "add organization members",
            Method::POST,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "user".to_owned(),
            ]),
        )
        .json(&body)?
        .idempotent();
        self.unit(&call).await
    }

    /// Removes users from an organization (`DELETE .../organization/{id}/user`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown organization; any other API error.
    pub async fn remove_organization_members(
        &self,
        id: &str,
        accounts: &[&str],
    ) -> Result<(), Error> {
        let body = self.users_body(account_ids(accounts)?);
        let call = Call::new(
            "remove organization members",
            Method::DELETE,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "user".to_owned(),
            ]),
        )
        .json(&body)?;
        self.unit(&call).await
    }

    /// The property keys of an organization.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown organization.
    pub async fn organization_property_keys(&self, id: &str) -> Result<Vec<String>, Error> {
        let call = Call::new(
            "list organization property keys",
            Method::GET,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "property".to_owned(),
            ]),
        );
        let keys: PropertyKeys = self.json(&call).await?;
        Ok(keys.keys.into_iter().map(|k| k.key).collect())
    }

    /// An organization property's value; `None` if the property is not set.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown organization (told apart from an unset property
    /// by a second look-up).
    pub async fn organization_property(&self, id: &str, key: &str) -> Result<Option<Value>, Error> {
        let call = Call::new(
            "get organization property",
            Method::GET,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "property".to_owned(),
                property_key(key)?,
            ]),
        );
        match self.json::<crate::model::EntityProperty>(&call).await {
            Ok(p) => Ok(Some(p.value)),
            Err(Error::NotFound(api)) => match self.organization(id).await {
                Ok(_) => Ok(None),
                Err(Error::NotFound(_)) => Err(Error::NotFound(api)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Sets an organization property (any JSON value, at most 32 KiB as Jira allows).
    /// The broker records the organizations it manages here.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown organization; [`Error::BadRequest`] for a value
    /// Jira refuses.
    pub async fn set_organization_property(
        &self,
        id: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), Error> {
        let call = Call::new(
            "set organization property",
            Method::PUT,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "property".to_owned(),
                property_key(key)?,
            ]),
        )
        .json(value)?;
        self.unit(&call).await
    }

    /// Deletes an organization property.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the organization or the property does not exist.
    pub async fn delete_organization_property(&self, id: &str, key: &str) -> Result<(), Error> {
        let call = Call::new(
            "delete organization property",
            Method::DELETE,
            Self::sd([
                "organization".to_owned(),
                organization_id(id)?,
                "property".to_owned(),
                property_key(key)?,
            ]),
        );
        self.unit(&call).await
    }

    // ---------------------------------------------------------------- service desks

    /// Every service desk (`GET /rest/servicedeskapi/servicedesk`).
    pub fn service_desks(&self) -> Pager<ServiceDesk> {
        let call = Call::new("list service desks", Method::GET, Self::sd(["servicedesk"]));
        Pager::new(self.clone(), call, Style::ServiceDesk { limit: SD_LIMIT })
    }

    /// One service desk.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub async fn service_desk(&self, id: &str) -> Result<ServiceDesk, Error> {
        let call = Call::new(
            "get service desk",
            Method::GET,
            Self::sd(["servicedesk".to_owned(), service_desk_id(id)?]),
        );
        self.json(&call).await
    }

    /// Organizations attached to a service desk.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty id.
    pub fn desk_organizations(&self, desk: &str) -> Result<Pager<Organization>, Error> {
        let call = Call::new(
            "list service desk organizations",
            Method::GET,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "organization".to_owned(),
            ]),
        );
        Ok(Pager::new(
            self.clone(),
            call,
            Style::ServiceDesk { limit: SD_LIMIT },
        ))
    }

    /// Attaches an organization to a service desk (its members may use the portal).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk or organization.
    pub async fn attach_organization(&self, desk: &str, organization: &str) -> Result<(), Error> {
        let org = organization_id(organization)?
            .parse::<i32>()
            .map_err(|_| invalid("organization id", organization))?;
        let call = Call::new(
            "attach organization to service desk",
            Method::POST,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "organization".to_owned(),
            ]),
        )
        .json(&json!({ "organizationId": org }))?
        .idempotent();
        self.unit(&call).await
    }

    /// Detaches an organization from a service desk.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk or organization.
    pub async fn detach_organization(&self, desk: &str, organization: &str) -> Result<(), Error> {
        let org = organization_id(organization)?
            .parse::<i32>()
            .map_err(|_| invalid("organization id", organization))?;
        let call = Call::new(
            "detach organization from service desk",
            Method::DELETE,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "organization".to_owned(),
            ]),
        )
        .json(&json!({ "organizationId": org }))?;
        self.unit(&call).await
    }

    /// The customers of a service desk (experimental), optionally filtered by `query`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty desk id.
    pub fn desk_customers(&self, desk: &str, query: Option<&str>) -> Result<Pager<User>, Error> {
        let mut call = Call::new(
            "list service desk customers",
            Method::GET,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "customer".to_owned(),
            ]),
        )
        .experimental();
        if let Some(q) = query {
            call = call.query("query", q);
        }
        Ok(Pager::new(
            self.clone(),
            call,
            Style::ServiceDesk { limit: SD_LIMIT },
        ))
    }

    /// Adds customers to a service desk (gives them its portal). Existing customers are
    /// not an error.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk; any other API error.
    pub async fn add_desk_customers(&self, desk: &str, accounts: &[&str]) -> Result<(), Error> {
        let body = self.users_body(account_ids(accounts)?);
        let call = Call::new(
            "add service desk customers",
            Method::POST,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "customer".to_owned(),
            ]),
        )
        .json(&body)?
        .experimental()
        .idempotent();
        self.unit(&call).await
    }

    /// Removes customers from a service desk (experimental).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk; any other API error.
    pub async fn remove_desk_customers(&self, desk: &str, accounts: &[&str]) -> Result<(), Error> {
        let body = self.users_body(account_ids(accounts)?);
        let call = Call::new(
            "remove service desk customers",
            Method::DELETE,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "customer".to_owned(),
            ]),
        )
        .json(&body)?
        .experimental();
        self.unit(&call).await
    }

    /// The request types of a service desk.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty desk id.
    pub fn request_types(&self, desk: &str) -> Result<Pager<RequestType>, Error> {
        let call = Call::new(
            "list request types",
            Method::GET,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "requesttype".to_owned(),
            ]),
        );
        Ok(Pager::new(
            self.clone(),
            call,
            Style::ServiceDesk { limit: SD_LIMIT },
        ))
    }

    /// One request type of a service desk (`GET
    /// /rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}`): its
    /// name, description and help text as the portal shows them. `desk` may be the desk id
    /// or its project key, as the API allows.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk or request type (or one the caller may not
    /// see); [`Error::InvalidArgument`] for an empty desk id or a request type id that is
    /// not a positive number.
    pub async fn request_type(&self, desk: &str, request_type: &str) -> Result<RequestType, Error> {
        let call = Call::new(
            "get request type",
            Method::GET,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "requesttype".to_owned(),
                request_type_id(request_type)?,
            ]),
        );
        self.json(&call).await
    }

    /// The fields of a request type (what `requestFieldValues` may hold).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown desk or request type.
    pub async fn request_type_fields(
        &self,
        desk: &str,
        request_type: &str,
    ) -> Result<RequestTypeFields, Error> {
        let call = Call::new(
            "get request type fields",
            Method::GET,
            Self::sd([
                "servicedesk".to_owned(),
                service_desk_id(desk)?,
                "requesttype".to_owned(),
                request_type_id(request_type)?,
                "field".to_owned(),
            ]),
        );
        self.json(&call).await
    }

    // ---------------------------------------------------------------- requests

    /// Raises a customer request (`POST /rest/servicedeskapi/request`), on behalf of a
    /// customer when [`NewRequest::raise_on_behalf_of`] is set. Never retried: a repeat
    /// would raise a second request.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] for missing or invalid field values; any other API error.
    pub async fn create_request(&self, request: &NewRequest) -> Result<CustomerRequest, Error> {
        service_desk_id(&request.service_desk_id)?;
        request_type_id(&request.request_type_id)?;
        let call =
            Call::new("create request", Method::POST, Self::sd(["request"])).json(request)?;
        self.json(&call).await
    }

    // ---------------------------------------------------------------- user properties

    fn user_property_call(
        &self,
        operation: &'static str,
        method: Method,
        account: &str,
        key: Option<&str>,
    ) -> Result<Call, Error> {
        let mut parts = vec!["user".to_owned(), "properties".to_owned()];
        if let Some(key) = key {
            parts.push(property_key(key)?);
        }
        let param = if self.is_data_center() {
            "userKey"
        } else {
            "accountId"
        };
        Ok(Call::new(operation, method, self.platform(parts)).query(param, account_id(account)?))
    }

    /// The property keys set on a user.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user.
    pub async fn user_property_keys(&self, account: &str) -> Result<Vec<String>, Error> {
        let call =
            self.user_property_call("list user property keys", Method::GET, account, None)?;
        let keys: PropertyKeys = self.json(&call).await?;
        Ok(keys.keys.into_iter().map(|k| k.key).collect())
    }

    /// A user property's value; `None` if it is not set (or the user does not exist: the
    /// platform API answers 404 for both).
    ///
    /// # Errors
    ///
    /// Any API error but 404.
    pub async fn user_property(&self, account: &str, key: &str) -> Result<Option<Value>, Error> {
        let call = self.user_property_call("get user property", Method::GET, account, Some(key))?;
        match self.json::<crate::model::EntityProperty>(&call).await {
            Ok(p) => Ok(Some(p.value)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets a user property (attribute sync where customer detail fields are not
    /// available to the API).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user; [`Error::BadRequest`] for a refused value.
    pub async fn set_user_property(
        &self,
        account: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), Error> {
        let call = self
            .user_property_call("set user property", Method::PUT, account, Some(key))?
            .json(value)?;
        self.unit(&call).await
    }

    /// Deletes a user property.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the user or property does not exist.
    pub async fn delete_user_property(&self, account: &str, key: &str) -> Result<(), Error> {
        let call =
            self.user_property_call("delete user property", Method::DELETE, account, Some(key))?;
        self.unit(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_as_the_spec_types_them() {
        assert_eq!(organization_id("42").unwrap(), "42");
        for bad in ["", "0", "-1", "042", "4x", "99999999999", "1 "] {
            assert!(organization_id(bad).is_err(), "{bad}");
        }
        assert!(account_id(&"a".repeat(129)).is_err());
        assert!(account_id("qm:abc\n").is_err());
        assert!(property_key(&"k".repeat(256)).is_err());
        assert!(property_key("jsm-sso.fields").is_ok());
        assert!(account_ids(&[]).is_err());
    }
}
