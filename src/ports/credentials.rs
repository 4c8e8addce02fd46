//! Where client credentials live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PortError;
use crate::domain::credentials::ClientCredential;
use crate::domain::user::UserId;

/// Result of an insert under a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaInsert {
    /// Stored.
    Inserted,
    /// The owner already has `max_active` active credentials; nothing stored.
    QuotaExceeded,
}

/// One page of an owner's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPage {
    /// The credentials on this page, newest first.
    pub items: Vec<ClientCredential>,
    /// How many the owner has in all.
    pub total: u64,
}

/// Persistent client credentials.
#[async_trait]
pub trait ClientCredentialRepository: Send + Sync + 'static {
    /// Stores `credential` unless its owner already has `max_active` credentials that are active
    /// at `now` (not expired); the check and the insert are atomic. MUST return `AlreadyExists`
    /// when the id or client id is taken.
    async fn insert_within_quota(
        &self,
        credential: &ClientCredential,
        max_active: usize,
        now: DateTime<Utc>,
    ) -> Result<QuotaInsert, PortError>;

    /// The credential with this client id, or `None`.
    async fn find_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientCredential>, PortError>;

    /// The owner's credential with this id, or `None` (also when it belongs to someone else).
    async fn find_owned(
        &self,
        owner: UserId,
        id: Uuid,
    ) -> Result<Option<ClientCredential>, PortError>;

    /// The owner's credentials, newest first (ties broken by id), skipping `offset`, at most
    /// `limit`, with the owner's total.
    async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<CredentialPage, PortError>;

    /// Deletes the owner's credential and returns it. MUST return `NotFound` when no credential
    /// has that id **or** it belongs to someone else (the two are indistinguishable).
    async fn delete(&self, owner: UserId, id: Uuid) -> Result<ClientCredential, PortError>;

    /// Records last-use times in one batch. Ids that no longer exist are ignored; a time older
    /// than the stored one never overwrites it.
    async fn record_last_used(&self, uses: &[(Uuid, DateTime<Utc>)]) -> Result<(), PortError>;

    /// Replaces the secret digest of credential `id` with `digest` under pepper `to_pepper`,
    /// only if its digest is still under `from_pepper`; whether it changed anything.
    async fn rekey_secret(
        &self,
        id: Uuid,
        from_pepper: &str,
        digest: &[u8; 32],
        to_pepper: &str,
    ) -> Result<bool, PortError>;

    /// How many credentials each pepper keys, by pepper id.
    async fn count_by_pepper(&self) -> Result<Vec<(String, u64)>, PortError>;
}
