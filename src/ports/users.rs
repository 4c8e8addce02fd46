//! Where users live.

use async_trait::async_trait;

use super::PortError;
use crate::domain::user::{User, UserId};

/// Persistent users. Each user has the identity it was created with and possibly more linked
/// later; an identity `(provider, provider_user_id)` belongs to at most one user.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The user with this internal id, or `None`.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError>;

    /// The user bound to `(provider, provider_user_id)` — by creation or by a link — or `None`.
    /// Matching is exact.
    async fn find_by_identity(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<User>, PortError>;

    /// Users whose e-mail equals `email` ignoring ASCII case, oldest first, at most `limit`.
    async fn find_by_email(&self, email: &str, limit: usize) -> Result<Vec<User>, PortError>;

    /// Binds one more identity to an existing user. MUST return `AlreadyExists` when the pair
    /// already belongs to any user (this one included) and `NotFound` when the user does not
    /// exist, storing nothing in either case.
    async fn link_identity(
        &self,
        user: UserId,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<(), PortError>;

    /// Stores a new user. MUST return `AlreadyExists` when the id or the
    /// `(provider, provider_user_id)` pair is already taken (also by a link), and store nothing
    /// in that case.
    async fn insert(&self, user: &User) -> Result<(), PortError>;

    /// Replaces the profile fields (email, email_verified, name, last_login_at) of an existing
    /// user. MUST return `NotFound` when no user has that id. Identity fields never change.
    async fn update_profile(&self, user: &User) -> Result<(), PortError>;
}
