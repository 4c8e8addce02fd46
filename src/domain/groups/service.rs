//! The group service: built-ins and seeding, login-time recording of identity-provider groups,
//! entitlements for tokens, and the `/me/groups` views.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::model::{
    ADMINISTRATORS, EVERYONE, Group, GroupId, Member, Membership, SECURITY_REVIEWERS, TMI_PROVIDER,
    clean_idp_groups,
};
use super::privilege;
use super::seed::{MemberRef, SeedPlan};
use crate::domain::user::{User, UserId};
use crate::ports::{
    AuditEvent, Clock, EventSink, GroupRepository, IdGenerator, PortError, UserRepository,
};

/// Why a group operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// Bad input; client-safe text.
    #[error("{0}")]
    InvalidRequest(String),
    /// No such group.
    #[error("group not found")]
    NotFound,
    /// The caller is not an effective member.
    #[error("not a member of this group")]
    Forbidden,
    /// The configuration cannot be applied (names the rule).
    #[error("{0}")]
    Config(String),
    /// A backend is down.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; for logs only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<PortError> for GroupError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::Unavailable(m) => GroupError::Unavailable(m),
            other => GroupError::Unexpected(other.to_string()),
        }
    }
}

/// What a user is entitled to, for token claims and `/me`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entitlements {
    /// Effective member of administrators.
    pub is_admin: bool,
    /// Effective member of security-reviewers.
    pub is_security_reviewer: bool,
}

/// A member of a group as listed to a member: the record plus who or what it is.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The membership record.
    pub membership: Membership,
    /// The user, for user members that still exist.
    pub user: Option<User>,
    /// The group, for group members.
    pub group: Option<Group>,
}

/// One page of members.
#[derive(Debug, Clone)]
pub struct MemberPage {
    /// The group listed.
    pub group: GroupId,
    /// Newest first.
    pub members: Vec<MemberView>,
    /// The group's total.
    pub total: u64,
    /// Limit applied.
    pub limit: i64,
    /// Offset applied.
    pub offset: i64,
}

/// Groups and memberships.
pub struct GroupService {
    repo: Arc<dyn GroupRepository>,
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    plan: SeedPlan,
    events: Arc<dyn EventSink>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;
const MAX_OFFSET: i64 = 1_000_000;

impl GroupService {
    /// Wires the service.
    pub fn new(
        repo: Arc<dyn GroupRepository>,
        users: Arc<dyn UserRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        plan: SeedPlan,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            events,
            repo,
            users,
            clock,
            ids,
            plan,
        }
    }

    /// Creates the built-in and configured groups and applies the group-to-group rules.
    /// Errors name the offending rule.
    pub async fn install(&self) -> Result<(), GroupError> {
        let now = self.clock.now();
        for group in Group::builtins(now) {
            let stored = self.repo.ensure_group(&group).await?;
            if stored.id != group.id {
                return Err(GroupError::Config(format!(
                    "a group named {:?} exists with an id other than the built-in one",
                    group.name
                )));
            }
        }
        for seed in &self.plan.groups {
            self.tmi_group(&seed.name, seed.display_name.clone())
                .await?;
        }
        for (index, rule) in self.plan.rules.iter().enumerate() {
            let member = match &rule.member {
                // Applied at each login; the group must exist now, or every login the rule
                // matches would fail.
                MemberRef::User(_) => {
                    self.target_of(index, &rule.group).await?;
                    continue;
                }
                MemberRef::Group(name) => {
                    self.repo
                        .find_by_name(TMI_PROVIDER, name)
                        .await?
                        .ok_or_else(|| {
                            GroupError::Config(format!("rule {index}: no group named {name:?}"))
                        })?
                        .id
                }
                MemberRef::IdpGroup { provider, name } => self.idp_group(provider, name).await?.id,
            };
            let target = self.target_of(index, &rule.group).await?;
            if let Some(role) =
                privilege::role_for_everyone_if_added(&*self.repo, target, Member::Group(member))
                    .await?
            {
                return Err(GroupError::Config(format!(
                    "rule {index}: putting that group into {:?} would make every user {role}",
                    rule.group
                )));
            }
            match self
                .add(target, Member::Group(member), rule.notes.clone())
                .await
            {
                Ok(()) | Err(PortError::AlreadyExists) => {}
                Err(PortError::Conflict) => {
                    return Err(GroupError::Config(format!(
                        "rule {index}: putting that group into {:?} would create a cycle",
                        rule.group
                    )));
                }
                Err(other) => return Err(other.into()),
            }
        }
        if let Some(role) = privilege::role_held_by_everyone(&*self.repo).await? {
            tracing::warn!(
                "the stored memberships make every user {role} (the everyone group is inside a \
                 privileged group); remove it with `tmi-auth admins remove` or \
                 `tmi-auth groups remove-member`"
            );
        }
        Ok(())
    }

