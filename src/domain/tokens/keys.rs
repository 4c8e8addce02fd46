//! Key material: stored keys (as the key store keeps them) and the in-memory key ring the
//! token service signs, verifies, encrypts and decrypts with.
//!
//! Invariant: the ring always has exactly one active signing key and one active refresh-token
//! key; every signing key in the ring is published in the JWKS.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::Ed25519KeyPair;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use pasetors::keys::SymmetricKey;
use pasetors::version4::V4;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::KeyError;
use crate::domain::encoding::b64url;
use crate::ports::{Clock, IdGenerator, KeyStore, PortError};

/// What a stored key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Ed25519 seed signing JWT access tokens (`alg: EdDSA`).
    AccessTokenSigning,
    /// 256-bit key for PASETO v4.local refresh tokens.
    RefreshTokenEncryption,
    /// 256-bit pepper keying the HMAC digests of client secrets.
    SecretPepper,
}

impl KeyPurpose {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::AccessTokenSigning => "access_token_signing",
            KeyPurpose::RefreshTokenEncryption => "refresh_token_encryption",
            KeyPurpose::SecretPepper => "secret_pepper",
        }
    }

    /// Inverse of [`KeyPurpose::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "access_token_signing" => Some(KeyPurpose::AccessTokenSigning),
            "refresh_token_encryption" => Some(KeyPurpose::RefreshTokenEncryption),
            "secret_pepper" => Some(KeyPurpose::SecretPepper),
            _ => None,
        }
    }
}

/// 32 bytes of secret key material. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKeyBytes(pub [u8; 32]);

impl std::fmt::Debug for SecretKeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKeyBytes(<redacted>)")
    }
}

/// A key as the key store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id (for signing keys: the RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// What the key is for.
    pub purpose: KeyPurpose,
    /// The secret material.
    pub secret: SecretKeyBytes,
    /// When the key was created; the newest non-retired key of a purpose is the active one.
    pub created_at: DateTime<Utc>,
    /// When the key stopped being used for new tokens, if it did.
    pub retired_at: Option<DateTime<Utc>>,
}

impl StoredKey {
    /// A signing key from a 32-byte Ed25519 seed; its kid is the RFC 7638 thumbprint.
    pub fn signing(seed: [u8; 32], created_at: DateTime<Utc>) -> Self {
        let signer = SigningKey::from_bytes(&seed);
        let x = b64url(signer.verifying_key().as_bytes());
        Self {
            kid: jwk_thumbprint(&x),
            purpose: KeyPurpose::AccessTokenSigning,
            secret: SecretKeyBytes(seed),
            created_at,
            retired_at: None,
        }
    }

    /// A refresh-token key; its kid is derived from a digest of the key.
    pub fn refresh(key: [u8; 32], created_at: DateTime<Utc>) -> Self {
        Self::symmetric("r", KeyPurpose::RefreshTokenEncryption, key, created_at)
    }

    /// A pepper for client-secret digests; its kid is derived from a digest of the key.
    pub fn pepper(key: [u8; 32], created_at: DateTime<Utc>) -> Self {
        Self::symmetric("p", KeyPurpose::SecretPepper, key, created_at)
    }

    fn symmetric(
        prefix: &str,
        purpose: KeyPurpose,
        key: [u8; 32],
        created_at: DateTime<Utc>,
    ) -> Self {
        let digest = Sha256::digest(key);
        Self {
            kid: format!("{prefix}-{}", &b64url(&digest)[..16]),
            purpose,
            secret: SecretKeyBytes(key),
            created_at,
            retired_at: None,
        }
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key.
fn jwk_thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
}

/// Kid of the pepper created automatically on first start.
pub const INITIAL_PEPPER_KID: &str = "p-initial";

/// A parsed signing key, ready to sign and verify.
pub struct SigningEntry {
    /// Key id.
    pub kid: String,
    /// The Ed25519 key pair, parsed once (signing is on every token's path).
    pub signer: Ed25519KeyPair,
    /// The base64url JWT header for this key, computed once.
    pub header_b64: String,
    /// Base64url public key (`x` of the JWK).
    pub public_x: String,
    /// The verification key in the form the JWT library wants.
    pub decoding: jsonwebtoken::DecodingKey,
}

impl SigningEntry {
    fn from_stored(key: &StoredKey) -> Result<Self, KeyError> {
        let public = SigningKey::from_bytes(&key.secret.0).verifying_key();
        let signer = Ed25519KeyPair::from_seed_and_public_key(&key.secret.0, public.as_bytes())
            .map_err(|_| KeyError::Invalid(key.kid.clone()))?;
        let public_x = b64url(public.as_bytes());
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid});
        let decoding = jsonwebtoken::DecodingKey::from_ed_components(&public_x)
            .map_err(|_| KeyError::Invalid(key.kid.clone()))?;
        Ok(Self {
            kid: key.kid.clone(),
            signer,
            header_b64: b64url(header.to_string().as_bytes()),
            public_x,
            decoding,
        })
    }
}

/// A public key as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// Key id.
    pub kid: String,
    /// Base64url Ed25519 public key.
    pub x: String,
}

/// The keys in use, parsed once.
pub struct KeyRing {
    active: Arc<SigningEntry>,
    signing: HashMap<String, Arc<SigningEntry>>,
    refresh_active: (String, SymmetricKey<V4>),
    refresh: HashMap<String, SymmetricKey<V4>>,
    pepper: [u8; 32],
}

