//! Rate limiting in Redis: the same GCRA as the domain's, in one Lua script on the server's
//! clock, so every replica shares the budget.

use std::time::Duration;

use async_trait::async_trait;

use super::{RedisHandle, map_err, millis};
use crate::ports::{Limit, PortError, RateDecision, RateLimiter};

const GCRA: &str = r"
local window = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local interval = math.max(1, math.floor(window / count))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
return {1, math.floor((window - (new_tat - now)) / interval), new_tat - now, 0}
";

/// Rate limiting on Redis.
pub struct RedisRateLimiter {
    redis: RedisHandle,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// Uses `redis`.
    pub fn new(redis: RedisHandle) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: Limit) -> Result<RateDecision, PortError> {
        let (allowed, remaining, reset, retry): (i64, i64, i64, i64) = self
            .script
            .key(self.redis.key(&["rate", key]))
            .arg(millis(limit.window))
            .arg(limit.limit.max(1))
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        let ms = |v: i64| Duration::from_millis(u64::try_from(v.max(0)).unwrap_or(0));
        Ok(RateDecision {
            allowed: allowed == 1,
            limit: limit.limit,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            reset_after: ms(reset),
            retry_after: ms(retry),
        })
    }
}
