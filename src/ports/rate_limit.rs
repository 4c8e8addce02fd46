//! Rate limiting as a port, so replicas can share counters (Redis) or keep them local (memory).

use std::time::Duration;

use async_trait::async_trait;

use super::PortError;

/// A limit: `limit` requests per `window`, with bursts up to `limit` (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

/// The outcome of one request against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit applied.
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// Until the limit is fully replenished.
    pub reset_after: Duration,
    /// When denied: how long until one request is allowed again.
    pub retry_after: Duration,
}

/// Shared rate-limit state.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request under `key` against `limit` (GCRA), atomically, and returns the
    /// decision. A denied request does not consume capacity.
    async fn hit(&self, key: &str, limit: Limit) -> Result<RateDecision, PortError>;
}
