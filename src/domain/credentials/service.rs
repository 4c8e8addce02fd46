//! The client-credential service: create, list, delete, and the `client_credentials` grant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::error::CredentialError;
use super::model::{
    ClientCredential, ClientId, CredentialName, MAX_SECRET_LEN, NewCredential, generate_secret,
    parse_description, parse_expiry,
};
use super::pepper::Peppers;
use crate::domain::tokens::{GrantError, TokenService};
use crate::domain::user::{User, UserId};
use crate::ports::backoff::BackoffPolicy;
use crate::ports::credentials::QuotaInsert;
use crate::ports::{
    AuditEvent, ClientCredentialRepository, Clock, EventSink, FailureCounter, IdGenerator,
    PortError, UserRepository,
};

/// Tunables.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Active credentials allowed per user.
    pub max_active_per_user: usize,
    /// Brute-force backoff per client id.
    pub backoff: BackoffPolicy,
    /// A credential's `last_used_at` is recorded at most this often.
    pub last_used_interval: Duration,
}

/// A credential just created, with its secret (shown once).
pub struct IssuedCredential {
    /// The stored credential.
    pub credential: ClientCredential,
    /// The secret, never stored.
    pub secret: SecretString,
}

/// A credential in a listing, with whether it is active now.
pub struct ListedCredential {
    /// The credential (no secret).
    pub credential: ClientCredential,
    /// Not expired.
    pub active: bool,
}

/// One page of a listing.
pub struct CredentialListing {
    /// Newest first.
    pub items: Vec<ListedCredential>,
    /// The owner's total.
    pub total: u64,
    /// Page size applied.
    pub limit: i64,
    /// Offset applied.
    pub offset: i64,
}

/// Client credentials and the `client_credentials` grant.
pub struct CredentialService {
    repo: Arc<dyn ClientCredentialRepository>,
    failures: Arc<dyn FailureCounter>,
    users: Arc<dyn UserRepository>,
    tokens: Arc<TokenService>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    peppers: Peppers,
    settings: CredentialSettings,
    last_used: Mutex<LastUsed>,
    events: Arc<dyn EventSink>,
}

/// Last-use bookkeeping kept off the grant's critical path: uses are noted in memory and
/// written in batches by [`CredentialService::flush_last_used`].
#[derive(Default)]
struct LastUsed {
    pending: HashMap<Uuid, DateTime<Utc>>,
    noted: HashMap<Uuid, DateTime<Utc>>,
}

/// The default list page size and its bounds (the contract's `PaginationLimit`).
pub const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;
const MAX_OFFSET: i64 = 1_000_000_000;

