//! Key material shared by all replicas: access-token signing keys and the refresh-token
//! encryption key.

use async_trait::async_trait;

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
}
