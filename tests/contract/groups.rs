//! `GroupRepository` contract.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryGroupRepository;
use tmi_auth::adapters::postgres::PostgresGroupRepository;
use tmi_auth::domain::groups::{EVERYONE, Group, GroupId, Member, Membership};
use tmi_auth::domain::user::UserId;
use tmi_auth::ports::{GroupRepository, PortError};
use uuid::Uuid;

fn gid(n: u128) -> GroupId {
    GroupId(Uuid::from_u128(0x1000 + n))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x2000 + n))
}

fn group(n: u128, provider: &str, name: &str) -> Group {
    Group {
        id: gid(n),
        provider: provider.into(),
        name: name.into(),
        display_name: None,
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn membership(n: u128, group: GroupId, member: Member) -> Membership {
    Membership {
        id: Uuid::from_u128(0x3000 + n),
        group,
        member,
        added_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(n as i64),
        added_by: None,
        notes: None,
    }
}

async fn groups(repo: &dyn GroupRepository, n: std::ops::Range<u128>) {
    for i in n {
        repo.ensure_group(&group(i, "*", &format!("g{i}")))
            .await
            .unwrap();
    }
}

pub async fn ensure_group_is_idempotent_by_provider_and_name(repo: Arc<dyn GroupRepository>) {
    let stored = repo
        .ensure_group(&group(1, "github", "devs"))
        .await
        .unwrap();
    assert_eq!(stored.id, gid(1));
    // Same (provider, name), another id: the existing group wins.
    assert_eq!(
        repo.ensure_group(&group(2, "github", "devs"))
            .await
            .unwrap()
            .id,
        gid(1)
    );
    // Same name, other provider: a different group.
    assert_eq!(
        repo.ensure_group(&group(3, "gitlab", "devs"))
            .await
            .unwrap()
            .id,
        gid(3)
    );
    // An id already used by another (provider, name).
    assert!(matches!(
        repo.ensure_group(&group(1, "github", "other")).await,
        Err(PortError::AlreadyExists)
    ));
    assert_eq!(
        repo.find_by_name("github", "devs")
            .await
            .unwrap()
            .unwrap()
            .id,
        gid(1)
    );
    assert_eq!(repo.find_by_name("github", "DEVS").await.unwrap(), None);
    assert_eq!(repo.get(gid(3)).await.unwrap().unwrap().provider, "gitlab");
    repo.ensure_group(&group(4, "github", "admins"))
        .await
        .unwrap();
    let names: Vec<String> = repo
        .list_by_provider("github")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["admins", "devs"]);
}

pub async fn add_member_enforces_existence_uniqueness_and_acyclicity(
    repo: Arc<dyn GroupRepository>,
) {
    groups(repo.as_ref(), 10..13).await;
    repo.add_member(&membership(1, gid(10), Member::User(user(1))))
        .await
        .unwrap();
    assert!(matches!(
        repo.add_member(&membership(2, gid(10), Member::User(user(1))))
            .await,
        Err(PortError::AlreadyExists)
    ));
    assert!(matches!(
        repo.add_member(&membership(3, gid(99), Member::User(user(1))))
            .await,
        Err(PortError::NotFound)
    ));
    assert!(matches!(
        repo.add_member(&membership(4, gid(10), Member::Group(gid(98))))
            .await,
        Err(PortError::NotFound)
    ));
    repo.add_member(&membership(5, gid(11), Member::Group(gid(10))))
        .await
        .unwrap(); // g10 ⊂ g11
    repo.add_member(&membership(6, gid(12), Member::Group(gid(11))))
        .await
        .unwrap(); // g11 ⊂ g12
    assert!(matches!(
        repo.add_member(&membership(7, gid(10), Member::Group(gid(12))))
            .await,
        Err(PortError::Conflict)
    ));
    assert!(matches!(
        repo.add_member(&membership(8, gid(10), Member::Group(gid(10))))
            .await,
        Err(PortError::Conflict)
    ));
    let direct: Vec<GroupId> = repo
        .direct_groups_of(user(1))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(direct, [gid(10)]);
}

pub async fn effective_membership_is_transitive_through_a_depth_five_chain(
    repo: Arc<dyn GroupRepository>,
) {
    groups(repo.as_ref(), 20..26).await;
    for i in 20..25 {
        repo.add_member(&membership(i, gid(i + 1), Member::Group(gid(i))))
            .await
            .unwrap();
    }
    repo.add_member(&membership(30, gid(20), Member::User(user(2))))
        .await
        .unwrap();
    let effective = repo.effective_groups(user(2), &[]).await.unwrap();
    for i in 20..26 {
        assert!(effective.contains(&gid(i)), "g{i}");
    }
    assert!(effective.contains(&EVERYONE));
    // Removing a middle edge cuts everything above it.
    repo.remove_member(gid(23), Member::Group(gid(22)))
        .await
        .unwrap();
    let effective = repo.effective_groups(user(2), &[]).await.unwrap();
    assert!(effective.contains(&gid(22)));
    assert!(!effective.contains(&gid(23)) && !effective.contains(&gid(25)));
    assert!(matches!(
        repo.remove_member(gid(23), Member::Group(gid(22))).await,
        Err(PortError::NotFound)
    ));
}

pub async fn a_diamond_and_extra_groups_count(repo: Arc<dyn GroupRepository>) {
    groups(repo.as_ref(), 40..45).await;
    repo.add_member(&membership(40, gid(41), Member::Group(gid(40))))
        .await
        .unwrap();
    repo.add_member(&membership(41, gid(42), Member::Group(gid(40))))
        .await
        .unwrap();
    repo.add_member(&membership(42, gid(43), Member::Group(gid(41))))
        .await
        .unwrap();
    repo.add_member(&membership(43, gid(43), Member::Group(gid(42))))
        .await
        .unwrap();
    // No direct membership: reached only through an extra (identity-provider) group.
    let effective = repo.effective_groups(user(4), &[gid(40)]).await.unwrap();
    for i in 40..44 {
        assert!(effective.contains(&gid(i)));
    }
    assert!(!effective.contains(&gid(44)));
    assert_eq!(
        repo.effective_groups(user(4), &[])
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [EVERYONE]
    );
}

pub async fn add_if_empty_has_one_winner(repo: Arc<dyn GroupRepository>) {
    groups(repo.as_ref(), 50..51).await;
    let mut tasks = Vec::new();
    for n in 0..16u128 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            repo.add_member_if_empty(&membership(500 + n, gid(50), Member::User(user(100 + n))))
                .await
                .unwrap()
        }));
    }
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    assert_eq!(added, 1);
    let (members, total) = repo.members(gid(50), 10, 0).await.unwrap();
    assert_eq!((members.len(), total), (1, 1));
}

