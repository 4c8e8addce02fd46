//! In-memory key store.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::domain::tokens::keys::StoredKey;
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

    async fn retire_older(&self, newer: &StoredKey, at: DateTime<Utc>) -> Result<(), PortError> {
        let mut keys = lock(&self.keys);
        for key in keys.iter_mut() {
            let older = (key.created_at, &key.kid) < (newer.created_at, &newer.kid);
            if key.purpose == newer.purpose && older && key.retired_at.is_none() {
                key.retired_at = Some(at);
            }
        }
        Ok(())
    }
}
