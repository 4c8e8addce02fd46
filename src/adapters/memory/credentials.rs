//! In-memory client credentials.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lock;
use crate::domain::credentials::ClientCredential;
use crate::domain::user::UserId;
use crate::ports::PortError;
use crate::ports::credentials::{ClientCredentialRepository, CredentialPage, QuotaInsert};

#[derive(Default)]
struct Inner {
    by_id: HashMap<Uuid, ClientCredential>,
    by_client_id: HashMap<String, Uuid>,
}

/// Credentials in maps; the quota check and insert share one lock.
#[derive(Default)]
pub struct MemoryClientCredentialRepository {
    inner: Mutex<Inner>,
}

impl MemoryClientCredentialRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ClientCredentialRepository for MemoryClientCredentialRepository {
    async fn insert_within_quota(
        &self,
        credential: &ClientCredential,
        max_active: usize,
        now: DateTime<Utc>,
    ) -> Result<QuotaInsert, PortError> {
        let mut inner = lock(&self.inner);
        if inner.by_id.contains_key(&credential.id)
            || inner
                .by_client_id
                .contains_key(credential.client_id.as_str())
        {
            return Err(PortError::AlreadyExists);
        }
        let active = inner
            .by_id
            .values()
            .filter(|c| c.owner == credential.owner && c.is_active(now))
            .count();
        if active >= max_active {
            return Ok(QuotaInsert::QuotaExceeded);
        }
        inner
            .by_client_id
            .insert(credential.client_id.as_str().to_owned(), credential.id);
        inner.by_id.insert(credential.id, credential.clone());
        Ok(QuotaInsert::Inserted)
    }

    async fn find_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientCredential>, PortError> {
        let inner = lock(&self.inner);
        Ok(inner
            .by_client_id
            .get(client_id)
            .and_then(|id| inner.by_id.get(id))
            .cloned())
    }

    async fn find_owned(
        &self,
        owner: UserId,
        id: Uuid,
    ) -> Result<Option<ClientCredential>, PortError> {
        let inner = lock(&self.inner);
        Ok(inner.by_id.get(&id).filter(|c| c.owner == owner).cloned())
    }

    async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<CredentialPage, PortError> {
        let inner = lock(&self.inner);
        let mut mine: Vec<&ClientCredential> =
            inner.by_id.values().filter(|c| c.owner == owner).collect();
        mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = mine.len() as u64;
        let items = mine
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .cloned()
            .collect();
        Ok(CredentialPage { items, total })
    }

    async fn delete(&self, owner: UserId, id: Uuid) -> Result<ClientCredential, PortError> {
        let mut inner = lock(&self.inner);
        match inner.by_id.get(&id) {
            Some(c) if c.owner == owner => {}
            _ => return Err(PortError::NotFound),
        }
        let removed = inner.by_id.remove(&id).ok_or(PortError::NotFound)?;
        inner.by_client_id.remove(removed.client_id.as_str());
        Ok(removed)
    }

    async fn record_last_used(&self, uses: &[(Uuid, DateTime<Utc>)]) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        for (id, at) in uses {
            if let Some(c) = inner.by_id.get_mut(id)
                && c.last_used_at.is_none_or(|stored| stored < *at)
            {
                c.last_used_at = Some(*at);
            }
        }
        Ok(())
    }

    async fn rekey_secret(
        &self,
        id: Uuid,
        from_pepper: &str,
        digest: &[u8; 32],
        to_pepper: &str,
    ) -> Result<bool, PortError> {
        let mut inner = lock(&self.inner);
        match inner.by_id.get_mut(&id) {
            Some(c) if c.pepper_id == from_pepper => {
                c.secret_digest = *digest;
                to_pepper.clone_into(&mut c.pepper_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn count_by_pepper(&self) -> Result<Vec<(String, u64)>, PortError> {
        let inner = lock(&self.inner);
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for c in inner.by_id.values() {
            *counts.entry(c.pepper_id.as_str()).or_default() += 1;
        }
        let mut counts: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(id, n)| (id.to_owned(), n))
            .collect();
        counts.sort();
        Ok(counts)
    }
}
