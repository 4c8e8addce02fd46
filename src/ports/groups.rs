//! Where groups and memberships live.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::PortError;
use crate::domain::groups::{Group, GroupId, Member, Membership};
use crate::domain::user::UserId;

/// Persistent groups and memberships.
#[async_trait]
pub trait GroupRepository: Send + Sync + 'static {
    /// Stores `group` unless a group with the same `(provider, name)` exists, and returns the
    /// stored one (the existing group wins, with its id). MUST return `AlreadyExists` when the id
    /// belongs to a group with a different `(provider, name)`.
    async fn ensure_group(&self, group: &Group) -> Result<Group, PortError>;

    /// The group with this id.
    async fn get(&self, id: GroupId) -> Result<Option<Group>, PortError>;

    /// The group with this `(provider, name)`; names match exactly.
    async fn find_by_name(&self, provider: &str, name: &str) -> Result<Option<Group>, PortError>;

    /// Every group of a provider, sorted by name.
    async fn list_by_provider(&self, provider: &str) -> Result<Vec<Group>, PortError>;

    /// Adds a membership, atomically with its checks. MUST return `NotFound` when the group or a
    /// member group does not exist, `AlreadyExists` when the member is already a direct member,
    /// and `Conflict` when a group member would create a cycle (including a group in itself).
    async fn add_member(&self, membership: &Membership) -> Result<(), PortError>;

    /// Adds the membership only if the group has no members at all (same errors as
    /// [`GroupRepository::add_member`]); `Ok(true)` when it was added. Atomic: of concurrent
    /// calls on an empty group exactly one adds.
    async fn add_member_if_empty(&self, membership: &Membership) -> Result<bool, PortError>;

    /// Removes a direct membership; `NotFound` when there is none.
    async fn remove_member(&self, group: GroupId, member: Member) -> Result<(), PortError>;

    /// Groups the user is a direct member of, sorted by name.
    async fn direct_groups_of(&self, user: UserId) -> Result<Vec<Group>, PortError>;

    /// The user's effective groups: the groups the user is a direct member of, the `extra`
    /// groups (e.g. the user's identity-provider groups), and every group that contains any of
    /// those, transitively. Terminates on any graph. Always contains the everyone group.
    async fn effective_groups(
        &self,
        user: UserId,
        extra: &[GroupId],
    ) -> Result<BTreeSet<GroupId>, PortError>;

    /// Direct members of a group, newest first (ties by record id), paged, with the total.
    async fn members(
        &self,
        group: GroupId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Membership>, u64), PortError>;
}
