//! In-memory refresh-token families.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::domain::tokens::family::{FamilyId, RefreshFamily};
use crate::domain::user::UserId;
use crate::ports::{PortError, RefreshFamilyStore};

/// Families in a map; compare-and-set happens under one lock.
#[derive(Default)]
pub struct MemoryRefreshFamilyStore {
    families: Mutex<HashMap<FamilyId, RefreshFamily>>,
}

impl MemoryRefreshFamilyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RefreshFamilyStore for MemoryRefreshFamilyStore {
    async fn insert(&self, family: &RefreshFamily) -> Result<(), PortError> {
        let mut families = lock(&self.families);
        if families.contains_key(&family.id) {
            return Err(PortError::AlreadyExists);
        }
        families.insert(family.id.clone(), family.clone());
        Ok(())
    }

    async fn get(&self, id: &FamilyId) -> Result<Option<RefreshFamily>, PortError> {
        Ok(lock(&self.families).get(id).cloned())
    }

    async fn compare_and_set(
        &self,
        expected_seq: u64,
        next: &RefreshFamily,
    ) -> Result<bool, PortError> {
        let mut families = lock(&self.families);
        let stored = families.get_mut(&next.id).ok_or(PortError::NotFound)?;
        if stored.revoked || stored.current_seq != expected_seq {
            return Ok(false);
        }
        // The rotation moves the sequence only: groups set since `next` was read stay.
        stored.current_seq = next.current_seq;
        stored.rotated_at = next.rotated_at;
        Ok(true)
    }

    async fn revoke(&self, id: &FamilyId) -> Result<(), PortError> {
        let mut families = lock(&self.families);
        let stored = families.get_mut(id).ok_or(PortError::NotFound)?;
        stored.revoked = true;
        Ok(())
    }

    async fn live_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError> {
        let families = lock(&self.families);
        Ok(families
            .values()
            .filter(|f| f.user_id == user && f.idp == idp && !f.revoked)
            .map(|f| f.id.clone())
            .collect())
    }

    async fn live_idps_for(&self, user: UserId) -> Result<Vec<String>, PortError> {
        let families = lock(&self.families);
        let idps: std::collections::BTreeSet<String> = families
            .values()
            .filter(|f| f.user_id == user && !f.revoked)
            .map(|f| f.idp.clone())
            .collect();
        Ok(idps.into_iter().collect())
    }

    async fn revoke_all_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError> {
        let mut families = lock(&self.families);
        let mut revoked = Vec::new();
        for family in families.values_mut() {
            if family.user_id == user && family.idp == idp && !family.revoked {
                family.revoked = true;
                revoked.push(family.id.clone());
            }
        }
        Ok(revoked)
    }

    async fn set_groups_for(
        &self,
        user: UserId,
        idp: &str,
        groups: &[String],
    ) -> Result<u64, PortError> {
        let mut families = lock(&self.families);
        let mut changed = 0;
        for family in families.values_mut() {
            if family.user_id == user
                && family.idp == idp
                && !family.revoked
                && family.groups != groups
            {
                family.groups = groups.to_vec();
                changed += 1;
            }
        }
        Ok(changed)
    }
}
