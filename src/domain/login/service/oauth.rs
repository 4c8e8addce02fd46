//! The OAuth leg: `/oauth2/authorize` validates and stores the pending flow and sends the
//! browser upstream; `/oauth2/callback` consumes the flow once and exchanges the upstream code.

use super::*;

impl LoginService {
    /// Validates an authorization request, stores the pending flow and returns the upstream
    /// URL to redirect the browser to.
    #[tracing::instrument(skip_all, fields(idp))]
    pub async fn authorize(&self, params: AuthorizeParams) -> Result<String, LoginError> {
        let invalid = |msg: &str| LoginError::InvalidRequest(msg.to_owned());

        if params
            .response_type
            .as_deref()
            .is_some_and(|rt| rt != "code")
        {
            return Err(LoginError::UnsupportedResponseType);
        }
        let idp = match params.idp.as_deref() {
            Some(id) if !is_valid_provider_id(id) => return Err(invalid("idp is malformed")),
            Some(id) => id.to_owned(),
            None => self
                .settings
                .default_idp
                .clone()
                .ok_or_else(|| invalid("idp is required"))?,
        };
        tracing::Span::current().record("idp", idp.as_str());
        let provider = self
            .providers
            .get(&idp)
            .ok_or(LoginError::UnknownProvider)?
            .clone();

        let scope = match params.scope.as_deref() {
            None => return Err(invalid("scope is required")),
            Some(raw) => Scope::parse(raw).map_err(|e| match e {
                ScopeError::Malformed => invalid("scope is malformed"),
                ScopeError::MissingOpenId => {
                    LoginError::InvalidScope("scope must include openid".into())
                }
            })?,
        };
        let code_challenge = match params.code_challenge.as_deref() {
            None => return Err(invalid("code_challenge is required (PKCE)")),
            Some(raw) => CodeChallenge::parse(raw).map_err(|_| {
                invalid("code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
            })?,
        };
        match params.code_challenge_method.as_deref() {
            Some("S256") => {}
            None => {
                return Err(invalid(
                    "code_challenge_method is required and must be S256",
                ));
            }
            Some(_) => return Err(invalid("code_challenge_method must be S256")),
        }
        let client_state = match params.state.as_deref() {
            None | Some("") => None,
            Some(raw) if is_valid_client_state(raw) => Some(raw.to_owned()),
            Some(_) => return Err(invalid("state is malformed")),
        };
        let login_hint = match params.login_hint.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(
                LoginHint::parse(raw)
                    .ok_or_else(|| invalid("login_hint must be 3-20 characters of [a-zA-Z0-9-]"))?,
            ),
        };
        // Standard OAuth clients send `redirect_uri`; TMI clients send `client_callback`. Both
        // name the same thing and face the same allow-list; they must agree when both are sent.
        let callback = match (
            params.client_callback.as_deref().filter(|c| !c.is_empty()),
            params.redirect_uri.as_deref().filter(|r| !r.is_empty()),
        ) {
            (Some(c), Some(r)) if c.trim() != r.trim() => {
                return Err(invalid("client_callback and redirect_uri differ"));
            }
            (Some(c), _) => Some(c),
            (None, r) => r,
        };
        let client_callback = match callback {
            None => None,
            Some(raw) => Some(
                self.settings
                    .allow_list
                    .admit(raw)
                    .map_err(LoginError::InvalidRequest)?,
            ),
        };
        if client_callback.is_none() && !self.settings.allow_callback_token_response {
            return Err(invalid("client_callback is required"));
        }

        let state = random_token(self.ids.as_ref(), 32);
        let pending = PendingLogin {
            idp: idp.clone(),
            client_callback: client_callback.map(String::from),
            client_state,
            code_challenge: code_challenge.as_str().to_owned(),
            scope: scope.as_str().to_owned(),
            login_hint: login_hint.map(|h| h.as_str().to_owned()),
            nonce: random_token(self.ids.as_ref(), 32),
            upstream_verifier: random_token(self.ids.as_ref(), 32),
        };
        let upstream_verifier = CodeVerifier::parse(&pending.upstream_verifier)
            .map_err(|_| LoginError::Unexpected("generated verifier is malformed".into()))?;
        let request = UpstreamAuthorization {
            state: state.clone(),
            nonce: pending.nonce.clone(),
            pkce_challenge: CodeChallenge::s256(&upstream_verifier).as_str().to_owned(),
            redirect_uri: self.settings.callback_url.clone(),
            login_hint: pending.login_hint.clone(),
        };
        let url = provider
            .authorization_url(&request)
            .await
            .map_err(upstream_error)?;
        self.put(
            FlowKind::Authorization,
            &digest_key(&state),
            &pending,
            self.settings.flow_ttl,
        )
        .await?;
        Ok(url)
    }

