//! `KeyStore` contract, and key-ring creation on top of it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tmi_auth::adapters::memory::MemoryKeyStore;
use tmi_auth::adapters::postgres::PostgresKeyStore;
use tmi_auth::adapters::system::RandomIds;
use tmi_auth::domain::tokens::keys::{
    Installed, KeyPurpose, KeyRing, Retention, SharedSecret, SigningAlg, StoredKey, install_key,
    rotate_refresh_key, rotate_signing_key,
};

/// Retired signing keys are kept 15 minutes, retired refresh-token keys a day.
const RETENTION: Retention = Retention {
    signing: chrono::Duration::minutes(15),
    refresh: chrono::Duration::days(1),
};
use tmi_auth::ports::{Clock, KeyStore, PortError};

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

/// The ring as a start with the default algorithm loads it.
async fn load_eddsa(store: &Arc<dyn KeyStore>, clock: &dyn tmi_auth::ports::Clock) -> KeyRing {
    KeyRing::load_or_create(
        store.as_ref(),
        clock,
        &RandomIds,
        RETENTION,
        SigningAlg::EdDSA,
        None,
    )
    .await
    .unwrap()
}

pub async fn the_ring_creates_missing_keys_once(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let first = load_eddsa(&store, clock.as_ref()).await;
    let second = load_eddsa(&store, clock.as_ref()).await;
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
    assert_eq!(first.pepper().key(), second.pepper().key());
}

/// Starting with another `tokens.signing_algorithm` makes a key for it; the old key is retired
/// but keeps verifying, and keys of every algorithm survive the store (P-256 and RSA keys are
/// PKCS#8 documents, longer than the 32-byte seeds).
pub async fn a_changed_algorithm_gets_a_new_key(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let ids = RandomIds;
    let retention = RETENTION;
    let mut kids = Vec::new();
    for alg in [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256] {
        clock.advance(chrono::Duration::seconds(1));
        let ring =
            KeyRing::load_or_create(store.as_ref(), clock.as_ref(), &ids, retention, alg, None)
                .await
                .unwrap();
        assert_eq!(ring.active_signing().alg(), alg);
        assert_eq!(
            ring.algorithms()[0],
            alg,
            "the active key's algorithm first"
        );
        kids.push(ring.active_signing().kid.clone());
        // Every earlier key still verifies.
        for kid in &kids {
            assert!(ring.signing_key(kid).is_some(), "{kid} verifies");
        }
        // A second start with the same algorithm reuses the key.
        let again =
            KeyRing::load_or_create(store.as_ref(), clock.as_ref(), &ids, retention, alg, None)
                .await
                .unwrap();
        assert_eq!(again.active_signing().kid, ring.active_signing().kid);
    }
    let keys = store.list().await.unwrap();
    let signing: Vec<&StoredKey> = keys
        .iter()
        .filter(|k| k.purpose == KeyPurpose::AccessTokenSigning)
        .collect();
    assert_eq!(signing.len(), 3);
    assert_eq!(
        signing.iter().filter(|k| k.retired_at.is_none()).count(),
        1,
        "one active signing key"
    );
    for key in &signing {
        let expected = match key.kid.as_str() {
            kid if kid == kids[0] => SigningAlg::EdDSA,
            kid if kid == kids[1] => SigningAlg::ES256,
            _ => SigningAlg::RS256,
        };
        assert_eq!(key.signing_alg(), Some(expected), "{}", key.kid);
    }
    // Rotation keeps the configured algorithm.
    let rotated = rotate_signing_key(store.as_ref(), clock.as_ref(), &ids, SigningAlg::ES256)
        .await
        .unwrap();
    assert_eq!(rotated.signing_alg(), Some(SigningAlg::ES256));

    // Switching to HS256: the shared secret signs, every stored signing key is retired and
    // verifies only until its retention has passed.
    let secret = SharedSecret::new(b"a shared secret of at least thirty-two bytes").unwrap();
    clock.advance(chrono::Duration::seconds(1));
    let ring = KeyRing::load_or_create(
        store.as_ref(),
        clock.as_ref(),
        &ids,
        retention,
        SigningAlg::HS256,
        Some(&secret),
    )
    .await
    .unwrap();
    assert_eq!(ring.active_signing().alg(), SigningAlg::HS256);
    assert_eq!(ring.active_signing().kid, secret.kid());
    assert!(ring.signing_key(&rotated.kid).is_some(), "verifies for now");
    assert!(
        ring.public_keys()
            .iter()
            .all(|k| k.alg != SigningAlg::HS256),
        "the secret is never published"
    );
    let keys = store.list().await.unwrap();
    assert!(
        keys.iter()
            .filter(|k| k.purpose == KeyPurpose::AccessTokenSigning)
            .all(|k| k.retired_at.is_some()),
        "no stored signing key stays active: {keys:?}"
    );
    let later = clock.now() + retention.signing + chrono::Duration::seconds(1);
    let ring = KeyRing::from_keys_at_with(&keys, later, retention, Some(&secret)).unwrap();
    assert!(
        ring.signing_key(&rotated.kid).is_none(),
        "dropped after retention"
    );
    assert!(ring.public_keys().is_empty());
    // HS256 without the secret cannot start.
    assert!(
        KeyRing::load_or_create(
            store.as_ref(),
            clock.as_ref(),
            &ids,
            retention,
            SigningAlg::HS256,
            None
        )
        .await
        .is_err()
    );
}

