//! Refresh-token families in PostgreSQL. Rotation is one conditional `UPDATE`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::map_err;
use crate::domain::tokens::family::{FamilyId, RefreshFamily};
use crate::domain::user::UserId;
use crate::ports::{PortError, RefreshFamilyStore};

/// `refresh_families` table.
pub struct PostgresRefreshFamilyStore {
    pool: PgPool,
}

impl PostgresRefreshFamilyStore {
    /// Wraps a pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct Row {
    id: String,
    user_id: Uuid,
    idp: String,
    scope: String,
    groups: Vec<String>,
    auth_time: DateTime<Utc>,
    current_seq: i64,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    revoked: bool,
}

fn seq(value: u64) -> Result<i64, PortError> {
    i64::try_from(value).map_err(|_| PortError::Unexpected("sequence overflow".into()))
}

#[async_trait]
impl RefreshFamilyStore for PostgresRefreshFamilyStore {
    async fn insert(&self, f: &RefreshFamily) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO refresh_families (id, user_id, idp, scope, groups, auth_time, current_seq, \
             created_at, expires_at, rotated_at, revoked) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(f.id.as_str())
        .bind(f.user_id.as_uuid())
        .bind(&f.idp)
        .bind(&f.scope)
        .bind(&f.groups)
        .bind(f.auth_time)
        .bind(seq(f.current_seq)?)
        .bind(f.created_at)
        .bind(f.expires_at)
        .bind(f.rotated_at)
        .bind(f.revoked)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, id: &FamilyId) -> Result<Option<RefreshFamily>, PortError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, user_id, idp, scope, groups, auth_time, current_seq, created_at, expires_at, \
             rotated_at, revoked FROM refresh_families WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(RefreshFamily {
            id: FamilyId::parse(&r.id)
                .ok_or_else(|| PortError::Unexpected("bad family id".into()))?,
            user_id: UserId::from_uuid(r.user_id),
            idp: r.idp,
            scope: r.scope,
            groups: r.groups,
            auth_time: r.auth_time,
            current_seq: u64::try_from(r.current_seq).unwrap_or(0),
            created_at: r.created_at,
            expires_at: r.expires_at,
            rotated_at: r.rotated_at,
            revoked: r.revoked,
        }))
    }

    async fn compare_and_set(
        &self,
        expected_seq: u64,
        next: &RefreshFamily,
    ) -> Result<bool, PortError> {
        let done = sqlx::query(
            "UPDATE refresh_families SET current_seq = $2, rotated_at = $3 \
             WHERE id = $1 AND current_seq = $4 AND NOT revoked",
        )
        .bind(next.id.as_str())
        .bind(seq(next.current_seq)?)
        .bind(next.rotated_at)
        .bind(seq(expected_seq)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match self.get(&next.id).await? {
            Some(_) => Ok(false),
            None => Err(PortError::NotFound),
        }
    }

    async fn revoke(&self, id: &FamilyId) -> Result<(), PortError> {
        let done = sqlx::query("UPDATE refresh_families SET revoked = TRUE WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(PortError::NotFound);
        }
        Ok(())
    }

    async fn live_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM refresh_families WHERE user_id = $1 AND idp = $2 AND NOT revoked",
        )
        .bind(user.as_uuid())
        .bind(idp)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(family_ids(ids))
    }

    async fn live_idps_for(&self, user: UserId) -> Result<Vec<String>, PortError> {
        let idps: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT idp FROM refresh_families WHERE user_id = $1 AND NOT revoked \
             ORDER BY idp",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(idps.into_iter().map(|(idp,)| idp).collect())
    }

    async fn revoke_all_for(&self, user: UserId, idp: &str) -> Result<Vec<FamilyId>, PortError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "UPDATE refresh_families SET revoked = TRUE \
             WHERE user_id = $1 AND idp = $2 AND NOT revoked RETURNING id",
        )
        .bind(user.as_uuid())
        .bind(idp)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(family_ids(ids))
    }

    async fn set_groups_for(
        &self,
        user: UserId,
        idp: &str,
        groups: &[String],
    ) -> Result<u64, PortError> {
        let done = sqlx::query(
            "UPDATE refresh_families SET groups = $3 \
             WHERE user_id = $1 AND idp = $2 AND NOT revoked AND groups IS DISTINCT FROM $3",
        )
        .bind(user.as_uuid())
        .bind(idp)
        .bind(groups)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// The ids of `rows` (one id column each); an id that does not parse is skipped.
fn family_ids(rows: Vec<(String,)>) -> Vec<FamilyId> {
    rows.into_iter()
        .filter_map(|(id,)| FamilyId::parse(&id))
        .collect()
}
