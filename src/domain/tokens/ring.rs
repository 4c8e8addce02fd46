//! The key ring: every key in use, parsed once. The token service signs, verifies, seals and
//! opens with it; it is rebuilt from the key store when keys rotate.
//!
//! Invariant: the ring always has exactly one active signing key and one active refresh-token
//! key; every stored signing key in the ring is published in the JWKS.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pasetors::keys::SymmetricKey;
use pasetors::version4::V4;

use super::error::KeyError;
use super::keys::{INITIAL_PEPPER_KID, KeyPurpose, SigningEntry, StoredKey, stored_peppers};
use super::signer::{PublicKey, SharedSecret, SigningAlg};
use crate::domain::credentials::Pepper;
use crate::ports::{Clock, IdGenerator, KeyStore, PortError};

/// A public key as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    /// The key.
    pub key: PublicKey,
}

/// How long retired keys stay in the ring: until every token they signed or sealed has
/// expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// After a signing key is retired (the access-token lifetime plus leeway).
    pub signing: Duration,
    /// After a refresh-token key is retired (a refresh family's lifetime plus grace and
    /// leeway: tokens sealed under it open until then).
    pub refresh: Duration,
}

/// The keys in use, parsed once.
pub struct KeyRing {
    active: Arc<SigningEntry>,
    signing: HashMap<String, Arc<SigningEntry>>,
    refresh_active: (String, SymmetricKey<V4>),
    refresh: HashMap<String, SymmetricKey<V4>>,
    /// Stored peppers, oldest first (normally just one).
    peppers: Vec<Pepper>,
}

