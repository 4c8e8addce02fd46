//! Key material shared by all replicas: access-token signing keys and the refresh-token
//! encryption key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;
use crate::domain::tokens::keys::StoredKey;

/// Persistent key material.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every stored key (active and retired), oldest first.
    async fn list(&self) -> Result<Vec<StoredKey>, PortError>;

    /// Stores a new key. MUST return `AlreadyExists` when a key with the same `kid` exists,
    /// and store nothing in that case.
    async fn insert(&self, key: &StoredKey) -> Result<(), PortError>;

    /// Marks retired, at `at`, every not yet retired key of `newer.purpose` that is older than
    /// `newer` (by `created_at`, then `kid`). Keys already retired keep their time. Safe when
    /// several replicas rotate at once: the newest key of all stays active.
    async fn retire_older(&self, newer: &StoredKey, at: DateTime<Utc>) -> Result<(), PortError>;
}
