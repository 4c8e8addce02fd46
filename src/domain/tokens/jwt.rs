//! Signing and verifying JWT access tokens.
//!
//! Signing uses the parsed key directly over the standard `header.payload` (the header is
//! encoded once per key). Verification goes through the `jsonwebtoken` crate with a key looked
//! up by `kid` and the one algorithm that key signs with (EdDSA, ES256 or RS256: a token whose
//! header names another is refused before any cryptography), and exact `iss`/`aud` checks;
//! `exp`/`nbf` are checked against our injected clock, not the system time.

use chrono::{DateTime, Utc};
use jsonwebtoken::Validation;

use super::claims::AccessClaims;
use super::error::AuthError;
use super::keys::{KeyRing, SigningEntry};
use crate::domain::encoding::b64url_into;

/// Longest token we even try to parse.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The claims did not serialize.
    #[error("claims: {0}")]
    Claims(#[from] serde_json::Error),
    /// The crypto library refused to sign.
    #[error("the signature failed")]
    Signature,
}

/// Signs `claims` with `key`.
pub fn sign(key: &SigningEntry, claims: &AccessClaims) -> Result<String, SignError> {
    let mut payload = Vec::with_capacity(768);
    serde_json::to_writer(&mut payload, claims)?;
    let mut token = String::with_capacity(key.header_b64.len() + payload.len() * 4 / 3 + 96);
    token.push_str(&key.header_b64);
    token.push('.');
    b64url_into(&payload, &mut token);
    let signature = key
        .signer
        .sign(token.as_bytes())
        .ok_or(SignError::Signature)?;
    token.push('.');
    b64url_into(signature.as_ref(), &mut token);
    Ok(token)
}

