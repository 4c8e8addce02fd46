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

/// Longest token the introspection endpoint accepts (the contract's cap). Tokens are kept
/// within it by shortening the display `name` claim when needed (DECISIONS: "keep tokens under
/// 1000 characters"); other claims are never cut, so a token with many groups, or an RS256
/// signature, can still be longer.
pub const INTROSPECTABLE_LEN: usize = 1000;

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

/// Signs `claims` with `key`, shortening `name` (ending it with "…") when that keeps the
/// token within [`INTROSPECTABLE_LEN`].
pub fn sign(key: &SigningEntry, claims: &AccessClaims) -> Result<String, SignError> {
    let mut payload = Vec::with_capacity(768);
    serde_json::to_writer(&mut payload, claims)?;
    let fixed = key.header_b64.len() + 2 + b64_len(key.signer.signature_len());
    if fixed + b64_len(payload.len()) > INTROSPECTABLE_LEN
        && let Some(shorter) = shortened(claims, fixed)?
    {
        payload = shorter;
    }
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

/// Unpadded base64 length of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// The payload with `name` cut so the token fits, or `None` when even an empty name would not.
fn shortened(claims: &AccessClaims, fixed: usize) -> Result<Option<Vec<u8>>, SignError> {
    // Payload bytes that fit beside the header and the signature.
    let room = (INTROSPECTABLE_LEN.saturating_sub(fixed)) * 3 / 4;
    let whole: usize = claims.name.chars().map(json_len).sum();
    let Some(others) = serde_json::to_vec(claims)?.len().checked_sub(whole) else {
        return Ok(None);
    };
    let Some(budget) = room.checked_sub(others + '…'.len_utf8()) else {
        return Ok(None);
    };
    let mut used = 0;
    let mut name = String::with_capacity(budget + 3);
    for c in claims.name.chars() {
        used += json_len(c);
        if used > budget {
            break;
        }
        name.push(c);
    }
    name.push('…');
    let mut trial = claims.clone();
    trial.name = name;
    let payload = serde_json::to_vec(&trial)?;
    Ok((payload.len() <= room).then_some(payload))
}

/// How many bytes `c` takes inside a JSON string as serde_json writes it.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
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
    use chrono::TimeZone;
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

    fn ring() -> KeyRing {
        KeyRing::from_keys(&[
            StoredKey::signing([9u8; 32], Utc::now()),
            StoredKey::refresh([1u8; 32], Utc::now()),
            StoredKey::pepper([2u8; 32], Utc::now()),
        ])
        .expect("ring")
    }

    fn signed_name(ring: &KeyRing, claims: &AccessClaims) -> (String, String) {
        let token = sign(ring.active_signing(), claims).expect("sign");
        let now = Utc.timestamp_opt(claims.iat, 0).unwrap();
        let verified = verify(ring, &token, "https://auth.example", "tmi", now, 0).expect("ok");
        (token, verified.name)
    }

    #[test]
    fn long_names_are_shortened_to_keep_tokens_introspectable() {
        let ring = ring();
        let now = Utc::now().timestamp();
        for name in [
            "\u{1F511}".repeat(200),
            "x".repeat(900),
            "\"".repeat(300),
            "\u{1}".repeat(200),
        ] {
            let mut claims = claims(now);
            claims.name = name.clone();
            let (token, shown) = signed_name(&ring, &claims);
            assert!(token.len() <= INTROSPECTABLE_LEN, "{} chars", token.len());
            let cut = shown.strip_suffix('…').unwrap_or_else(|| {
                panic!(
                    "not cut: {} {:?}",
                    token.len(),
                    &shown[..shown.len().min(40)]
                )
            });
            assert!(name.starts_with(cut), "a prefix of the name");
            // As long as fits: one more character would not.
            assert!(
                token.len() > INTROSPECTABLE_LEN - 12,
                "{} chars",
                token.len()
            );
        }
        // Short names are left alone.
        let claims = claims(now);
        assert_eq!(signed_name(&ring, &claims).1, claims.name);
    }

    #[test]
    fn the_name_is_kept_whole_when_cutting_it_would_not_help() {
        let ring = ring();
        let mut claims = claims(Utc::now().timestamp());
        claims.groups = (0..60).map(|i| format!("group-number-{i}")).collect();
        claims.name = "Alice Example".into();
        let (token, shown) = signed_name(&ring, &claims);
        assert!(token.len() > INTROSPECTABLE_LEN);
        assert_eq!(shown, "Alice Example");
    }
}
