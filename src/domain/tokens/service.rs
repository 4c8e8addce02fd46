//! The token service: issues access/refresh pairs for a login, rotates refresh families,
//! authenticates bearer tokens and revokes families.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Duration, Utc};

use super::claims::AccessClaims;
use super::error::{AuthError, GrantError, KeyError};
use super::family::{FamilyId, Presentation, RefreshFamily};
use super::jwt;
use super::keys::{KeyPurpose, KeyRing, PublicJwk, Retention};
use super::refresh::{self, RefreshPayload};
use crate::domain::credentials::ClientCredential;
use crate::domain::credentials::model::{owner_of_service_subject, service_subject};
use crate::domain::encoding::random_token;
use crate::domain::groups::{Entitlements, GroupService};
use crate::domain::user::User;
use crate::domain::user::UserId;
use crate::ports::{
    AuditEvent, Clock, EventSink, IdGenerator, KeyStore, PortError, RefreshFamilyStore,
    RevocationEntry, RevocationList, UserRepository,
};

mod key_reload;
mod revoke;

pub use revoke::{end_all_sessions, end_sessions};

/// Token lifetimes and identity of the issuer.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of every token (our public base URL).
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Absolute lifetime of a refresh family.
    pub family_lifetime: Duration,
    /// How long the previous refresh token may be retried after a rotation.
    pub refresh_grace: Duration,
    /// Clock skew tolerated when checking `exp` and `nbf`.
    pub leeway: Duration,
    /// Algorithm of new signing keys.
    pub signing_alg: super::keys::SigningAlg,
    /// The HS256 secret, when `signing_alg` is HS256.
    pub shared_secret: Option<super::keys::SharedSecret>,
}

impl TokenSettings {
    /// How long retired keys are kept: until every token they made has expired.
    pub fn retention(&self) -> Retention {
        Retention {
            signing: self.access_ttl + self.leeway,
            refresh: self.family_lifetime + self.refresh_grace + self.leeway,
        }
    }
}

/// A successful login, about to receive tokens.
#[derive(Debug, Clone)]
pub struct LoginSession {
    /// The user.
    pub user: User,
    /// Provider that authenticated the user.
    pub idp: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// When the upstream authentication happened.
    pub auth_time: DateTime<Utc>,
    /// Groups asserted by the provider.
    pub groups: Vec<String>,
}

