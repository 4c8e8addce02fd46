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

pub async fn emails_match_ignoring_case_oldest_first(repo: Arc<dyn UserRepository>) {
    let mut first = user(30, "tmi", "dana");
    first.email = "Dana@Example.com".into();
    let mut second = user(31, "github", "dana2");
    second.email = "dana@example.COM".into();
    second.created_at += chrono::Duration::minutes(1);
    repo.insert(&second).await.unwrap();
    repo.insert(&first).await.unwrap();
    let found = repo.find_by_email("DANA@example.com", 10).await.unwrap();
    assert_eq!(found, vec![first.clone(), second.clone()]);
    assert_eq!(
        repo.find_by_email("dana@example.com", 1).await.unwrap(),
        vec![first]
    );
    assert!(
        repo.find_by_email("nobody@example.com", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn linked_identities_find_their_user_and_stay_unique(repo: Arc<dyn UserRepository>) {
    let erin = user(40, "tmi", "erin");
    repo.insert(&erin).await.unwrap();
    repo.link_identity(erin.id, "google", "g-erin")
        .await
        .unwrap();
    assert_eq!(
        repo.find_by_identity("google", "g-erin").await.unwrap(),
        Some(erin.clone()),
        "a linked identity finds the account it joined"
    );
    assert!(matches!(
        repo.link_identity(erin.id, "google", "g-erin").await,
        Err(PortError::AlreadyExists)
    ));
    assert!(matches!(
        repo.link_identity(erin.id, "tmi", "erin").await,
        Err(PortError::AlreadyExists)
    ));
    let other = user(41, "google", "g-erin");
    assert!(
        matches!(repo.insert(&other).await, Err(PortError::AlreadyExists)),
        "a linked identity cannot become a new user"
    );
    assert_eq!(repo.find_by_id(other.id).await.unwrap(), None);
    let ghost = UserId::from_uuid(uuid::Uuid::from_u128(49));
    assert!(matches!(
        repo.link_identity(ghost, "google", "g-ghost").await,
        Err(PortError::NotFound)
    ));
    assert_eq!(
        repo.find_by_identity("google", "g-ghost").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn memory_user_repository_honours_the_contract() {
    emails_match_ignoring_case_oldest_first(Arc::new(MemoryUserRepository::new())).await;
    linked_identities_find_their_user_and_stay_unique(Arc::new(MemoryUserRepository::new())).await;
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
    update_profile_changes_only_profile_fields(repo.clone()).await;
    emails_match_ignoring_case_oldest_first(repo.clone()).await;
    linked_identities_find_their_user_and_stay_unique(repo).await;
    pg.cleanup().await;
}
