//! PKCE (RFC 7636), S256 only. The verifier is checked in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::encoding::{b64url, is_unreserved};

/// Why a PKCE value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// The value is not 43–128 unreserved characters.
    #[error("must be 43-128 characters of [A-Za-z0-9-._~]")]
    Malformed,
}

fn check_shape(value: &str) -> Result<(), PkceError> {
    if (43..=128).contains(&value.len()) && is_unreserved(value) {
        Ok(())
    } else {
        Err(PkceError::Malformed)
    }
}

/// A code challenge as sent to `/oauth2/authorize` (method S256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses a challenge: 43–128 unreserved characters.
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        check_shape(value)?;
        Ok(Self(value.to_owned()))
    }

    /// The S256 challenge of `verifier`.
    pub fn s256(verifier: &CodeVerifier) -> Self {
        Self(b64url(&Sha256::digest(verifier.0.as_bytes())))
    }

    /// The challenge text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` when `verifier` hashes to this challenge. Constant time in the compared bytes.
    pub fn is_satisfied_by(&self, verifier: &CodeVerifier) -> bool {
        let computed = Self::s256(verifier);
        computed.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A code verifier as sent to the token endpoint. Its `Debug` does not print the value.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Parses a verifier: 43–128 unreserved characters.
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        check_shape(value)?;
        Ok(Self(value.to_owned()))
    }

    /// The verifier text (a secret: do not log).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector_matches() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER).expect("valid verifier");
        assert_eq!(CodeChallenge::s256(&verifier).as_str(), RFC_CHALLENGE);
        let challenge = CodeChallenge::parse(RFC_CHALLENGE).expect("valid challenge");
        assert!(challenge.is_satisfied_by(&verifier));
    }

    #[test]
    fn a_different_verifier_does_not_satisfy_the_challenge() {
        let challenge = CodeChallenge::parse(RFC_CHALLENGE).expect("valid challenge");
        let other = CodeVerifier::parse(&"a".repeat(43)).expect("valid verifier");
        assert!(!challenge.is_satisfied_by(&other));
    }

    #[test]
    fn verifier_shape_is_enforced() {
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(42)),
            Err(PkceError::Malformed)
        );
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(129)),
            Err(PkceError::Malformed)
        );
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            CodeVerifier::parse(&format!("{}+", "a".repeat(43))),
            Err(PkceError::Malformed)
        );
        assert!(CodeChallenge::parse("short").is_err());
    }

    #[test]
    fn verifier_debug_is_redacted() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER).expect("valid verifier");
        assert!(!format!("{verifier:?}").contains("dBjf"));
    }
}
