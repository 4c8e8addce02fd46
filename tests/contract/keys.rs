//! `KeyStore` contract, and key-ring creation on top of it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryKeyStore;
use tmi_auth::adapters::postgres::PostgresKeyStore;
use tmi_auth::adapters::system::OsRandomIds;
use tmi_auth::domain::tokens::keys::{KeyPurpose, KeyRing, StoredKey};
use tmi_auth::ports::{KeyStore, PortError};

use crate::manual_time;

pub async fn keys_round_trip_and_kids_are_unique(store: Arc<dyn KeyStore>) {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let signing = StoredKey::signing([1u8; 32], t);
    let refresh = StoredKey::refresh([2u8; 32], t);
    store.insert(&signing).await.unwrap();
    store.insert(&refresh).await.unwrap();
    assert!(matches!(
        store.insert(&signing).await,
        Err(PortError::AlreadyExists)
    ));
    let listed = store.list().await.unwrap();
    assert_eq!(listed, vec![signing, refresh]);
}

pub async fn the_ring_creates_missing_keys_once(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let ids = OsRandomIds;
    let first = KeyRing::load_or_create(store.as_ref(), clock.as_ref(), &ids)
        .await
        .unwrap();
    let second = KeyRing::load_or_create(store.as_ref(), clock.as_ref(), &ids)
        .await
        .unwrap();
    assert_eq!(
        first.active_signing().kid,
        second.active_signing().kid,
        "a second start reuses the key"
    );
    let keys = store.list().await.unwrap();
    assert_eq!(
        keys.iter()
            .filter(|k| k.purpose == KeyPurpose::AccessTokenSigning)
            .count(),
        1
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.purpose == KeyPurpose::RefreshTokenEncryption)
            .count(),
        1
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.purpose == KeyPurpose::SecretPepper)
            .count(),
        1
    );
    assert_eq!(first.pepper(), second.pepper());
}

#[tokio::test]
async fn memory_key_store_honours_the_contract() {
    keys_round_trip_and_kids_are_unique(Arc::new(MemoryKeyStore::new())).await;
    the_ring_creates_missing_keys_once(Arc::new(MemoryKeyStore::new())).await;
}

#[tokio::test]
async fn postgres_key_store_honours_the_contract() {
    let Some(pg) = crate::live::postgres("keys").await else {
        return;
    };
    keys_round_trip_and_kids_are_unique(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
    let Some(pg) = crate::live::postgres("keys").await else {
        return;
    };
    the_ring_creates_missing_keys_once(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
}
