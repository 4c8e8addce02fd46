//! In-memory failure counters with expiry on the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::ports::backoff::{BackoffPolicy, FailureCounter, FailureState};
use crate::ports::{Clock, PortError};

/// Sweep expired counters once the map holds this many.
const SWEEP_AT: usize = 10_000;

struct Counter {
    count: u32,
    expires_at: DateTime<Utc>,
}

/// Failure counters in a map.
pub struct MemoryFailureCounter {
    clock: Arc<dyn Clock>,
    counters: Mutex<HashMap<String, Counter>>,
}

impl MemoryFailureCounter {
    /// An empty set of counters using `clock` for expiry.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            counters: Mutex::new(HashMap::new()),
        }
    }
}

fn remaining(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (expires_at - now).to_std().unwrap_or_default()
}

#[async_trait]
impl FailureCounter for MemoryFailureCounter {
    async fn record_failure(
        &self,
        key: &str,
        policy: &BackoffPolicy,
    ) -> Result<FailureState, PortError> {
        let now = self.clock.now();
        let mut counters = lock(&self.counters);
        if counters.len() >= SWEEP_AT {
            counters.retain(|_, c| c.expires_at > now);
        }
        let counter = counters.entry(key.to_owned()).or_insert(Counter {
            count: 0,
            expires_at: now,
        });
        if counter.expires_at <= now {
            counter.count = 0;
        }
        counter.count = counter.count.saturating_add(1);
        let ttl = chrono::Duration::from_std(policy.ttl_after(counter.count))
            .map_err(|e| PortError::Unexpected(e.to_string()))?;
        counter.expires_at = now + ttl;
        Ok(FailureState {
            count: counter.count,
            expires_in: remaining(counter.expires_at, now),
        })
    }

    async fn peek(&self, key: &str) -> Result<Option<FailureState>, PortError> {
        let now = self.clock.now();
        let counters = lock(&self.counters);
        Ok(counters
            .get(key)
            .filter(|c| c.expires_at > now)
            .map(|c| FailureState {
                count: c.count,
                expires_in: remaining(c.expires_at, now),
            }))
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        lock(&self.counters).remove(key);
        Ok(())
    }
}
