//! The revocation list: access tokens that must stop validating before they expire.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;

/// Something that can be revoked; an access token is rejected when any entry it carries is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevocationEntry {
    /// One access token, by its `jti`.
    TokenId(String),
    /// Every access token issued from a refresh-token family (`sid` claim).
    Family(String),
    /// Every access token issued from a client credential (`client_id` claim).
    Credential(String),
}

impl RevocationEntry {
    /// A stable string form, usable as a storage key.
    pub fn key(&self) -> String {
        match self {
            RevocationEntry::TokenId(v) => format!("jti:{v}"),
            RevocationEntry::Family(v) => format!("fam:{v}"),
            RevocationEntry::Credential(v) => format!("cred:{v}"),
        }
    }
}

/// A set of revoked entries, each remembered until a given instant.
#[async_trait]
pub trait RevocationList: Send + Sync + 'static {
    /// Marks `entry` revoked until `until`. Revoking again extends to the later instant.
    async fn revoke(&self, entry: &RevocationEntry, until: DateTime<Utc>) -> Result<(), PortError>;

    /// `true` when any of `entries` is currently revoked. MUST return an error (never `false`)
    /// when the list cannot be read, so callers fail closed.
    async fn any_revoked(&self, entries: &[RevocationEntry]) -> Result<bool, PortError>;
}
