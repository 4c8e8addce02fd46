//! In-memory key store.

use std::sync::Mutex;

use async_trait::async_trait;

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
}