/// A key configured as a file replaces the generated one once: it becomes active, the old key
/// is retired (and still verifies for now); installing it again on the next start changes
/// nothing.
pub async fn a_configured_key_takes_over_once(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let generated = load_eddsa(&store, clock.as_ref()).await;
    clock.advance(chrono::Duration::seconds(1));
    let file_key = StoredKey::signing([42u8; 32], clock.now());
    assert_eq!(
        install_key(store.as_ref(), &file_key).await.unwrap(),
        Installed::New
    );
    let ring = load_eddsa(&store, clock.as_ref()).await;
    assert_eq!(ring.active_signing().kid, file_key.kid);
    assert!(ring.signing_key(&generated.active_signing().kid).is_some());
    let keys = store.list().await.unwrap();
    let old = keys
        .iter()
        .find(|k| k.kid == generated.active_signing().kid)
        .unwrap();
    assert!(old.retired_at.is_some(), "the generated key is retired");
    // The next start installs the same file: nothing changes.
    clock.advance(chrono::Duration::seconds(1));
    let again = StoredKey::signing([42u8; 32], clock.now());
    assert_eq!(
        install_key(store.as_ref(), &again).await.unwrap(),
        Installed::Active
    );
    assert_eq!(store.list().await.unwrap(), keys);
    // The same for the refresh-token key.
    let refresh = StoredKey::refresh([43u8; 32], clock.now());
    assert_eq!(
        install_key(store.as_ref(), &refresh).await.unwrap(),
        Installed::New
    );
    let ring = load_eddsa(&store, clock.as_ref()).await;
    assert_eq!(ring.active_refresh().0, refresh.kid);
    assert!(
        ring.refresh_key(generated.active_refresh().0).is_some(),
        "the old refresh key still opens"
    );
    let old_refresh = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == generated.active_refresh().0)
        .unwrap();
    assert!(
        old_refresh.retired_at.is_some(),
        "the old refresh key is retired"
    );

    // A rotation supersedes the configured key: the next start keeps the rotated one.
    clock.advance(chrono::Duration::seconds(1));
    let rotated = rotate_signing_key(
        store.as_ref(),
        clock.as_ref(),
        &RandomIds,
        SigningAlg::EdDSA,
    )
    .await
    .unwrap();
    assert_eq!(
        install_key(store.as_ref(), &again).await.unwrap(),
        Installed::Superseded
    );
    assert_eq!(
        load_eddsa(&store, clock.as_ref())
            .await
            .active_signing()
            .kid,
        rotated.kid
    );

    // With no active signing key at all (the store was left by HS256), the configured key
    // becomes the active one again instead of a new random key.
    store
        .retire_all(KeyPurpose::AccessTokenSigning, clock.now())
        .await
        .unwrap();
    assert_eq!(
        install_key(store.as_ref(), &again).await.unwrap(),
        Installed::Reactivated
    );
    assert_eq!(
        load_eddsa(&store, clock.as_ref())
            .await
            .active_signing()
            .kid,
        file_key.kid
    );
    // Reactivating never makes a second active key.
    assert!(!store.reactivate_if_none_active(&rotated.kid).await.unwrap());
}

#[tokio::test]
async fn memory_key_store_honours_the_contract() {
    a_configured_key_takes_over_once(Arc::new(MemoryKeyStore::new())).await;
    keys_round_trip_and_kids_are_unique(Arc::new(MemoryKeyStore::new())).await;
    the_ring_creates_missing_keys_once(Arc::new(MemoryKeyStore::new())).await;
    a_changed_algorithm_gets_a_new_key(Arc::new(MemoryKeyStore::new())).await;
}

