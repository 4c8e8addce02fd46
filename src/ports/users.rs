//! Where users live.

use async_trait::async_trait;

use super::PortError;
use crate::domain::user::{User, UserId};

/// Persistent users, each bound to exactly one (provider, provider_user_id) identity.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The user with this internal id, or `None`.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError>;

    /// The user bound to `(provider, provider_user_id)`, or `None`. Matching is exact.
    async fn find_by_identity(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<User>, PortError>;

    /// Stores a new user. MUST return `AlreadyExists` when the id or the
    /// `(provider, provider_user_id)` pair is already taken, and store nothing in that case.
    async fn insert(&self, user: &User) -> Result<(), PortError>;

    /// Replaces the profile fields (email, email_verified, name, last_login_at) of an existing
    /// user. MUST return `NotFound` when no user has that id. Identity fields never change.
    async fn update_profile(&self, user: &User) -> Result<(), PortError>;
}
