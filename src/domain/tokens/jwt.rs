//! Signing and verifying JWT access tokens.
//!
//! Signing uses the parsed Ed25519 key directly over the standard `header.payload` (the
//! header is encoded once per key). Verification goes through the `jsonwebtoken` crate with an
//! algorithm allow-list of `EdDSA`, a key looked up by `kid`, and exact `iss`/`aud` checks;
//! `exp`/`nbf` are checked against our injected clock, not the system time.

use chrono::{DateTime, Utc};
use ed25519_dalek::Signer;
use jsonwebtoken::{Algorithm, Validation};

use super::claims::AccessClaims;
use super::error::AuthError;
use super::keys::{KeyRing, SigningEntry};
use crate::domain::encoding::b64url;

/// Longest token we even try to parse.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Signs `claims` with `key`.
pub fn sign(key: &SigningEntry, claims: &AccessClaims) -> Result<String, serde_json::Error> {
    let payload = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity(1024);
    token.push_str(&key.header_b64);
    token.push('.');
    token.push_str(&b64url(&payload));
    let signature = key.signer.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64url(&signature.to_bytes()));
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
    if header.alg != Algorithm::EdDSA {
        return Err(AuthError::Invalid);
    }
    let kid = header.kid.ok_or(AuthError::Invalid)?;
    let key = ring.signing_key(&kid).ok_or(AuthError::Invalid)?;

    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map_err(|_| AuthError::Invalid)?;
    let claims = data.claims;
    let now = now.timestamp();
    if claims.exp + leeway_secs <= now {
        return Err(AuthError::Expired);
    }
    if claims.nbf - leeway_secs > now {
        return Err(AuthError::Invalid);
    }
    Ok(claims)
}
