//! In-memory users.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::domain::user::{User, UserId};
use crate::ports::{PortError, UserRepository};

#[derive(Default)]
struct Inner {
    by_id: HashMap<UserId, User>,
    by_identity: HashMap<(String, String), UserId>,
}

/// Users kept in a map.
#[derive(Default)]
pub struct MemoryUserRepository {
    inner: Mutex<Inner>,
}

impl MemoryUserRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UserRepository for MemoryUserRepository {
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(lock(&self.inner).by_id.get(&id).cloned())
    }

    async fn find_by_identity(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<User>, PortError> {
        let inner = lock(&self.inner);
        let key = (provider.to_owned(), provider_user_id.to_owned());
        Ok(inner
            .by_identity
            .get(&key)
            .and_then(|id| inner.by_id.get(id))
            .cloned())
    }

    async fn find_by_email(&self, email: &str, limit: usize) -> Result<Vec<User>, PortError> {
        let inner = lock(&self.inner);
        let mut found: Vec<User> = inner
            .by_id
            .values()
            .filter(|u| u.email.eq_ignore_ascii_case(email))
            .cloned()
            .collect();
        found.sort_by_key(|u| (u.created_at, u.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn link_identity(
        &self,
        user: UserId,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        let key = (provider.to_owned(), provider_user_id.to_owned());
        if inner.by_identity.contains_key(&key) {
            return Err(PortError::AlreadyExists);
        }
        if !inner.by_id.contains_key(&user) {
            return Err(PortError::NotFound);
        }
        inner.by_identity.insert(key, user);
        Ok(())
    }

    async fn insert(&self, user: &User) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        let key = (user.provider.clone(), user.provider_user_id.clone());
        if inner.by_id.contains_key(&user.id) || inner.by_identity.contains_key(&key) {
            return Err(PortError::AlreadyExists);
        }
        inner.by_identity.insert(key, user.id);
        inner.by_id.insert(user.id, user.clone());
        Ok(())
    }

    async fn update_profile(&self, user: &User) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        let stored = inner.by_id.get_mut(&user.id).ok_or(PortError::NotFound)?;
        stored.email = user.email.clone();
        stored.email_verified = user.email_verified;
        stored.name = user.name.clone();
        stored.last_login_at = user.last_login_at;
        Ok(())
    }
}
