//! In-memory revocation list with expiry on the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::ports::{Clock, PortError, RevocationEntry, RevocationList};

/// Revoked entries in a map, swept when it grows.
pub struct MemoryRevocationList {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// Sweep expired entries once the map holds this many.
const SWEEP_AT: usize = 10_000;

impl MemoryRevocationList {
    /// An empty list using `clock` for expiry.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RevocationList for MemoryRevocationList {
    async fn revoke(&self, entry: &RevocationEntry, until: DateTime<Utc>) -> Result<(), PortError> {
        let now = self.clock.now();
        let mut entries = lock(&self.entries);
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, until| *until > now);
        }
        let slot = entries.entry(entry.key()).or_insert(until);
        if *slot < until {
            *slot = until;
        }
        Ok(())
    }

    async fn any_revoked(&self, entries: &[RevocationEntry]) -> Result<bool, PortError> {
        let now = self.clock.now();
        let map = lock(&self.entries);
        Ok(entries
            .iter()
            .any(|e| map.get(&e.key()).is_some_and(|until| *until > now)))
    }
}
