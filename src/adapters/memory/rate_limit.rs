//! In-memory rate limiting (one replica), on the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::lock;
use crate::domain::rate::gcra;
use crate::ports::{Clock, Limit, PortError, RateDecision, RateLimiter};

/// Sweep idle keys once the map holds this many.
const SWEEP_AT: usize = 100_000;

/// GCRA state per key.
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    tats: Mutex<HashMap<String, i64>>,
}

impl MemoryRateLimiter {
    /// Empty state using `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            tats: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: Limit) -> Result<RateDecision, PortError> {
        let now = self.clock.now().timestamp_millis();
        let mut tats = lock(&self.tats);
        if tats.len() >= SWEEP_AT {
            tats.retain(|_, tat| *tat > now);
        }
        let (decision, tat) = gcra(tats.get(key).copied(), now, limit);
        tats.insert(key.to_owned(), tat);
        Ok(decision)
    }
}
