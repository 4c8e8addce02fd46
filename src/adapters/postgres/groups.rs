//! Groups and memberships in PostgreSQL. Membership writes take a table lock so the cycle check
//! (a recursive query) and the insert are atomic; effective membership is one recursive query.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::map_err;
use crate::domain::groups::{EVERYONE, Group, GroupId, Member, Membership};
use crate::domain::user::UserId;
use crate::ports::{GroupRepository, PortError};

/// `groups` and `group_memberships` tables.
pub struct PostgresGroupRepository {
    pool: PgPool,
}

impl PostgresGroupRepository {
    /// Wraps a pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct GroupRow {
    id: Uuid,
    provider: String,
    name: String,
    display_name: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Group {
            id: GroupId(r.id),
            provider: r.provider,
            name: r.name,
            display_name: r.display_name,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct MemberRow {
    id: Uuid,
    group_id: Uuid,
    member_user_id: Option<Uuid>,
    member_group_id: Option<Uuid>,
    added_at: DateTime<Utc>,
    added_by: Option<Uuid>,
    notes: Option<String>,
}

impl TryFrom<MemberRow> for Membership {
    type Error = PortError;
    fn try_from(r: MemberRow) -> Result<Self, PortError> {
        let member = match (r.member_user_id, r.member_group_id) {
            (Some(u), None) => Member::User(UserId::from_uuid(u)),
            (None, Some(g)) => Member::Group(GroupId(g)),
            _ => {
                return Err(PortError::Unexpected(
                    "membership without exactly one member".into(),
                ));
            }
        };
        Ok(Membership {
            id: r.id,
            group: GroupId(r.group_id),
            member,
            added_at: r.added_at,
            added_by: r.added_by.map(UserId::from_uuid),
            notes: r.notes,
        })
    }
}

const GROUP_COLUMNS: &str = "id, provider, name, display_name, created_at";
const MEMBER_COLUMNS: &str =
    "id, group_id, member_user_id, member_group_id, added_at, added_by, notes";

async fn insert_checked(
    tx: &mut Transaction<'_, Postgres>,
    m: &Membership,
) -> Result<(), PortError> {
    let (user, group) = match m.member {
        Member::User(u) => (Some(u.as_uuid()), None),
        Member::Group(g) => (None, Some(g.0)),
    };
    if let Some(child) = group {
        let (cycle,): (bool,) = sqlx::query_as(
            "WITH RECURSIVE down(g) AS (SELECT $1::uuid UNION \
             SELECT m.member_group_id FROM group_memberships m JOIN down ON m.group_id = down.g \
             WHERE m.member_group_id IS NOT NULL) SELECT EXISTS (SELECT 1 FROM down WHERE g = $2)",
        )
        .bind(child)
        .bind(m.group.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
        if cycle {
            return Err(PortError::Conflict);
        }
    }
    sqlx::query(sql!(
        "INSERT INTO group_memberships ({MEMBER_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)"
    ))
    .bind(m.id)
    .bind(m.group.0)
    .bind(user)
    .bind(group)
    .bind(m.added_at)
    .bind(m.added_by.map(|u| u.as_uuid()))
    .bind(&m.notes)
    .execute(&mut **tx)
    .await
    .map_err(|e| match map_err(e) {
        // A missing member user or group is a foreign-key violation.
        PortError::NotFound => PortError::NotFound,
        other => other,
    })?;
    Ok(())
}

async fn lock_memberships(tx: &mut Transaction<'_, Postgres>) -> Result<(), PortError> {
    sqlx::query("LOCK TABLE group_memberships IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl GroupRepository for PostgresGroupRepository {
    async fn ensure_group(&self, g: &Group) -> Result<Group, PortError> {
        let inserted: Option<GroupRow> = sqlx::query_as(sql!(
            "INSERT INTO groups ({GROUP_COLUMNS}) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (provider, name) DO NOTHING RETURNING {GROUP_COLUMNS}"
        ))
        .bind(g.id.0)
        .bind(&g.provider)
        .bind(&g.name)
        .bind(&g.display_name)
        .bind(g.created_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        match inserted {
            Some(row) => Ok(row.into()),
            None => self
                .find_by_name(&g.provider, &g.name)
                .await?
                .ok_or(PortError::Conflict),
        }
    }

    async fn get(&self, id: GroupId) -> Result<Option<Group>, PortError> {
        let row: Option<GroupRow> =
            sqlx::query_as(sql!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(row.map(Group::from))
    }

    async fn find_by_name(&self, provider: &str, name: &str) -> Result<Option<Group>, PortError> {
        let row: Option<GroupRow> = sqlx::query_as(sql!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE provider = $1 AND name = $2"
        ))
        .bind(provider)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(row.map(Group::from))
    }

    async fn list_by_provider(&self, provider: &str) -> Result<Vec<Group>, PortError> {
        let rows: Vec<GroupRow> = sqlx::query_as(sql!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE provider = $1 ORDER BY name"
        ))
        .bind(provider)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(Group::from).collect())
    }

    async fn add_member(&self, m: &Membership) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        lock_memberships(&mut tx).await?;
        insert_checked(&mut tx, m).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_member_if_empty(&self, m: &Membership) -> Result<bool, PortError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        lock_memberships(&mut tx).await?;
        let (present,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM group_memberships WHERE group_id = $1)")
                .bind(m.group.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        if present {
            return Ok(false);
        }
        insert_checked(&mut tx, m).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn remove_member(&self, group: GroupId, member: Member) -> Result<(), PortError> {
        let done = match member {
            Member::User(u) => sqlx::query(
                "DELETE FROM group_memberships WHERE group_id = $1 AND member_user_id = $2",
            )
            .bind(group.0)
            .bind(u.as_uuid()),
            Member::Group(g) => sqlx::query(
                "DELETE FROM group_memberships WHERE group_id = $1 AND member_group_id = $2",
            )
            .bind(group.0)
            .bind(g.0),
        }
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(PortError::NotFound);
        }
        Ok(())
    }

    async fn direct_groups_of(&self, user: UserId) -> Result<Vec<Group>, PortError> {
        let rows: Vec<GroupRow> = sqlx::query_as(
            "SELECT DISTINCT g.id, g.provider, g.name, g.display_name, g.created_at FROM groups g \
             JOIN group_memberships m ON m.group_id = g.id WHERE m.member_user_id = $1 ORDER BY g.name",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(Group::from).collect())
    }

    async fn effective_groups(
        &self,
        user: UserId,
        extra: &[GroupId],
    ) -> Result<BTreeSet<GroupId>, PortError> {
        let extra: Vec<Uuid> = extra.iter().map(|g| g.0).chain([EVERYONE.0]).collect();
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "WITH RECURSIVE up(g) AS ( \
                SELECT group_id FROM group_memberships WHERE member_user_id = $1 \
                UNION SELECT unnest($2::uuid[]) \
                UNION SELECT m.group_id FROM group_memberships m JOIN up ON m.member_group_id = up.g) \
             SELECT g FROM up",
        )
        .bind(user.as_uuid())
        .bind(&extra)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(|(g,)| GroupId(g)).collect())
    }

    async fn members(
        &self,
        group: GroupId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Membership>, u64), PortError> {
        let rows: Vec<MemberRow> = sqlx::query_as(sql!(
            "SELECT {MEMBER_COLUMNS} FROM group_memberships WHERE group_id = $1 \
             ORDER BY added_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(group.0)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM group_memberships WHERE group_id = $1")
                .bind(group.0)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok((
            rows.into_iter()
                .map(Membership::try_from)
                .collect::<Result<_, _>>()?,
            u64::try_from(total).unwrap_or(0),
        ))
    }
}
