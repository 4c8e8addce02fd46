//! `/oauth2/providers`, `/oauth2/authorize`, `/oauth2/callback`, `/oauth2/token`,
//! `/oauth2/refresh`, `/oauth2/revoke`, `/oauth2/introspect`.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiRequest, ApiResponse, OpenApi};
use secrecy::{ExposeSecret, SecretString};

use super::HttpState;
use super::client_auth::{bearer, client_credentials};
use super::dto::{
    IntrospectRequestDto, IntrospectionDto, ProviderDto, ProvidersDto, RefreshRequestDto,
    RevokeRequestDto, TokenRequestDto, TokenResponseDto,
};
use super::error::{ApiError, CallerVia, caller_error, credential_error, grant_error};
use super::serde_json_payload::SerdeJson;
use super::strict::opt;
use crate::domain::access::CallerAuth;
use crate::domain::login::params::is_valid_provider_id;
use crate::domain::login::{AuthorizeParams, CallbackOutcome};
use crate::domain::tokens::GrantError;

/// The OAuth endpoints.
pub struct OAuthApi {
    state: HttpState,
}

impl OAuthApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }
}

/// A 302.
#[derive(ApiResponse)]
pub enum RedirectResponse {
    /// Redirect.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The callback ends with a redirect, or (legacy mode) with tokens.
#[derive(ApiResponse)]
pub enum CallbackResponse {
    /// Tokens (no client_callback, demo mode).
    #[oai(status = 200)]
    Tokens(Json<TokenResponseDto>),
    /// Redirect to the client callback with our code.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// Revocation body: JSON or form.
#[derive(ApiRequest)]
pub enum RevokeBody {
    /// JSON.
    Json(Json<RevokeRequestDto>),
    /// Form.
    Form(Form<RevokeRequestDto>),
}

/// The caller of revoke/introspect: a bearer token, else client credentials. Also says whether
/// HTTP Basic was used (for the 401 challenge).
/// What the contract's schemas allow for these strings: at most `max_chars` characters (JSON
/// Schema counts characters, not bytes) and none of U+0000..U+001F.
fn schema_text(value: &str, max_chars: usize) -> bool {
    value.chars().count() <= max_chars && !value.chars().any(|c| c < '\u{20}')
}

/// 400 `invalid_request` unless `value` (the parameter `name`) is text the schema allows,
/// saying which rule it breaks: an RS256 token is longer than introspection's 1000 characters,
/// and "malformed" would not tell its holder why.
fn require_schema_text(name: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if schema_text(value, max_chars) {
        return Ok(());
    }
    let description = if value.chars().count() > max_chars {
        format!("{name} is longer than {max_chars} characters")
    } else {
        format!("{name} contains control characters")
    };
    Err(ApiError::bad_request("invalid_request", description))
}

/// `client_id` / `client_secret` in a revocation or introspection body: the schema caps only
/// their length (256 characters); anything else that cannot be one of our credentials fails
/// authentication later, like a wrong secret.
fn check_body_client(id: Option<&str>, secret: Option<&str>) -> Result<(), ApiError> {
    if [id, secret]
        .into_iter()
        .flatten()
        .any(|value| value.chars().count() > 256)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "client credentials are malformed",
        ));
    }
    Ok(())
}