    /// At each login: records the provider's groups, applies the operator's rules for this
    /// user, and promotes the first user when configured. Returns the cleaned group names.
    pub async fn on_login(
        &self,
        user: &User,
        idp: &str,
        idp_groups: &[String],
    ) -> Result<Vec<String>, GroupError> {
        let names = clean_idp_groups(idp_groups);
        for name in &names {
            self.idp_group(idp, name).await?;
        }
        for (index, rule) in self.plan.rules.iter().enumerate() {
            let MemberRef::User(matcher) = &rule.member else {
                continue;
            };
            if !matcher.matches(user) {
                continue;
            }
            let target = self.target_of(index, &rule.group).await?;
            match self
                .add(target, Member::User(user.id), rule.notes.clone())
                .await
            {
                Ok(()) => self.events.record(AuditEvent::MembershipAdded {
                    group: target.to_string(),
                    member: user.id.to_string(),
                    by: "config",
                }),
                Err(PortError::AlreadyExists) => {}
                Err(other) => return Err(other.into()),
            }
        }
        if self.plan.auto_promote_first_user {
            let membership = self.membership(
                ADMINISTRATORS,
                Member::User(user.id),
                Some("first user".into()),
            );
            if self.repo.add_member_if_empty(&membership).await? {
                self.events.record(AuditEvent::MembershipAdded {
                    group: ADMINISTRATORS.to_string(),
                    member: user.id.to_string(),
                    by: "first_user",
                });
                let reviewer = self.membership(
                    SECURITY_REVIEWERS,
                    Member::User(user.id),
                    Some("first user".into()),
                );
                match self.repo.add_member(&reviewer).await {
                    Ok(()) | Err(PortError::AlreadyExists) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(names)
    }

    /// The user's effective groups, given the identity-provider groups of the session.
    pub async fn effective(
        &self,
        user: UserId,
        idp: &str,
        idp_groups: &[String],
    ) -> Result<BTreeSet<GroupId>, PortError> {
        let mut extra = Vec::new();
        for name in idp_groups {
            if let Some(group) = self.repo.find_by_name(idp, name).await? {
                extra.push(group.id);
            }
        }
        self.repo.effective_groups(user, &extra).await
    }

    /// Administrator and security-reviewer status.
    pub async fn entitlements(
        &self,
        user: UserId,
        idp: &str,
        idp_groups: &[String],
    ) -> Result<Entitlements, PortError> {
        let groups = self.effective(user, idp, idp_groups).await?;
        Ok(Entitlements {
            is_admin: groups.contains(&ADMINISTRATORS),
            is_security_reviewer: groups.contains(&SECURITY_REVIEWERS),
        })
    }

    /// The groups the user is a direct member of (never the implicit everyone group).
    pub async fn my_groups(&self, user: UserId) -> Result<Vec<Group>, PortError> {
        let mut groups = self.repo.direct_groups_of(user).await?;
        groups.retain(|g| g.id != EVERYONE);
        Ok(groups)
    }

    /// Members of a group, for an effective member of it.
    pub async fn members(
        &self,
        caller: UserId,
        idp: &str,
        idp_groups: &[String],
        group: &str,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<MemberPage, GroupError> {
        let group = GroupId::parse(group)
            .ok_or_else(|| GroupError::InvalidRequest("internal_uuid must be a UUID".into()))?;
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        // DECISIONS.md: 1..=1000 (the contract's schema says minimum 0; the team's decision wins).
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(GroupError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(GroupError::InvalidRequest(format!(
                "offset must be between 0 and {MAX_OFFSET}"
            )));
        }
        if self.repo.get(group).await?.is_none() {
            return Err(GroupError::NotFound);
        }
        if !self
            .effective(caller, idp, idp_groups)
            .await?
            .contains(&group)
        {
            return Err(GroupError::Forbidden);
        }
        let (memberships, total) = self
            .repo
            .members(group, limit.unsigned_abs() as u32, offset.unsigned_abs())
            .await?;
        let mut members = Vec::with_capacity(memberships.len());
        for membership in memberships {
            let (user, group) = match membership.member {
                Member::User(id) => (self.users.find_by_id(id).await?, None),
                Member::Group(id) => (None, self.repo.get(id).await?),
            };
            members.push(MemberView {
                membership,
                user,
                group,
            });
        }
        Ok(MemberPage {
            group,
            members,
            total,
            limit,
            offset,
        })
    }

    /// The groups recorded for a provider.
    pub async fn provider_groups(&self, idp: &str) -> Result<Vec<Group>, PortError> {
        self.repo.list_by_provider(idp).await
    }

    async fn target_of(&self, index: usize, name: &str) -> Result<GroupId, GroupError> {
        self.repo
            .find_by_name(TMI_PROVIDER, name)
            .await?
            .map(|g| g.id)
            .ok_or_else(|| GroupError::Config(format!("rule {index}: no group named {name:?}")))
    }

    async fn tmi_group(
        &self,
        name: &str,
        display_name: Option<String>,
    ) -> Result<Group, PortError> {
        let group = Group {
            id: GroupId(self.ids.uuid()),
            provider: TMI_PROVIDER.to_owned(),
            name: name.to_owned(),
            display_name,
            created_at: self.clock.now(),
        };
        self.repo.ensure_group(&group).await
    }

    async fn idp_group(&self, provider: &str, name: &str) -> Result<Group, PortError> {
        let group = Group {
            id: GroupId(self.ids.uuid()),
            provider: provider.to_owned(),
            name: name.to_owned(),
            display_name: None,
            created_at: self.clock.now(),
        };
        self.repo.ensure_group(&group).await
    }

    async fn add(
        &self,
        group: GroupId,
        member: Member,
        notes: Option<String>,
    ) -> Result<(), PortError> {
        self.repo
            .add_member(&self.membership(group, member, notes))
            .await
    }

    fn membership(&self, group: GroupId, member: Member, notes: Option<String>) -> Membership {
        Membership {
            id: self.ids.uuid(),
            group,
            member,
            added_at: self.clock.now(),
            added_by: None,
            notes,
        }
    }
}
