//! Redis adapters (redis-rs with a connection manager that reconnects by itself): the
//! revocation list, the flow store and the client-authentication failure counters. Keys carry a
//! configurable prefix; key names hold only digests and opaque ids, never e-mail addresses.
//! Every Redis failure becomes `PortError::Unavailable`, so callers fail closed.

mod backoff;
mod flows;
mod rate_limit;
mod revocation;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use backoff::RedisFailureCounter;
pub use flows::RedisFlowStore;
pub use rate_limit::RedisRateLimiter;
pub use revocation::RedisRevocationList;

use crate::ports::PortError;

/// How to connect.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://…` URL.
    pub url: String,
    /// Prefix of every key (lets several deployments or tests share a server).
    pub key_prefix: String,
    /// Time limit for one command.
    pub response_timeout: Duration,
    /// Time limit for (re)connecting.
    pub connection_timeout: Duration,
}

/// A shared, self-reconnecting connection plus the key prefix.
#[derive(Clone)]
pub struct RedisHandle {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisHandle {
    /// Connects and checks the server answers.
    pub async fn connect(settings: &RedisSettings) -> Result<Self, PortError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| PortError::Unexpected(format!("bad Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.response_timeout))
            .set_connection_timeout(Some(settings.connection_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(map_err)?;
        let handle = Self {
            conn,
            prefix: settings.key_prefix.clone(),
        };
        let _: String = redis::cmd("PING")
            .query_async(&mut handle.conn())
            .await
            .map_err(map_err)?;
        Ok(handle)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push_str(part);
            key.push(':');
        }
        key.pop();
        key
    }

    /// Deletes every key under the prefix (tests clean up with it).
    pub async fn delete_all(&self) -> Result<(), PortError> {
        let mut conn = self.conn();
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// `PING`, for readiness checks.
    pub async fn ping(&self) -> Result<(), PortError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::ports::Probe for RedisHandle {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), PortError> {
        self.ping().await
    }
}

fn map_err(err: redis::RedisError) -> PortError {
    // Server errors that say "not now" rather than "wrong command": out of memory, no
    // replicas for a write, a read-only replica, loading, busy with a script, a failing
    // disk, a primary or cluster that is down, a retry asked for. A transaction (MULTI)
    // refused for one of those reasons ends in EXECABORT; the errors its commands got say
    // which, and only those count (a syntax error stays a bug).
    const UNAVAILABLE: &[&str] = &[
        "OOM",
        "NOREPLICAS",
        "READONLY",
        "LOADING",
        "BUSY",
        "MISCONF",
        "MASTERDOWN",
        "CLUSTERDOWN",
        "TRYAGAIN",
    ];
    let message = err.to_string();
    let transient = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || match err.code() {
            Some("EXECABORT") => err.into_server_errors().is_some_and(|errors| {
                !errors.is_empty() && errors.iter().all(|(_, e)| UNAVAILABLE.contains(&e.code()))
            }),
            code => code.is_some_and(|code| UNAVAILABLE.contains(&code)),
        };
    if transient {
        PortError::Unavailable(message)
    } else {
        PortError::Unexpected(message)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
