//! Counters of failed client authentications, for brute-force backoff.

use std::time::Duration;

use async_trait::async_trait;

use super::PortError;

/// The backoff policy, as plain data so a store can apply it atomically (e.g. in a Lua script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Failures tolerated before a lock engages.
    pub threshold: u32,
    /// How long failures below the threshold are remembered.
    pub window: Duration,
    /// Lock length at the threshold; doubles with each further failure.
    pub base_lock: Duration,
    /// Longest lock.
    pub max_lock: Duration,
}

impl BackoffPolicy {
    /// The lock after the `count`-th failure: none below the threshold, then
    /// `base_lock * 2^(count - threshold)` capped at `max_lock`.
    pub fn lock_after(&self, count: u32) -> Duration {
        if count < self.threshold {
            return Duration::ZERO;
        }
        let doublings = (count - self.threshold).min(20);
        self.base_lock
            .saturating_mul(1u32 << doublings)
            .min(self.max_lock)
    }
}

/// A counter's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    /// Failures counted.
    pub count: u32,
    /// How long the key stays locked (zero when it is not).
    pub locked_for: Duration,
}

/// Failure counters keyed by client id.
#[async_trait]
pub trait FailureCounter: Send + Sync + 'static {
    /// Atomically increments the counter of `key` and locks the key for
    /// `policy.lock_after(new_count)`. The counter is forgotten `max(window, lock)` after its
    /// last failure; a forgotten counter starts again at 1.
    async fn record_failure(
        &self,
        key: &str,
        policy: &BackoffPolicy,
    ) -> Result<FailureState, PortError>;

    /// The live counter of `key` with its remaining lock, or `None` when there is none (never
    /// failed, reset, forgotten).
    async fn peek(&self, key: &str) -> Result<Option<FailureState>, PortError>;

    /// Forgets the counter of `key`.
    async fn reset(&self, key: &str) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_and_cap() {
        let policy = BackoffPolicy {
            threshold: 5,
            window: Duration::from_secs(900),
            base_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(600),
        };
        assert_eq!(policy.lock_after(1), Duration::ZERO);
        assert_eq!(policy.lock_after(4), Duration::ZERO);
        assert_eq!(policy.lock_after(5), Duration::from_secs(30));
        assert_eq!(policy.lock_after(6), Duration::from_secs(60));
        assert_eq!(policy.lock_after(8), Duration::from_secs(240));
        assert_eq!(policy.lock_after(10), Duration::from_secs(600));
        assert_eq!(policy.lock_after(1000), Duration::from_secs(600));
    }
}
