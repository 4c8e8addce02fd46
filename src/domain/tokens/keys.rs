//! Key material: stored keys (as the key store keeps them), parsed signing keys, and their
//! lifecycle (generation, rotation, keys configured as files). The ring of keys in use is in
//! [`super::ring`], the signing algorithms in [`super::signer`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair,
};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::KeyError;
pub use super::ring::{KeyRing, PublicJwk, Retention};
pub use super::signer::{PublicKey, SharedSecret, SignatureBytes, Signer, SigningAlg};
use crate::domain::credentials::Pepper;
use crate::domain::encoding::b64url;
use crate::ports::{Clock, IdGenerator, KeyStore, PortError};

/// What a stored key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// A key signing JWT access tokens: an Ed25519 seed (`alg: EdDSA`) or a PKCS#8 document
    /// of a P-256 (`ES256`) or RSA (`RS256`) key.
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

/// Secret key material: 32 bytes for symmetric keys and Ed25519 seeds, a PKCS#8 document for
/// P-256 and RSA signing keys. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKeyBytes(pub Vec<u8>);

impl SecretKeyBytes {
    /// The material as a 32-byte key, if it is one.
    pub fn as_32(&self) -> Option<[u8; 32]> {
        self.0.as_slice().try_into().ok()
    }
}

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
        let public = PublicKey::Okp {
            x: b64url(signer.verifying_key().as_bytes()),
        };
        Self {
            kid: public.thumbprint(),
            purpose: KeyPurpose::AccessTokenSigning,
            secret: SecretKeyBytes(seed.to_vec()),
            created_at,
            retired_at: None,
        }
    }

    /// A signing key from a PKCS#8 document of a P-256 or RSA key; its kid is the RFC 7638
    /// thumbprint. `None` when the document is neither (or an RSA key outside 2048–4096 bits).
    pub fn signing_pkcs8(der: &[u8], created_at: DateTime<Utc>) -> Option<Self> {
        let signer = Signer::from_pkcs8(der)?;
        Some(Self {
            kid: signer.public_key().thumbprint(),
            purpose: KeyPurpose::AccessTokenSigning,
            secret: SecretKeyBytes(der.to_vec()),
            created_at,
            retired_at: None,
        })
    }

    /// A new random signing key for `alg` (Ed25519 seeds come from `ids`, P-256 and RSA keys
    /// from the system's random generator).
    pub fn generate_signing(
        alg: SigningAlg,
        ids: &dyn IdGenerator,
        created_at: DateTime<Utc>,
    ) -> Result<Self, KeyError> {
        let generated = |der: Option<Vec<u8>>| {
            der.and_then(|der| Self::signing_pkcs8(&der, created_at))
                .ok_or_else(|| KeyError::Invalid(format!("new {alg} key")))
        };
        match alg {
            SigningAlg::EdDSA => {
                let mut seed = [0u8; 32];
                ids.fill_random(&mut seed);
                Ok(Self::signing(seed, created_at))
            }
            SigningAlg::ES256 => generated(
                EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .ok()
                .map(|doc| doc.as_ref().to_vec()),
            ),
            SigningAlg::RS256 => generated(
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .ok()
                    .and_then(|key| key.as_der().ok())
                    .map(|der| der.as_ref().to_vec()),
            ),
            SigningAlg::HS256 => Err(KeyError::Invalid(
                "HS256 keys are configured (tokens.hs256_secret_file), not generated".into(),
            )),
        }
    }

    /// The algorithm of a signing key (`None` for other purposes or unusable material).
    pub fn signing_alg(&self) -> Option<SigningAlg> {
        if self.purpose != KeyPurpose::AccessTokenSigning {
            return None;
        }
        match self.secret.as_32() {
            Some(_) => Some(SigningAlg::EdDSA),
            None => Signer::from_pkcs8(&self.secret.0).map(|s| s.alg()),
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
            secret: SecretKeyBytes(key.to_vec()),
            created_at,
            retired_at: None,
        }
    }
}

/// Kid of the pepper created automatically on first start.
pub const INITIAL_PEPPER_KID: &str = "p-initial";

/// The stored peppers among `keys`, oldest first (normally just one).
pub fn stored_peppers(keys: &[StoredKey]) -> Result<Vec<Pepper>, KeyError> {
    let mut peppers: Vec<&StoredKey> = keys
        .iter()
        .filter(|k| k.purpose == KeyPurpose::SecretPepper)
        .collect();
    peppers.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
    peppers
        .into_iter()
        .map(|k| {
            k.secret
                .as_32()
                .map(|key| Pepper::new(k.kid.clone(), key))
                .ok_or_else(|| KeyError::Invalid(k.kid.clone()))
        })
        .collect()
}

/// A parsed signing key, ready to sign and verify.
pub struct SigningEntry {
    /// Key id.
    pub kid: String,
    /// The private key, parsed once (signing is on every token's path).
    pub signer: Signer,
    /// The base64url JWT header for this key, computed once.
    pub header_b64: String,
    /// The public key, as JWK members.
    pub public: PublicKey,
    /// The verification key in the form the JWT library wants.
    pub decoding: jsonwebtoken::DecodingKey,
}