pub async fn members_are_newest_first_and_paged(repo: Arc<dyn GroupRepository>) {
    groups(repo.as_ref(), 60..61).await;
    for n in 0..5u128 {
        repo.add_member(&membership(600 + n, gid(60), Member::User(user(200 + n))))
            .await
            .unwrap();
    }
    let (page, total) = repo.members(gid(60), 2, 1).await.unwrap();
    assert_eq!(total, 5);
    let ids: Vec<Uuid> = page.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        [Uuid::from_u128(0x3000 + 603), Uuid::from_u128(0x3000 + 602)]
    );
    assert!(repo.members(gid(60), 10, 5).await.unwrap().0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_group_repository_honours_the_contract() {
    let fresh = || -> Arc<dyn GroupRepository> { Arc::new(MemoryGroupRepository::new()) };
    ensure_group_is_idempotent_by_provider_and_name(fresh()).await;
    add_member_enforces_existence_uniqueness_and_acyclicity(fresh()).await;
    effective_membership_is_transitive_through_a_depth_five_chain(fresh()).await;
    a_diamond_and_extra_groups_count(fresh()).await;
    add_if_empty_has_one_winner(fresh()).await;
    members_are_newest_first_and_paged(fresh()).await;
}

type Suite =
    fn(Arc<dyn GroupRepository>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_group_repository_honours_the_contract() {
    let users: Vec<u128> = [1u128, 2]
        .into_iter()
        .chain(100..116)
        .chain(200..205)
        .map(|n| 0x2000 + n)
        .collect();
    let suites: [Suite; 6] = [
        |r| Box::pin(ensure_group_is_idempotent_by_provider_and_name(r)),
        |r| Box::pin(add_member_enforces_existence_uniqueness_and_acyclicity(r)),
        |r| Box::pin(effective_membership_is_transitive_through_a_depth_five_chain(r)),
        |r| Box::pin(a_diamond_and_extra_groups_count(r)),
        |r| Box::pin(add_if_empty_has_one_winner(r)),
        |r| Box::pin(members_are_newest_first_and_paged(r)),
    ];
    for suite in suites {
        let Some(pg) = crate::live::postgres("groups").await else {
            return;
        };
        crate::live::seed_users(&pg.pool, users.clone()).await;
        suite(Arc::new(PostgresGroupRepository::new(pg.pool.clone()))).await;
        pg.cleanup().await;
    }
}
