//! Errors of the token use cases: loading keys, granting tokens, authenticating a bearer.

use crate::ports::PortError;

/// Key material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store has no usable key of a required purpose.
    #[error("no active key")]
    NoActiveKey,
    /// A stored key could not be parsed.
    #[error("key {0} is not valid key material")]
    Invalid(String),
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Why a grant at the token endpoint (or `/oauth2/refresh`) was refused.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A required parameter is missing or malformed (RFC 6749 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The code or refresh token is invalid, expired, revoked, reused, or does not match
    /// (RFC 6749 `invalid_grant`). The text is safe to show to the client.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// The grant type is not one we support.
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// A backend is down; retry later.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the text is for logs only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<PortError> for GrantError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::Unavailable(msg) => GrantError::Unavailable(msg),
            other => GrantError::Unexpected(other.to_string()),
        }
    }
}

/// Why a bearer access token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, or not a well-formed JWT.
    #[error("malformed token")]
    Malformed,
    /// The token is not signed by one of our keys with an allowed algorithm, or its
    /// issuer or audience is not ours.
    #[error("invalid token")]
    Invalid,
    /// The token names a key this replica does not know (yet).
    #[error("unknown key")]
    UnknownKey,
    /// The token has expired (or is not valid yet).
    #[error("token expired")]
    Expired,
    /// The token, its family or its credential was revoked.
    #[error("token revoked")]
    Revoked,
    /// The token's subject no longer exists.
    #[error("unknown subject")]
    UnknownSubject,
    /// The revocation list or user store cannot be read: fail closed.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; for logs only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<PortError> for AuthError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::Unavailable(msg) => AuthError::Unavailable(msg),
            other => AuthError::Unexpected(other.to_string()),
        }
    }
}
