//! In-memory failure counters with expiry on the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::ports::backoff::{BackoffPolicy, FailureCounter, FailureState};
use crate::ports::{Clock, PortError};

/// Sweep forgotten counters once the map holds this many.
const SWEEP_AT: usize = 10_000;

struct Counter {
    count: u32,
    locked_until: DateTime<Utc>,
    forget_at: DateTime<Utc>,
}

impl Counter {
    fn state(&self, now: DateTime<Utc>) -> FailureState {
        FailureState {
            count: self.count,
            locked_for: (self.locked_until - now).to_std().unwrap_or_default(),
        }
    }
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

fn chrono(d: std::time::Duration) -> Result<chrono::Duration, PortError> {
    chrono::Duration::from_std(d).map_err(|e| PortError::Unexpected(e.to_string()))
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
            counters.retain(|_, c| c.forget_at > now);
        }
        let counter = counters.entry(key.to_owned()).or_insert(Counter {
            count: 0,
            locked_until: now,
            forget_at: now,
        });
        if counter.forget_at <= now {
            counter.count = 0;
        }
        counter.count = counter.count.saturating_add(1);
        let lock_for = policy.lock_after(counter.count);
        counter.locked_until = now + chrono(lock_for)?;
        counter.forget_at = now + chrono(policy.window.max(lock_for))?;
        Ok(counter.state(now))
    }

    async fn peek(&self, key: &str) -> Result<Option<FailureState>, PortError> {
        let now = self.clock.now();
        let counters = lock(&self.counters);
        Ok(counters
            .get(key)
            .filter(|c| c.forget_at > now)
            .map(|c| c.state(now)))
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        lock(&self.counters).remove(key);
        Ok(())
    }
}
