//! Operator commands against the configured persistent storage: keys, groups, administrators
//! and client credentials. Each prints plain lines; an error is one line and a non-zero exit.

mod credentials;
mod groups;
mod keys;

use std::sync::Arc;

use anyhow::{anyhow, bail};

pub use credentials::{CredentialsCommand, credentials};
pub use groups::{AdminsCommand, GroupsCommand, MemberArgs, admins, groups};
pub use keys::{KeysCommand, keys};

use super::config::{Config, StorageKind};
use super::startup::connect_postgres;
use crate::adapters::postgres::{
    PostgresClientCredentialRepository, PostgresGroupRepository, PostgresKeyStore,
    PostgresUserRepository,
};
use crate::domain::user::User;
use crate::ports::{ClientCredentialRepository, GroupRepository, KeyStore, UserRepository};

pub(super) struct Stores {
    pub users: Arc<dyn UserRepository>,
    pub keys: Arc<dyn KeyStore>,
    pub groups: Arc<dyn GroupRepository>,
    pub credentials: Arc<dyn ClientCredentialRepository>,
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
        credentials: Arc::new(PostgresClientCredentialRepository::new(pool)),
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