impl KeyRing {
    /// Loads every key from the store, creating an active key of each purpose when the store
    /// has none. Safe when several replicas start at once: a lost insert race re-reads.
    pub async fn load_or_create(
        store: &dyn KeyStore,
        clock: &dyn Clock,
        ids: &dyn IdGenerator,
        retention: Duration,
    ) -> Result<Self, KeyError> {
        for purpose in [
            KeyPurpose::AccessTokenSigning,
            KeyPurpose::RefreshTokenEncryption,
            KeyPurpose::SecretPepper,
        ] {
            let keys = store.list().await?;
            let has_active = keys
                .iter()
                .any(|k| k.purpose == purpose && k.retired_at.is_none());
            if !has_active {
                let mut seed = [0u8; 32];
                ids.fill_random(&mut seed);
                let key = match purpose {
                    KeyPurpose::AccessTokenSigning => StoredKey::signing(seed, clock.now()),
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
        Self::from_keys_at(&store.list().await?, clock.now(), retention)
    }

    /// [`KeyRing::from_keys`], leaving out signing keys retired more than `retention` before
    /// `now` (every token they signed has expired by then).
    pub fn from_keys_at(
        keys: &[StoredKey],
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<Self, KeyError> {
        let live: Vec<StoredKey> = keys
            .iter()
            .filter(|k| {
                k.purpose != KeyPurpose::AccessTokenSigning
                    || k.retired_at.is_none_or(|at| at + retention > now)
            })
            .cloned()
            .collect();
        Self::from_keys(&live)
    }

    /// Builds a ring from stored keys: the newest non-retired key of each purpose is active.
    pub fn from_keys(keys: &[StoredKey]) -> Result<Self, KeyError> {
        let newest = |purpose: KeyPurpose| {
            keys.iter()
                .filter(|k| k.purpose == purpose && k.retired_at.is_none())
                .max_by_key(|k| k.created_at)
        };
        let active_signing = newest(KeyPurpose::AccessTokenSigning).ok_or(KeyError::NoActiveKey)?;
        let active_refresh =
            newest(KeyPurpose::RefreshTokenEncryption).ok_or(KeyError::NoActiveKey)?;
        let pepper = keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::SecretPepper)
            .min_by_key(|k| k.created_at)
            .ok_or(KeyError::NoActiveKey)?;

        let mut signing = HashMap::new();
        let mut refresh = HashMap::new();
        for key in keys {
            match key.purpose {
                KeyPurpose::AccessTokenSigning => {
                    signing.insert(key.kid.clone(), Arc::new(SigningEntry::from_stored(key)?));
                }
                KeyPurpose::SecretPepper => {}
                KeyPurpose::RefreshTokenEncryption => {
                    let parsed = SymmetricKey::<V4>::from(&key.secret.0)
                        .map_err(|_| KeyError::Invalid(key.kid.clone()))?;
                    refresh.insert(key.kid.clone(), parsed);
                }
            }
        }
        let active = signing
            .get(&active_signing.kid)
            .cloned()
            .ok_or(KeyError::NoActiveKey)?;
        let refresh_key = SymmetricKey::<V4>::from(&active_refresh.secret.0)
            .map_err(|_| KeyError::Invalid(active_refresh.kid.clone()))?;
        Ok(Self {
            active,
            signing,
            refresh_active: (active_refresh.kid.clone(), refresh_key),
            refresh,
            pepper: pepper.secret.0,
        })
    }

    /// The pepper for client-secret digests (the oldest one: it never rotates, or every
    /// stored digest would stop matching).
    pub fn pepper(&self) -> [u8; 32] {
        self.pepper
    }

    /// The key new access tokens are signed with.
    pub fn active_signing(&self) -> &SigningEntry {
        &self.active
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
            .map(|k| PublicJwk {
                kid: k.kid.clone(),
                x: k.public_x.clone(),
            })
            .collect();
        keys.sort_by_key(|k| (k.kid != self.active.kid, k.kid.clone()));
        keys
    }
}

/// Creates a new signing key and retires the older ones (they keep verifying until their
/// tokens expire). Safe when replicas rotate at the same moment: the newest key stays active.
pub async fn rotate_signing_key(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
) -> Result<StoredKey, KeyError> {
    let mut seed = [0u8; 32];
    ids.fill_random(&mut seed);
    let now = clock.now();
    let key = StoredKey::signing(seed, now);
    store.insert(&key).await?;
    store
        .retire_all_but_newest(KeyPurpose::AccessTokenSigning, now)
        .await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_kid_is_the_rfc7638_thumbprint() {
        // RFC 8037 appendix A.1/A.3: this seed's thumbprint is kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k.
        let seed_b64 = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
        let seed = crate::domain::encoding::b64url_decode(seed_b64).expect("base64");
        let seed: [u8; 32] = seed.try_into().expect("32 bytes");
        let key = StoredKey::signing(seed, Utc::now());
        assert_eq!(key.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn stored_key_debug_hides_the_secret() {
        let key = StoredKey::refresh([7u8; 32], Utc::now());
        assert!(format!("{key:?}").contains("redacted"));
        assert!(!format!("{key:?}").contains("7, 7"));
    }
}
