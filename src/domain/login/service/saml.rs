//! SAML logins end exactly like OAuth ones: `/saml/{provider}/login` stores a pending request
//! (client callback, client state, PKCE challenge, AuthnRequest ID) under an opaque RelayState;
//! `/saml/acs` consumes it once, has the adapter validate the response, refuses replayed
//! assertion IDs, and then mints our single-use code for the client callback. Single logout
//! revokes the user's sessions from that provider.

use chrono::Duration;

use super::{Finish, LoginService};
use crate::domain::encoding::{digest_key, random_token};
use crate::domain::login::CallbackOutcome;
use crate::domain::login::error::LoginError;
use crate::domain::login::params::{is_valid_client_state, is_valid_provider_id};
use crate::domain::login::records::PendingSaml;
use crate::domain::pkce::CodeChallenge;
use crate::ports::saml::{SamlAssertion, SamlError, SamlLogout, SamlProvider, SamlProviderInfo};
use crate::ports::{AuditEvent, FlowKind, PortError};

/// Longest RelayState we issue or accept.
pub const MAX_RELAY_STATE: usize = 80;
/// Scope of SAML logins.
const SAML_SCOPE: &str = "openid profile email";

/// What `/saml/{provider}/login` was given.
#[derive(Debug, Default)]
pub struct SamlLoginParams {
    /// Where our code goes (allow-listed).
    pub client_callback: Option<String>,
    /// The client's S256 challenge (required with a client callback).
    pub code_challenge: Option<String>,
    /// Must be `S256` when given.
    pub code_challenge_method: Option<String>,
    /// The client's state, echoed back.
    pub state: Option<String>,
}

/// How a single logout ends.
#[derive(Debug)]
pub enum SloOutcome {
    /// 302 to the IdP with our LogoutResponse.
    Redirect(String),
    /// Done; no response to send back through the browser.
    Done,
}

impl LoginService {
    /// Starts an SP-initiated login and returns the IdP URL to redirect to.
    #[tracing::instrument(skip_all, fields(idp = %provider_id))]
    pub async fn saml_login(
        &self,
        provider_id: &str,
        params: SamlLoginParams,
    ) -> Result<String, LoginError> {
        let invalid = |msg: &str| LoginError::InvalidRequest(msg.to_owned());
        if !is_valid_provider_id(provider_id) {
            return Err(LoginError::UnknownProvider);
        }
        let provider = self
            .saml
            .get(provider_id)
            .ok_or(LoginError::UnknownProvider)?
            .clone();
        let client_callback = match params.client_callback.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => Some(
                self.settings
                    .allow_list
                    .admit(raw)
                    .map_err(LoginError::InvalidRequest)?
                    .into(),
            ),
        };
        let code_challenge = match (&client_callback, params.code_challenge.as_deref()) {
            (Some(_), None) => {
                return Err(invalid(
                    "code_challenge is required with client_callback (PKCE)",
                ));
            }
            (_, Some(raw)) => CodeChallenge::parse(raw)
                .map_err(|_| {
                    invalid("code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
                })?
                .as_str()
                .to_owned(),
            (None, None) => String::new(),
        };
        match params.code_challenge_method.as_deref() {
            None if code_challenge.is_empty() => {}
            Some("S256") => {}
            _ => return Err(invalid("code_challenge_method must be S256")),
        }
        if client_callback.is_none() && !self.settings.allow_callback_token_response {
            return Err(invalid("client_callback is required"));
        }
        let client_state = match params.state.as_deref() {
            None | Some("") => None,
            Some(raw) if is_valid_client_state(raw) => Some(raw.to_owned()),
            Some(_) => return Err(invalid("state is malformed")),
        };

        let relay_state = random_token(self.ids.as_ref(), 32);
        let request_id = format!("_{}", random_token(self.ids.as_ref(), 20));
        let request = provider
            .login_request(&relay_state, &request_id)
            .map_err(saml_error)?;
        let pending = PendingSaml {
            idp: provider_id.to_owned(),
            request_id: request.request_id,
            client_callback,
            client_state,
            code_challenge,
        };
        self.put(
            FlowKind::SamlRequest,
            &digest_key(&relay_state),
            &pending,
            self.settings.flow_ttl,
        )
        .await?;
        Ok(request.redirect_url)
    }

    /// Consumes a response posted to our ACS.
    #[tracing::instrument(skip_all)]
    pub async fn saml_acs(
        &self,
        saml_response: Option<&str>,
        relay_state: Option<&str>,
    ) -> Result<CallbackOutcome, LoginError> {
        let result = self.complete_acs(saml_response, relay_state).await;
        if let Err(err) = &result {
            self.events.record(AuditEvent::LoginFailed {
                idp: String::new(),
                reason: err.reason(),
            });
        }
        result
    }