    /// Handles the provider's redirect back: consumes the flow exactly once, exchanges the
    /// upstream code, resolves the user and delivers our own single-use code.
    #[tracing::instrument(skip_all)]
    pub async fn callback(
        &self,
        code: Option<&str>,
        state: Option<&str>,
        provider_error: Option<&str>,
        issuer: Option<&str>,
    ) -> Result<CallbackOutcome, LoginError> {
        // The provider is known once the flow is found; failures before that name none.
        let mut idp = String::new();
        let result = self
            .complete_callback(code, state, provider_error, issuer, &mut idp)
            .await;
        if let Err(err) = &result {
            self.events.record(AuditEvent::LoginFailed {
                idp,
                reason: err.reason(),
            });
        }
        result
    }

    async fn complete_callback(
        &self,
        code: Option<&str>,
        state: Option<&str>,
        provider_error: Option<&str>,
        issuer: Option<&str>,
        idp: &mut String,
    ) -> Result<CallbackOutcome, LoginError> {
        let state = match state {
            None | Some("") => return Err(LoginError::InvalidRequest("state is required".into())),
            Some(s) if s.len() > 256 => {
                return Err(LoginError::InvalidRequest(
                    "state must be at most 256 characters".into(),
                ));
            }
            Some(s) => s,
        };
        let pending = self
            .take::<PendingLogin>(FlowKind::Authorization, &digest_key(state))
            .await?
            .ok_or(LoginError::InvalidState)?;
        idp.clone_from(&pending.idp);

        if provider_error.is_some() {
            tracing::info!(idp = %pending.idp, "identity provider returned an error to the callback");
            // Without a client callback the error is returned (and `callback` records it).
            let Some(cb) = &pending.client_callback else {
                return Err(LoginError::AccessDenied);
            };
            self.events.record(AuditEvent::LoginFailed {
                idp: pending.idp.clone(),
                reason: "access_denied",
            });
            return Ok(CallbackOutcome::Redirect(with_query(
                cb,
                &[
                    ("error", "access_denied"),
                    (
                        "error_description",
                        "the identity provider did not authenticate the user",
                    ),
                ],
                pending.client_state.as_deref(),
            )?));
        }
        let code = match code {
            Some(c) if !c.is_empty() && c.len() <= MAX_CODE_LEN => c,
            _ => return Err(LoginError::InvalidRequest("code is required".into())),
        };
        let provider = self
            .providers
            .get(&pending.idp)
            .ok_or(LoginError::UnknownProvider)?
            .clone();
        let identity = provider
            .exchange(&UpstreamCallback {
                code: code.to_owned(),
                pkce_verifier: pending.upstream_verifier.clone(),
                nonce: pending.nonce.clone(),
                redirect_uri: self.settings.callback_url.clone(),
                login_hint: pending.login_hint.clone(),
                issuer: issuer.map(str::to_owned),
            })
            .await
            .map_err(upstream_error)?;
        self.finish_login(Finish {
            idp: pending.idp,
            identity,
            client_callback: pending.client_callback,
            client_state: pending.client_state,
            code_challenge: pending.code_challenge,
            scope: pending.scope,
        })
        .await
    }
}

fn upstream_error(err: IdpError) -> LoginError {
    match err {
        IdpError::Rejected(detail) => {
            tracing::info!(%detail, "identity provider rejected the callback");
            LoginError::UpstreamRejected
        }
        IdpError::Upstream(detail) => LoginError::Upstream(detail),
    }
}
