//! Live backends for the contract suites: PostgreSQL from `TMI_AUTH_TEST_DATABASE_URL` (a fresh
//! schema per test, dropped afterwards) and Redis from `TMI_AUTH_TEST_REDIS_URL` (a fresh key
//! prefix per test, deleted afterwards). Without the variable a suite prints a loud skip line;
//! under `CI` it fails instead.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sqlx::PgPool;
use tmi_auth::adapters::postgres::{self, PostgresSettings};
use tmi_auth::adapters::redis::{RedisHandle, RedisSettings};

use crate::Advance;

fn missing(var: &str, suite: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{var} is not set but CI is: the {suite} suite must run against the live service"
    );
    eprintln!("!!! SKIPPING live {suite} suite: {var} is not set !!!");
}

fn suffix() -> String {
    let n: u64 = rand::thread_rng().r#gen();
    format!("{n:016x}")
}

/// Real time passes (for backends whose TTLs follow the wall clock).
pub fn real_time() -> Advance {
    Arc::new(|d: chrono::Duration| std::thread::sleep(d.to_std().unwrap_or_default()))
}

/// A migrated, private schema.
pub struct LivePostgres {
    pub pool: PgPool,
    admin: PgPool,
    schema: String,
}

impl LivePostgres {
    /// Drops the schema.
    pub async fn cleanup(self) {
        self.pool.close().await;
        let drop = format!("DROP SCHEMA \"{}\" CASCADE", self.schema);
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

pub async fn postgres(suite: &str) -> Option<LivePostgres> {
    postgres_at(suite, None).await
}

/// A private schema migrated up to and including `target` (all migrations without one).
pub async fn postgres_at(suite: &str, target: Option<i64>) -> Option<LivePostgres> {
    let Ok(url) = std::env::var("TMI_AUTH_TEST_DATABASE_URL") else {
        missing("TMI_AUTH_TEST_DATABASE_URL", suite);
        return None;
    };
    let schema = format!("t_{}", suffix());
    let mut settings = PostgresSettings {
        url,
        max_connections: 8,
        acquire_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(30),
        schema: None,
    };
    let admin = postgres::connect(&settings)
        .await
        .expect("connect to the test database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    settings.schema = Some(schema.clone());
    let pool = postgres::connect(&settings).await.unwrap();
    match target {
        Some(version) => postgres::MIGRATOR.run_to(version, &pool).await.unwrap(),
        None => postgres::migrate(&pool).await.unwrap(),
    }
    Some(LivePostgres {
        pool,
        admin,
        schema,
    })
}

/// A private key prefix.
pub struct LiveRedis {
    pub handle: RedisHandle,
}

impl LiveRedis {
    /// Deletes every key under the prefix.
    pub async fn cleanup(self) {
        self.handle.delete_all().await.unwrap();
    }
}

pub async fn redis(suite: &str) -> Option<LiveRedis> {
    let Ok(url) = std::env::var("TMI_AUTH_TEST_REDIS_URL") else {
        missing("TMI_AUTH_TEST_REDIS_URL", suite);
        return None;
    };
    let settings = RedisSettings {
        url,
        key_prefix: format!("tmi-auth-test:{}:", suffix()),
        response_timeout: Duration::from_secs(5),
        connection_timeout: Duration::from_secs(5),
    };
    Some(LiveRedis {
        handle: RedisHandle::connect(&settings)
            .await
            .expect("connect to the test Redis"),
    })
}

/// Inserts placeholder users with these ids (suites that reference users need them to exist
/// where foreign keys are enforced).
pub async fn seed_users(pool: &PgPool, ids: impl IntoIterator<Item = u128>) {
    use tmi_auth::domain::user::{User, UserId};
    use tmi_auth::ports::UserRepository;
    let repo = postgres::PostgresUserRepository::new(pool.clone());
    let at = chrono::Utc::now();
    for n in ids {
        let user = User {
            id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
            provider: "tmi".into(),
            provider_user_id: format!("u{n:x}"),
            email: format!("u{n:x}@tmi.local"),
            email_verified: false,
            name: format!("User {n:x}"),
            created_at: at,
            last_login_at: at,
        };
        repo.insert(&user).await.unwrap();
    }
}
