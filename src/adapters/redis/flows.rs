//! Flow records in Redis: `SET NX PX` to store, `GETDEL` to take exactly once.

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
}
