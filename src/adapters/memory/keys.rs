//! In-memory key store.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::domain::tokens::keys::{KeyPurpose, StoredKey};
use crate::ports::{KeyStore, PortError};

/// Keys in a vector, oldest first.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<Vec<StoredKey>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn list(&self) -> Result<Vec<StoredKey>, PortError> {
        Ok(lock(&self.keys).clone())
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), PortError> {
        let mut keys = lock(&self.keys);
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(PortError::AlreadyExists);
        }
        keys.push(key.clone());
        Ok(())
    }

    async fn retire_all_but_newest(
        &self,
        purpose: KeyPurpose,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut keys = lock(&self.keys);
        let newest = keys
            .iter()
            .filter(|k| k.purpose == purpose)
            .map(|k| (k.created_at, k.kid.clone()))
            .max();
        let Some(newest) = newest else { return Ok(()) };
        for key in keys.iter_mut() {
            if key.purpose == purpose
                && key.retired_at.is_none()
                && (key.created_at, key.kid.clone()) < newest
            {
                key.retired_at = Some(at);
            }
        }
        Ok(())
    }

    async fn reactivate_if_none_active(&self, kid: &str) -> Result<bool, PortError> {
        let mut keys = lock(&self.keys);
        let Some(purpose) = keys.iter().find(|k| k.kid == kid).map(|k| k.purpose) else {
            return Ok(false);
        };
        if keys
            .iter()
            .any(|k| k.purpose == purpose && k.retired_at.is_none())
        {
            return Ok(false);
        }
        for key in keys.iter_mut().filter(|k| k.kid == kid) {
            key.retired_at = None;
        }
        Ok(true)
    }

    async fn retire_all(&self, purpose: KeyPurpose, at: DateTime<Utc>) -> Result<(), PortError> {
        for key in lock(&self.keys).iter_mut() {
            if key.purpose == purpose && key.retired_at.is_none() {
                key.retired_at = Some(at);
            }
        }
        Ok(())
    }
}
