//! The resource endpoints: list/search, get, create, replace, PATCH, delete, with the
//! provisioning hook and the audit events.

use std::collections::HashSet;

use http::{Method, StatusCode};
use jsm_sso_audit::{Actor, AuditEvent, CustomerRef, Details, Timestamp};
use jsm_sso_core::CodedError;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::filter::{Context, Filter};
use crate::hook::{GroupChange, GroupEvent, HookError, ProvisionedUser};
use crate::resource::{Projection, get_ci, normalize_body, render};
use crate::schema::{self, AttrType, ResourceKind};
use crate::service::{Call, Inner, Reply};
use crate::store::{Resource, StoreError};

pub(crate) struct Handlers<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) call: &'a Call,
}

/// A write's reply and the events to record.
pub(crate) struct Done {
    reply: Reply,
    events: Vec<AuditEvent>,
}

fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::NotFound { kind, id } => Error::NotFound { kind, id },
        StoreError::Uniqueness { attribute, value } => Error::Uniqueness { attribute, value },
        StoreError::Conflict { expected, actual } => Error::VersionMismatch {
            expected: format!("W/\"{expected}\""),
            actual: format!("W/\"{actual}\""),
        },
        other @ StoreError::Backend(_) => Error::Store(other),
    }
}

struct ListParams {
    filter: Option<String>,
    start: i64,
    count: Option<i64>,
    sort_by: Option<String>,
    descending: bool,
    attributes: Option<String>,
    excluded: Option<String>,
}

fn int_param(name: &str, v: Option<&str>) -> Result<Option<i64>, Error> {
    v.map(|s| {
        s.trim().parse::<i64>().map_err(|_| Error::InvalidValue {
            attribute: name.to_owned(),
            detail: format!("{s:?} is not an integer"),
        })
    })
    .transpose()
}

