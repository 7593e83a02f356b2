//! The resource store seam: [`ResourceStore`] and the in-memory [`MemoryStore`].
//!
//! Resources are kept per tenant (the IdP whose token made the call), so two IdPs pushing the
//! same `userName` do not collide. The store enforces `userName` uniqueness
//! (case-insensitively), compare-and-swap on versions, and keeps group membership consistent
//! when a user is deleted.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use http::StatusCode;
use jsm_sso_core::CodedError;
use jsm_sso_core::identity::IdpId;
use serde_json::{Map, Value};

use crate::schema::ResourceKind;

/// A stored resource: its id, version and attributes (canonical names; the enterprise
/// extension as an object under its URN; no `id`, `meta` or `schemas`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resource {
    /// User or Group.
    pub kind: ResourceKind,
    /// The service provider's id.
    pub id: String,
    /// Increases with every change; the ETag is `W/"<version>"`.
    pub version: u64,
    /// When it was created.
    pub created: SystemTime,
    /// When it last changed.
    pub last_modified: SystemTime,
    /// The attributes.
    pub attributes: Map<String, Value>,
}

impl Resource {
    /// A new resource at version 1.
    #[must_use]
    pub fn new(
        kind: ResourceKind,
        id: String,
        now: SystemTime,
        attributes: Map<String, Value>,
    ) -> Self {
        Self {
            kind,
            id,
            version: 1,
            created: now,
            last_modified: now,
            attributes,
        }
    }

    /// The weak ETag of this version.
    #[must_use]
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// A string attribute.
    #[must_use]
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Value::as_str)
    }

    /// The member ids of a group (`members[].value`).
    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
    }
}

/// A group a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupRef {
    /// The group's id.
    pub id: String,
    /// The group's displayName.
    pub display_name: String,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No resource with that id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `User` or `Group`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// Someone else changed the resource first.
    #[error("version conflict: expected {expected}, found {actual}")]
    Conflict {
        /// The version the write was based on.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// A unique value is taken.
    #[error("{attribute} {value:?} is already taken")]
    Uniqueness {
        /// The attribute.
        attribute: &'static str,
        /// The value.
        value: String,
    },
    /// The backend failed (connection, I/O).
    #[error("resource store failed: {0}")]
    Backend(String),
}

impl StoreError {
    /// The HTTP status a SCIM client sees.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Uniqueness { .. } => StatusCode::CONFLICT,
            Self::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl CodedError for StoreError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "scim.store.not_found",
            Self::Conflict { .. } => "scim.store.conflict",
            Self::Uniqueness { .. } => "scim.store.uniqueness",
            Self::Backend(_) => "scim.store.backend",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "the resource was deleted meanwhile",
            Self::Conflict { .. } => "a concurrent change won; the IdP retries with fresh data",
            Self::Uniqueness { .. } => "another resource holds that value",
            Self::Backend(_) => "check the resource store's connection",
        }
    }
}

/// Where SCIM resources live. Implementations must be safe to share between requests.
#[async_trait]
pub trait ResourceStore: Send + Sync + std::fmt::Debug {
    /// Stores a new resource.
    ///
    /// # Errors
    /// `Uniqueness` when a user's `userName` is taken (case-insensitively) in the tenant.
    async fn create(&self, tenant: &IdpId, resource: Resource) -> Result<Resource, StoreError>;

    /// The resource with `id`, if any.
    ///
    /// # Errors
    /// `Backend`.
    async fn get(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError>;

    /// The resources with these ids that exist, in the order asked.
    ///
    /// # Errors
    /// `Backend`.
    async fn get_many(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        ids: &[&str],
    ) -> Result<Vec<Resource>, StoreError>;

    /// Replaces a resource whose stored version is `expected_version`; the new one carries
    /// its own (higher) version.
    ///
    /// # Errors
    /// `NotFound`, `Conflict`, `Uniqueness`.
    async fn replace(
        &self,
        tenant: &IdpId,
        resource: Resource,
        expected_version: u64,
    ) -> Result<Resource, StoreError>;

    /// Deletes a resource (a deleted user also leaves every group) and returns it.
    ///
    /// # Errors
    /// `NotFound`, `Conflict` when `expected_version` is given and differs.
    async fn delete(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<Resource, StoreError>;

    /// Every resource of a kind (the service filters, sorts and pages).
    ///
    /// # Errors
    /// `Backend`.
    async fn list(&self, tenant: &IdpId, kind: ResourceKind) -> Result<Vec<Resource>, StoreError>;

    /// The groups a user is a direct member of, by name.
    ///
    /// # Errors
    /// `Backend`.
    async fn groups_of(&self, tenant: &IdpId, user_id: &str) -> Result<Vec<GroupRef>, StoreError>;
}

#[derive(Debug, Default)]
struct Tenant {
    users: HashMap<String, Resource>,
    groups: HashMap<String, Resource>,
    /// Lower-cased userName -> user id.
    user_names: HashMap<String, String>,
    /// Member id -> ids of the groups it is in.
    member_of: HashMap<String, BTreeSet<String>>,
}

impl Tenant {
    fn map(&mut self, kind: ResourceKind) -> &mut HashMap<String, Resource> {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }

    fn index_members(&mut self, group: &Resource, add: bool) {
        for member in group.member_ids() {
            let entry = self.member_of.entry(member.to_owned()).or_default();
            if add {
                entry.insert(group.id.clone());
            } else {
                entry.remove(&group.id);
            }
        }
    }

    fn claim_user_name(&self, resource: &Resource) -> Result<Option<String>, StoreError> {
        if resource.kind != ResourceKind::User {
            return Ok(None);
        }
        let Some(name) = resource.str_attr("userName") else {
            return Ok(None);
        };
        let key = name.to_lowercase();
        match self.user_names.get(&key) {
            Some(owner) if *owner != resource.id => Err(StoreError::Uniqueness {
                attribute: "userName",
                value: name.to_owned(),
            }),
            _ => Ok(Some(key)),
        }
    }
}

/// An in-memory [`ResourceStore`]: for tests, demos and single-instance deployments whose
/// IdP can re-push everything after a restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tenants: RwLock<HashMap<IdpId, Tenant>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read<T>(&self, tenant: &IdpId, f: impl FnOnce(Option<&Tenant>) -> T) -> T {
        let guard = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        f(guard.get(tenant))
    }

