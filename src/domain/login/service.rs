//! The login service: authorize → upstream → callback → our code → token.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::callback_url::CallbackAllowList;
use super::error::LoginError;
use super::params::{
    AuthorizeParams, LoginHint, Scope, ScopeError, is_valid_client_state, is_valid_provider_id,
};
use super::records::{IssuedCode, PendingLogin, RedeemedCode};
use crate::domain::encoding::{digest_key, random_token};
use crate::domain::groups::{GroupError, GroupService};
use crate::domain::pkce::{CodeChallenge, CodeVerifier};
use crate::domain::providers::{Providers, SamlProviders};
use crate::domain::tokens::family::FamilyId;
use crate::domain::tokens::{GrantError, LoginSession, TokenPair, TokenService};
use crate::domain::user::{EmailLinking, ResolveError, UserId, resolve_user};
use crate::ports::identity_provider::{
    IdpError, UpstreamAuthorization, UpstreamCallback, UpstreamIdentity,
};
use crate::ports::{
    AuditEvent, Clock, EventSink, FlowKind, FlowStore, IdGenerator, PortError, UserRepository,
};

mod oauth;
mod redeem;
mod saml;

pub use saml::{SamlLoginParams, SloOutcome};

/// Longest authorization code we look up.
pub const MAX_CODE_LEN: usize = 512;

/// Configuration of the login flow.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Our `/oauth2/callback` URL (where providers send the browser back).
    pub callback_url: String,
    /// Allowed client callbacks.
    pub allow_list: CallbackAllowList,
    /// Whether a flow without `client_callback` may end with tokens in the callback's body.
    pub allow_callback_token_response: bool,
    /// Provider used when `idp` is omitted.
    pub default_idp: Option<String>,
    /// Lifetime of a pending flow.
    pub flow_ttl: Duration,
    /// Lifetime of our authorization codes.
    pub code_ttl: Duration,
    /// Whether a new identity may join an account with the same verified e-mail.
    pub email_linking: EmailLinking,
}

/// How a successful callback ends.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// 302 to this URL (the client callback with `code` and `state`, or with an error).
    Redirect(String),
    /// Tokens in the body (only when `allow_callback_token_response` is on).
    Tokens(TokenPair),
}

/// What every successful login ends with.
struct Finish {
    idp: String,
    identity: UpstreamIdentity,
    client_callback: Option<String>,
    client_state: Option<String>,
    code_challenge: String,
    scope: String,
}

/// The login flow.
pub struct LoginService {
    providers: Providers,
    saml: SamlProviders,
    flows: Arc<dyn FlowStore>,
    users: Arc<dyn UserRepository>,
    groups: Arc<GroupService>,
    tokens: Arc<TokenService>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    settings: LoginSettings,
    events: Arc<dyn EventSink>,
}