/// Verifies signature, algorithm, `kid`, `iss`, `aud`, `exp` and `nbf` (with `leeway_secs`).
/// Revocation is checked by the caller.
pub fn verify(
    ring: &KeyRing,
    token: &str,
    issuer: &str,
    audience: &str,
    now: DateTime<Utc>,
    leeway_secs: i64,
) -> Result<AccessClaims, AuthError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
        return Err(AuthError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
    let kid = header.kid.ok_or(AuthError::Invalid)?;
    let key = ring.signing_key(&kid).ok_or(AuthError::UnknownKey)?;
    if header.alg != key.alg().jwt() {
        return Err(AuthError::Invalid);
    }

    let mut validation = Validation::new(key.alg().jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map_err(|_| AuthError::Invalid)?;
    check_times(&data.claims, now, leeway_secs)?;
    Ok(data.claims)
}

/// `exp` and `nbf` against `now`, with `leeway_secs` either way.
pub fn check_times(
    claims: &AccessClaims,
    now: DateTime<Utc>,
    leeway_secs: i64,
) -> Result<(), AuthError> {
    let now = now.timestamp();
    if claims.exp + leeway_secs <= now {
        return Err(AuthError::Expired);
    }
    if claims.nbf - leeway_secs > now {
        return Err(AuthError::Invalid);
    }
    Ok(())
}

/// Tokens whose signature, algorithm, key, issuer and audience were already verified, with
/// their claims, so a token presented again (a resource server introspecting it, a client
/// calling `/me`) skips the signature check. Expiry and revocation are still checked on every
/// use. Bounded.
///
/// Entries are found by the token's last [`TAIL`] characters (part of its signature, so
/// distinct for distinct tokens) and then compared in full, so hashing does not read the whole
/// token and a look-alike never matches.
///
/// Invariant: keys are only ever added to the ring while this cache lives; a ring that drops a
/// key must come with a new cache.
pub struct VerifiedTokens {
    map: std::sync::Mutex<std::collections::HashMap<[u8; TAIL], VerifiedToken>>,
    capacity: usize,
}

/// How many trailing characters of a token key the cache.
const TAIL: usize = 32;

struct VerifiedToken {
    token: Box<str>,
    claims: std::sync::Arc<AccessClaims>,
}

fn tail(token: &str) -> [u8; TAIL] {
    let bytes = token.as_bytes();
    let mut key = [0u8; TAIL];
    let n = bytes.len().min(TAIL);
    key[..n].copy_from_slice(&bytes[bytes.len() - n..]);
    key
}

impl VerifiedTokens {
    /// An empty cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: std::sync::Mutex::new(std::collections::HashMap::new()),
            capacity,
        }
    }

    /// The claims of an already verified token.
    pub fn get(&self, token: &str) -> Option<std::sync::Arc<AccessClaims>> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&tail(token))
            .filter(|entry| &*entry.token == token)
            .map(|entry| entry.claims.clone())
    }

    /// Remembers a verified token. When full, forgets expired tokens, or everything.
    pub fn insert(&self, token: &str, claims: std::sync::Arc<AccessClaims>, now: DateTime<Utc>) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity {
            let now = now.timestamp();
            map.retain(|_, entry| entry.claims.exp > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(
            tail(token),
            VerifiedToken {
                token: token.into(),
                claims,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::encoding::b64url_decode;
    use crate::domain::tokens::keys::StoredKey;
    use ed25519_dalek::{Signer, Verifier};

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://auth.example".into(),
            aud: "tmi".into(),
            sub: "a2c4e6f8-0000-4000-8000-000000000001".into(),
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: "jti-1".into(),
            auth_time: now,
            idp: "tmi".into(),
            email: "alice@tmi.local".into(),
            email_verified: true,
            name: "Alice".into(),
            groups: vec!["g1".into()],
            tmi_is_administrator: false,
            tmi_is_security_reviewer: false,
            scope: "openid".into(),
            sid: Some("fam".into()),
            client_id: None,
        }
    }

    #[test]
    fn verified_cache_matches_whole_tokens_only() {
        let cache = VerifiedTokens::new(2);
        let now = Utc::now();
        let claims = std::sync::Arc::new(claims(now.timestamp()));
        let token = format!("header.payload.{}", "s".repeat(86));
        cache.insert(&token, claims.clone(), now);
        assert_eq!(cache.get(&token).as_deref(), Some(&*claims));
        // Same signature tail, different token: not a hit.
        let look_alike = format!("header.other.{}", "s".repeat(86));
        assert!(cache.get(&look_alike).is_none());
        assert!(cache.get("short").is_none());
        // Bounded: a full cache forgets (here everything, as nothing has expired).
        cache.insert("a.b.1111", claims.clone(), now);
        cache.insert("a.b.2222", claims.clone(), now);
        assert!(cache.get(&token).is_none());
        assert!(cache.get("a.b.2222").is_some());
    }

    #[test]
    fn signature_is_standard_ed25519_over_header_and_payload() {
        let seed = [9u8; 32];
        let ring = KeyRing::from_keys(&[
            StoredKey::signing(seed, Utc::now()),
            StoredKey::refresh([1u8; 32], Utc::now()),
            StoredKey::pepper([2u8; 32], Utc::now()),
        ])
        .expect("ring");
        let now = Utc::now();
        let token = sign(ring.active_signing(), &claims(now.timestamp())).expect("sign");
        let (signed, signature) = token.rsplit_once('.').expect("three parts");

        // An independent implementation (ed25519-dalek) agrees bit for bit: Ed25519 is
        // deterministic, and its verifier accepts the signature.
        let reference = ed25519_dalek::SigningKey::from_bytes(&seed);
        let signature = b64url_decode(signature).expect("base64url signature");
        assert_eq!(signature, reference.sign(signed.as_bytes()).to_bytes());
        let signature = ed25519_dalek::Signature::from_slice(&signature).expect("64 bytes");
        assert!(
            reference
                .verifying_key()
                .verify(signed.as_bytes(), &signature)
                .is_ok()
        );

        let header: serde_json::Value = serde_json::from_slice(
            &b64url_decode(signed.split('.').next().expect("header")).expect("base64url"),
        )
        .expect("json header");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], ring.active_signing().kid.as_str());

        let verified = verify(&ring, &token, "https://auth.example", "tmi", now, 0).expect("ok");
        assert_eq!(verified, claims(now.timestamp()));
        // Change one signature character that carries six data bits (not the last one, whose
        // low bits are padding).
        let at = token.len() - 10;
        let other = if &token[at..=at] == "A" { "B" } else { "A" };
        let mut tampered = token.clone();
        tampered.replace_range(at..=at, other);
        assert!(verify(&ring, &tampered, "https://auth.example", "tmi", now, 0).is_err());
    }
}