impl SigningEntry {
    pub(super) fn from_stored(key: &StoredKey) -> Result<Self, KeyError> {
        let invalid = || KeyError::Invalid(key.kid.clone());
        let signer = match key.secret.as_32() {
            Some(seed) => {
                let public = SigningKey::from_bytes(&seed).verifying_key();
                Signer::Ed25519(
                    Ed25519KeyPair::from_seed_and_public_key(&seed, public.as_bytes())
                        .map_err(|_| invalid())?,
                )
            }
            None => Signer::from_pkcs8(&key.secret.0).ok_or_else(invalid)?,
        };
        let public = signer.public_key();
        let decoding = public.decoding_key().ok_or_else(invalid)?;
        let header = json!({"alg": signer.alg().as_str(), "typ": "JWT", "kid": key.kid});
        Ok(Self {
            kid: key.kid.clone(),
            signer,
            header_b64: b64url(header.to_string().as_bytes()),
            public,
            decoding,
        })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        self.signer.alg()
    }

    pub(super) fn from_shared(secret: &SharedSecret) -> Self {
        let kid = secret.kid();
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        Self {
            kid,
            signer: Signer::Hs256(Box::new(aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                &secret.0,
            ))),
            header_b64: b64url(header.to_string().as_bytes()),
            public: PublicKey::Secret,
            decoding: jsonwebtoken::DecodingKey::from_secret(&secret.0),
        }
    }
}

/// What [`install_key`] did with a configured key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// New: it is the active key now; the keys it replaces are retired.
    New,
    /// Already stored and active (an earlier start, another replica).
    Active,
    /// Already stored and retired, with no active key of its purpose (e.g. back from HS256):
    /// active again.
    Reactivated,
    /// Stored, but another key of its purpose is the active one (rotated after it was
    /// installed, or a newer configured key): the configured one only verifies.
    Superseded,
}

/// Installs a key configured as a file: the first time it is seen it becomes the active key
/// of its purpose and the older ones are retired (they verify or open until their tokens
/// expire); a key already in the store stays as rotation left it, except that a retired one
/// becomes active again when its purpose has no active key.
pub async fn install_key(store: &dyn KeyStore, key: &StoredKey) -> Result<Installed, KeyError> {
    match store.insert(key).await {
        Ok(()) => {
            if key.purpose != KeyPurpose::SecretPepper {
                store
                    .retire_all_but_newest(key.purpose, key.created_at)
                    .await?;
            }
        }
        Err(PortError::AlreadyExists) => {
            if store.reactivate_if_none_active(&key.kid).await? {
                return Ok(Installed::Reactivated);
            }
        }
        Err(other) => return Err(other.into()),
    }
    // A clock behind another replica's can leave a newer key active: say so.
    let active = store
        .list()
        .await?
        .into_iter()
        .filter(|k| k.purpose == key.purpose && k.retired_at.is_none())
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
    Ok(match active {
        Some(active) if active.kid == key.kid => {
            if active.created_at == key.created_at {
                Installed::New
            } else {
                Installed::Active
            }
        }
        _ => Installed::Superseded,
    })
}

/// Creates a new refresh-token key and retires the older ones (they keep opening the refresh
/// tokens sealed under them until those families expire). Safe when replicas rotate at the
/// same moment: the newest key stays active.
pub async fn rotate_refresh_key(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
) -> Result<StoredKey, KeyError> {
    let mut secret = [0u8; 32];
    ids.fill_random(&mut secret);
    let now = clock.now();
    let key = StoredKey::refresh(secret, now);
    store.insert(&key).await?;
    store
        .retire_all_but_newest(KeyPurpose::RefreshTokenEncryption, now)
        .await?;
    Ok(key)
}

/// Creates a new signing key for `alg` and retires the older ones (they keep verifying until
/// their tokens expire). Safe when replicas rotate at the same moment: the newest key stays
/// active.
pub async fn rotate_signing_key(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
    alg: SigningAlg,
) -> Result<StoredKey, KeyError> {
    let now = clock.now();
    let key = StoredKey::generate_signing(alg, ids, now)?;
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
    fn pkcs8_keys_are_recognised_by_type() {
        let ec =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("P-256 key");
        let key = StoredKey::signing_pkcs8(ec.as_ref(), Utc::now()).expect("P-256 accepted");
        assert_eq!(key.signing_alg(), Some(SigningAlg::ES256));
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let der = rsa.as_der().expect("PKCS#8");
        let key = StoredKey::signing_pkcs8(der.as_ref(), Utc::now()).expect("RSA accepted");
        assert_eq!(key.signing_alg(), Some(SigningAlg::RS256));
        // Other material is refused; symmetric keys have no signing algorithm.
        assert!(StoredKey::signing_pkcs8(b"not a key", Utc::now()).is_none());
        assert_eq!(StoredKey::pepper([1; 32], Utc::now()).signing_alg(), None);
        // A P-384 key is a valid PKCS#8 document but not one we sign with.
        let p384 = EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .expect("P-384 key");
        assert!(StoredKey::signing_pkcs8(p384.as_ref(), Utc::now()).is_none());
    }

    #[test]
    fn stored_key_debug_hides_the_secret() {
        let key = StoredKey::refresh([7u8; 32], Utc::now());
        assert!(format!("{key:?}").contains("redacted"));
        assert!(!format!("{key:?}").contains("7, 7"));
    }
}
