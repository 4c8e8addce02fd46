//! Token revocation (RFC 7009) and introspection (RFC 7662): who is asking, and what they may
//! learn or revoke.

use std::sync::Arc;

use secrecy::SecretString;

use super::credentials::{CredentialError, CredentialService};
use super::tokens::claims::AccessClaims;
use super::tokens::service::owner_of;
use super::tokens::{AuthError, TokenService};
use super::user::UserId;
use crate::ports::{AuditEvent, EventSink};

/// How a caller of `/oauth2/revoke` or `/oauth2/introspect` authenticated.
pub enum CallerAuth {
    /// `Authorization: Bearer <access token>`.
    Bearer(String),
    /// Client credentials (HTTP Basic or the body).
    Client {
        /// Client id.
        client_id: String,
        /// Client secret.
        secret: SecretString,
    },
}

/// Why the caller was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// No or bad authentication.
    #[error("client authentication failed")]
    Unauthenticated,
    /// Client credentials failed in another way (lockout, backend).
    #[error(transparent)]
    Credential(CredentialError),
    /// The bearer check could not be completed (backend).
    #[error(transparent)]
    Auth(AuthError),
}

/// Revocation and introspection.
pub struct AccessService {
    tokens: Arc<TokenService>,
    credentials: Arc<CredentialService>,
    events: Arc<dyn EventSink>,
}

impl AccessService {
    /// Wires the service.
    pub fn new(
        tokens: Arc<TokenService>,
        credentials: Arc<CredentialService>,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            tokens,
            credentials,
            events,
        }
    }

    /// The user a caller speaks for.
    pub async fn caller(&self, auth: CallerAuth) -> Result<UserId, CallerError> {
        match auth {
            CallerAuth::Bearer(token) => match self.tokens.authenticate(&token).await {
                Ok(claims) => owner_of(&claims).ok_or(CallerError::Unauthenticated),
                Err(AuthError::Unavailable(m)) => Err(CallerError::Auth(AuthError::Unavailable(m))),
                Err(_) => Err(CallerError::Unauthenticated),
            },
            CallerAuth::Client { client_id, secret } => {
                match self.credentials.authenticate(&client_id, &secret).await {
                    Ok((credential, _)) => Ok(credential.owner),
                    Err(CredentialError::InvalidClient) => Err(CallerError::Unauthenticated),
                    Err(other) => Err(CallerError::Credential(other)),
                }
            }
        }
    }

    /// RFC 7009: revokes `token` if it belongs to the caller; silently does nothing otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn revoke(
        &self,
        caller: CallerAuth,
        token: &str,
        hint_refresh: bool,
    ) -> Result<(), CallerError> {
        let caller = self.caller(caller).await?;
        let revoked = self
            .tokens
            .revoke_owned(token, hint_refresh, caller)
            .await
            .map_err(|e| CallerError::Auth(e.into()))?;
        self.events.record(AuditEvent::TokenRevoked {
            actor: caller.to_string(),
            what: if revoked { "token" } else { "none" },
        });
        Ok(())
    }

    /// RFC 7662: the claims of an active access token, `None` for anything else (invalid,
    /// expired, revoked, unknown, refresh tokens). Backend failures are errors, never "active".
    pub async fn introspect(
        &self,
        token: &str,
    ) -> Result<Option<std::sync::Arc<AccessClaims>>, AuthError> {
        match self.tokens.authenticate(token).await {
            Ok(claims) => Ok(Some(claims)),
            Err(AuthError::Unavailable(m)) => Err(AuthError::Unavailable(m)),
            Err(AuthError::Unexpected(m)) => Err(AuthError::Unexpected(m)),
            Err(_) => Ok(None),
        }
    }
}
