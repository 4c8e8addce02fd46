//! Key material: stored keys (as the key store keeps them) and the in-memory key ring the
//! token service signs, verifies, encrypts and decrypts with.
//!
//! Invariant: the ring always has exactly one active signing key and one active refresh-token
//! key; every signing key in the ring is published in the JWKS.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
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

/// The algorithm access tokens are signed with (the JWS `alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037), the default: small, fast, deterministic signatures.
    #[default]
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys unless a larger one is configured.
    RS256,
    /// HMAC with SHA-256 under a secret the operator shares with the resource servers
    /// (compatibility with servers that validate the original TMI's tokens). The secret is
    /// configured, never stored or published.
    HS256,
}

impl SigningAlg {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::HS256 => "HS256",
        }
    }

    /// The same algorithm as the JWT library names it.
    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
            SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
            SigningAlg::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }

    /// Whether keys for this algorithm live in the key store (HS256's secret is configured).
    pub fn is_stored(self) -> bool {
        self != SigningAlg::HS256
    }
}

/// The HS256 secret shared with resource servers. `Debug` never prints it.
#[derive(Clone)]
pub struct SharedSecret(Arc<[u8]>);

impl SharedSecret {
    /// Shortest secret accepted: 256 bits, the size of the HMAC-SHA-256 output (RFC 7518 §3.2).
    pub const MIN_LEN: usize = 32;

    /// The secret, if it is long enough.
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= Self::MIN_LEN).then(|| Self(secret.into()))
    }

    /// Its key id: derived from a digest of the secret, so replicas sharing it agree.
    pub fn kid(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(b"tmi-auth hs256 kid\0");
        digest.update(&self.0);
        format!("hs-{}", &b64url(&digest.finalize())[..16])
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

/// The public half of a signing key, as its JWK members (base64url values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 (`kty: OKP`, `crv: Ed25519`).
    Okp {
        /// The public key.
        x: String,
    },
    /// P-256 (`kty: EC`, `crv: P-256`).
    Ec {
        /// The x coordinate.
        x: String,
        /// The y coordinate.
        y: String,
    },
    /// RSA (`kty: RSA`).
    Rsa {
        /// The modulus.
        n: String,
        /// The public exponent.
        e: String,
    },
    /// A shared secret: nothing public.
    Secret,
}

impl PublicKey {
    /// RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicKey::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            PublicKey::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            PublicKey::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            PublicKey::Secret => return String::new(),
        };
        b64url(&Sha256::digest(canonical.as_bytes()))
    }

    /// The verification key in the form the JWT library wants.
    fn decoding_key(&self) -> Option<jsonwebtoken::DecodingKey> {
        match self {
            PublicKey::Okp { x } => jsonwebtoken::DecodingKey::from_ed_components(x).ok(),
            PublicKey::Ec { x, y } => jsonwebtoken::DecodingKey::from_ec_components(x, y).ok(),
            PublicKey::Rsa { n, e } => jsonwebtoken::DecodingKey::from_rsa_components(n, e).ok(),
            PublicKey::Secret => None,
        }
    }
}

/// A parsed private key.
pub enum Signer {
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
    /// ECDSA P-256 with SHA-256, fixed-length (JWS) signatures.
    Es256(EcdsaKeyPair),
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rs256(RsaKeyPair),
    /// HMAC-SHA-256 under the shared secret (boxed: the key keeps its precomputed state).
    Hs256(Box<aws_lc_rs::hmac::Key>),
}

