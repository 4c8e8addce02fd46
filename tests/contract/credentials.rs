//! `ClientCredentialRepository` contract.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryClientCredentialRepository;
use tmi_auth::adapters::postgres::PostgresClientCredentialRepository;
use tmi_auth::domain::credentials::{ClientCredential, ClientId};
use tmi_auth::domain::user::UserId;
use tmi_auth::ports::PortError;
use tmi_auth::ports::credentials::{ClientCredentialRepository, QuotaInsert};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn owner(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn credential(n: u128, owner: UserId, created: DateTime<Utc>) -> ClientCredential {
    ClientCredential {
        id: Uuid::from_u128(1000 + n),
        owner,
        client_id: ClientId::parse(&format!("tmi_cc_{:0>22}", n)).unwrap(),
        secret_digest: [n as u8; 32],
        pepper_id: "p-a".into(),
        name: format!("cred {n}"),
        description: None,
        created_at: created,
        modified_at: created,
        expires_at: None,
        last_used_at: None,
    }
}

pub async fn insert_find_and_uniqueness(repo: Arc<dyn ClientCredentialRepository>) {
    let c = credential(1, owner(1), t0());
    assert_eq!(
        repo.insert_within_quota(&c, 10, t0()).await.unwrap(),
        QuotaInsert::Inserted
    );
    assert_eq!(
        repo.find_by_client_id(c.client_id.as_str()).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        repo.find_by_client_id("tmi_cc_0000000000000000000099")
            .await
            .unwrap(),
        None
    );
    // By owner and id: someone else's is not found.
    assert_eq!(
        repo.find_owned(owner(1), c.id).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(repo.find_owned(owner(2), c.id).await.unwrap(), None);
    assert_eq!(
        repo.find_owned(owner(1), uuid::Uuid::from_u128(99))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        repo.insert_within_quota(&c, 10, t0()).await,
        Err(PortError::AlreadyExists)
    ));
    let mut same_client_id = credential(2, owner(1), t0());
    same_client_id.client_id = c.client_id.clone();
    assert!(matches!(
        repo.insert_within_quota(&same_client_id, 10, t0()).await,
        Err(PortError::AlreadyExists)
    ));
}

pub async fn the_quota_counts_only_active_credentials_of_the_owner(
    repo: Arc<dyn ClientCredentialRepository>,
) {
    let alice = owner(10);
    let mut expired = credential(10, alice, t0());
    expired.expires_at = Some(t0() + Duration::hours(1));
    repo.insert_within_quota(&expired, 2, t0()).await.unwrap();
    repo.insert_within_quota(&credential(11, alice, t0()), 2, t0())
        .await
        .unwrap();
    let later = t0() + Duration::hours(2);
    // The expired one no longer counts; someone else's never did.
    repo.insert_within_quota(&credential(12, owner(11), later), 2, later)
        .await
        .unwrap();
    assert_eq!(
        repo.insert_within_quota(&credential(13, alice, later), 2, later)
            .await
            .unwrap(),
        QuotaInsert::Inserted
    );
    assert_eq!(
        repo.insert_within_quota(&credential(14, alice, later), 2, later)
            .await
            .unwrap(),
        QuotaInsert::QuotaExceeded
    );
    assert_eq!(
        repo.find_by_client_id(credential(14, alice, later).client_id.as_str())
            .await
            .unwrap(),
        None
    );
}

pub async fn concurrent_inserts_respect_the_quota(repo: Arc<dyn ClientCredentialRepository>) {
    let bob = owner(20);
    let mut tasks = Vec::new();
    for n in 0..16u128 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            repo.insert_within_quota(&credential(200 + n, bob, t0()), 3, t0())
                .await
                .unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.unwrap() == QuotaInsert::Inserted);
    }
    assert_eq!(inserted, 3);
}