/// What the token endpoint returns.
#[derive(Clone)]
pub struct TokenPair {
    /// JWT access token.
    pub access_token: String,
    /// PASETO refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// The family the pair belongs to.
    pub family: FamilyId,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// Issues, rotates, validates and revokes our tokens.
pub struct TokenService {
    ring: RwLock<Arc<KeyRing>>,
    keys: Arc<dyn KeyStore>,
    last_reload: Mutex<Option<DateTime<Utc>>>,
    families: Arc<dyn RefreshFamilyStore>,
    revocations: Arc<dyn RevocationList>,
    users: Arc<dyn UserRepository>,
    groups: Arc<GroupService>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    settings: TokenSettings,
    verified: jwt::VerifiedTokens,
    events: Arc<dyn EventSink>,
}

/// Least time between two key reloads triggered by unknown key ids.
const KEY_RELOAD_MIN_SECS: i64 = 5;

/// How many verified tokens are remembered.
const VERIFIED_CACHE_CAPACITY: usize = 10_000;

/// Scope of client-credential tokens.
const CREDENTIAL_SCOPE: &str = "openid profile email";

/// The user a token speaks for: `sub` itself, or the owner in a service-account subject.
pub fn owner_of(claims: &AccessClaims) -> Option<UserId> {
    UserId::parse(&claims.sub).or_else(|| owner_of_service_subject(&claims.sub))
}

/// `[Service Account] <name>`, cut to the contract's 256 characters.
fn service_name(name: &str) -> String {
    format!("[Service Account] {name}")
        .chars()
        .take(256)
        .collect()
}

/// How many times a lost compare-and-set race is retried before giving up.
const MAX_CAS_ATTEMPTS: usize = 5;

impl TokenService {
    /// Wires the service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ring: KeyRing,
        keys: Arc<dyn KeyStore>,
        families: Arc<dyn RefreshFamilyStore>,
        revocations: Arc<dyn RevocationList>,
        users: Arc<dyn UserRepository>,
        groups: Arc<GroupService>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        settings: TokenSettings,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
            keys,
            last_reload: Mutex::new(None),
            families,
            revocations,
            users,
            groups,
            clock,
            ids,
            settings,
            verified: jwt::VerifiedTokens::new(VERIFIED_CACHE_CAPACITY),
            events,
        }
    }

    /// The key ring in use.
    fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The settings in force.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Public keys for the JWKS.
    pub fn public_keys(&self) -> Vec<PublicJwk> {
        self.ring().public_keys()
    }

    /// The algorithms our access tokens may be signed with now, the active key's first.
    pub fn signing_algorithms(&self) -> Vec<super::keys::SigningAlg> {
        self.ring().algorithms()
    }

    /// A fresh refresh-family id, for [`Self::issue_for_login`].
    pub fn new_family_id(&self) -> Result<FamilyId, GrantError> {
        FamilyId::parse(&random_token(self.ids.as_ref(), 16))
            .ok_or_else(|| GrantError::Unexpected("bad family id".into()))
    }

    /// Starts the refresh family `id` (from [`Self::new_family_id`]; known in advance so a
    /// caller can record it before the tokens exist) for a login and issues its first pair.
    #[tracing::instrument(skip_all, fields(idp = %session.idp, user = %session.user.id))]
    pub async fn issue_for_login(
        &self,
        session: LoginSession,
        id: FamilyId,
    ) -> Result<TokenPair, GrantError> {
        let now = self.clock.now();
        let family = RefreshFamily {
            id,
            user_id: session.user.id,
            idp: session.idp,
            scope: session.scope,
            groups: session.groups,
            auth_time: session.auth_time,
            current_seq: 0,
            created_at: now,
            expires_at: now + self.settings.family_lifetime,
            rotated_at: None,
            revoked: false,
        };
        self.families.insert(&family).await?;
        self.pair(&session.user, &family, family.current_seq, now)
            .await
    }

    /// Redeems a refresh token: rotation, grace retry, or reuse detection (which revokes the
    /// family and every access token issued from it).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, token: &str) -> Result<TokenPair, GrantError> {
        const INVALID: &str = "the refresh token is invalid, expired or revoked";
        let opened = match refresh::open(&self.ring(), token) {
            Some(opened) => Some(opened),
            None if self.reload_if_due().await => refresh::open(&self.ring(), token),
            None => None,
        };
        let (family_id, payload) = opened.ok_or(GrantError::InvalidGrant(INVALID))?;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let now = self.clock.now();
            let family = self
                .families
                .get(&family_id)
                .await?
                .ok_or(GrantError::InvalidGrant(INVALID))?;
            match family.present(payload.seq, now, self.settings.refresh_grace) {
                Presentation::Rotate(next) => {
                    // Everything the new pair needs is read before the rotation is committed:
                    // a read failing after it would leave the client holding a spent token,
                    // and its retry past the grace window would look like theft.
                    let user = self.owner(&next).await?;
                    let entitlements = self
                        .groups
                        .entitlements(user.id, &next.idp, &next.groups)
                        .await?;
                    match self
                        .families
                        .compare_and_set(family.current_seq, &next)
                        .await
                    {
                        Ok(true) => {
                            let pair = self.signed_pair(
                                &user,
                                entitlements,
                                &next,
                                next.current_seq,
                                now,
                            )?;
                            self.events.record(AuditEvent::TokenIssued {
                                grant: "refresh_token",
                                subject: user.id.to_string(),
                            });
                            return Ok(pair);
                        }
                        // Someone else rotated first; decide again on the fresh record.
                        Ok(false) => continue,
                        Err(PortError::NotFound) => return Err(GrantError::InvalidGrant(INVALID)),
                        Err(other) => return Err(other.into()),
                    }
                }
                Presentation::GraceRetry => {
                    let user = self.owner(&family).await?;
                    return self.pair(&user, &family, family.current_seq, now).await;
                }
                Presentation::Reuse => {
                    self.events.record(AuditEvent::RefreshReuseDetected {
                        user: family.user_id.to_string(),
                    });
                    tracing::warn!(
                        family = family_id.as_str(),
                        "refresh token reuse detected; revoking family"
                    );
                    self.revoke_existing_family(&family_id).await?;
                    return Err(GrantError::InvalidGrant(INVALID));
                }
                Presentation::Revoked => {
                    // The family's revocation may have stopped half-way (the store marked it,
                    // the revocation list was unreachable): presenting one of its tokens
                    // again completes it, best effort, while an access token issued from it
                    // may still be live.
                    let last_issued = family.rotated_at.unwrap_or(family.created_at)
                        + self.settings.refresh_grace;
                    if now < last_issued + self.settings.access_ttl + self.settings.leeway
                        && let Err(err) = self.revoke_listed(&family_id).await
                    {
                        tracing::warn!(%err, "could not list a revoked family's access tokens");
                    }
                    return Err(GrantError::InvalidGrant(INVALID));
                }
                Presentation::Expired => {
                    return Err(GrantError::InvalidGrant(INVALID));
                }
            }
        }
        Err(GrantError::Unavailable(
            "refresh family is under contention".into(),
        ))
    }

    /// Gives every live session `user` opened through `idp` the groups the provider asserted
    /// at this login; their next refresh issues tokens with them (and the entitlements they
    /// carry), so a group withdrawn at the provider does not outlive the next login.
    pub async fn update_session_groups(
        &self,
        user: UserId,
        idp: &str,
        groups: &[String],
    ) -> Result<(), PortError> {
        self.families.set_groups_for(user, idp, groups).await?;
        Ok(())
    }

    /// Validates a bearer access token: signature, algorithm, kid, iss, aud, exp, nbf, and
    /// the revocation list (failing closed when it cannot be read).
    pub async fn authenticate(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        let now = self.clock.now();
        let leeway = self.settings.leeway.num_seconds();
        let claims = match self.verified.get(token) {
            Some(claims) => {
                jwt::check_times(&claims, now, leeway)?;
                claims
            }
            None => {
                let verify = |ring: &KeyRing| {
                    jwt::verify(
                        ring,
                        token,
                        &self.settings.issuer,
                        &self.settings.audience,
                        now,
                        leeway,
                    )
                };
                let claims = match verify(&self.ring()) {
                    Err(AuthError::UnknownKey) if self.reload_if_due().await => {
                        verify(&self.ring())?
                    }
                    other => other?,
                };
                let claims = Arc::new(claims);
                self.verified.insert(token, claims.clone(), now);
                claims
            }
        };
        let mut entries = vec![RevocationEntry::TokenId(claims.jti.clone())];
        if let Some(sid) = &claims.sid {
            entries.push(RevocationEntry::Family(sid.clone()));
        }
        if let Some(client_id) = &claims.client_id {
            entries.push(RevocationEntry::Credential(client_id.clone()));
        }
        if self.revocations.any_revoked(&entries).await? {
            return Err(AuthError::Revoked);
        }
        Ok(claims)
    }

    /// [`TokenService::authenticate`], then loads the token's user (for a client-credential
    /// token, the credential's owner).
    pub async fn authenticate_user(&self, token: &str) -> Result<(AccessClaims, User), AuthError> {
        let claims = AccessClaims::clone(&*self.authenticate(token).await?);
        let id = owner_of(&claims).ok_or(AuthError::UnknownSubject)?;
        let user = self
            .users
            .find_by_id(id)
            .await?
            .ok_or(AuthError::UnknownSubject)?;
        Ok((claims, user))
    }

    /// Issues an access token to a client credential's service account (no refresh token).
    /// The token never outlives the credential.
    pub fn issue_for_credential(
        &self,
        credential: &ClientCredential,
        owner: &User,
    ) -> Result<(String, i64), GrantError> {
        let now = self.clock.now();
        let mut exp = now + self.settings.access_ttl;
        if let Some(limit) = credential.expires_at {
            exp = exp.min(limit);
        }
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: service_subject(credential.id, owner.id),
            exp: exp.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: random_token(self.ids.as_ref(), 16),
            auth_time: now.timestamp(),
            idp: owner.provider.clone(),
            email: owner.email.clone(),
            email_verified: owner.email_verified,
            name: service_name(&credential.name),
            groups: Vec::new(),
            tmi_is_administrator: false,
            tmi_is_security_reviewer: false,
            scope: CREDENTIAL_SCOPE.to_owned(),
            sid: None,
            client_id: Some(credential.client_id.as_str().to_owned()),
        };
        let token = jwt::sign(self.ring().active_signing(), &claims)
            .map_err(|e| GrantError::Unexpected(e.to_string()))?;
        Ok((token, (exp - now).num_seconds().max(0)))
    }

    async fn owner(&self, family: &RefreshFamily) -> Result<User, GrantError> {
        match self.users.find_by_id(family.user_id).await? {
            Some(user) => Ok(user),
            None => {
                self.revoke_family(&family.id).await?;
                Err(GrantError::InvalidGrant(
                    "the refresh token is invalid, expired or revoked",
                ))
            }
        }
    }

    async fn pair(
        &self,
        user: &User,
        family: &RefreshFamily,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, GrantError> {
        let entitlements = self
            .groups
            .entitlements(user.id, &family.idp, &family.groups)
            .await?;
        self.signed_pair(user, entitlements, family, seq, now)
    }

    /// The pair for `family` at `seq`, from what was read for it: no I/O.
    fn signed_pair(
        &self,
        user: &User,
        entitlements: Entitlements,
        family: &RefreshFamily,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, GrantError> {
        let expires_in = self.settings.access_ttl.num_seconds();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user.id.to_string(),
            exp: now.timestamp() + expires_in,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: random_token(self.ids.as_ref(), 16),
            auth_time: family.auth_time.timestamp(),
            idp: family.idp.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            groups: family.groups.clone(),
            tmi_is_administrator: entitlements.is_admin,
            tmi_is_security_reviewer: entitlements.is_security_reviewer,
            scope: family.scope.clone(),
            sid: Some(family.id.as_str().to_owned()),
            client_id: None,
        };
        let access_token = jwt::sign(self.ring().active_signing(), &claims)
            .map_err(|e| GrantError::Unexpected(e.to_string()))?;
        let refresh_token = refresh::seal(
            &self.ring(),
            &RefreshPayload {
                fam: family.id.as_str().to_owned(),
                seq,
                exp: family.expires_at.timestamp(),
            },
        )
        .map_err(GrantError::Unexpected)?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
            family: family.id.clone(),
        })
    }
}
