//! `FlowStore` contract.

use std::sync::Arc;
use std::time::Duration;

use tmi_auth::adapters::memory::MemoryFlowStore;
use tmi_auth::adapters::redis::RedisFlowStore;
use tmi_auth::ports::{FlowKind, FlowStore, PortError};

use crate::{Advance, manual_time};

pub async fn take_returns_the_value_exactly_once(store: Arc<dyn FlowStore>) {
    store
        .put(
            FlowKind::Code,
            "k1",
            b"v1".to_vec(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get(FlowKind::Code, "k1").await.unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(
        store.take(FlowKind::Code, "k1").await.unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(store.take(FlowKind::Code, "k1").await.unwrap(), None);
    assert_eq!(store.get(FlowKind::Code, "k1").await.unwrap(), None);
    assert_eq!(
        store.take(FlowKind::Code, "never-stored").await.unwrap(),
        None
    );
}

pub async fn put_refuses_a_live_duplicate_and_kinds_are_separate(store: Arc<dyn FlowStore>) {
    store
        .put(
            FlowKind::Authorization,
            "k2",
            b"a".to_vec(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let dup = store
        .put(
            FlowKind::Authorization,
            "k2",
            b"b".to_vec(),
            Duration::from_secs(60),
        )
        .await;
    assert!(matches!(dup, Err(PortError::AlreadyExists)), "{dup:?}");
    assert_eq!(
        store.get(FlowKind::Authorization, "k2").await.unwrap(),
        Some(b"a".to_vec())
    );
    store
        .put(FlowKind::Code, "k2", b"c".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take(FlowKind::Code, "k2").await.unwrap(),
        Some(b"c".to_vec())
    );
    assert_eq!(
        store.take(FlowKind::Authorization, "k2").await.unwrap(),
        Some(b"a".to_vec())
    );
}

pub async fn entries_expire_after_their_ttl(store: Arc<dyn FlowStore>, advance: Advance) {
    store
        .put(FlowKind::Code, "k3", b"v".to_vec(), Duration::from_secs(2))
        .await
        .unwrap();
    advance(chrono::Duration::milliseconds(1000));
    assert!(store.get(FlowKind::Code, "k3").await.unwrap().is_some());
    advance(chrono::Duration::milliseconds(1500));
    assert_eq!(store.get(FlowKind::Code, "k3").await.unwrap(), None);
    assert_eq!(store.take(FlowKind::Code, "k3").await.unwrap(), None);
    // An expired key can be reused.
    store
        .put(FlowKind::Code, "k3", b"w".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take(FlowKind::Code, "k3").await.unwrap(),
        Some(b"w".to_vec())
    );
}

pub async fn concurrent_takes_have_exactly_one_winner(store: Arc<dyn FlowStore>) {
    store
        .put(
            FlowKind::Code,
            "race",
            b"v".to_vec(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.take(FlowKind::Code, "race").await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn recent_lists_keep_newest_first_without_duplicates(store: Arc<dyn FlowStore>) {
    let ttl = Duration::from_secs(60);
    assert!(
        store
            .recent(FlowKind::SamlNameId, "l1")
            .await
            .unwrap()
            .is_empty()
    );
    for member in ["a", "b", "c", "a"] {
        store
            .push_recent(FlowKind::SamlNameId, "l1", member, 3, ttl)
            .await
            .unwrap();
    }
    assert_eq!(
        store.recent(FlowKind::SamlNameId, "l1").await.unwrap(),
        ["a", "c", "b"]
    );
    // Past `max`, the oldest member leaves.
    store
        .push_recent(FlowKind::SamlNameId, "l1", "d", 3, ttl)
        .await
        .unwrap();
    assert_eq!(
        store.recent(FlowKind::SamlNameId, "l1").await.unwrap(),
        ["d", "a", "c"]
    );
    // Lists are per key, and reading does not consume.
    assert!(
        store
            .recent(FlowKind::SamlNameId, "l2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.recent(FlowKind::SamlNameId, "l1").await.unwrap(),
        ["d", "a", "c"]
    );
}

pub async fn recent_lists_expire_and_each_push_extends_them(
    store: Arc<dyn FlowStore>,
    advance: Advance,
) {
    let ttl = Duration::from_secs(2);
    store
        .push_recent(FlowKind::SamlNameId, "l3", "a", 4, ttl)
        .await
        .unwrap();
    advance(chrono::Duration::milliseconds(1200));
    store
        .push_recent(FlowKind::SamlNameId, "l3", "b", 4, ttl)
        .await
        .unwrap();
    // 2.4 s after the first push, 1.2 s after the second: the list lives on, whole.
    advance(chrono::Duration::milliseconds(1200));
    assert_eq!(
        store.recent(FlowKind::SamlNameId, "l3").await.unwrap(),
        ["b", "a"]
    );
    advance(chrono::Duration::milliseconds(1200));
    assert!(
        store
            .recent(FlowKind::SamlNameId, "l3")
            .await
            .unwrap()
            .is_empty()
    );
    // An expired list starts over.
    store
        .push_recent(FlowKind::SamlNameId, "l3", "c", 4, ttl)
        .await
        .unwrap();
    assert_eq!(
        store.recent(FlowKind::SamlNameId, "l3").await.unwrap(),
        ["c"]
    );
}

pub async fn concurrent_pushes_lose_no_member(store: Arc<dyn FlowStore>) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .push_recent(
                    FlowKind::SamlNameId,
                    "l4",
                    &format!("m{i}"),
                    16,
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut members = store.recent(FlowKind::SamlNameId, "l4").await.unwrap();
    members.sort();
    let mut expected: Vec<String> = (0..16).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(members, expected);
}

async fn run_all(store: Arc<dyn FlowStore>, advance: Advance) {
    take_returns_the_value_exactly_once(store.clone()).await;
    put_refuses_a_live_duplicate_and_kinds_are_separate(store.clone()).await;
    entries_expire_after_their_ttl(store.clone(), advance.clone()).await;
    concurrent_takes_have_exactly_one_winner(store.clone()).await;
    recent_lists_keep_newest_first_without_duplicates(store.clone()).await;
    recent_lists_expire_and_each_push_extends_them(store.clone(), advance).await;
    concurrent_pushes_lose_no_member(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_flow_store_honours_the_contract() {
    let (clock, advance) = manual_time();
    run_all(Arc::new(MemoryFlowStore::new(clock)), advance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flow_store_honours_the_contract() {
    let Some(redis) = crate::live::redis("flows").await else {
        return;
    };
    run_all(
        Arc::new(RedisFlowStore::new(redis.handle.clone())),
        crate::live::real_time(),
    )
    .await;
    redis.cleanup().await;
}
