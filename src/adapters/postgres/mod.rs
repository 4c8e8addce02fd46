//! PostgreSQL adapters (sqlx, runtime queries: the build needs no database). Integrity rules
//! live in constraints (`migrations/`); single-use and rotation rules are single atomic
//! statements or short transactions, so replicas racing on one row produce one winner.

/// `format!` for SQL assembled from constant column lists (never from input).
macro_rules! sql {
    ($($arg:tt)*) => {
        sqlx::AssertSqlSafe(format!($($arg)*))
    };
}

mod credentials;
mod families;
mod groups;
mod keys;
mod users;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use credentials::PostgresClientCredentialRepository;
pub use families::PostgresRefreshFamilyStore;
pub use groups::PostgresGroupRepository;
pub use keys::PostgresKeyStore;
pub use users::PostgresUserRepository;

use crate::ports::PortError;

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to connect.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// `postgres://…` URL.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// Server-side statement timeout.
    pub statement_timeout: Duration,
    /// Schema to use (tests use a fresh one each); `None` for the server default.
    pub schema: Option<String>,
}

/// Opens a pool and checks the server answers.
pub async fn connect(settings: &PostgresSettings) -> Result<PgPool, PortError> {
    let options: PgConnectOptions = settings
        .url
        .parse()
        .map_err(|e: sqlx::Error| PortError::Unexpected(format!("bad database URL: {e}")))?;
    if let Some(schema) = &settings.schema
        && !is_schema_name(schema)
    {
        return Err(PortError::Unexpected(
            "schema must be 1 to 63 of [a-z0-9_], not pg_…".into(),
        ));
    }
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let schema = settings.schema.clone();
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let schema = schema.clone();
            Box::pin(async move {
                sqlx::query(sql!("SET statement_timeout = {statement_timeout_ms}"))
                    .execute(&mut *conn)
                    .await?;
                if let Some(schema) = schema {
                    sqlx::query(sql!("SET search_path TO \"{schema}\""))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(map_err)?;
    Ok(pool)
}

/// Creates the configured schema when it does not exist yet (before the migrations, which
/// create their tables in it). Looks first: `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the
/// database even when the schema exists, which a role owning only its schema lacks. A replica
/// creating it at the same moment is not an error.
pub async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), PortError> {
    if !is_schema_name(schema) {
        return Err(PortError::Unexpected(
            "schema must be 1 to 63 of [a-z0-9_], not pg_…".into(),
        ));
    }
    let exists = || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .map_err(map_err)
    };
    if exists().await? {
        return Ok(());
    }
    match sqlx::query(sql!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(pool)
        .await
    {
        Ok(_) => Ok(()),
        Err(_) if exists().await? => Ok(()),
        Err(e) => Err(PortError::Unavailable(format!(
            "cannot create schema {schema:?}: {e}"
        ))),
    }
}

/// A schema name we accept: 1 to 63 of `[a-z0-9_]` (safe to quote into SQL), not `pg_…`
/// (reserved by PostgreSQL).
pub fn is_schema_name(schema: &str) -> bool {
    (1..=63).contains(&schema.len())
        && !schema.starts_with("pg_")
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Applies the embedded migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), PortError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| PortError::Unavailable(format!("migration failed: {e}")))
}

/// Readiness of the database: `SELECT 1`.
pub struct PostgresProbe(pub PgPool);

#[async_trait::async_trait]
impl crate::ports::Probe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), PortError> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// Translates a driver error into the port's vocabulary.
pub(crate) fn map_err(err: sqlx::Error) -> PortError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => PortError::AlreadyExists,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => PortError::NotFound,
        sqlx::Error::Database(db) if db.is_check_violation() => PortError::Conflict,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => PortError::Unavailable(err.to_string()),
        // The server cannot serve now: SQLSTATE class 08 (connection exception), 53100,
        // 53200, 53300 (disk full, out of memory, too many connections), class 57 (operator
        // intervention: a shutdown, a statement timeout), 58000 and 58030 (system and I/O
        // errors), 25006 (a read-only standby); or 40001 (a serialization failure, which a
        // retry may win). A deadlock (40P01) is a lock-ordering bug and stays one.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|code| {
                ["08", "57"].iter().any(|class| code.starts_with(class))
                    || [
                        "53100", "53200", "53300", "58000", "58030", "25006", "40001",
                    ]
                    .contains(&code.as_ref())
            }) =>
        {
            PortError::Unavailable(err.to_string())
        }
        _ => PortError::Unexpected(err.to_string()),
    }
}