impl Handlers<'_> {
    fn tenant(&self) -> &jsm_sso_core::identity::IdpId {
        &self.call.idp
    }

    fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    fn event(&self, details: Details, customer: Option<CustomerRef>) -> AuditEvent {
        let mut e = AuditEvent::new(Timestamp::from_system_time(self.now()), details)
            .with_actor(Actor::Idp {
                idp: self.call.idp.clone(),
            })
            .with_correlation_id(self.call.correlation_id.clone());
        e.idp = Some(self.call.idp.clone());
        if let Some(c) = customer {
            e = e.with_customer(c);
        }
        e
    }

    fn customer(user: &ProvisionedUser) -> CustomerRef {
        let c = CustomerRef::default().with_subject(user.user_name.clone());
        match &user.email {
            Some(e) => c.with_email(e.as_str()),
            None => c,
        }
    }

    /// Runs a write, then records its events; a failed write is recorded as failed.
    pub(crate) async fn audited(
        &self,
        kind: ResourceKind,
        method: &Method,
        id: Option<&str>,
        write: impl Future<Output = Result<Done, Error>>,
    ) -> Result<Reply, Error> {
        let (reply, events) = match write.await {
            Ok(done) => (Ok(done.reply), done.events),
            Err(e) => {
                let scim_id = id.unwrap_or_default().to_owned();
                let details = match (kind, method) {
                    (ResourceKind::User, &Method::POST) => Details::ScimUserCreated { scim_id },
                    (ResourceKind::User, &Method::DELETE) => Details::ScimUserDeleted { scim_id },
                    (ResourceKind::User, _) => Details::ScimUserUpdated { scim_id },
                    (ResourceKind::Group, &Method::POST) => Details::ScimGroupCreated {
                        scim_id,
                        display_name: None,
                    },
                    (ResourceKind::Group, &Method::DELETE) => Details::ScimGroupDeleted { scim_id },
                    (ResourceKind::Group, _) => Details::ScimGroupUpdated {
                        scim_id,
                        added: Vec::new(),
                        removed: Vec::new(),
                    },
                };
                let event = self.event(details, None).failed(e.code());
                (Err(e), vec![event])
            }
        };
        if let Some(log) = &self.inner.audit {
            for event in events {
                log.record(event).await.map_err(|e| Error::Audit {
                    reason: e.code().to_owned(),
                })?;
            }
        }
        reply
    }

    async fn current(&self, kind: ResourceKind, id: &str) -> Result<Resource, Error> {
        self.inner
            .store
            .get(self.tenant(), kind, id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| Error::NotFound {
                kind: kind.name(),
                id: id.chars().take(100).collect(),
            })
    }

    fn check_if_match(&self, r: &Resource) -> Result<(), Error> {
        let Some(wanted) = &self.call.if_match else {
            return Ok(());
        };
        let etag = r.etag();
        let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        let ok = wanted.trim() == "*" || wanted.split(',').any(|t| strip(t) == strip(&etag));
        if ok {
            Ok(())
        } else {
            Err(Error::VersionMismatch {
                expected: wanted.chars().take(100).collect(),
                actual: etag,
            })
        }
    }

    async fn group_names(
        &self,
        user_id: &str,
        without: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        Ok(self
            .inner
            .store
            .groups_of(self.tenant(), user_id)
            .await
            .map_err(store_err)?
            .into_iter()
            .filter(|g| Some(g.id.as_str()) != without)
            .map(|g| g.display_name)
            .collect())
    }

    async fn user_view(
        &self,
        user: &Resource,
        without_group: Option<&str>,
    ) -> Result<ProvisionedUser, Error> {
        let groups = self.group_names(&user.id, without_group).await?;
        Ok(ProvisionedUser::from_resource(
            self.tenant(),
            &self.call.correlation_id,
            user,
            groups,
        ))
    }

    async fn user_views(
        &self,
        ids: &[&str],
        without_group: Option<&str>,
    ) -> Result<Vec<ProvisionedUser>, Error> {
        let users = self
            .inner
            .store
            .get_many(self.tenant(), ResourceKind::User, ids)
            .await
            .map_err(store_err)?;
        let mut out = Vec::with_capacity(users.len());
        for u in &users {
            out.push(self.user_view(u, without_group).await?);
        }
        Ok(out)
    }

    async fn render(&self, r: &Resource) -> Result<Value, Error> {
        let groups = match r.kind {
            ResourceKind::User => self
                .inner
                .store
                .groups_of(self.tenant(), &r.id)
                .await
                .map_err(store_err)?,
            ResourceKind::Group => Vec::new(),
        };
        Ok(render(r, &self.inner.base_url, &groups))
    }

    fn projection(&self, kind: ResourceKind) -> Projection {
        Projection::new(
            kind,
            self.call.param("attributes"),
            self.call.param("excludedAttributes"),
        )
    }

    /// Members must exist in the tenant; their `type` is set from what they are.
    async fn check_members(&self, attrs: &mut Map<String, Value>) -> Result<(), Error> {
        let ids: Vec<String> = match attrs.get("members") {
            Some(Value::Array(m)) => m
                .iter()
                .filter_map(|v| v.get("value").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
            _ => return Ok(()),
        };
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let store = &self.inner.store;
        let users: HashSet<String> = store
            .get_many(self.tenant(), ResourceKind::User, &refs)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let rest: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|i| !users.contains(*i))
            .collect();
        let groups: HashSet<String> = if rest.is_empty() {
            HashSet::new()
        } else {
            store
                .get_many(self.tenant(), ResourceKind::Group, &rest)
                .await
                .map_err(store_err)?
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        if let Some(missing) = rest.iter().find(|i| !groups.contains(**i)) {
            return Err(Error::InvalidValue {
                attribute: "members".into(),
                detail: format!(
                    "member {:?} does not exist",
                    missing.chars().take(100).collect::<String>()
                ),
            });
        }
        if let Some(Value::Array(members)) = attrs.get_mut("members") {
            for m in members.iter_mut().filter_map(Value::as_object_mut) {
                let is_user = m
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| users.contains(v));
                m.insert("type".into(), json!(if is_user { "User" } else { "Group" }));
            }
        }
        Ok(())
    }

    pub(crate) async fn get(&self, kind: ResourceKind, id: &str) -> Result<Reply, Error> {
        let r = self.current(kind, id).await?;
        if let Some(inm) = &self.call.if_none_match
            && inm
                .split(',')
                .any(|t| t.trim() == r.etag() || t.trim() == "*")
        {
            let mut reply = Reply::empty(StatusCode::NOT_MODIFIED);
            reply.etag = Some(r.etag());
            return Ok(reply);
        }
        let body = self.projection(kind).apply(self.render(&r).await?);
        Ok(Reply::resource(StatusCode::OK, body, &r, false))
    }

    fn list_params(&self, search: Option<&Value>) -> Result<ListParams, Error> {
        match search.and_then(Value::as_object) {
            Some(b) => {
                let s = |k: &str| get_ci(b, k).and_then(Value::as_str).map(str::to_owned);
                let i = |k: &str| -> Result<Option<i64>, Error> {
                    match get_ci(b, k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::Number(n)) => Ok(n.as_i64()),
                        Some(other) => int_param(k, Some(&other.to_string())),
                    }
                };
                let list = |k: &str| -> Option<String> {
                    match get_ci(b, k) {
                        Some(Value::Array(a)) => Some(
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        Some(Value::String(s)) => Some(s.clone()),
                        _ => None,
                    }
                };
                Ok(ListParams {
                    filter: s("filter"),
                    start: i("startIndex")?.unwrap_or(1),
                    count: i("count")?,
                    sort_by: s("sortBy"),
                    descending: s("sortOrder")
                        .is_some_and(|o| o.eq_ignore_ascii_case("descending")),
                    attributes: list("attributes"),
                    excluded: list("excludedAttributes"),
                })
            }
            None => Ok(ListParams {
                filter: self.call.param("filter").map(str::to_owned),
                start: int_param("startIndex", self.call.param("startIndex"))?.unwrap_or(1),
                count: int_param("count", self.call.param("count"))?,
                sort_by: self.call.param("sortBy").map(str::to_owned),
                descending: self
                    .call
                    .param("sortOrder")
                    .is_some_and(|o| o.eq_ignore_ascii_case("descending")),
                attributes: self.call.param("attributes").map(str::to_owned),
                excluded: self.call.param("excludedAttributes").map(str::to_owned),
            }),
        }
    }

    /// `GET /Users`, `POST /Users/.search`, and with `kinds` both types the root
    /// `POST /.search` (a filter must fit at least one type; each type is searched with it
    /// when it fits).
    pub(crate) async fn list(
        &self,
        kinds: &[ResourceKind],
        search: Option<&Value>,
    ) -> Result<Reply, Error> {
        let p = self.list_params(search)?;
        let mut matched: Vec<(ResourceKind, Value)> = Vec::new();
        let mut first_error = None;
        let mut searched = 0;
        for &kind in kinds {
            let ctx = Context::Resource(kind);
            let filter = match &p.filter {
                Some(f) => {
                    let f = Filter::parse(f, &self.inner.limits.filter)?;
                    if let Err(e) = f.validate(ctx) {
                        first_error.get_or_insert(e);
                        continue;
                    }
                    Some(f)
                }
                None => None,
            };
            let all = self
                .inner
                .store
                .list(self.tenant(), kind)
                .await
                .map_err(store_err)?;
            searched += 1;
            let mut these = Vec::new();
            for r in &all {
                let v = self.render(r).await?;
                if filter.as_ref().is_none_or(|f| f.matches(ctx, &v)) {
                    these.push(v);
                }
            }
            if let Some(sort_by) = &p.sort_by {
                sort(&mut these, kind, sort_by, p.descending);
            }
            matched.extend(these.into_iter().map(|v| (kind, v)));
        }
        if searched == 0
            && let Some(e) = first_error
        {
            return Err(e.into());
        }
        let total = matched.len();
        let start = usize::try_from(p.start.max(1)).unwrap_or(1);
        let max = self.inner.limits.max_results;
        let count = p
            .count
            .map_or(max, |c| usize::try_from(c.max(0)).unwrap_or(0).min(max));
        let page: Vec<Value> = matched
            .into_iter()
            .skip(start - 1)
            .take(count)
            .map(|(kind, v)| {
                Projection::new(kind, p.attributes.as_deref(), p.excluded.as_deref()).apply(v)
            })
            .collect();
        Ok(Reply::ok(json!({
            "schemas": [schema::LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        })))
    }

    pub(crate) async fn create(&self, kind: ResourceKind, body: &Value) -> Result<Done, Error> {
        let obj = body.as_object().ok_or_else(|| Error::MalformedBody {
            detail: "the body must be a JSON object".into(),
        })?;
        let _write = self.inner.write.lock().await;
        let mut attrs = normalize_body(kind, obj)?;
        if kind == ResourceKind::Group {
            self.check_members(&mut attrs).await?;
        }
        let resource = Resource::new(kind, crate::id::random_id(), self.now(), attrs);
        let stored = self
            .inner
            .store
            .create(self.tenant(), resource)
            .await
            .map_err(store_err)?;
        let (hooked, event) = match kind {
            ResourceKind::User => {
                let view = ProvisionedUser::from_resource(
                    self.tenant(),
                    &self.call.correlation_id,
                    &stored,
                    Vec::new(),
                );
                let event = self.event(
                    Details::ScimUserCreated {
                        scim_id: stored.id.clone(),
                    },
                    Some(Self::customer(&view)),
                );
                (self.inner.hook.user_created(&view).await, event)
            }
            ResourceKind::Group => {
                let name = stored
                    .str_attr("displayName")
                    .unwrap_or_default()
                    .to_owned();
                let ids: Vec<&str> = stored.member_ids().collect();
                let change = GroupChange {
                    idp: self.tenant().clone(),
                    correlation_id: self.call.correlation_id.clone(),
                    event: GroupEvent::Created,
                    scim_id: stored.id.clone(),
                    display_name: name.clone(),
                    previous_name: None,
                    added: self.user_views(&ids, None).await?,
                    removed: Vec::new(),
                    renamed: Vec::new(),
                };
                let event = self.event(
                    Details::ScimGroupCreated {
                        scim_id: stored.id.clone(),
                        display_name: Some(name),
                    },
                    None,
                );
                (self.inner.hook.group_changed(&change).await, event)
            }
        };
        if let Err(e) = hooked {
            // Undo: the IdP retries the create, which must not then collide with itself.
            let _ = self
                .inner
                .store
                .delete(self.tenant(), kind, &stored.id, None)
                .await;
            return Err(e.into());
        }
        let body = self.projection(kind).apply(self.render(&stored).await?);
        Ok(Done {
            reply: Reply::resource(StatusCode::CREATED, body, &stored, true),
            events: vec![event],
        })
    }

    pub(crate) async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
    ) -> Result<Done, Error> {
        let obj = body.as_object().ok_or_else(|| Error::MalformedBody {
            detail: "the body must be a JSON object".into(),
        })?;
        let _write = self.inner.write.lock().await;
        let current = self.current(kind, id).await?;
        self.check_if_match(&current)?;
        let mut attrs = normalize_body(kind, obj)?;
        if kind == ResourceKind::Group {
            self.check_members(&mut attrs).await?;
        }
        self.commit(current, attrs).await
    }

    pub(crate) async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
    ) -> Result<Done, Error> {
        let limits = &self.inner.limits;
        let ops = crate::patch::parse(body, limits.max_operations, &limits.filter)?;
        let _write = self.inner.write.lock().await;
        let current = self.current(kind, id).await?;
        self.check_if_match(&current)?;
        let mut attrs = current.attributes.clone();
        crate::patch::apply(kind, &mut attrs, &ops)?;
        if kind == ResourceKind::Group {
            self.check_members(&mut attrs).await?;
        }
        if attrs == current.attributes {
            // Nothing changed (an IdP re-sending state): no new version, no hook, no event.
            let body = self.projection(kind).apply(self.render(&current).await?);
            return Ok(Done {
                reply: Reply::resource(StatusCode::OK, body, &current, false),
                events: Vec::new(),
            });
        }
        self.commit(current, attrs).await
    }

    /// Stores a new version, tells the hook, and undoes the store write if the hook fails.
    async fn commit(&self, current: Resource, attrs: Map<String, Value>) -> Result<Done, Error> {
        let kind = current.kind;
        let mut next = current.clone();
        next.version = current.version + 1;
        next.last_modified = self.now();
        next.attributes = attrs;
        let stored = self
            .inner
            .store
            .replace(self.tenant(), next, current.version)
            .await
            .map_err(store_err)?;
        let (hooked, event) = match kind {
            ResourceKind::User => {
                let view = self.user_view(&stored, None).await?;
                let was_active = current
                    .attributes
                    .get("active")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                let scim_id = stored.id.clone();
                if was_active && !view.active {
                    let e = self.event(
                        Details::ScimUserDeactivated { scim_id },
                        Some(Self::customer(&view)),
                    );
                    (self.inner.hook.user_deactivated(&view).await, e)
                } else {
                    let e = self.event(
                        Details::ScimUserUpdated { scim_id },
                        Some(Self::customer(&view)),
                    );
                    (self.inner.hook.user_updated(&view).await, e)
                }
            }
            ResourceKind::Group => {
                let (change, event) = self.group_diff(&current, &stored).await?;
                (self.inner.hook.group_changed(&change).await, event)
            }
        };
        if let Err(e) = hooked {
            self.undo(&current, &stored).await;
            return Err(e.into());
        }
        let body = self.projection(kind).apply(self.render(&stored).await?);
        Ok(Done {
            reply: Reply::resource(StatusCode::OK, body, &stored, false),
            events: vec![event],
        })
    }

    async fn undo(&self, before: &Resource, stored: &Resource) {
        let mut back = before.clone();
        back.version = stored.version + 1;
        back.last_modified = self.now();
        let _ = self
            .inner
            .store
            .replace(self.tenant(), back, stored.version)
            .await;
    }

    async fn group_diff(
        &self,
        before: &Resource,
        after: &Resource,
    ) -> Result<(GroupChange, AuditEvent), Error> {
        let old: HashSet<&str> = before.member_ids().collect();
        let new: HashSet<&str> = after.member_ids().collect();
        let added: Vec<&str> = after.member_ids().filter(|i| !old.contains(i)).collect();
        let removed: Vec<&str> = before.member_ids().filter(|i| !new.contains(i)).collect();
        let old_name = before.str_attr("displayName").unwrap_or_default();
        let name = after.str_attr("displayName").unwrap_or_default().to_owned();
        let renamed_ids: Vec<&str> = if old_name == name {
            Vec::new()
        } else {
            after.member_ids().filter(|i| old.contains(i)).collect()
        };
        let change = GroupChange {
            idp: self.tenant().clone(),
            correlation_id: self.call.correlation_id.clone(),
            event: GroupEvent::Updated,
            scim_id: after.id.clone(),
            display_name: name,
            previous_name: (old_name != after.str_attr("displayName").unwrap_or_default())
                .then(|| old_name.to_owned()),
            added: self.user_views(&added, None).await?,
            removed: self.user_views(&removed, None).await?,
            renamed: self.user_views(&renamed_ids, None).await?,
        };
        let event = self.event(
            Details::ScimGroupUpdated {
                scim_id: after.id.clone(),
                added: added.iter().map(|s| (*s).to_owned()).collect(),
                removed: removed.iter().map(|s| (*s).to_owned()).collect(),
            },
            None,
        );
        Ok((change, event))
    }

    pub(crate) async fn delete(&self, kind: ResourceKind, id: &str) -> Result<Done, Error> {
        let _write = self.inner.write.lock().await;
        let current = self.current(kind, id).await?;
        self.check_if_match(&current)?;
        let (hooked, event): (Result<(), HookError>, AuditEvent) = match kind {
            ResourceKind::User => {
                let view = self.user_view(&current, None).await?;
                let e = self.event(
                    Details::ScimUserDeleted {
                        scim_id: current.id.clone(),
                    },
                    Some(Self::customer(&view)),
                );
                (self.inner.hook.user_deleted(&view).await, e)
            }
            ResourceKind::Group => {
                let ids: Vec<&str> = current.member_ids().collect();
                let change = GroupChange {
                    idp: self.tenant().clone(),
                    correlation_id: self.call.correlation_id.clone(),
                    event: GroupEvent::Deleted,
                    scim_id: current.id.clone(),
                    display_name: current
                        .str_attr("displayName")
                        .unwrap_or_default()
                        .to_owned(),
                    previous_name: None,
                    added: Vec::new(),
                    removed: self.user_views(&ids, Some(&current.id)).await?,
                    renamed: Vec::new(),
                };
                let e = self.event(
                    Details::ScimGroupDeleted {
                        scim_id: current.id.clone(),
                    },
                    None,
                );
                (self.inner.hook.group_changed(&change).await, e)
            }
        };
        hooked?;
        self.inner
            .store
            .delete(self.tenant(), kind, id, Some(current.version))
            .await
            .map_err(store_err)?;
        Ok(Done {
            reply: Reply::empty(StatusCode::NO_CONTENT),
            events: vec![event],
        })
    }
}