#[tokio::test]
async fn postgres_key_store_honours_the_contract() {
    let Some(pg) = crate::live::postgres("keys").await else {
        return;
    };
    keys_round_trip_and_kids_are_unique(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
    let Some(pg) = crate::live::postgres("configured keys").await else {
        return;
    };
    a_configured_key_takes_over_once(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
    let Some(pg) = crate::live::postgres("keys by algorithm").await else {
        return;
    };
    a_changed_algorithm_gets_a_new_key(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
    let Some(pg) = crate::live::postgres("keys").await else {
        return;
    };
    the_ring_creates_missing_keys_once(Arc::new(PostgresKeyStore::new(pg.pool.clone()))).await;
    pg.cleanup().await;
}

pub async fn rotation_retires_older_keys_and_keeps_the_newest(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let ids = RandomIds;
    let first = rotate_signing_key(store.as_ref(), clock.as_ref(), &ids, SigningAlg::EdDSA)
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(1));
    // Two replicas rotate at the same moment.
    let (a, b) = tokio::join!(
        rotate_signing_key(store.as_ref(), clock.as_ref(), &ids, SigningAlg::EdDSA),
        rotate_signing_key(store.as_ref(), clock.as_ref(), &ids, SigningAlg::EdDSA)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let keys = store.list().await.unwrap();
    let active: Vec<&StoredKey> = keys
        .iter()
        .filter(|k| k.purpose == KeyPurpose::AccessTokenSigning && k.retired_at.is_none())
        .collect();
    assert_eq!(
        active.len(),
        1,
        "exactly one active signing key: {active:?}"
    );
    let newest = if (a.created_at, &a.kid) > (b.created_at, &b.kid) {
        &a
    } else {
        &b
    };
    assert_eq!(active[0].kid, newest.kid);
    let retired_first = keys.iter().find(|k| k.kid == first.kid).unwrap();
    assert!(retired_first.retired_at.is_some());
    // The ring verifies with every key still within retention, and drops the rest.
    let ring = KeyRing::from_keys_at(&keys_with_refresh(&keys), clock.now(), RETENTION).unwrap();
    assert_eq!(ring.active_signing().kid, newest.kid);
    assert!(ring.signing_key(&first.kid).is_some());
    let later = clock.now() + chrono::Duration::minutes(16);
    let ring = KeyRing::from_keys_at(&keys_with_refresh(&keys), later, RETENTION).unwrap();
    assert!(
        ring.signing_key(&first.kid).is_none(),
        "expired retired keys are dropped"
    );
}

fn keys_with_refresh(keys: &[StoredKey]) -> Vec<StoredKey> {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut all = keys.to_vec();
    all.push(StoredKey::refresh([3u8; 32], t));
    all.push(StoredKey::pepper([4u8; 32], t));
    all
}

/// Rotating the refresh-token key: one active key even when replicas rotate together, the
/// old key opens its tokens until the refresh retention has passed, the pepper never changes.
pub async fn refresh_key_rotation_keeps_old_tokens_opening(store: Arc<dyn KeyStore>) {
    let (clock, _) = manual_time();
    let ids = RandomIds;
    let first = load_eddsa(&store, clock.as_ref()).await;
    let old_kid = first.active_refresh().0.to_owned();
    clock.advance(chrono::Duration::seconds(1));
    let (a, b) = tokio::join!(
        rotate_refresh_key(store.as_ref(), clock.as_ref(), &ids),
        rotate_refresh_key(store.as_ref(), clock.as_ref(), &ids)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let newest = if (a.created_at, &a.kid) > (b.created_at, &b.kid) {
        &a
    } else {
        &b
    };
    let keys = store.list().await.unwrap();
    let active: Vec<&StoredKey> = keys
        .iter()
        .filter(|k| k.purpose == KeyPurpose::RefreshTokenEncryption && k.retired_at.is_none())
        .collect();
    assert_eq!(active.len(), 1, "one active refresh-token key: {active:?}");
    assert_eq!(active[0].kid, newest.kid);

    let ring = KeyRing::from_keys_at(&keys, clock.now(), RETENTION).unwrap();
    assert_eq!(ring.active_refresh().0, newest.kid);
    assert!(
        ring.refresh_key(&old_kid).is_some(),
        "the old key still opens"
    );
    assert_eq!(ring.pepper().key(), first.pepper().key());
    assert_eq!(
        ring.active_signing().kid,
        first.active_signing().kid,
        "the signing key is untouched"
    );
    let later = clock.now() + RETENTION.refresh + chrono::Duration::seconds(1);
    let ring = KeyRing::from_keys_at(&keys, later, RETENTION).unwrap();
    assert!(
        ring.refresh_key(&old_kid).is_none(),
        "dropped after retention"
    );
    assert_eq!(ring.active_refresh().0, newest.kid);
    assert_eq!(ring.pepper().key(), first.pepper().key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_honours_the_contract() {
    rotation_retires_older_keys_and_keeps_the_newest(Arc::new(MemoryKeyStore::new())).await;
    refresh_key_rotation_keeps_old_tokens_opening(Arc::new(MemoryKeyStore::new())).await;
    let Some(pg) = crate::live::postgres("key rotation").await else {
        return;
    };
    rotation_retires_older_keys_and_keeps_the_newest(Arc::new(PostgresKeyStore::new(
        pg.pool.clone(),
    )))
    .await;
    pg.cleanup().await;
    let Some(pg) = crate::live::postgres("refresh key rotation").await else {
        return;
    };
    refresh_key_rotation_keeps_old_tokens_opening(Arc::new(PostgresKeyStore::new(pg.pool.clone())))
        .await;
    pg.cleanup().await;
}