impl CredentialService {
    /// Wires the service. `peppers` key the secret digests.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        repo: Arc<dyn ClientCredentialRepository>,
        failures: Arc<dyn FailureCounter>,
        users: Arc<dyn UserRepository>,
        tokens: Arc<TokenService>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        peppers: Peppers,
        settings: CredentialSettings,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            repo,
            failures,
            users,
            tokens,
            clock,
            ids,
            peppers,
            settings,
            last_used: Mutex::new(LastUsed::default()),
            events,
        }
    }

    /// Validates and stores a new credential for `owner`, within the quota.
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn create(
        &self,
        owner: UserId,
        name: &str,
        description: Option<&str>,
        expires_at: Option<&str>,
    ) -> Result<IssuedCredential, CredentialError> {
        let now = self.clock.now();
        let invalid = |m: &str| CredentialError::InvalidRequest(m.to_owned());
        let request = NewCredential {
            name: CredentialName::parse(name).map_err(invalid)?,
            description: parse_description(description).map_err(invalid)?,
            expires_at: parse_expiry(expires_at, now).map_err(invalid)?,
        };
        let secret = generate_secret(self.ids.as_ref());
        let credential = ClientCredential {
            id: self.ids.uuid(),
            owner,
            client_id: ClientId::generate(self.ids.as_ref()),
            secret_digest: self.peppers.current().digest(&secret),
            pepper_id: self.peppers.current().id().to_owned(),
            name: request.name.as_str().to_owned(),
            description: request.description,
            created_at: now,
            modified_at: now,
            expires_at: request.expires_at,
            last_used_at: None,
        };
        match self
            .repo
            .insert_within_quota(&credential, self.settings.max_active_per_user, now)
            .await?
        {
            QuotaInsert::Inserted => {
                self.events.record(AuditEvent::CredentialCreated {
                    owner: owner.to_string(),
                    credential: credential.id.to_string(),
                });
                Ok(IssuedCredential { credential, secret })
            }
            QuotaInsert::QuotaExceeded => Err(CredentialError::QuotaExceeded),
        }
    }

    /// One page of the owner's credentials (newest first), with the limit and offset applied.
    pub async fn list(
        &self,
        owner: UserId,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<CredentialListing, CredentialError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(CredentialError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(CredentialError::InvalidRequest(
                "offset must be between 0 and 1000000000".into(),
            ));
        }
        let mut page = self
            .repo
            .list_by_owner(owner, limit.unsigned_abs() as u32, offset.unsigned_abs())
            .await?;
        let now = self.clock.now();
        let last_used = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for item in &mut page.items {
            if let Some(at) = last_used.noted.get(&item.id) {
                item.last_used_at = Some(item.last_used_at.map_or(*at, |stored| stored.max(*at)));
            }
        }
        let items = page
            .items
            .into_iter()
            .map(|credential| ListedCredential {
                active: credential.is_active(now),
                credential,
            })
            .collect();
        Ok(CredentialListing {
            items,
            total: page.total,
            limit,
            offset,
        })
    }

    /// Deletes the owner's credential and revokes every token issued from it, at once. The
    /// tokens are revoked first: when that fails nothing is deleted and the caller can retry
    /// (deleted first, a failed revocation would leave live tokens of a credential that no
    /// longer exists, and no way to retry).
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn delete(&self, owner: UserId, id: &str) -> Result<(), CredentialError> {
        let id = crate::domain::encoding::parse_hyphenated_uuid(id)
            .ok_or_else(|| CredentialError::InvalidRequest("id must be a UUID".into()))?;
        let found = self
            .repo
            .find_owned(owner, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        self.tokens
            .revoke_credential(found.client_id.as_str())
            .await?;
        match self.repo.delete(owner, id).await {
            Ok(_) => {}
            Err(PortError::NotFound) => return Err(CredentialError::NotFound),
            Err(other) => return Err(other.into()),
        }
        // A grant that read the credential before the delete committed may have signed a
        // token after the entry above was written; listing again covers its whole lifetime
        // (the entry's expiry only ever moves later).
        if let Err(err) = self
            .tokens
            .revoke_credential(found.client_id.as_str())
            .await
        {
            tracing::warn!(%err, "could not extend a deleted credential's revocation");
        }
        let mut last_used = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last_used.pending.remove(&id);
        last_used.noted.remove(&id);
        self.events.record(AuditEvent::CredentialDeleted {
            owner: owner.to_string(),
            credential: id.to_string(),
        });
        Ok(())
    }

    /// Authenticates a client: unknown, expired, deleted and wrong secret all give
    /// `InvalidClient` after the same work (one HMAC and one constant-time comparison).
    /// Locked-out client ids get `TooManyAttempts` without checking the secret. A secret
    /// digested under a previous pepper is digested again under the current one once it
    /// authenticates.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<(ClientCredential, User), CredentialError> {
        let key = backoff_key(client_id);
        let previous = self.failures.peek(&key).await?;
        if let Some(state) = previous.filter(|s| !s.locked_for.is_zero()) {
            let secs = state.locked_for.as_secs() + u64::from(state.locked_for.subsec_nanos() > 0);
            self.events
                .record(AuditEvent::ClientAuthFailed { reason: "locked" });
            return Err(CredentialError::TooManyAttempts {
                retry_after_secs: secs.max(1),
            });
        }
        let now = self.clock.now();
        let stored = match ClientId::parse(client_id) {
            Some(id) => self.repo.find_by_client_id(id.as_str()).await?,
            None => None,
        };
        // The pepper the stored digest was made under; unknown credentials (and ones whose
        // pepper is no longer configured) are digested under the current one, for equal work.
        let pepper = stored
            .as_ref()
            .and_then(|c| self.peppers.find(&c.pepper_id));
        if let (Some(c), None) = (&stored, pepper) {
            tracing::warn!(
                credential = %c.id,
                pepper = %c.pepper_id,
                "client secret digested under a pepper that is not configured \
                 (credentials.previous_pepper_files); the credential cannot authenticate"
            );
        }
        let presented = if secret.expose_secret().len() <= MAX_SECRET_LEN {
            pepper.unwrap_or(self.peppers.current()).digest(secret)
        } else {
            [0xFF; 32]
        };
        let expected = match (&stored, pepper) {
            (Some(c), Some(_)) => c.secret_digest,
            _ => [0u8; 32],
        };
        let secret_ok: bool = presented.ct_eq(&expected).into();
        let owner = match &stored {
            Some(c) if secret_ok && c.is_active(now) => self.users.find_by_id(c.owner).await?,
            _ => None,
        };
        match (stored, owner) {
            (Some(credential), Some(owner)) => {
                if previous.is_some() {
                    self.failures.reset(&key).await?;
                }
                if credential.pepper_id != self.peppers.current().id() {
                    self.rekey(&credential, secret).await;
                }
                self.note_use(credential.id, now);
                Ok((credential, owner))
            }
            _ => {
                let state = self
                    .failures
                    .record_failure(&key, &self.settings.backoff)
                    .await?;
                tracing::debug!(failures = state.count, "client authentication failed");
                self.events.record(AuditEvent::ClientAuthFailed {
                    reason: "invalid_client",
                });
                Err(CredentialError::InvalidClient)
            }
        }
    }

    /// The `client_credentials` grant: an access token for the credential's service account.
    #[tracing::instrument(skip_all)]
    pub async fn grant(
        &self,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<(String, i64), CredentialError> {
        let (credential, owner) = self.authenticate(client_id, secret).await?;
        self.events.record(AuditEvent::TokenIssued {
            grant: "client_credentials",
            subject: credential.id.to_string(),
        });
        self.tokens
            .issue_for_credential(&credential, &owner)
            .map_err(|e| match e {
                GrantError::Unavailable(m) => CredentialError::Unavailable(m),
                other => CredentialError::Unexpected(other.to_string()),
            })
    }

    /// Writes the noted last-use times in one batch; returns how many were written.
    pub async fn flush_last_used(&self) -> Result<usize, PortError> {
        let batch: Vec<(Uuid, DateTime<Utc>)> = {
            let mut last_used = self
                .last_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let cutoff = self.clock.now() - self.settings.last_used_interval;
            last_used.noted.retain(|_, at| *at > cutoff);
            last_used.pending.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match self.repo.record_last_used(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(err) => {
                // Put them back so the next flush retries; newer notes win.
                let mut last_used = self
                    .last_used
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                for (id, at) in batch {
                    last_used.pending.entry(id).or_insert(at);
                }
                Err(err)
            }
        }
    }

    /// Digests an authenticated secret again under the current pepper (best effort: the old
    /// digest keeps working while its pepper stays configured).
    async fn rekey(&self, credential: &ClientCredential, secret: &SecretString) {
        let current = self.peppers.current();
        let digest = current.digest(secret);
        match self
            .repo
            .rekey_secret(credential.id, &credential.pepper_id, &digest, current.id())
            .await
        {
            Ok(true) => tracing::info!(
                credential = %credential.id,
                from = %credential.pepper_id,
                to = %current.id(),
                "client secret digest moved to the current pepper"
            ),
            Ok(false) => {}
            Err(err) => tracing::warn!(
                credential = %credential.id,
                error = %err,
                "could not move the client secret digest to the current pepper"
            ),
        }
    }

    fn note_use(&self, id: Uuid, now: DateTime<Utc>) {
        let mut last_used = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let recent = last_used
            .noted
            .get(&id)
            .is_some_and(|at| now - *at < self.settings.last_used_interval);
        if !recent {
            last_used.noted.insert(id, now);
            last_used.pending.insert(id, now);
        }
    }
}

/// Counter key for a client id (digested so arbitrary input makes a bounded key).
fn backoff_key(client_id: &str) -> String {
    crate::domain::encoding::digest_key(client_id)
}
