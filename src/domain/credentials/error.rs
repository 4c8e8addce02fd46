//! Errors of the client-credential use cases.

use crate::ports::PortError;

/// Why a client-credential operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Bad input; the text is client-safe.
    #[error("{0}")]
    InvalidRequest(String),
    /// The owner has too many active credentials.
    #[error("the maximum number of active client credentials has been reached")]
    QuotaExceeded,
    /// No such credential for this owner (or someone else's).
    #[error("client credential not found")]
    NotFound,
    /// Unknown, expired, deleted or wrong secret: always the same answer.
    #[error("client authentication failed")]
    InvalidClient,
    /// Too many failed attempts for this client id.
    #[error("too many failed attempts; retry in {retry_after_secs} seconds")]
    TooManyAttempts {
        /// Seconds until the lock lifts.
        retry_after_secs: u64,
    },
    /// A backend is down.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; for logs only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<PortError> for CredentialError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::Unavailable(msg) => CredentialError::Unavailable(msg),
            other => CredentialError::Unexpected(other.to_string()),
        }
    }
}
