//! Errors of the authorize and callback use cases.

use crate::ports::PortError;

/// Why `/oauth2/authorize` or `/oauth2/callback` refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A parameter is missing or malformed (`invalid_request`); the text is client-safe.
    #[error("{0}")]
    InvalidRequest(String),
    /// The scope lacks `openid` or is malformed (`invalid_scope`).
    #[error("{0}")]
    InvalidScope(String),
    /// `response_type` other than `code`.
    #[error("only response_type=code is supported")]
    UnsupportedResponseType,
    /// The `idp` is not configured.
    #[error("unknown identity provider")]
    UnknownProvider,
    /// The callback's `state` is unknown, expired or already used.
    #[error("unknown, expired or already used state")]
    InvalidState,
    /// The upstream provider (or the user) declined the login.
    #[error("the identity provider did not authenticate the user")]
    AccessDenied,
    /// The upstream code was rejected.
    #[error("the authorization code from the identity provider was rejected")]
    UpstreamRejected,
    /// The identity is new but its e-mail belongs to another account (`account_conflict`).
    #[error(
        "the e-mail address of this identity belongs to another account; sign in with the provider you used before"
    )]
    AccountConflict,
    /// A SAML message was malformed or broke a protocol rule (400); details are for logs.
    #[error("invalid SAML message: {0}")]
    SamlInvalid(String),
    /// A SAML message was not signed by the IdP, or was replayed (401); details are for logs.
    #[error("SAML message rejected: {0}")]
    SamlRejected(String),
    /// The upstream provider failed; details are for logs only.
    #[error("identity provider failure: {0}")]
    Upstream(String),
    /// A backend is down.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; for logs only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl LoginError {
    /// A short, stable reason for audit records and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::InvalidRequest(_) => "invalid_request",
            LoginError::InvalidScope(_) => "invalid_scope",
            LoginError::UnsupportedResponseType => "unsupported_response_type",
            LoginError::UnknownProvider => "unknown_provider",
            LoginError::InvalidState => "invalid_state",
            LoginError::AccessDenied => "access_denied",
            LoginError::UpstreamRejected => "upstream_rejected",
            LoginError::AccountConflict => "account_conflict",
            LoginError::SamlInvalid(_) => "invalid_saml",
            LoginError::SamlRejected(_) => "saml_rejected",
            LoginError::Upstream(_) => "upstream_error",
            LoginError::Unavailable(_) => "unavailable",
            LoginError::Unexpected(_) => "error",
        }
    }
}

impl From<PortError> for LoginError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::Unavailable(msg) => LoginError::Unavailable(msg),
            other => LoginError::Unexpected(other.to_string()),
        }
    }
}