    async fn complete_acs(
        &self,
        saml_response: Option<&str>,
        relay_state: Option<&str>,
    ) -> Result<CallbackOutcome, LoginError> {
        let saml_response = saml_response
            .filter(|r| !r.is_empty())
            .ok_or_else(|| LoginError::InvalidRequest("SAMLResponse is required".into()))?;
        let (provider, assertion, pending) = match relay_state.filter(|r| !r.is_empty()) {
            Some(relay) if relay.len() > MAX_RELAY_STATE => {
                return Err(LoginError::InvalidRequest("RelayState is too long".into()));
            }
            Some(relay) => {
                let pending = self
                    .take::<PendingSaml>(FlowKind::SamlRequest, &digest_key(relay))
                    .await?
                    .ok_or(LoginError::InvalidState)?;
                let provider = self
                    .saml
                    .get(&pending.idp)
                    .ok_or(LoginError::UnknownProvider)?
                    .clone();
                let assertion = provider
                    .validate_response(saml_response, Some(&pending.request_id))
                    .map_err(saml_error)?;
                (provider, assertion, Some(pending))
            }
            None => {
                let (provider, assertion) = self.unsolicited(saml_response)?;
                (provider, assertion, None)
            }
        };
        let idp = provider.info().id.clone();
        self.consume_assertion(&idp, &assertion).await?;
        let name_id = assertion.name_id.clone();
        let subject = assertion.identity.subject.clone();
        tracing::info!(%idp, "SAML assertion accepted");
        let (client_callback, client_state, code_challenge) = match pending {
            Some(p) => (p.client_callback, p.client_state, p.code_challenge),
            None if self.settings.allow_callback_token_response => (None, None, String::new()),
            None => {
                return Err(LoginError::InvalidRequest(
                    "an IdP-initiated login has no client callback to deliver to".into(),
                ));
            }
        };
        let outcome = self
            .finish_login(Finish {
                idp: idp.clone(),
                identity: assertion.identity,
                client_callback,
                client_state,
                code_challenge,
                scope: SAML_SCOPE.to_owned(),
            })
            .await?;
        if let Some(name_id) = name_id {
            self.remember_name_id(&idp, &name_id, &subject).await;
        }
        Ok(outcome)
    }

