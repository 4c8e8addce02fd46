//! Key material shared by all replicas: access-token signing keys and the refresh-token
//! encryption key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;
use crate::domain::tokens::keys::{KeyPurpose, StoredKey};

/// Persistent key material.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every stored key (active and retired), oldest first.
    async fn list(&self) -> Result<Vec<StoredKey>, PortError>;

    /// Stores a new key. MUST return `AlreadyExists` when a key with the same `kid` exists,
    /// and store nothing in that case.
    async fn insert(&self, key: &StoredKey) -> Result<(), PortError>;

    /// Marks retired, at `at`, every not yet retired key of `purpose` except the newest one
    /// (by `created_at`, then `kid`). Keys already retired keep their time. Safe when several
    /// replicas rotate at once: whatever the interleaving, once every rotation has run this,
    /// exactly the newest key of all is active.
    async fn retire_all_but_newest(
        &self,
        purpose: KeyPurpose,
        at: DateTime<Utc>,
    ) -> Result<(), PortError>;

    /// Marks retired, at `at`, every not yet retired key of `purpose` (when their material is
    /// no longer the one in use, e.g. HS256 signs with a configured secret). Keys already
    /// retired keep their time.
    async fn retire_all(&self, purpose: KeyPurpose, at: DateTime<Utc>) -> Result<(), PortError>;

    /// Clears the retirement of the key `kid`, if it is retired, unless a key of the same
    /// purpose is active (so it never makes a second active key). Whether it did.
    async fn reactivate_if_none_active(&self, kid: &str) -> Result<bool, PortError>;
}
