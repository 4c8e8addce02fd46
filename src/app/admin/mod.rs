//! Operator commands against the configured persistent storage: keys, groups, administrators
//! and client credentials. Each prints plain lines; an error is one line and a non-zero exit.

mod credentials;
mod groups;
mod keys;
mod users;

use std::sync::Arc;

use anyhow::{anyhow, bail};

pub use credentials::{CredentialsCommand, credentials};
pub use groups::{AdminsCommand, GroupsCommand, MemberArgs, admins, groups};
pub use keys::{KeysCommand, keys};
pub use users::{UsersCommand, users};

use super::config::{Config, StorageKind};
use super::startup::connect_postgres;
use crate::adapters::postgres::{
    PostgresClientCredentialRepository, PostgresGroupRepository, PostgresKeyStore,
    PostgresRefreshFamilyStore, PostgresUserRepository,
};
use crate::domain::user::User;
use crate::ports::{
    ClientCredentialRepository, GroupRepository, KeyStore, RefreshFamilyStore, UserRepository,
};

pub(super) struct Stores {
    pub users: Arc<dyn UserRepository>,
    pub keys: Arc<dyn KeyStore>,
    pub groups: Arc<dyn GroupRepository>,
    pub credentials: Arc<dyn ClientCredentialRepository>,
    pub families: Arc<dyn RefreshFamilyStore>,
}

pub(super) async fn stores(config: &Config) -> anyhow::Result<Stores> {
    if config.storage != StorageKind::Postgres {
        bail!("storage: management commands need storage = \"postgres\"");
    }
    let pool = connect_postgres(config, config.database.auto_migrate).await?;
    Ok(Stores {
        users: Arc::new(PostgresUserRepository::new(pool.clone())),
        keys: Arc::new(PostgresKeyStore::new(pool.clone())),
        groups: Arc::new(PostgresGroupRepository::new(pool.clone())),
        credentials: Arc::new(PostgresClientCredentialRepository::new(pool.clone())),
        families: Arc::new(PostgresRefreshFamilyStore::new(pool)),
    })
}

pub(super) async fn user(stores: &Stores, spec: &str) -> anyhow::Result<User> {
    let (provider, subject) = spec
        .split_once(':')
        .ok_or_else(|| anyhow!("--user must look like PROVIDER:SUBJECT"))?;
    stores
        .users
        .find_by_identity(provider, subject)
        .await?
        .ok_or_else(|| anyhow!("no user {spec} (users exist after their first sign-in)"))
}

/// One audit event for a change made from the command line.
pub(super) fn audit(event: &str, target: &str, subject: &str) {
    tracing::info!(target: "audit", event, actor = "cli", group_or_owner = target, subject, outcome = "success");
}

/// The shared revocation list (`cache = "redis"`), or `None` when this configuration has none:
/// then tokens already issued cannot be revoked from here and stay valid until they expire.
pub(super) async fn revocation_list(
    config: &Config,
) -> anyhow::Result<Option<crate::adapters::redis::RedisRevocationList>> {
    use crate::adapters::redis::{RedisHandle, RedisRevocationList, RedisSettings};
    let Some(url) = config
        .redis
        .url
        .clone()
        .filter(|_| config.cache == super::config::CacheKind::Redis)
    else {
        return Ok(None);
    };
    let handle = RedisHandle::connect(&RedisSettings {
        url,
        key_prefix: config.redis.key_prefix.clone(),
        response_timeout: std::time::Duration::from_millis(config.redis.response_timeout_ms),
        connection_timeout: std::time::Duration::from_millis(config.redis.connection_timeout_ms),
    })
    .await
    .map_err(|e| anyhow!("redis.url: cannot reach Redis: {e}"))?;
    Ok(Some(RedisRevocationList::new(handle)))
}

/// Until when a revocation-list entry must last to outlive every access token issued now.
pub(super) fn revocation_deadline(config: &Config) -> chrono::DateTime<chrono::Utc> {
    use crate::ports::Clock;
    let ttl = chrono::Duration::seconds(
        i64::try_from(config.tokens.access_token_ttl_secs + config.tokens.leeway_secs)
            .unwrap_or(i64::MAX / 2),
    );
    crate::adapters::system::SystemClock.now() + ttl
}