pub async fn listing_is_newest_first_with_totals(repo: Arc<dyn ClientCredentialRepository>) {
    let carol = owner(30);
    for n in 0..5u128 {
        let c = credential(300 + n, carol, t0() + Duration::minutes(n as i64));
        repo.insert_within_quota(&c, 10, t0()).await.unwrap();
    }
    let page = repo.list_by_owner(carol, 2, 1).await.unwrap();
    assert_eq!(page.total, 5);
    let names: Vec<&str> = page.items.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cred 303", "cred 302"]);
    assert!(
        repo.list_by_owner(carol, 10, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(repo.list_by_owner(owner(31), 10, 0).await.unwrap().total, 0);
}

pub async fn delete_is_owner_only_and_reports_not_found_alike(
    repo: Arc<dyn ClientCredentialRepository>,
) {
    let dave = owner(40);
    let c = credential(40, dave, t0());
    repo.insert_within_quota(&c, 10, t0()).await.unwrap();
    assert!(matches!(
        repo.delete(owner(41), c.id).await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        repo.delete(dave, Uuid::from_u128(4040)).await,
        Err(PortError::NotFound)
    ));
    assert_eq!(repo.delete(dave, c.id).await.unwrap(), c);
    assert_eq!(
        repo.find_by_client_id(c.client_id.as_str()).await.unwrap(),
        None
    );
    assert!(matches!(
        repo.delete(dave, c.id).await,
        Err(PortError::NotFound)
    ));
}

pub async fn last_used_only_moves_forward(repo: Arc<dyn ClientCredentialRepository>) {
    let erin = owner(50);
    let c = credential(50, erin, t0());
    repo.insert_within_quota(&c, 10, t0()).await.unwrap();
    let later = t0() + Duration::minutes(5);
    repo.record_last_used(&[(c.id, later), (Uuid::from_u128(5050), later)])
        .await
        .unwrap();
    repo.record_last_used(&[(c.id, t0() + Duration::minutes(1))])
        .await
        .unwrap();
    let stored = repo
        .find_by_client_id(c.client_id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_used_at, Some(later));
}

pub async fn rekeying_changes_only_digests_still_under_the_old_pepper(
    repo: Arc<dyn ClientCredentialRepository>,
) {
    let frank = owner(60);
    let c = credential(60, frank, t0());
    let other = credential(61, frank, t0());
    repo.insert_within_quota(&c, 10, t0()).await.unwrap();
    repo.insert_within_quota(&other, 10, t0()).await.unwrap();
    assert!(
        repo.rekey_secret(c.id, "p-a", &[0xB0; 32], "p-b")
            .await
            .unwrap()
    );
    // Already moved (another replica won): nothing changes.
    assert!(
        !repo
            .rekey_secret(c.id, "p-a", &[0xC0; 32], "p-c")
            .await
            .unwrap()
    );
    assert!(
        !repo
            .rekey_secret(Uuid::from_u128(6060), "p-a", &[0xC0; 32], "p-c")
            .await
            .unwrap()
    );
    let stored = repo
        .find_by_client_id(c.client_id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.secret_digest, stored.pepper_id.as_str()),
        ([0xB0; 32], "p-b")
    );
    let untouched = repo
        .find_by_client_id(other.client_id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched, other);
    let counts = repo.count_by_pepper().await.unwrap();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(counts[1], ("p-b".to_owned(), 1));
    assert_eq!(counts[0].0, "p-a");
    assert!(counts[0].1 >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_credential_repository_honours_the_contract() {
    let repo: Arc<dyn ClientCredentialRepository> =
        Arc::new(MemoryClientCredentialRepository::new());
    insert_find_and_uniqueness(repo.clone()).await;
    the_quota_counts_only_active_credentials_of_the_owner(repo.clone()).await;
    concurrent_inserts_respect_the_quota(repo.clone()).await;
    listing_is_newest_first_with_totals(repo.clone()).await;
    delete_is_owner_only_and_reports_not_found_alike(repo.clone()).await;
    last_used_only_moves_forward(repo.clone()).await;
    rekeying_changes_only_digests_still_under_the_old_pepper(repo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_credential_repository_honours_the_contract() {
    let Some(pg) = crate::live::postgres("client credentials").await else {
        return;
    };
    crate::live::seed_users(&pg.pool, [1, 10, 11, 20, 30, 40, 50, 60]).await;
    let repo: Arc<dyn ClientCredentialRepository> =
        Arc::new(PostgresClientCredentialRepository::new(pg.pool.clone()));
    insert_find_and_uniqueness(repo.clone()).await;
    the_quota_counts_only_active_credentials_of_the_owner(repo.clone()).await;
    concurrent_inserts_respect_the_quota(repo.clone()).await;
    listing_is_newest_first_with_totals(repo.clone()).await;
    delete_is_owner_only_and_reports_not_found_alike(repo.clone()).await;
    last_used_only_moves_forward(repo.clone()).await;
    rekeying_changes_only_digests_still_under_the_old_pepper(repo).await;
    pg.cleanup().await;
}

/// Migration 4 gives existing digests the pepper that made them (the oldest stored one, whose
/// kid predates the fixed `p-initial`), and the same as a default for older replicas' inserts.
#[tokio::test]
async fn the_pepper_migration_names_the_stored_pepper_for_existing_credentials() {
    let Some(pg) = crate::live::postgres_at("pepper migration", Some(20261128000003)).await else {
        return;
    };
    crate::live::seed_users(&pg.pool, [70]).await;
    let t = t0();
    for (kid, created) in [("p-olderKid", t), ("p-initial", t + Duration::hours(1))] {
        sqlx::query(
            "INSERT INTO signing_keys (kid, purpose, secret, created_at) \
             VALUES ($1, 'secret_pepper', $2, $3)",
        )
        .bind(kid)
        .bind([7u8; 32].as_slice())
        .bind(created)
        .execute(&pg.pool)
        .await
        .unwrap();
    }
    // What the previous version inserts: no pepper column.
    let insert_old = |n: u128| {
        let c = credential(700 + n, owner(70), t);
        let pool = pg.pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO client_credentials (id, owner_id, client_id, secret_digest, name, \
                 created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(c.id)
            .bind(c.owner.as_uuid())
            .bind(c.client_id.as_str())
            .bind(c.secret_digest.as_slice())
            .bind(&c.name)
            .bind(t)
            .execute(&pool)
            .await
            .unwrap();
            c
        }
    };
    let before = insert_old(1).await;
    tmi_auth::adapters::postgres::migrate(&pg.pool)
        .await
        .unwrap();
    let during = insert_old(2).await;
    let repo = PostgresClientCredentialRepository::new(pg.pool.clone());
    for c in [before, during] {
        let stored = repo
            .find_by_client_id(c.client_id.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.pepper_id, "p-olderKid");
    }
    pg.cleanup().await;
}
