//! Opening the configured backends: PostgreSQL or memory for storage, Redis or memory for the
//! cache. A configured backend that cannot be reached stops startup with a clear message.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::config::{CacheKind, Config, StorageKind};
use crate::adapters::memory::{
    MemoryClientCredentialRepository, MemoryFailureCounter, MemoryFlowStore, MemoryGroupRepository,
    MemoryKeyStore, MemoryRateLimiter, MemoryRefreshFamilyStore, MemoryRevocationList,
    MemoryUserRepository,
};
use crate::adapters::postgres::{self, PostgresSettings};
use crate::adapters::redis::{
    RedisFailureCounter, RedisFlowStore, RedisHandle, RedisRateLimiter, RedisRevocationList,
    RedisSettings,
};
use crate::ports::{
    ClientCredentialRepository, Clock, FailureCounter, FlowStore, GroupRepository, KeyStore, Probe,
    RateLimiter, RefreshFamilyStore, RevocationList, UserRepository,
};

/// The storage-backed ports.
pub(super) struct Storage {
    pub(super) pool: Option<sqlx::PgPool>,
    pub(super) probe: Option<Arc<dyn Probe>>,
    pub(super) users: Arc<dyn UserRepository>,
    pub(super) keys: Arc<dyn KeyStore>,
    pub(super) families: Arc<dyn RefreshFamilyStore>,
    pub(super) credentials: Arc<dyn ClientCredentialRepository>,
    pub(super) groups: Arc<dyn GroupRepository>,
}

/// The cache-backed ports.
pub(super) struct Cache {
    pub(super) probe: Option<Arc<dyn Probe>>,
    pub(super) limiter: Arc<dyn RateLimiter>,
    pub(super) flows: Arc<dyn FlowStore>,
    pub(super) revocations: Arc<dyn RevocationList>,
    pub(super) failures: Arc<dyn FailureCounter>,
}

/// The PostgreSQL settings from configuration.
pub fn postgres_settings(config: &Config) -> anyhow::Result<PostgresSettings> {
    let d = &config.database;
    Ok(PostgresSettings {
        url: d
            .url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("database.url is not set"))?,
        max_connections: d.max_connections,
        acquire_timeout: Duration::from_secs(d.acquire_timeout_secs),
        statement_timeout: Duration::from_secs(d.statement_timeout_secs),
        schema: d.schema.clone(),
    })
}

/// Connects to PostgreSQL (failing fast with a clear message) and applies the migrations.
pub async fn connect_postgres(config: &Config, migrate: bool) -> anyhow::Result<sqlx::PgPool> {
    let settings = postgres_settings(config)?;
    let pool = postgres::connect(&settings)
        .await
        .map_err(|e| anyhow::anyhow!("database.url: cannot reach PostgreSQL: {e}"))?;
    if migrate {
        if let Some(schema) = &settings.schema {
            postgres::create_schema(&pool, schema)
                .await
                .context("database.schema")?;
        }
        postgres::migrate(&pool)
            .await
            .context("applying database migrations")?;
    }
    Ok(pool)
}

pub(super) async fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    Ok(match config.storage {
        StorageKind::Memory => Storage {
            pool: None,
            probe: None,
            users: Arc::new(MemoryUserRepository::new()),
            keys: Arc::new(MemoryKeyStore::new()),
            families: Arc::new(MemoryRefreshFamilyStore::new()),
            credentials: Arc::new(MemoryClientCredentialRepository::new()),
            groups: Arc::new(MemoryGroupRepository::new()),
        },
        StorageKind::Postgres => {
            let pool = connect_postgres(config, config.database.auto_migrate).await?;
            Storage {
                pool: Some(pool.clone()),
                probe: Some(Arc::new(postgres::PostgresProbe(pool.clone()))),
                users: Arc::new(postgres::PostgresUserRepository::new(pool.clone())),
                keys: Arc::new(postgres::PostgresKeyStore::new(pool.clone())),
                families: Arc::new(postgres::PostgresRefreshFamilyStore::new(pool.clone())),
                credentials: Arc::new(postgres::PostgresClientCredentialRepository::new(
                    pool.clone(),
                )),
                groups: Arc::new(postgres::PostgresGroupRepository::new(pool)),
            }
        }
    })
}

pub(super) async fn open_cache(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Cache> {
    Ok(match config.cache {
        CacheKind::Memory => Cache {
            probe: None,
            limiter: Arc::new(MemoryRateLimiter::new(clock.clone())),
            flows: Arc::new(MemoryFlowStore::new(clock.clone())),
            revocations: Arc::new(MemoryRevocationList::new(clock.clone())),
            failures: Arc::new(MemoryFailureCounter::new(clock)),
        },
        CacheKind::Redis => {
            let r = &config.redis;
            let settings = RedisSettings {
                url: r
                    .url
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("redis.url is not set"))?,
                key_prefix: r.key_prefix.clone(),
                response_timeout: Duration::from_millis(r.response_timeout_ms),
                connection_timeout: Duration::from_millis(r.connection_timeout_ms),
            };
            let handle = RedisHandle::connect(&settings)
                .await
                .map_err(|e| anyhow::anyhow!("redis.url: cannot reach Redis: {e}"))?;
            Cache {
                probe: Some(Arc::new(handle.clone())),
                limiter: Arc::new(RedisRateLimiter::new(handle.clone())),
                flows: Arc::new(RedisFlowStore::new(handle.clone())),
                revocations: Arc::new(RedisRevocationList::new(handle.clone())),
                failures: Arc::new(RedisFailureCounter::new(handle)),
            }
        }
    })
}
