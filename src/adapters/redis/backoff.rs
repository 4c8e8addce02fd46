//! Failure counters in Redis, updated atomically by a Lua script using the server's clock.

use async_trait::async_trait;
use std::time::Duration;

use super::{RedisHandle, map_err, millis};
use crate::ports::PortError;
use crate::ports::backoff::{BackoffPolicy, FailureCounter, FailureState};

const RECORD: &str = r"
local count = redis.call('HINCRBY', KEYS[1], 'c', 1)
local threshold = tonumber(ARGV[1])
local lock = 0
if count >= threshold then
  local d = count - threshold
  if d > 20 then d = 20 end
  lock = math.floor(tonumber(ARGV[3]) * (2 ^ d))
  if lock > tonumber(ARGV[4]) then lock = tonumber(ARGV[4]) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'u', now + lock)
local ttl = tonumber(ARGV[2])
if lock > ttl then ttl = lock end
redis.call('PEXPIRE', KEYS[1], ttl)
return {count, lock}
";

const PEEK: &str = r"
local v = redis.call('HMGET', KEYS[1], 'c', 'u')
if not v[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = tonumber(v[2]) - now
if left < 0 then left = 0 end
return {tonumber(v[1]), left}
";

/// Failure counters on Redis.
pub struct RedisFailureCounter {
    redis: RedisHandle,
    record: redis::Script,
    peek: redis::Script,
}

impl RedisFailureCounter {
    /// Uses `redis`.
    pub fn new(redis: RedisHandle) -> Self {
        Self {
            redis,
            record: redis::Script::new(RECORD),
            peek: redis::Script::new(PEEK),
        }
    }
}

fn state(count: u64, lock_ms: u64) -> FailureState {
    FailureState {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        locked_for: Duration::from_millis(lock_ms),
    }
}

#[async_trait]
impl FailureCounter for RedisFailureCounter {
    async fn record_failure(
        &self,
        key: &str,
        policy: &BackoffPolicy,
    ) -> Result<FailureState, PortError> {
        let (count, lock): (u64, u64) = self
            .record
            .key(self.redis.key(&["fail", key]))
            .arg(policy.threshold)
            .arg(millis(policy.window))
            .arg(millis(policy.base_lock))
            .arg(millis(policy.max_lock))
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        Ok(state(count, lock))
    }

    async fn peek(&self, key: &str) -> Result<Option<FailureState>, PortError> {
        let found: Option<(u64, u64)> = self
            .peek
            .key(self.redis.key(&["fail", key]))
            .invoke_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        Ok(found.map(|(count, lock)| state(count, lock)))
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        let _: () = redis::cmd("DEL")
            .arg(self.redis.key(&["fail", key]))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