fn caller_auth(
    http: &Request,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<(Option<CallerAuth>, CallerVia), ApiError> {
    // A bearer token wins over client credentials in the body: refusing the pair would
    // refuse requests the contract's schema allows (and a bearer token is not one of RFC 6749
    // §2.3's client authentication methods).
    if let Some(token) = bearer(http) {
        return Ok((Some(CallerAuth::Bearer(token)), CallerVia::Bearer));
    }
    Ok(match client_credentials(http, body_id, body_secret)? {
        Some(p) => {
            let via = if p.basic {
                CallerVia::Basic
            } else {
                CallerVia::Body
            };
            (
                Some(CallerAuth::Client {
                    client_id: p.client_id,
                    secret: p.secret,
                }),
                via,
            )
        }
        None => (None, CallerVia::Nothing),
    })
}

impl OAuthApi {
    /// The code and refresh grants are for public clients. A client that authenticates must
    /// still do so successfully (RFC 6749 §3.2.1; DECISIONS), and our only confidential
    /// clients are client credentials, which may use only the client_credentials grant (§5.2
    /// `unauthorized_client`). A client id with no secret (or Basic with an empty one) is a
    /// public client naming itself.
    async fn public_client_only(
        &self,
        http: &Request,
        body_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(presented) = client_credentials(http, body_id, body_secret)?
            .filter(|p| !p.secret.expose_secret().is_empty())
        else {
            return Ok(());
        };
        Box::pin(
            self.state
                .credentials
                .authenticate(&presented.client_id, &presented.secret),
        )
        .await
        .map_err(|e| credential_error(e, presented.basic))?;
        Err(ApiError::bad_request(
            "unauthorized_client",
            "client credentials may be used only with the client_credentials grant",
        ))
    }

    /// The bearer token is the caller at revocation and introspection, but client credentials
    /// sent beside it must not be wrong: a client that authenticates and fails gets 401
    /// `invalid_client` (RFC 6749 §5.2), never a silently ignored secret.
    async fn check_credentials_beside_bearer(
        &self,
        via: CallerVia,
        client_id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), ApiError> {
        let (CallerVia::Bearer, Some(client_id), Some(secret)) = (
            via,
            client_id.filter(|s| !s.is_empty()),
            secret.filter(|s| !s.is_empty()),
        ) else {
            return Ok(());
        };
        let secret = SecretString::from(secret.to_owned());
        Box::pin(self.state.credentials.authenticate(client_id, &secret))
            .await
            .map(|_| ())
            .map_err(|e| credential_error(e, false))
    }
}

/// Token endpoint body: JSON or form.
#[derive(ApiRequest)]
pub enum TokenBody {
    /// JSON.
    Json(Json<TokenRequestDto>),
    /// Form.
    Form(Form<TokenRequestDto>),
}

#[OpenApi]
impl OAuthApi {
    /// List available OAuth providers.
    #[oai(
        path = "/oauth2/providers",
        method = "get",
        operation_id = "getAuthProviders"
    )]
    async fn providers(&self) -> Json<ProvidersDto> {
        let base = &self.state.public_url;
        let providers = self
            .state
            .login
            .providers()
            .all()
            .iter()
            .map(|p| {
                let info = p.info();
                ProviderDto {
                    id: info.id.clone(),
                    name: info.name.clone(),
                    icon: info.icon.clone(),
                    auth_url: format!("{base}/oauth2/authorize?idp={}", info.id),
                    token_url: format!("{base}/oauth2/token"),
                    redirect_uri: self.state.login.callback_url().to_owned(),
                    client_id: info.client_id.clone(),
                }
            })
            .collect();
        Json(ProvidersDto { providers })
    }

    /// Initiate the OAuth authorization flow (PKCE S256 mandatory).
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/oauth2/authorize",
        method = "get",
        operation_id = "authorizeOAuthProvider"
    )]
    async fn authorize(
        &self,
        idp: Query<Option<String>>,
        client_callback: Query<Option<String>>,
        state: Query<Option<String>>,
        login_hint: Query<Option<String>>,
        scope: Query<Option<String>>,
        code_challenge: Query<Option<String>>,
        code_challenge_method: Query<Option<String>>,
        response_type: Query<Option<String>>,
        redirect_uri: Query<Option<String>>,
    ) -> Result<RedirectResponse, ApiError> {
        let params = AuthorizeParams {
            idp: idp.0,
            client_callback: client_callback.0,
            state: state.0,
            login_hint: login_hint.0,
            scope: scope.0,
            code_challenge: code_challenge.0,
            code_challenge_method: code_challenge_method.0,
            response_type: response_type.0,
            redirect_uri: redirect_uri.0,
        };
        let location = self.state.login.authorize(params).await?;
        Ok(RedirectResponse::Found(location))
    }

    /// Handle the identity provider's redirect back.
    #[oai(
        path = "/oauth2/callback",
        method = "get",
        operation_id = "handleOAuthCallback"
    )]
    async fn callback(
        &self,
        code: Query<Option<String>>,
        state: Query<Option<String>>,
        error: Query<Option<String>>,
        iss: Query<Option<String>>,
    ) -> Result<CallbackResponse, ApiError> {
        let outcome = self
            .state
            .login
            .callback(
                code.0.as_deref(),
                state.0.as_deref(),
                error.0.as_deref(),
                iss.0.as_deref(),
            )
            .await?;
        Ok(match outcome {
            CallbackOutcome::Redirect(location) => CallbackResponse::Found(location),
            CallbackOutcome::Tokens(pair) => CallbackResponse::Tokens(Json(pair.into())),
        })
    }

    /// Exchange an authorization code or a refresh token for tokens.
    #[oai(
        path = "/oauth2/token",
        method = "post",
        operation_id = "exchangeOAuthCode"
    )]
    async fn token(
        &self,
        http: &Request,
        idp: Query<Option<String>>,
        body: TokenBody,
    ) -> Result<SerdeJson<TokenResponseDto>, ApiError> {
        // Not needed (the code or token says everything), but held to the contract's pattern.
        if idp.0.as_deref().is_some_and(|id| !is_valid_provider_id(id)) {
            return Err(ApiError::bad_request("invalid_request", "idp is malformed"));
        }
        let req = match body {
            TokenBody::Json(Json(req)) | TokenBody::Form(Form(req)) => req,
        };
        if opt(&req.grant_type) == Some("client_credentials") {
            let presented = client_credentials(http, opt(&req.client_id), opt(&req.client_secret))?
                .ok_or_else(|| ApiError::invalid_client(false))?;
            // Boxed: the service's future is large, and every layer above this handler would
            // otherwise copy it around.
            let (access_token, expires_in) = Box::pin(
                self.state
                    .credentials
                    .grant(&presented.client_id, &presented.secret),
            )
            .await
            .map_err(|e| credential_error(e, presented.basic))?;
            return Ok(SerdeJson(TokenResponseDto {
                access_token,
                refresh_token: String::new(),
                token_type: "Bearer".to_owned(),
                expires_in,
            }));
        }
        // A missing or unknown grant type is the answer whoever asks (RFC 6749 §5.2:
        // `invalid_request`, `unsupported_grant_type`); only the grants we serve look at the
        // client, so `unauthorized_client` is never said of a grant that does not exist.
        if matches!(
            opt(&req.grant_type),
            Some("authorization_code" | "refresh_token")
        ) {
            self.public_client_only(http, opt(&req.client_id), opt(&req.client_secret))
                .await?;
        }
        let result = match opt(&req.grant_type) {
            None | Some("") => Err(GrantError::InvalidRequest("grant_type is required".into())),
            Some("authorization_code") => {
                Box::pin(self.state.login.redeem_code(
                    opt(&req.code),
                    opt(&req.code_verifier),
                    opt(&req.redirect_uri),
                ))
                .await
            }
            Some("refresh_token") => match opt(&req.refresh_token) {
                None | Some("") => Err(GrantError::InvalidRequest(
                    "refresh_token is required".into(),
                )),
                Some(token) => Box::pin(self.state.tokens.refresh(token)).await,
            },
            Some(_) => Err(GrantError::UnsupportedGrantType),
        };
        result
            .map(|pair| SerdeJson(pair.into()))
            .map_err(|e| grant_error(e, false))
    }

    /// Revoke an access or refresh token (RFC 7009). The caller authenticates with a bearer
    /// token or client credentials and may revoke only its own tokens; the answer is `{}`
    /// whether or not anything was revoked.
    #[oai(path = "/oauth2/revoke", method = "post", operation_id = "revokeToken")]
    async fn revoke(
        &self,
        http: &Request,
        body: RevokeBody,
    ) -> Result<Json<serde_json::Value>, ApiError> {
        let req = match body {
            RevokeBody::Json(Json(req)) | RevokeBody::Form(Form(req)) => req,
        };
        let token = match opt(&req.token) {
            Some(t) if !t.is_empty() => t,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "token is required",
                ));
            }
        };
        // Only what the contract's schema refuses is a 400; any other string is merely not a
        // token of ours, which RFC 7009 §2.2 answers with 200.
        require_schema_text("token", token, 2000)?;
        let hint_refresh = match opt(&req.token_type_hint) {
            None | Some("access_token") => false,
            Some("refresh_token") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "token_type_hint must be access_token or refresh_token",
                ));
            }
        };
        check_body_client(opt(&req.client_id), opt(&req.client_secret))?;
        let (caller, via) = caller_auth(http, opt(&req.client_id), opt(&req.client_secret))?;
        let caller = caller.ok_or_else(|| ApiError::caller_unauthenticated(via))?;
        self.check_credentials_beside_bearer(via, opt(&req.client_id), opt(&req.client_secret))
            .await?;
        self.state
            .access
            .revoke(caller, token, hint_refresh)
            .await
            .map_err(|e| caller_error(e, via))?;
        Ok(Json(serde_json::json!({})))
    }

    /// Introspect a token (RFC 7662). Callers must authenticate (bearer token or HTTP Basic
    /// client credentials) when `introspection.require_client_auth` is on.
    #[oai(
        path = "/oauth2/introspect",
        method = "post",
        operation_id = "introspectToken"
    )]
    async fn introspect(
        &self,
        http: &Request,
        body: Form<IntrospectRequestDto>,
    ) -> Result<SerdeJson<IntrospectionDto>, ApiError> {
        let token = match opt(&body.0.token) {
            Some(t) if !t.is_empty() => t,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "token is required",
                ));
            }
        };
        // As at revocation: a string the schema allows is at worst an inactive token (RFC 7662).
        require_schema_text("token", token, 1000)?;
        if let Some(hint) = opt(&body.0.token_type_hint) {
            require_schema_text("token_type_hint", hint, 1000)?;
        }
        let body_id = opt(&body.0.client_id);
        let body_secret = opt(&body.0.client_secret);
        check_body_client(body_id, body_secret)?;
        if self.state.introspection_requires_auth {
            let (caller, via) = caller_auth(http, body_id, body_secret)?;
            let caller = caller.ok_or_else(|| ApiError::caller_unauthenticated(via))?;
            self.check_credentials_beside_bearer(via, body_id, body_secret)
                .await?;
            self.state
                .access
                .caller(caller)
                .await
                .map_err(|e| caller_error(e, via))?;
        }
        let claims = Box::pin(self.state.access.introspect(token)).await?;
        Ok(SerdeJson(match claims {
            None => IntrospectionDto::default(),
            Some(c) => IntrospectionDto {
                active: true,
                sub: Some(c.sub.clone()),
                email: Some(c.email.clone()),
                name: Some(c.name.clone()),
                exp: Some(c.exp),
                iat: Some(c.iat),
                iss: Some(c.iss.clone()),
                token_type: Some("Bearer".to_owned()),
                scope: Some(c.scope.clone()),
            },
        }))
    }

    /// Exchange a refresh token for a new token pair (rotation).
    #[oai(
        path = "/oauth2/refresh",
        method = "post",
        operation_id = "refreshToken"
    )]
    async fn refresh(
        &self,
        http: &Request,
        body: Json<RefreshRequestDto>,
    ) -> Result<SerdeJson<TokenResponseDto>, ApiError> {
        self.public_client_only(http, None, None).await?;
        let token = body.0.refresh_token.as_str();
        // As the schema says; any other string is just not a valid refresh token (401 below).
        if token.is_empty() || !schema_text(token, 1000) {
            return Err(ApiError::bad_request(
                "invalid_request",
                "refresh_token must be 1-1000 printable characters",
            ));
        }
        self.state
            .tokens
            .refresh(token)
            .await
            .map(|pair| SerdeJson(pair.into()))
            .map_err(|e| grant_error(e, true))
    }
}