    fn write<T>(&self, tenant: &IdpId, f: impl FnOnce(&mut Tenant) -> T) -> T {
        let mut guard = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        f(guard.entry(tenant.clone()).or_default())
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn create(&self, tenant: &IdpId, resource: Resource) -> Result<Resource, StoreError> {
        self.write(tenant, |t| {
            let name_key = t.claim_user_name(&resource)?;
            if let Some(key) = name_key {
                t.user_names.insert(key, resource.id.clone());
            }
            if resource.kind == ResourceKind::Group {
                t.index_members(&resource, true);
            }
            t.map(resource.kind)
                .insert(resource.id.clone(), resource.clone());
            Ok(resource)
        })
    }

    async fn get(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        Ok(self.read(tenant, |t| {
            t.and_then(|t| match kind {
                ResourceKind::User => t.users.get(id),
                ResourceKind::Group => t.groups.get(id),
            })
            .cloned()
        }))
    }

    async fn get_many(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        ids: &[&str],
    ) -> Result<Vec<Resource>, StoreError> {
        Ok(self.read(tenant, |t| {
            let Some(t) = t else { return Vec::new() };
            let map = match kind {
                ResourceKind::User => &t.users,
                ResourceKind::Group => &t.groups,
            };
            ids.iter().filter_map(|id| map.get(*id).cloned()).collect()
        }))
    }

    async fn replace(
        &self,
        tenant: &IdpId,
        resource: Resource,
        expected_version: u64,
    ) -> Result<Resource, StoreError> {
        self.write(tenant, |t| {
            let current = t
                .map(resource.kind)
                .get(&resource.id)
                .cloned()
                .ok_or_else(|| StoreError::NotFound {
                    kind: resource.kind.name(),
                    id: resource.id.clone(),
                })?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    expected: expected_version,
                    actual: current.version,
                });
            }
            if let Some(key) = t.claim_user_name(&resource)? {
                if let Some(old) = current.str_attr("userName") {
                    t.user_names.remove(&old.to_lowercase());
                }
                t.user_names.insert(key, resource.id.clone());
            }
            if resource.kind == ResourceKind::Group {
                t.index_members(&current, false);
                t.index_members(&resource, true);
            }
            t.map(resource.kind)
                .insert(resource.id.clone(), resource.clone());
            Ok(resource)
        })
    }

    async fn delete(
        &self,
        tenant: &IdpId,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<Resource, StoreError> {
        self.write(tenant, |t| {
            let current = t
                .map(kind)
                .get(id)
                .cloned()
                .ok_or_else(|| StoreError::NotFound {
                    kind: kind.name(),
                    id: id.to_owned(),
                })?;
            if let Some(expected) = expected_version.filter(|e| *e != current.version) {
                return Err(StoreError::Conflict {
                    expected,
                    actual: current.version,
                });
            }
            t.map(kind).remove(id);
            match kind {
                ResourceKind::User => {
                    if let Some(name) = current.str_attr("userName") {
                        t.user_names.remove(&name.to_lowercase());
                    }
                }
                ResourceKind::Group => t.index_members(&current, false),
            }
            // A deleted member leaves every group it was in (RFC 7644 §3.6).
            for group_id in t.member_of.remove(id).unwrap_or_default() {
                if let Some(group) = t.groups.get_mut(&group_id)
                    && let Some(Value::Array(members)) = group.attributes.get_mut("members")
                {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    if members.is_empty() {
                        group.attributes.remove("members");
                    }
                    group.version += 1;
                }
            }
            Ok(current)
        })
    }

    async fn list(&self, tenant: &IdpId, kind: ResourceKind) -> Result<Vec<Resource>, StoreError> {
        Ok(self.read(tenant, |t| {
            let Some(t) = t else { return Vec::new() };
            let map = match kind {
                ResourceKind::User => &t.users,
                ResourceKind::Group => &t.groups,
            };
            let mut all: Vec<Resource> = map.values().cloned().collect();
            all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
            all
        }))
    }

    async fn groups_of(&self, tenant: &IdpId, user_id: &str) -> Result<Vec<GroupRef>, StoreError> {
        Ok(self.read(tenant, |t| {
            let Some(t) = t else { return Vec::new() };
            let mut out: Vec<GroupRef> = t
                .member_of
                .get(user_id)
                .into_iter()
                .flatten()
                .filter_map(|gid| t.groups.get(gid))
                .map(|g| GroupRef {
                    id: g.id.clone(),
                    display_name: g.str_attr("displayName").unwrap_or_default().to_owned(),
                })
                .collect();
            out.sort();
            out
        }))
    }
}
