//! `/oauth2/providers`, `/oauth2/authorize`, `/oauth2/callback`, `/oauth2/token`,
//! `/oauth2/refresh`.

use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiRequest, ApiResponse, OpenApi};

use super::HttpState;
use super::dto::{ProviderDto, ProvidersDto, RefreshRequestDto, TokenRequestDto, TokenResponseDto};
use super::error::{ApiError, grant_error};
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
    ) -> Result<CallbackResponse, ApiError> {
        let outcome = self
            .state
            .login
            .callback(code.0.as_deref(), state.0.as_deref(), error.0.as_deref())
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
        #[oai(name = "idp")] _idp: Query<Option<String>>,
        body: TokenBody,
    ) -> Result<Json<TokenResponseDto>, ApiError> {
        let req = match body {
            TokenBody::Json(Json(req)) | TokenBody::Form(Form(req)) => req,
        };
        let result = match req.grant_type.as_deref() {
            None | Some("") => Err(GrantError::InvalidRequest("grant_type is required".into())),
            Some("authorization_code") => {
                self.state
                    .login
                    .redeem_code(
                        req.code.as_deref(),
                        req.code_verifier.as_deref(),
                        req.redirect_uri.as_deref(),
                    )
                    .await
            }
            Some("refresh_token") => match req.refresh_token.as_deref() {
                None | Some("") => Err(GrantError::InvalidRequest(
                    "refresh_token is required".into(),
                )),
                Some(token) => self.state.tokens.refresh(token).await,
            },
            Some(_) => Err(GrantError::UnsupportedGrantType),
        };
        result
            .map(|pair| Json(pair.into()))
            .map_err(|e| grant_error(e, false))
    }

    /// Exchange a refresh token for a new token pair (rotation).
    #[oai(
        path = "/oauth2/refresh",
        method = "post",
        operation_id = "refreshToken"
    )]
    async fn refresh(
        &self,
        body: Json<RefreshRequestDto>,
    ) -> Result<Json<TokenResponseDto>, ApiError> {
        self.state
            .tokens
            .refresh(&body.0.refresh_token)
            .await
            .map(|pair| Json(pair.into()))
            .map_err(|e| grant_error(e, true))
    }
}