    /// Remembers which subjects a NameID stood for at login (the provider maps subjects from
    /// an attribute; a LogoutRequest carries only the NameID), for as long as a session may
    /// last. A NameID that is not unique per user maps to each of its recent subjects, newest
    /// first (updated atomically, so simultaneous logins keep every subject). Best effort: a
    /// subject missing here is not logged out by NameID.
    async fn remember_name_id(&self, idp: &str, name_id: &str, subject: &str) {
        let key = name_id_key(idp, name_id);
        let ttl = self
            .tokens
            .settings()
            .family_lifetime
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(7 * 86_400));
        if let Err(err) = self
            .flows
            .push_recent(
                FlowKind::SamlNameId,
                &key,
                subject,
                MAX_SUBJECTS_PER_NAME_ID,
                ttl,
            )
            .await
        {
            tracing::warn!(%idp, error = %err, "could not remember the NameID for single logout");
        }
    }

    /// An IdP-initiated response: the first provider allowing them whose signature verifies.
    fn unsolicited(
        &self,
        saml_response: &str,
    ) -> Result<(std::sync::Arc<dyn SamlProvider>, SamlAssertion), LoginError> {
        let mut first_error = None;
        for provider in self.saml.all() {
            if !provider.info().allow_idp_initiated || !provider.info().initialized {
                continue;
            }
            match provider.validate_response(saml_response, None) {
                Ok(assertion) => return Ok((provider.clone(), assertion)),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(saml_error(first_error.unwrap_or_else(|| {
            SamlError::Invalid("unsolicited (IdP-initiated) responses are not accepted".into())
        })))
    }

    /// Remembers the assertion ID until the assertion expires; a second use fails.
    async fn consume_assertion(
        &self,
        idp: &str,
        assertion: &SamlAssertion,
    ) -> Result<(), LoginError> {
        let now = self.clock.now();
        let ttl = (assertion.expires_at - now)
            .clamp(Duration::seconds(60), Duration::days(1))
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        let key = digest_key(&format!("{idp}\n{}", assertion.assertion_id));
        match self
            .flows
            .put(FlowKind::SamlAssertion, &key, b"1".to_vec(), ttl)
            .await
        {
            Ok(()) => Ok(()),
            Err(PortError::AlreadyExists) => Err(LoginError::SamlInvalid(format!(
                "assertion {} was already used",
                assertion.assertion_id
            ))),
            Err(other) => Err(other.into()),
        }
    }

    /// Single logout received with the HTTP-Redirect binding (`raw_query` as received).
    pub async fn saml_logout_redirect(&self, raw_query: &str) -> Result<SloOutcome, LoginError> {
        let (provider, logout) =
            self.logout_from(|provider| provider.validate_logout_redirect(raw_query))?;
        self.end_sessions(provider.as_ref(), &logout).await?;
        let response_id = format!("_{}", random_token(self.ids.as_ref(), 20));
        Ok(
            match provider
                .logout_response_redirect(&logout.request_id, &response_id)
                .map_err(saml_error)?
            {
                Some(url) => SloOutcome::Redirect(url),
                None => SloOutcome::Done,
            },
        )
    }

    /// Single logout received with the HTTP-POST binding.
    pub async fn saml_logout_post(&self, saml_request: &str) -> Result<SloOutcome, LoginError> {
        let (provider, logout) =
            self.logout_from(|provider| provider.validate_logout_post(saml_request))?;
        self.end_sessions(provider.as_ref(), &logout).await?;
        Ok(SloOutcome::Done)
    }

    fn logout_from(
        &self,
        validate: impl Fn(&dyn SamlProvider) -> Result<SamlLogout, SamlError>,
    ) -> Result<(std::sync::Arc<dyn SamlProvider>, SamlLogout), LoginError> {
        let mut first_error = None;
        for provider in self.saml.all().iter().filter(|p| p.info().initialized) {
            match validate(provider.as_ref()) {
                Ok(logout) => return Ok((provider.clone(), logout)),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        // Whatever the reason (unsigned, wrong signer, malformed): 400.
        let detail = first_error
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no SAML provider is configured".into());
        Err(LoginError::SamlInvalid(detail))
    }

    async fn end_sessions(
        &self,
        provider: &dyn SamlProvider,
        logout: &SamlLogout,
    ) -> Result<(), LoginError> {
        let info = provider.info();
        let idp = &info.id;
        // Each LogoutRequest acts once: a captured one replayed while still fresh would end
        // sessions opened after the real logout. (Freshness is 5 minutes plus the clock
        // skew either side; the record outlives it.)
        let key = digest_key(&format!("{idp}\n{}", logout.request_id));
        match self
            .flows
            .put(
                FlowKind::SamlLogout,
                &key,
                b"1".to_vec(),
                std::time::Duration::from_secs(30 * 60),
            )
            .await
        {
            Ok(()) => {}
            Err(PortError::AlreadyExists) => {
                return Err(LoginError::SamlInvalid(format!(
                    "LogoutRequest {} was already acted on",
                    logout.request_id
                )));
            }
            Err(other) => return Err(other.into()),
        }
        let result = self.end_named_sessions(&info, logout).await;
        if result.is_err() {
            // Not acted on (or only in part): the IdP may send the same request again.
            if let Err(err) = self.flows.take(FlowKind::SamlLogout, &key).await {
                tracing::warn!(%idp, error = %err, "a failed LogoutRequest stays recorded; the IdP must send a new one");
            }
        }
        result
    }

    /// Ends the sessions of the users `logout` names (single logout, after the replay check).
    async fn end_named_sessions(
        &self,
        info: &SamlProviderInfo,
        logout: &SamlLogout,
    ) -> Result<(), LoginError> {
        let idp = &info.id;
        // With subjects from an attribute, the NameID means only what logins recorded (the
        // mapping stays: the IdP may repeat the request, or log out another session).
        let subjects = if info.subject_from_attribute {
            let key = name_id_key(idp, &logout.name_id);
            let mut subjects = self.flows.recent(FlowKind::SamlNameId, &key).await?;
            let legacy = self.flows.get(FlowKind::SamlNameIdV1, &key).await?;
            for subject in legacy
                .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
                .unwrap_or_default()
            {
                if !subjects.contains(&subject) {
                    subjects.push(subject);
                }
            }
            subjects
        } else {
            vec![logout.name_id.clone()]
        };
        let mut found = false;
        for subject in &subjects {
            let Some(user) = self.users.find_by_identity(idp, subject).await? else {
                continue;
            };
            found = true;
            let ended = self.tokens.revoke_sessions(user.id, idp).await?;
            tracing::info!(%idp, user = %user.id, sessions = ended, "SAML single logout");
            self.events.record(AuditEvent::TokenRevoked {
                actor: format!("saml-logout:{idp}"),
                what: "sessions",
            });
        }
        if !found {
            tracing::info!(%idp, "SAML logout for an unknown subject");
        }
        Ok(())
    }
}

/// How many subjects one NameID is remembered for (NameIDs should be unique per user; this
/// bounds the record when they are not).
const MAX_SUBJECTS_PER_NAME_ID: usize = 16;

/// Flow-store key of a provider's NameID.
fn name_id_key(idp: &str, name_id: &str) -> String {
    digest_key(&format!("{idp}\n{name_id}"))
}

fn saml_error(err: SamlError) -> LoginError {
    match err {
        SamlError::Invalid(detail) => LoginError::SamlInvalid(detail),
        SamlError::Signature(detail) => LoginError::SamlRejected(detail),
        // Metadata not loaded, our key unusable: a server-side failure (the contract's 500).
        SamlError::Unavailable(detail) => {
            LoginError::Unexpected(format!("SAML provider: {detail}"))
        }
    }
}
