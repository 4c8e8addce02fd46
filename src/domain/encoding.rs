//! Small encoding helpers shared by the domain: base64url, digests and random tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::ports::IdGenerator;

/// Unpadded base64url of `bytes`.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
pub fn b64url_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// A UUID in its hyphenated form (`8-4-4-4-12` hex digits, either case), the contract's
/// `format: uuid`; the braced, `urn:uuid:` and unhyphenated spellings are refused.
pub fn parse_hyphenated_uuid(text: &str) -> Option<uuid::Uuid> {
    if text.len() != 36 {
        return None;
    }
    uuid::Uuid::parse_str(text).ok()
}

/// Decodes unpadded base64url; `None` when malformed.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// SHA-256 of `value`, as unpadded base64url. Used to key single-use secrets in storage so
/// that the stored key never reveals the secret itself.
pub fn digest_key(value: &str) -> String {
    b64url(&Sha256::digest(value.as_bytes()))
}

/// `n_bytes` of secure randomness as unpadded base64url (43 characters for 32 bytes).
pub fn random_token(ids: &dyn IdGenerator, n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    ids.fill_random(&mut buf);
    b64url(&buf)
}

/// `true` when `value` is non-empty and made only of RFC 3986 unreserved characters.
pub fn is_unreserved(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_key_is_sha256_base64url() {
        // SHA-256("abc") per FIPS 180-2.
        assert_eq!(
            digest_key("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn unreserved_rejects_spaces_and_empty() {
        assert!(is_unreserved("a-._~Z9"));
        assert!(!is_unreserved(""));
        assert!(!is_unreserved("a b"));
        assert!(!is_unreserved("a+b"));
    }
}