impl Signer {
    /// A P-256 or RSA (2048 to 4096 bits) key from a PKCS#8 document. Larger RSA keys are
    /// refused: their signatures alone would take tokens past what we accept back.
    fn from_pkcs8(der: &[u8]) -> Option<Self> {
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Some(Signer::Es256(key));
        }
        RsaKeyPair::from_pkcs8(der)
            .ok()
            .filter(|key| (256..=512).contains(&key.public_modulus_len()))
            .map(Signer::Rs256)
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        match self {
            Signer::Ed25519(_) => SigningAlg::EdDSA,
            Signer::Es256(_) => SigningAlg::ES256,
            Signer::Rs256(_) => SigningAlg::RS256,
            Signer::Hs256(_) => SigningAlg::HS256,
        }
    }

    /// The public half, as JWK members.
    fn public_key(&self) -> PublicKey {
        match self {
            Signer::Ed25519(key) => PublicKey::Okp {
                x: b64url(key.public_key().as_ref()),
            },
            Signer::Es256(key) => {
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = key.public_key().as_ref();
                PublicKey::Ec {
                    x: b64url(&point[1..33]),
                    y: b64url(&point[33..65]),
                }
            }
            Signer::Rs256(key) => {
                let public = key.public_key();
                PublicKey::Rsa {
                    n: b64url(public.modulus().big_endian_without_leading_zero()),
                    e: b64url(public.exponent().big_endian_without_leading_zero()),
                }
            }
            Signer::Hs256(_) => PublicKey::Secret,
        }
    }

    /// Signs `message` (the JWS signing input); `None` only if the library fails.
    pub fn sign(&self, message: &[u8]) -> Option<SignatureBytes> {
        match self {
            Signer::Ed25519(key) => Some(SignatureBytes::from_slice(key.sign(message).as_ref())),
            Signer::Es256(key) => key
                .sign(&SystemRandom::new(), message)
                .ok()
                .map(|s| SignatureBytes::from_slice(s.as_ref())),
            Signer::Rs256(key) => {
                let mut out = SignatureBytes::zeroed(key.public_modulus_len());
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    out.as_mut(),
                )
                .ok()
                .map(|()| out)
            }
            Signer::Hs256(key) => Some(SignatureBytes::from_slice(
                aws_lc_rs::hmac::sign(key, message).as_ref(),
            )),
        }
    }
}

/// A signature, on the stack for the 64-byte ones (Ed25519, P-256).
pub struct SignatureBytes {
    len: usize,
    inline: [u8; 64],
    heap: Vec<u8>,
}

impl SignatureBytes {
    fn from_slice(bytes: &[u8]) -> Self {
        let mut out = Self::zeroed(bytes.len());
        out.as_mut().copy_from_slice(bytes);
        out
    }

    fn zeroed(len: usize) -> Self {
        Self {
            len,
            inline: [0; 64],
            heap: if len > 64 { vec![0; len] } else { Vec::new() },
        }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        if self.len > 64 {
            &mut self.heap
        } else {
            &mut self.inline[..self.len]
        }
    }
}

impl AsRef<[u8]> for SignatureBytes {
    fn as_ref(&self) -> &[u8] {
        if self.len > 64 {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }
}

/// Kid of the pepper created automatically on first start.
pub const INITIAL_PEPPER_KID: &str = "p-initial";

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
    fn from_stored(key: &StoredKey) -> Result<Self, KeyError> {
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

    fn from_shared(secret: &SharedSecret) -> Self {
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
    pepper: [u8; 32],
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
            pepper: pepper
                .secret
                .as_32()
                .ok_or_else(|| KeyError::Invalid(pepper.kid.clone()))?,
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
    fn rsa_thumbprint_is_the_rfc7638_example() {
        // RFC 7638 section 3.1.
        let key = PublicKey::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
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
    fn shared_secrets_are_long_hidden_and_named_by_a_digest() {
        assert!(SharedSecret::new(&[7; 31]).is_none());
        let secret = SharedSecret::new(&[7; 32]).expect("32 bytes");
        assert_eq!(format!("{secret:?}"), "SharedSecret(<redacted>)");
        let kid = secret.kid();
        assert!(kid.starts_with("hs-") && kid.len() == 19, "{kid}");
        assert_eq!(kid, SharedSecret::new(&[7; 32]).expect("same").kid());
        assert_ne!(kid, SharedSecret::new(&[8; 32]).expect("other").kid());
    }

    #[test]
    fn stored_key_debug_hides_the_secret() {
        let key = StoredKey::refresh([7u8; 32], Utc::now());
        assert!(format!("{key:?}").contains("redacted"));
        assert!(!format!("{key:?}").contains("7, 7"));
    }
}