/// Sorts rendered resources by an attribute (RFC 7644 §3.4.2.3): strings by the attribute's
/// case rule, missing values last when ascending.
fn sort(items: &mut [Value], kind: ResourceKind, sort_by: &str, descending: bool) {
    let Ok(path) = crate::filter::parse::attr_path(sort_by, 0) else {
        return;
    };
    let Ok(r) = crate::filter::eval::resolve(Context::Resource(kind), &path) else {
        return;
    };
    let key = |v: &Value| -> Option<String> {
        let c = match r.container {
            Some(urn) => v.get(urn)?,
            None => v,
        };
        let a = c.get(r.attr.name)?;
        let leaf = match (a, r.sub) {
            (Value::Array(items), sub) => {
                let pick = |i: &Value| match sub {
                    Some(s) => i.get(s.name).cloned(),
                    None => i.get("value").cloned(),
                };
                items
                    .iter()
                    .find(|i| i.get("primary") == Some(&Value::Bool(true)))
                    .and_then(pick)
                    .or_else(|| items.first().and_then(pick))?
            }
            (v, Some(s)) => v.get(s.name)?.clone(),
            (v, None) => v.clone(),
        };
        let exact = r.sub.map_or(r.attr.case_exact, |s| s.case_exact);
        Some(match leaf {
            Value::String(s) if !exact && r.attr.kind != AttrType::DateTime => s.to_lowercase(),
            Value::String(s) => s,
            other => other.to_string(),
        })
    };
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let o = match (&ka, &kb) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        if descending { o.reverse() } else { o }
    });
}
