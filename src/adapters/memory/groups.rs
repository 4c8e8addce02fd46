//! In-memory groups and memberships. Every check-and-write happens under one lock, using the
//! domain's graph rules.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::domain::groups::graph::GroupGraph;
use crate::domain::groups::{EVERYONE, Group, GroupId, Member, Membership};
use crate::domain::user::UserId;
use crate::ports::{GroupRepository, PortError};

#[derive(Default)]
struct Inner {
    groups: HashMap<GroupId, Group>,
    by_name: HashMap<(String, String), GroupId>,
    memberships: Vec<Membership>,
}

impl Inner {
    fn graph(&self) -> GroupGraph {
        let mut graph = GroupGraph::new();
        for m in &self.memberships {
            if let Member::Group(child) = m.member {
                graph.add_edge(m.group, child);
            }
        }
        graph
    }

    fn check_add(&self, membership: &Membership) -> Result<(), PortError> {
        if !self.groups.contains_key(&membership.group) {
            return Err(PortError::NotFound);
        }
        if let Member::Group(child) = membership.member {
            if !self.groups.contains_key(&child) {
                return Err(PortError::NotFound);
            }
            if self.graph().would_create_cycle(membership.group, child) {
                return Err(PortError::Conflict);
            }
        }
        if self
            .memberships
            .iter()
            .any(|m| m.group == membership.group && m.member == membership.member)
        {
            return Err(PortError::AlreadyExists);
        }
        Ok(())
    }
}

/// Groups and memberships in maps.
#[derive(Default)]
pub struct MemoryGroupRepository {
    inner: Mutex<Inner>,
}

impl MemoryGroupRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl GroupRepository for MemoryGroupRepository {
    async fn ensure_group(&self, group: &Group) -> Result<Group, PortError> {
        let mut inner = lock(&self.inner);
        let key = (group.provider.clone(), group.name.clone());
        if let Some(id) = inner.by_name.get(&key) {
            return inner.groups.get(id).cloned().ok_or(PortError::NotFound);
        }
        if inner.groups.contains_key(&group.id) {
            return Err(PortError::AlreadyExists);
        }
        inner.by_name.insert(key, group.id);
        inner.groups.insert(group.id, group.clone());
        Ok(group.clone())
    }

    async fn get(&self, id: GroupId) -> Result<Option<Group>, PortError> {
        Ok(lock(&self.inner).groups.get(&id).cloned())
    }

    async fn find_by_name(&self, provider: &str, name: &str) -> Result<Option<Group>, PortError> {
        let inner = lock(&self.inner);
        Ok(inner
            .by_name
            .get(&(provider.to_owned(), name.to_owned()))
            .and_then(|id| inner.groups.get(id))
            .cloned())
    }

    async fn list_by_provider(&self, provider: &str) -> Result<Vec<Group>, PortError> {
        let inner = lock(&self.inner);
        let mut groups: Vec<Group> = inner
            .groups
            .values()
            .filter(|g| g.provider == provider)
            .cloned()
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    async fn add_member(&self, membership: &Membership) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        inner.check_add(membership)?;
        inner.memberships.push(membership.clone());
        Ok(())
    }

    async fn add_member_if_empty(&self, membership: &Membership) -> Result<bool, PortError> {
        let mut inner = lock(&self.inner);
        if inner
            .memberships
            .iter()
            .any(|m| m.group == membership.group)
        {
            return Ok(false);
        }
        inner.check_add(membership)?;
        inner.memberships.push(membership.clone());
        Ok(true)
    }

    async fn remove_member(&self, group: GroupId, member: Member) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        let before = inner.memberships.len();
        inner
            .memberships
            .retain(|m| !(m.group == group && m.member == member));
        if inner.memberships.len() == before {
            return Err(PortError::NotFound);
        }
        Ok(())
    }

    async fn direct_groups_of(&self, user: UserId) -> Result<Vec<Group>, PortError> {
        let inner = lock(&self.inner);
        let mut groups: Vec<Group> = inner
            .memberships
            .iter()
            .filter(|m| m.member == Member::User(user))
            .filter_map(|m| inner.groups.get(&m.group).cloned())
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups.dedup_by_key(|g| g.id);
        Ok(groups)
    }

    async fn effective_groups(
        &self,
        user: UserId,
        extra: &[GroupId],
    ) -> Result<BTreeSet<GroupId>, PortError> {
        let inner = lock(&self.inner);
        let direct = inner
            .memberships
            .iter()
            .filter(|m| m.member == Member::User(user))
            .map(|m| m.group);
        let start: Vec<GroupId> = direct
            .chain(extra.iter().copied())
            .chain([EVERYONE])
            .collect();
        Ok(inner.graph().ancestors_of(start))
    }

    async fn members(
        &self,
        group: GroupId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Membership>, u64), PortError> {
        let inner = lock(&self.inner);
        let mut members: Vec<&Membership> = inner
            .memberships
            .iter()
            .filter(|m| m.group == group)
            .collect();
        members.sort_by(|a, b| b.added_at.cmp(&a.added_at).then(b.id.cmp(&a.id)));
        let total = members.len() as u64;
        let page = members
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .cloned()
            .collect();
        Ok((page, total))
    }
}
