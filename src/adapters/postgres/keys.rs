//! Key material in PostgreSQL, shared by every replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use super::map_err;
use crate::domain::tokens::keys::{KeyPurpose, SecretKeyBytes, StoredKey};
use crate::ports::{KeyStore, PortError};

/// `signing_keys` table.
pub struct PostgresKeyStore {
    pool: PgPool,
}

impl PostgresKeyStore {
    /// Wraps a pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct Row {
    kid: String,
    purpose: String,
    secret: Vec<u8>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl KeyStore for PostgresKeyStore {
    async fn list(&self) -> Result<Vec<StoredKey>, PortError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT kid, purpose, secret, created_at, retired_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|r| {
                let purpose = KeyPurpose::parse(&r.purpose).ok_or_else(|| {
                    PortError::Unexpected(format!("key {} has unknown purpose", r.kid))
                })?;
                Ok(StoredKey {
                    kid: r.kid,
                    purpose,
                    secret: SecretKeyBytes(r.secret),
                    created_at: r.created_at,
                    retired_at: r.retired_at,
                })
            })
            .collect()
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), PortError> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, purpose, secret, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&key.kid)
        .bind(key.purpose.as_str())
        .bind(key.secret.0.as_slice())
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(PortError::AlreadyExists);
        }
        Ok(())
    }

    async fn retire_all_but_newest(
        &self,
        purpose: KeyPurpose,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE purpose = $1 AND retired_at IS NULL \
             AND (created_at, kid) < (SELECT created_at, kid FROM signing_keys WHERE purpose = $1 \
             ORDER BY created_at DESC, kid DESC LIMIT 1)",
        )
        .bind(purpose.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn reactivate_if_none_active(&self, kid: &str) -> Result<bool, PortError> {
        // One statement: the NOT EXISTS and the update see the same snapshot, and the partial
        // check cannot create two active keys of a purpose from one call.
        let done = sqlx::query(
            "UPDATE signing_keys k SET retired_at = NULL WHERE k.kid = $1 \
             AND k.retired_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM signing_keys o \
             WHERE o.purpose = k.purpose AND o.retired_at IS NULL)",
        )
        .bind(kid)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retire_all(&self, purpose: KeyPurpose, at: DateTime<Utc>) -> Result<(), PortError> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE purpose = $1 AND retired_at IS NULL",
        )
        .bind(purpose.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