impl KeyRing {
    /// Loads every key from the store, creating an active key of each purpose when the store
    /// has none, and a new signing key for `alg` when the active one uses another algorithm
    /// (the older keys are retired: they verify until their tokens expire). Safe when several
    /// replicas start at once: a lost insert race re-reads.
    ///
    /// With HS256 the `shared` secret signs: no signing key is created, and stored ones are
    /// retired (they verify only until their tokens expire).
    pub async fn load_or_create(
        store: &dyn KeyStore,
        clock: &dyn Clock,
        ids: &dyn IdGenerator,
        retention: Retention,
        alg: SigningAlg,
        shared: Option<&SharedSecret>,
    ) -> Result<Self, KeyError> {
        let shared = match (alg, shared) {
            (SigningAlg::HS256, None) => return Err(KeyError::NoActiveKey),
            (SigningAlg::HS256, Some(secret)) => Some(secret),
            _ => None,
        };
        let keys = store.list().await?;
        let active_signing = keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::AccessTokenSigning && k.retired_at.is_none())
            .max_by_key(|k| k.created_at);
        if active_signing.is_some() && !alg.is_stored() {
            store
                .retire_all(KeyPurpose::AccessTokenSigning, clock.now())
                .await?;
            tracing::info!(%alg, "signing algorithm changed: stored signing keys retired");
        } else if let Some(active) = active_signing
            && active.signing_alg() != Some(alg)
        {
            let key = StoredKey::generate_signing(alg, ids, clock.now())?;
            store.insert(&key).await?;
            store
                .retire_all_but_newest(KeyPurpose::AccessTokenSigning, clock.now())
                .await?;
            tracing::info!(kid = %key.kid, %alg, "signing algorithm changed: new signing key");
        }
        for purpose in [
            KeyPurpose::AccessTokenSigning,
            KeyPurpose::RefreshTokenEncryption,
            KeyPurpose::SecretPepper,
        ] {
            let keys = store.list().await?;
            let has_active = keys
                .iter()
                .any(|k| k.purpose == purpose && k.retired_at.is_none());
            if !has_active && (purpose != KeyPurpose::AccessTokenSigning || alg.is_stored()) {
                let mut seed = [0u8; 32];
                ids.fill_random(&mut seed);
                let key = match purpose {
                    KeyPurpose::AccessTokenSigning => {
                        StoredKey::generate_signing(alg, ids, clock.now())?
                    }
                    KeyPurpose::RefreshTokenEncryption => StoredKey::refresh(seed, clock.now()),
                    // A fixed kid: replicas starting together race on one row, so they
                    // can never end up with different peppers.
                    KeyPurpose::SecretPepper => StoredKey {
                        kid: INITIAL_PEPPER_KID.to_owned(),
                        ..StoredKey::pepper(seed, clock.now())
                    },
                };
                match store.insert(&key).await {
                    Ok(()) | Err(PortError::AlreadyExists) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Self::from_keys_at_with(&store.list().await?, clock.now(), retention, shared)
    }

    /// [`KeyRing::from_keys`], leaving out signing and refresh-token keys retired longer ago
    /// than their `retention` (every token they signed or sealed has expired by then).
    pub fn from_keys_at(
        keys: &[StoredKey],
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<Self, KeyError> {
        Self::from_keys_at_with(keys, now, retention, None)
    }

    /// [`KeyRing::from_keys_at`] with the HS256 `shared` secret, when configured, as the
    /// active signing key.
    pub fn from_keys_at_with(
        keys: &[StoredKey],
        now: DateTime<Utc>,
        retention: Retention,
        shared: Option<&SharedSecret>,
    ) -> Result<Self, KeyError> {
        let live: Vec<StoredKey> = keys
            .iter()
            .filter(|k| {
                let kept = match k.purpose {
                    KeyPurpose::AccessTokenSigning => retention.signing,
                    KeyPurpose::RefreshTokenEncryption => retention.refresh,
                    KeyPurpose::SecretPepper => return true,
                };
                k.retired_at.is_none_or(|at| at + kept > now)
            })
            .cloned()
            .collect();
        Self::from_keys_with(&live, shared)
    }

    /// Builds a ring from stored keys: the newest non-retired key of each purpose is active.
    pub fn from_keys(keys: &[StoredKey]) -> Result<Self, KeyError> {
        Self::from_keys_with(keys, None)
    }

    /// [`KeyRing::from_keys`], with the `shared` secret as the active signing key if given.
    fn from_keys_with(keys: &[StoredKey], shared: Option<&SharedSecret>) -> Result<Self, KeyError> {
        let newest = |purpose: KeyPurpose| {
            keys.iter()
                .filter(|k| k.purpose == purpose && k.retired_at.is_none())
                .max_by_key(|k| k.created_at)
        };
        let active_refresh =
            newest(KeyPurpose::RefreshTokenEncryption).ok_or(KeyError::NoActiveKey)?;
        let peppers = stored_peppers(keys)?;
        if peppers.is_empty() {
            return Err(KeyError::NoActiveKey);
        }

        let mut signing = HashMap::new();
        let mut refresh = HashMap::new();
        for key in keys {
            match key.purpose {
                KeyPurpose::AccessTokenSigning => {
                    signing.insert(key.kid.clone(), Arc::new(SigningEntry::from_stored(key)?));
                }
                KeyPurpose::SecretPepper => {}
                KeyPurpose::RefreshTokenEncryption => {
                    let parsed = key
                        .secret
                        .as_32()
                        .and_then(|k| SymmetricKey::<V4>::from(&k).ok())
                        .ok_or_else(|| KeyError::Invalid(key.kid.clone()))?;
                    refresh.insert(key.kid.clone(), parsed);
                }
            }
        }
        let active = match shared {
            Some(secret) => {
                let entry = Arc::new(SigningEntry::from_shared(secret));
                signing.insert(entry.kid.clone(), entry.clone());
                entry
            }
            None => newest(KeyPurpose::AccessTokenSigning)
                .and_then(|key| signing.get(&key.kid))
                .cloned()
                .ok_or(KeyError::NoActiveKey)?,
        };
        let refresh_key = refresh
            .get(&active_refresh.kid)
            .cloned()
            .ok_or_else(|| KeyError::Invalid(active_refresh.kid.clone()))?;
        Ok(Self {
            active,
            signing,
            refresh_active: (active_refresh.kid.clone(), refresh_key),
            refresh,
            peppers,
        })
    }

    /// The stored pepper for client-secret digests: the oldest one, which every digest was
    /// made under until `credentials.pepper_file` replaces it (see [`Peppers`]).
    ///
    /// [`Peppers`]: crate::domain::credentials::Peppers
    pub fn pepper(&self) -> &Pepper {
        &self.peppers[0]
    }

    /// Every stored pepper, oldest first.
    pub fn peppers(&self) -> &[Pepper] {
        &self.peppers
    }

    /// The key new access tokens are signed with.
    pub fn active_signing(&self) -> &SigningEntry {
        &self.active
    }

    /// The algorithms of the keys in the ring, the active key's first, then in a fixed order.
    pub fn algorithms(&self) -> Vec<SigningAlg> {
        let mut others: Vec<SigningAlg> = self
            .signing
            .values()
            .map(|k| k.alg())
            .filter(|alg| *alg != self.active.alg())
            .collect();
        others.sort_by_key(|alg| alg.as_str());
        others.dedup();
        let mut algs = vec![self.active.alg()];
        algs.extend(others);
        algs
    }

    /// The signing key with this kid, if it may still verify tokens.
    pub fn signing_key(&self, kid: &str) -> Option<&SigningEntry> {
        self.signing.get(kid).map(Arc::as_ref)
    }

    /// The key (and its kid) new refresh tokens are encrypted with.
    pub fn active_refresh(&self) -> (&str, &SymmetricKey<V4>) {
        (&self.refresh_active.0, &self.refresh_active.1)
    }

    /// The refresh-token key with this kid.
    pub fn refresh_key(&self, kid: &str) -> Option<&SymmetricKey<V4>> {
        self.refresh.get(kid)
    }

    /// Public halves of every signing key, for the JWKS (active key first).
    pub fn public_keys(&self) -> Vec<PublicJwk> {
        let mut keys: Vec<PublicJwk> = self
            .signing
            .values()
            .filter(|k| k.public != PublicKey::Secret)
            .map(|k| PublicJwk {
                kid: k.kid.clone(),
                alg: k.alg(),
                key: k.public.clone(),
            })
            .collect();
        keys.sort_by_key(|k| (k.kid != self.active.kid, k.kid.clone()));
        keys
    }
}