impl LoginService {
    /// Wires the service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        providers: Providers,
        flows: Arc<dyn FlowStore>,
        users: Arc<dyn UserRepository>,
        groups: Arc<GroupService>,
        tokens: Arc<TokenService>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        settings: LoginSettings,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            providers,
            saml: SamlProviders::default(),
            flows,
            users,
            groups,
            tokens,
            clock,
            ids,
            settings,
            events,
        }
    }

    /// Adds the SAML providers.
    pub fn with_saml(mut self, saml: SamlProviders) -> Self {
        self.saml = saml;
        self
    }

    /// Configured providers.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Configured SAML providers.
    pub fn saml_providers(&self) -> &SamlProviders {
        &self.saml
    }

    /// Our callback URL.
    pub fn callback_url(&self) -> &str {
        &self.settings.callback_url
    }

    /// The common end of every login (OAuth callback, SAML ACS): resolve the user, record
    /// IdP groups, then mint our code for the client callback or answer with tokens.
    async fn finish_login(&self, done: Finish) -> Result<CallbackOutcome, LoginError> {
        let Finish {
            idp,
            identity,
            client_callback,
            client_state,
            code_challenge,
            scope,
        } = done;
        let user = resolve_user(
            self.users.as_ref(),
            self.clock.as_ref(),
            self.ids.as_ref(),
            &idp,
            &identity,
            self.settings.email_linking,
        )
        .await
        .map_err(|err| match err {
            ResolveError::AccountConflict => {
                tracing::info!(idp = %idp, "login refused: e-mail belongs to another account");
                LoginError::AccountConflict
            }
            ResolveError::Port(port) => LoginError::from(port),
        })?;
        let groups = self
            .groups
            .on_login(&user, &idp, &identity.groups)
            .await
            .map_err(|e| match e {
                GroupError::Unavailable(m) => LoginError::Unavailable(m),
                other => LoginError::Unexpected(other.to_string()),
            })?;
        // The provider's current word on the user's groups reaches their older sessions too.
        self.tokens
            .update_session_groups(user.id, &idp, &groups)
            .await?;
        let now = self.clock.now();
        tracing::info!(idp = %idp, user = %user.id, "login succeeded");
        self.events.record(AuditEvent::LoginSucceeded {
            user: user.id.to_string(),
            idp: idp.clone(),
        });

        let user_id = user.id;
        let Some(client_callback) = client_callback else {
            let pair = self
                .tokens
                .issue_for_login(
                    LoginSession {
                        user,
                        idp,
                        scope,
                        auth_time: now,
                        groups: groups.clone(),
                    },
                    self.tokens
                        .new_family_id()
                        .map_err(|e| LoginError::Unexpected(e.to_string()))?,
                )
                .await
                .map_err(|e| match e {
                    GrantError::Unavailable(m) => LoginError::Unavailable(m),
                    other => LoginError::Unexpected(other.to_string()),
                })?;
            self.events.record(AuditEvent::TokenIssued {
                grant: "callback",
                subject: user_id.to_string(),
            });
            return Ok(CallbackOutcome::Tokens(pair));
        };

        let our_code = random_token(self.ids.as_ref(), 32);
        let issued = IssuedCode {
            user_id: user.id.as_uuid(),
            idp,
            scope,
            groups: groups.clone(),
            code_challenge,
            client_callback: Some(client_callback.clone()),
            auth_time: now.timestamp(),
            expires_at: (now + self.settings.code_ttl).timestamp(),
        };
        self.put(
            FlowKind::Code,
            &digest_key(&our_code),
            &issued,
            self.settings.code_ttl,
        )
        .await?;
        let location = with_query(
            &client_callback,
            &[("code", our_code.as_str())],
            client_state.as_deref(),
        )?;
        Ok(CallbackOutcome::Redirect(location))
    }

    async fn put<T: Serialize>(
        &self,
        kind: FlowKind,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), LoginError> {
        let bytes = serde_json::to_vec(value).map_err(|e| LoginError::Unexpected(e.to_string()))?;
        let ttl = ttl
            .to_std()
            .map_err(|e| LoginError::Unexpected(e.to_string()))?;
        self.flows
            .put(kind, key, bytes, ttl)
            .await
            .map_err(LoginError::from)
    }

    async fn take<T: DeserializeOwned>(
        &self,
        kind: FlowKind,
        key: &str,
    ) -> Result<Option<T>, PortError> {
        match self.flows.take(kind, key).await? {
            None => Ok(None),
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        kind: FlowKind,
        key: &str,
    ) -> Result<Option<T>, PortError> {
        match self.flows.get(kind, key).await? {
            None => Ok(None),
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        }
    }
}

impl From<LoginError> for GrantError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Unavailable(m) => GrantError::Unavailable(m),
            other => GrantError::Unexpected(other.to_string()),
        }
    }
}

/// Appends query parameters (and the client's `state`, if any) to an allow-listed URL.
fn with_query(
    base: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
) -> Result<String, LoginError> {
    let mut url = Url::parse(base).map_err(|e| LoginError::Unexpected(e.to_string()))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Ok(url.into())
}

fn from_unix(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}
