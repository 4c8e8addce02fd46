//! `RefreshFamilyStore` contract.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryRefreshFamilyStore;
use tmi_auth::adapters::postgres::PostgresRefreshFamilyStore;
use tmi_auth::domain::tokens::family::{FamilyId, RefreshFamily};
use tmi_auth::domain::user::UserId;
use tmi_auth::ports::{PortError, RefreshFamilyStore};

fn family(id: &str) -> RefreshFamily {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    RefreshFamily {
        id: FamilyId::parse(id).unwrap(),
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(7)),
        idp: "tmi".into(),
        scope: "openid".into(),
        groups: vec!["g1".into()],
        auth_time: t,
        current_seq: 0,
        created_at: t,
        expires_at: t + chrono::Duration::days(7),
        rotated_at: None,
        revoked: false,
    }
}

fn advanced(f: &RefreshFamily) -> RefreshFamily {
    let mut next = f.clone();
    next.current_seq += 1;
    next.rotated_at = Some(f.created_at + chrono::Duration::seconds(1));
    next
}

pub async fn insert_then_get_round_trips(store: Arc<dyn RefreshFamilyStore>) {
    let f = family("famA");
    store.insert(&f).await.unwrap();
    assert_eq!(store.get(&f.id).await.unwrap(), Some(f.clone()));
    assert!(matches!(
        store.insert(&f).await,
        Err(PortError::AlreadyExists)
    ));
    assert_eq!(
        store
            .get(&FamilyId::parse("missing").unwrap())
            .await
            .unwrap(),
        None
    );
}

pub async fn compare_and_set_advances_only_from_the_expected_sequence(
    store: Arc<dyn RefreshFamilyStore>,
) {
    let f = family("famB");
    store.insert(&f).await.unwrap();
    let next = advanced(&f);
    assert!(store.compare_and_set(0, &next).await.unwrap());
    assert_eq!(store.get(&f.id).await.unwrap(), Some(next.clone()));
    // A stale writer loses.
    assert!(!store.compare_and_set(0, &advanced(&f)).await.unwrap());
    assert_eq!(store.get(&f.id).await.unwrap().unwrap().current_seq, 1);
    let missing = family("famMissing");
    assert!(matches!(
        store.compare_and_set(0, &missing).await,
        Err(PortError::NotFound)
    ));
}

pub async fn revoked_families_refuse_compare_and_set(store: Arc<dyn RefreshFamilyStore>) {
    let f = family("famC");
    store.insert(&f).await.unwrap();
    store.revoke(&f.id).await.unwrap();
    store.revoke(&f.id).await.unwrap();
    assert!(store.get(&f.id).await.unwrap().unwrap().revoked);
    assert!(!store.compare_and_set(0, &advanced(&f)).await.unwrap());
    assert!(matches!(
        store.revoke(&FamilyId::parse("nope").unwrap()).await,
        Err(PortError::NotFound)
    ));
}

pub async fn racing_rotations_have_one_winner(store: Arc<dyn RefreshFamilyStore>) {
    let f = family("famD");
    store.insert(&f).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        let next = advanced(&f);
        tasks.push(tokio::spawn(async move {
            store.compare_and_set(0, &next).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn a_new_login_sets_the_groups_of_the_users_live_sessions_with_that_provider(
    store: Arc<dyn RefreshFamilyStore>,
) {
    let owner = UserId::from_uuid(uuid::Uuid::from_u128(7));
    let old = family("famG1");
    let mut other_idp = family("famG2");
    other_idp.idp = "google".into();
    let mut revoked = family("famG3");
    revoked.revoked = true;
    for f in [&old, &other_idp, &revoked] {
        store.insert(f).await.unwrap();
    }
    let now = vec!["g2".to_owned()];
    assert_eq!(store.set_groups_for(owner, "tmi", &now).await.unwrap(), 1);
    let groups = |id: &'static str| {
        let store = store.clone();
        async move {
            let id = FamilyId::parse(id).unwrap();
            store.get(&id).await.unwrap().unwrap().groups
        }
    };
    assert_eq!(groups("famG1").await, now);
    assert_eq!(groups("famG2").await, ["g1"], "another provider's session");
    assert_eq!(groups("famG3").await, ["g1"], "a revoked session");
    // Nothing to change the second time; an empty list is a list too.
    assert_eq!(store.set_groups_for(owner, "tmi", &now).await.unwrap(), 0);
    assert_eq!(store.set_groups_for(owner, "tmi", &[]).await.unwrap(), 1);
    assert!(groups("famG1").await.is_empty());
    // A rotation prepared from a read made before the groups changed does not write the old
    // groups back.
    let read = store.get(&old.id).await.unwrap().unwrap();
    assert_eq!(store.set_groups_for(owner, "tmi", &now).await.unwrap(), 1);
    assert!(
        store
            .compare_and_set(read.current_seq, &advanced(&read))
            .await
            .unwrap()
    );
    assert_eq!(
        groups("famG1").await,
        now,
        "the rotation keeps the newer groups"
    );
    // The live sessions of a user with a provider; revoked ones are not.
    let live = |idp: &'static str| {
        let store = store.clone();
        async move {
            let ids = store.live_for(owner, idp).await.unwrap();
            ids.iter()
                .map(|id| id.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(live("tmi").await, ["famG1"]);
    assert_eq!(live("google").await, ["famG2"]);
    assert!(live("saml").await.is_empty());
    // The providers of the live sessions, each once: a revoked session's does not count.
    let mut second = family("famG4");
    second.idp = "google".into();
    let mut gone = family("famG5");
    gone.idp = "saml".into();
    gone.revoked = true;
    for f in [&second, &gone] {
        store.insert(f).await.unwrap();
    }
    assert_eq!(store.live_idps_for(owner).await.unwrap(), ["google", "tmi"]);
    let stranger = UserId::from_uuid(uuid::Uuid::from_u128(8));
    assert!(store.live_idps_for(stranger).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_family_store_honours_the_contract() {
    let store: Arc<dyn RefreshFamilyStore> = Arc::new(MemoryRefreshFamilyStore::new());
    // First: it counts every session of the user.
    a_new_login_sets_the_groups_of_the_users_live_sessions_with_that_provider(store.clone()).await;
    insert_then_get_round_trips(store.clone()).await;
    compare_and_set_advances_only_from_the_expected_sequence(store.clone()).await;
    revoked_families_refuse_compare_and_set(store.clone()).await;
    racing_rotations_have_one_winner(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_family_store_honours_the_contract() {
    let Some(pg) = crate::live::postgres("refresh families").await else {
        return;
    };
    crate::live::seed_users(&pg.pool, [7]).await;
    let store: Arc<dyn RefreshFamilyStore> =
        Arc::new(PostgresRefreshFamilyStore::new(pg.pool.clone()));
    a_new_login_sets_the_groups_of_the_users_live_sessions_with_that_provider(store.clone()).await;
    insert_then_get_round_trips(store.clone()).await;
    compare_and_set_advances_only_from_the_expected_sequence(store.clone()).await;
    revoked_families_refuse_compare_and_set(store.clone()).await;
    racing_rotations_have_one_winner(store).await;
    pg.cleanup().await;
}
