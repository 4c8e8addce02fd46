//! Flow records in Redis: `SET NX PX` to store, `GETDEL` to take exactly once; recent-member
//! lists as Redis lists updated in one `MULTI` transaction.

use std::time::Duration;

use async_trait::async_trait;

use super::{RedisHandle, map_err, millis};
use crate::ports::{FlowKind, FlowStore, PortError};

/// Flow store on Redis.
pub struct RedisFlowStore {
    redis: RedisHandle,
}

impl RedisFlowStore {
    /// Uses `redis`.
    pub fn new(redis: RedisHandle) -> Self {
        Self { redis }
    }
}

#[async_trait]
impl FlowStore for RedisFlowStore {
    async fn put(
        &self,
        kind: FlowKind,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), PortError> {
        let stored: Option<String> = redis::cmd("SET")
            .arg(self.redis.key(&["flow", kind.as_str(), key]))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)?;
        match stored {
            Some(_) => Ok(()),
            None => Err(PortError::AlreadyExists),
        }
    }

    async fn take(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        redis::cmd("GETDEL")
            .arg(self.redis.key(&["flow", kind.as_str(), key]))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)
    }

    async fn get(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        redis::cmd("GET")
            .arg(self.redis.key(&["flow", kind.as_str(), key]))
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)
    }

    async fn push_recent(
        &self,
        kind: FlowKind,
        key: &str,
        member: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<(), PortError> {
        if max == 0 {
            return Ok(());
        }
        let key = self.redis.key(&["flow", kind.as_str(), key]);
        let last = i64::try_from(max - 1).unwrap_or(i64::MAX);
        redis::pipe()
            .atomic()
            .cmd("LREM")
            .arg(&key)
            .arg(0)
            .arg(member)
            .ignore()
            .cmd("LPUSH")
            .arg(&key)
            .arg(member)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(last)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(ttl))
            .ignore()
            .query_async::<()>(&mut self.redis.conn())
            .await
            .map_err(map_err)
    }

    async fn recent(&self, kind: FlowKind, key: &str) -> Result<Vec<String>, PortError> {
        redis::cmd("LRANGE")
            .arg(self.redis.key(&["flow", kind.as_str(), key]))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis.conn())
            .await
            .map_err(map_err)
    }
}
