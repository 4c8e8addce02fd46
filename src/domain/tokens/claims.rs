//! The claims of our JWT access tokens (DECISIONS.md, "Tokens").

use serde::{Deserialize, Serialize};

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: our configured public base URL.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's internal UUID (or `sa:<credential>:<owner>` for client credentials).
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique token id (revocation key).
    pub jti: String,
    /// When the user authenticated upstream.
    pub auth_time: i64,
    /// The provider the user signed in with.
    pub idp: String,
    /// E-mail.
    pub email: String,
    /// Whether the e-mail is verified.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// Group names.
    pub groups: Vec<String>,
    /// Effective member of the administrators group.
    pub tmi_is_administrator: bool,
    /// Effective member of the security-reviewers group.
    pub tmi_is_security_reviewer: bool,
    /// Granted scopes, space separated.
    pub scope: String,
    /// Refresh-token family (login session) this token was issued from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Client credential this token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}
