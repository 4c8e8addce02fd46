//! Client credentials in PostgreSQL. The quota check and the insert share a transaction that
//! locks the owner's row, so concurrent creations cannot exceed the quota.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::map_err;
use crate::domain::credentials::{ClientCredential, ClientId};
use crate::domain::user::UserId;
use crate::ports::PortError;
use crate::ports::credentials::{ClientCredentialRepository, CredentialPage, QuotaInsert};

/// `client_credentials` table.
pub struct PostgresClientCredentialRepository {
    pool: PgPool,
}

impl PostgresClientCredentialRepository {
    /// Wraps a pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct Row {
    id: Uuid,
    owner_id: Uuid,
    client_id: String,
    secret_digest: Vec<u8>,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    modified_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    pepper_id: String,
}

const COLUMNS: &str = "id, owner_id, client_id, secret_digest, name, description, created_at, \
                       modified_at, expires_at, last_used_at, pepper_id";

impl TryFrom<Row> for ClientCredential {
    type Error = PortError;
    fn try_from(r: Row) -> Result<Self, PortError> {
        Ok(ClientCredential {
            id: r.id,
            owner: UserId::from_uuid(r.owner_id),
            client_id: ClientId::parse(&r.client_id)
                .ok_or_else(|| PortError::Unexpected("stored client id is malformed".into()))?,
            secret_digest: r
                .secret_digest
                .try_into()
                .map_err(|_| PortError::Unexpected("stored digest is not 32 bytes".into()))?,
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            modified_at: r.modified_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            pepper_id: r.pepper_id,
        })
    }
}

#[async_trait]
impl ClientCredentialRepository for PostgresClientCredentialRepository {
    async fn insert_within_quota(
        &self,
        c: &ClientCredential,
        max_active: usize,
        now: DateTime<Utc>,
    ) -> Result<QuotaInsert, PortError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let owner: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(c.owner.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if owner.is_none() {
            return Err(PortError::NotFound);
        }
        let (active,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM client_credentials \
             WHERE owner_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(c.owner.as_uuid())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
            return Ok(QuotaInsert::QuotaExceeded);
        }
        sqlx::query(sql!(
            "INSERT INTO client_credentials ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        ))
        .bind(c.id)
        .bind(c.owner.as_uuid())
        .bind(c.client_id.as_str())
        .bind(c.secret_digest.as_slice())
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.created_at)
        .bind(c.modified_at)
        .bind(c.expires_at)
        .bind(c.last_used_at)
        .bind(&c.pepper_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(QuotaInsert::Inserted)
    }

    async fn find_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientCredential>, PortError> {
        let row: Option<Row> = sqlx::query_as(sql!(
            "SELECT {COLUMNS} FROM client_credentials WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(ClientCredential::try_from).transpose()
    }

    async fn find_owned(
        &self,
        owner: UserId,
        id: Uuid,
    ) -> Result<Option<ClientCredential>, PortError> {
        let row: Option<Row> = sqlx::query_as(sql!(
            "SELECT {COLUMNS} FROM client_credentials WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(ClientCredential::try_from).transpose()
    }

    async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<CredentialPage, PortError> {
        let rows: Vec<Row> = sqlx::query_as(sql!(
            "SELECT {COLUMNS} FROM client_credentials WHERE owner_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(owner.as_uuid())
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM client_credentials WHERE owner_id = $1")
                .bind(owner.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(CredentialPage {
            items: rows
                .into_iter()
                .map(ClientCredential::try_from)
                .collect::<Result<_, _>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn delete(&self, owner: UserId, id: Uuid) -> Result<ClientCredential, PortError> {
        let row: Option<Row> = sqlx::query_as(sql!(
            "DELETE FROM client_credentials WHERE id = $1 AND owner_id = $2 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(owner.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(ClientCredential::try_from)
            .transpose()?
            .ok_or(PortError::NotFound)
    }

    async fn record_last_used(&self, uses: &[(Uuid, DateTime<Utc>)]) -> Result<(), PortError> {
        let ids: Vec<Uuid> = uses.iter().map(|(id, _)| *id).collect();
        let times: Vec<DateTime<Utc>> = uses.iter().map(|(_, at)| *at).collect();
        sqlx::query(
            "UPDATE client_credentials c SET last_used_at = u.at \
             FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) \
             WHERE c.id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn rekey_secret(
        &self,
        id: Uuid,
        from_pepper: &str,
        digest: &[u8; 32],
        to_pepper: &str,
    ) -> Result<bool, PortError> {
        let done = sqlx::query(
            "UPDATE client_credentials SET secret_digest = $3, pepper_id = $4 \
             WHERE id = $1 AND pepper_id = $2",
        )
        .bind(id)
        .bind(from_pepper)
        .bind(digest.as_slice())
        .bind(to_pepper)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_by_pepper(&self) -> Result<Vec<(String, u64)>, PortError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT pepper_id, count(*) FROM client_credentials GROUP BY pepper_id \
             ORDER BY pepper_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}
