//! Refresh-token families: one server-side record per login session.

use async_trait::async_trait;

use super::PortError;
use crate::domain::tokens::family::{FamilyId, RefreshFamily};
use crate::domain::user::UserId;

/// Storage of refresh-token families. Rotation is a compare-and-set on the sequence number,
/// so two replicas racing on one refresh token produce exactly one winner.
#[async_trait]
pub trait RefreshFamilyStore: Send + Sync + 'static {
    /// Stores a new family. MUST return `AlreadyExists` when the id is taken.
    async fn insert(&self, family: &RefreshFamily) -> Result<(), PortError>;

    /// The family with this id, or `None`.
    async fn get(&self, id: &FamilyId) -> Result<Option<RefreshFamily>, PortError>;

    /// Rotates the stored family whose id is `next.id` to `next.current_seq` and
    /// `next.rotated_at`, but only if the stored record still has `current_seq ==
    /// expected_seq` and is not revoked. Nothing else is written: groups set since `next` was
    /// read stay. Returns `Ok(true)` when rotated, `Ok(false)` when the condition failed (a
    /// lost race, or revoked), and `NotFound` when no such family exists.
    async fn compare_and_set(
        &self,
        expected_seq: u64,
        next: &RefreshFamily,
    ) -> Result<bool, PortError>;

    /// Marks the family revoked. Idempotent; `NotFound` when no such family exists.
    async fn revoke(&self, id: &FamilyId) -> Result<(), PortError>;

    /// The ids of every family of `user` authenticated by `idp` that is not revoked.
    async fn live_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError>;

    /// The providers through which `user` has a family that is not revoked, sorted, each once.
    async fn live_idps_for(&self, user: UserId) -> Result<Vec<String>, PortError>;

    /// Marks every family of `user` authenticated by `idp` that is not yet revoked as revoked,
    /// and returns their ids (empty when there are none).
    async fn revoke_all_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError>;

    /// Sets the identity-provider groups of every family of `user` authenticated by `idp`
    /// that is not revoked, and returns how many changed. A new login's assertion is the
    /// provider's current word on the user's groups: older sessions follow it at their next
    /// refresh instead of keeping, for their whole lifetime, groups the provider withdrew.
    async fn set_groups_for(
        &self,
        user: UserId,
        idp: &str,
        groups: &[String],
    ) -> Result<u64, PortError>;
}
