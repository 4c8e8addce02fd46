//! `UserRepository` contract.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryUserRepository;
use tmi_auth::adapters::postgres::PostgresUserRepository;
use tmi_auth::domain::user::{User, UserId};
use tmi_auth::ports::{PortError, UserRepository};

fn user(n: u128, provider: &str, subject: &str) -> User {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    User {
        id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
        provider: provider.into(),
        provider_user_id: subject.into(),
        email: format!("{subject}@example.com"),
        email_verified: false,
        name: subject.into(),
        created_at: t,
        last_login_at: t,
    }
}

pub async fn users_are_found_by_id_and_identity(repo: Arc<dyn UserRepository>) {
    let alice = user(1, "tmi", "alice");
    repo.insert(&alice).await.unwrap();
    assert_eq!(
        repo.find_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        repo.find_by_identity("tmi", "alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        repo.find_by_identity("github", "alice").await.unwrap(),
        None
    );
    assert_eq!(
        repo.find_by_identity("tmi", "ALICE").await.unwrap(),
        None,
        "matching is exact"
    );
}

pub async fn identities_and_ids_are_unique(repo: Arc<dyn UserRepository>) {
    repo.insert(&user(10, "tmi", "bob")).await.unwrap();
    let same_identity = user(11, "tmi", "bob");
    assert!(matches!(
        repo.insert(&same_identity).await,
        Err(PortError::AlreadyExists)
    ));
    assert_eq!(
        repo.find_by_id(same_identity.id).await.unwrap(),
        None,
        "nothing stored"
    );
    let same_id = user(10, "github", "bob");
    assert!(matches!(
        repo.insert(&same_id).await,
        Err(PortError::AlreadyExists)
    ));
    repo.insert(&user(12, "github", "bob")).await.unwrap();
}

pub async fn update_profile_changes_only_profile_fields(repo: Arc<dyn UserRepository>) {
    let mut carol = user(20, "tmi", "carol");
    repo.insert(&carol).await.unwrap();
    carol.email = "new@example.com".into();
    carol.name = "Carol".into();
    carol.email_verified = true;
    carol.last_login_at += chrono::Duration::hours(1);
    repo.update_profile(&carol).await.unwrap();
    assert_eq!(
        repo.find_by_id(carol.id).await.unwrap(),
        Some(carol.clone())
    );
    let ghost = user(21, "tmi", "ghost");
    assert!(matches!(
        repo.update_profile(&ghost).await,
        Err(PortError::NotFound)
    ));
}

#[tokio::test]
async fn memory_user_repository_honours_the_contract() {
    users_are_found_by_id_and_identity(Arc::new(MemoryUserRepository::new())).await;
    identities_and_ids_are_unique(Arc::new(MemoryUserRepository::new())).await;
    update_profile_changes_only_profile_fields(Arc::new(MemoryUserRepository::new())).await;
}

#[tokio::test]
async fn postgres_user_repository_honours_the_contract() {
    let Some(pg) = crate::live::postgres("users").await else {
        return;
    };
    let repo: Arc<dyn UserRepository> = Arc::new(PostgresUserRepository::new(pg.pool.clone()));
    users_are_found_by_id_and_identity(repo.clone()).await;
    identities_and_ids_are_unique(repo.clone()).await;
    update_profile_changes_only_profile_fields(repo).await;
    pg.cleanup().await;
}
