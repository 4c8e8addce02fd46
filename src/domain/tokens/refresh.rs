//! Refresh tokens as PASETO v4.local: an encrypted, authenticated `{fam, seq, exp}` payload.
//! The footer names the encryption key so keys can rotate.

use pasetors::Local;
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use serde::{Deserialize, Serialize};

use super::family::FamilyId;
use super::keys::KeyRing;

/// Longest refresh token we try to parse.
pub const MAX_REFRESH_TOKEN_LEN: usize = 1000;
/// Binds our refresh tokens to this purpose (PASETO implicit assertion).
const IMPLICIT: &[u8] = b"tmi-auth refresh token v1";

/// What a refresh token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPayload {
    /// Family id.
    pub fam: String,
    /// Sequence number within the family.
    pub seq: u64,
    /// The family's absolute expiry (seconds since the epoch); the server record is authoritative.
    pub exp: i64,
}

/// Encrypts a payload with the ring's active refresh key.
pub fn seal(ring: &KeyRing, payload: &RefreshPayload) -> Result<String, String> {
    let (kid, key) = ring.active_refresh();
    let message = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    LocalToken::encrypt(key, &message, Some(kid.as_bytes()), Some(IMPLICIT))
        .map_err(|e| e.to_string())
}

/// Decrypts and authenticates a refresh token; `None` for anything that is not one of ours.
pub fn open(ring: &KeyRing, token: &str) -> Option<(FamilyId, RefreshPayload)> {
    if token.is_empty() || token.len() > MAX_REFRESH_TOKEN_LEN {
        return None;
    }
    let untrusted = UntrustedToken::<Local, V4>::try_from(token).ok()?;
    let kid = std::str::from_utf8(untrusted.untrusted_footer()).ok()?;
    let key = ring.refresh_key(kid)?;
    let trusted =
        LocalToken::decrypt(key, &untrusted, Some(kid.as_bytes()), Some(IMPLICIT)).ok()?;
    let payload: RefreshPayload = serde_json::from_str(trusted.payload()).ok()?;
    let fam = FamilyId::parse(&payload.fam)?;
    Some((fam, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tokens::keys::StoredKey;
    use chrono::Utc;

    fn ring(refresh_seed: u8) -> KeyRing {
        KeyRing::from_keys(&[
            StoredKey::signing([1u8; 32], Utc::now()),
            StoredKey::refresh([refresh_seed; 32], Utc::now()),
            StoredKey::pepper([9u8; 32], Utc::now()),
        ])
        .expect("ring")
    }

    #[test]
    fn sealed_tokens_open_with_the_same_ring() {
        let ring = ring(2);
        let payload = RefreshPayload {
            fam: "abc".into(),
            seq: 4,
            exp: 99,
        };
        let token = seal(&ring, &payload).expect("seal");
        assert!(token.starts_with("v4.local."));
        let (fam, opened) = open(&ring, &token).expect("opens");
        assert_eq!(fam.as_str(), "abc");
        assert_eq!(opened, payload);
    }

    #[test]
    fn tokens_from_another_key_or_tampered_do_not_open() {
        let payload = RefreshPayload {
            fam: "abc".into(),
            seq: 0,
            exp: 99,
        };
        let token = seal(&ring(2), &payload).expect("seal");
        assert!(open(&ring(3), &token).is_none());
        let mut tampered = token.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(open(&ring(2), &tampered).is_none());
        assert!(open(&ring(2), "not-a-token").is_none());
        assert!(open(&ring(2), "").is_none());
    }
}
