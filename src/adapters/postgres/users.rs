//! Users in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::map_err;
use crate::domain::user::{User, UserId};
use crate::ports::{PortError, UserRepository};

/// Users table.
pub struct PostgresUserRepository {
    pool: PgPool,
}

impl PostgresUserRepository {
    /// Wraps a pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct Row {
    id: Uuid,
    provider: String,
    provider_user_id: String,
    email: String,
    email_verified: bool,
    name: String,
    created_at: DateTime<Utc>,
    last_login_at: DateTime<Utc>,
}

impl From<Row> for User {
    fn from(r: Row) -> Self {
        User {
            id: UserId::from_uuid(r.id),
            provider: r.provider,
            provider_user_id: r.provider_user_id,
            email: r.email,
            email_verified: r.email_verified,
            name: r.name,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        }
    }
}

const COLUMNS: &str =
    "id, provider, provider_user_id, email, email_verified, name, created_at, last_login_at";

const QUALIFIED: &str = "u.id, u.provider, u.provider_user_id, u.email, u.email_verified, u.name, \
     u.created_at, u.last_login_at";

#[async_trait]
impl UserRepository for PostgresUserRepository {
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        let row: Option<Row> = sqlx::query_as(sql!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.map(User::from))
    }

    async fn find_by_identity(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<User>, PortError> {
        let row: Option<Row> = sqlx::query_as(sql!(
            "SELECT {QUALIFIED} FROM user_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.provider = $1 AND i.provider_user_id = $2"
        ))
        .bind(provider)
        .bind(provider_user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(row.map(User::from))
    }

    async fn find_by_email(&self, email: &str, limit: usize) -> Result<Vec<User>, PortError> {
        let rows: Vec<Row> = sqlx::query_as(sql!(
            "SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1) \
             ORDER BY created_at, id LIMIT $2"
        ))
        .bind(email)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn link_identity(
        &self,
        user: UserId,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO user_identities (provider, provider_user_id, user_id, linked_at) \
             VALUES ($1, $2, $3, now())",
        )
        .bind(provider)
        .bind(provider_user_id)
        .bind(user.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert(&self, user: &User) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(sql!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(user.id.as_uuid())
        .bind(&user.provider)
        .bind(&user.provider_user_id)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(user.created_at)
        .bind(user.last_login_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO user_identities (provider, provider_user_id, user_id, linked_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&user.provider)
        .bind(&user.provider_user_id)
        .bind(user.id.as_uuid())
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn update_profile(&self, user: &User) -> Result<(), PortError> {
        let done = sqlx::query(
            "UPDATE users SET email = $2, email_verified = $3, name = $4, last_login_at = $5 WHERE id = $1",
        )
        .bind(user.id.as_uuid())
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(user.last_login_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(PortError::NotFound);
        }
        Ok(())
    }
}
