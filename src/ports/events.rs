//! Audit events: one structured record per security-relevant outcome. The sink logs them and
//! feeds the metrics; it must never block and never fail the operation that emits.

/// Something worth an audit record. Never carries a secret: ids, provider names and reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent {
    /// A user signed in through an identity provider.
    LoginSucceeded {
        /// The user's internal id.
        user: String,
        /// Provider id.
        idp: String,
    },
    /// A login did not complete.
    LoginFailed {
        /// Provider id, when known.
        idp: String,
        /// Why (`invalid_state`, `access_denied`, `upstream_rejected`, `upstream_error`, …).
        reason: &'static str,
    },
    /// Tokens were issued.
    TokenIssued {
        /// `authorization_code`, `refresh_token`, `client_credentials` or `callback`.
        grant: &'static str,
        /// The token's subject.
        subject: String,
    },
    /// An old refresh token came back: its family was revoked.
    RefreshReuseDetected {
        /// The family's owner.
        user: String,
    },
    /// A revocation request was processed.
    TokenRevoked {
        /// The caller's user id.
        actor: String,
        /// `token`, `sessions` (SAML single logout), or `none` (not the caller's, or unknown).
        what: &'static str,
    },
    /// Client authentication failed.
    ClientAuthFailed {
        /// `invalid_client` or `locked`.
        reason: &'static str,
    },
    /// A client credential was created.
    CredentialCreated {
        /// Owner.
        owner: String,
        /// Credential id.
        credential: String,
    },
    /// A client credential was deleted (its tokens revoked).
    CredentialDeleted {
        /// Owner.
        owner: String,
        /// Credential id.
        credential: String,
    },
    /// A membership was added by configuration or automatic promotion.
    MembershipAdded {
        /// Group id.
        group: String,
        /// Member (user or group id).
        member: String,
        /// `config` or `first_user`.
        by: &'static str,
    },
}

impl AuditEvent {
    /// Stable snake-case name.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::LoginSucceeded { .. } => "login_succeeded",
            AuditEvent::LoginFailed { .. } => "login_failed",
            AuditEvent::TokenIssued { .. } => "token_issued",
            AuditEvent::RefreshReuseDetected { .. } => "refresh_reuse_detected",
            AuditEvent::TokenRevoked { .. } => "token_revoked",
            AuditEvent::ClientAuthFailed { .. } => "client_auth_failed",
            AuditEvent::CredentialCreated { .. } => "credential_created",
            AuditEvent::CredentialDeleted { .. } => "credential_deleted",
            AuditEvent::MembershipAdded { .. } => "membership_added",
        }
    }
}

/// Where audit events go.
pub trait EventSink: Send + Sync + 'static {
    /// Records an event. Never blocks on I/O and never fails.
    fn record(&self, event: AuditEvent);
}

/// A sink that drops everything (for tools that emit nothing worth auditing).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn record(&self, _event: AuditEvent) {}
}
