//! `RevocationList` contract.

use std::sync::Arc;

use tmi_auth::adapters::memory::MemoryRevocationList;
use tmi_auth::adapters::redis::RedisRevocationList;
use tmi_auth::adapters::system::SystemClock;
use tmi_auth::ports::{Clock, RevocationEntry, RevocationList};

use crate::{Advance, manual_time};

pub async fn revoked_entries_are_reported_until_they_lapse(
    list: Arc<dyn RevocationList>,
    clock: Arc<dyn Clock>,
    advance: Advance,
) {
    let jti = RevocationEntry::TokenId("j1".into());
    let fam = RevocationEntry::Family("f1".into());
    let other = RevocationEntry::Credential("c1".into());
    assert!(!list.any_revoked(&[jti.clone(), fam.clone()]).await.unwrap());
    list.revoke(&jti, clock.now() + chrono::Duration::seconds(2))
        .await
        .unwrap();
    assert!(
        list.any_revoked(&[other.clone(), jti.clone()])
            .await
            .unwrap()
    );
    assert!(
        !list
            .any_revoked(std::slice::from_ref(&other))
            .await
            .unwrap()
    );
    assert!(!list.any_revoked(&[]).await.unwrap());
    // Entries of different kinds with the same value are distinct.
    assert!(
        !list
            .any_revoked(&[RevocationEntry::Family("j1".into())])
            .await
            .unwrap()
    );
    advance(chrono::Duration::milliseconds(2500));
    assert!(!list.any_revoked(std::slice::from_ref(&jti)).await.unwrap());
}

pub async fn revoking_again_extends_never_shortens(
    list: Arc<dyn RevocationList>,
    clock: Arc<dyn Clock>,
    advance: Advance,
) {
    let fam = RevocationEntry::Family("f2".into());
    list.revoke(&fam, clock.now() + chrono::Duration::seconds(4))
        .await
        .unwrap();
    list.revoke(&fam, clock.now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    advance(chrono::Duration::milliseconds(2000));
    assert!(
        list.any_revoked(std::slice::from_ref(&fam)).await.unwrap(),
        "not shortened"
    );
    list.revoke(&fam, clock.now() + chrono::Duration::seconds(4))
        .await
        .unwrap();
    advance(chrono::Duration::milliseconds(3000));
    assert!(
        list.any_revoked(std::slice::from_ref(&fam)).await.unwrap(),
        "extended"
    );
}

#[tokio::test]
async fn memory_revocation_list_honours_the_contract() {
    let (clock, advance) = manual_time();
    let list: Arc<dyn RevocationList> = Arc::new(MemoryRevocationList::new(clock.clone()));
    revoked_entries_are_reported_until_they_lapse(list.clone(), clock.clone(), advance.clone())
        .await;
    revoking_again_extends_never_shortens(list, clock, advance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_revocation_list_honours_the_contract() {
    let Some(redis) = crate::live::redis("revocation").await else {
        return;
    };
    let list: Arc<dyn RevocationList> = Arc::new(RedisRevocationList::new(redis.handle.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    revoked_entries_are_reported_until_they_lapse(
        list.clone(),
        clock.clone(),
        crate::live::real_time(),
    )
    .await;
    revoking_again_extends_never_shortens(list, clock, crate::live::real_time()).await;
    redis.cleanup().await;
}
