//! The revocation list in Redis: one key per entry, expiring when the entry may be forgotten.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{RedisHandle, map_err};
use crate::ports::{PortError, RevocationEntry, RevocationList};

/// Revocation list on Redis.
pub struct RedisRevocationList {
    redis: RedisHandle,
}

impl RedisRevocationList {
    /// Uses `redis`.
    pub fn new(redis: RedisHandle) -> Self {
        Self { redis }
    }
}

#[async_trait]
impl RevocationList for RedisRevocationList {
    async fn revoke(&self, entry: &RevocationEntry, until: DateTime<Utc>) -> Result<(), PortError> {
        let key = self.redis.key(&["rev", &entry.key()]);
        let at = until.timestamp_millis().max(1);
        // Create with the deadline, or push an existing deadline later (never earlier).
        let _: () = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PXAT")
            .arg(at)
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(at)
            .arg("GT")
            .ignore()
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn any_revoked(&self, entries: &[RevocationEntry]) -> Result<bool, PortError> {
        if entries.is_empty() {
            return Ok(false);
        }
        let keys: Vec<String> = entries
            .iter()
            .map(|e| self.redis.key(&["rev", &e.key()]))
            .collect();
        let found: u64 = redis::cmd("EXISTS")
            .arg(keys)
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        Ok(found > 0)
    }
}
