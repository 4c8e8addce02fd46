//! `/saml/providers`, `/saml/{provider}/metadata`, `/saml/{provider}/login`, `/saml/acs`,
//! `/saml/slo` (GET: HTTP-Redirect binding; POST: HTTP-POST binding).

use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Form, Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;

use super::HttpState;
use super::dto::TokenResponseDto;
use super::error::ApiError;
use crate::domain::login::params::is_valid_provider_id;
use crate::domain::login::{CallbackOutcome, LoginError, SamlLoginParams, SloOutcome};

/// Largest `SAMLResponse` accepted (the contract's limit, in base64 characters).
const MAX_SAML_RESPONSE: usize = 100_000;

/// The SAML endpoints.
pub struct SamlApi {
    state: HttpState,
}

impl SamlApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }
}

/// One SAML provider as listed.
#[derive(Object)]
pub struct SamlProviderDto {
    id: String,
    name: String,
    icon: String,
    auth_url: String,
    metadata_url: String,
    entity_id: String,
    acs_url: String,
    slo_url: String,
    initialized: bool,
}

/// The SAML providers list.
#[derive(Object)]
pub struct SamlProvidersDto {
    providers: Vec<SamlProviderDto>,
}

/// Our SP metadata.
#[derive(ApiResponse)]
pub enum MetadataResponse {
    /// SAML metadata XML.
    #[oai(status = 200, content_type = "application/samlmetadata+xml")]
    Xml(PlainText<String>),
}

/// A 302 to the IdP.
#[derive(ApiResponse)]
pub enum LoginRedirect {
    /// Redirect to the IdP's SSO endpoint with the AuthnRequest.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The ACS ends like the OAuth callback.
#[derive(ApiResponse)]
pub enum AcsResponse {
    /// Tokens (no client_callback; only when callback token responses are allowed).
    #[oai(status = 200)]
    Tokens(Json<TokenResponseDto>),
    /// Redirect to the client callback with our code.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// `{"message": ...}`.
#[derive(Object)]
pub struct MessageDto {
    message: String,
}

/// How a logout ends.
#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Sessions ended.
    #[oai(status = 200)]
    Done(Json<MessageDto>),
    /// Back to the IdP with our LogoutResponse.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The ACS form.
#[derive(Object, Deserialize)]
pub struct AcsForm {
    #[oai(rename = "SAMLResponse")]
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[oai(rename = "RelayState")]
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The SLO form.
#[derive(Object, Deserialize)]
pub struct SloForm {
    #[oai(rename = "SAMLRequest")]
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
}

/// On SAML routes an unknown provider is 404.
fn saml_error(err: LoginError) -> ApiError {
    match err {
        LoginError::UnknownProvider => ApiError::not_found("unknown SAML provider"),
        other => other.into(),
    }
}

fn logout(outcome: SloOutcome) -> LogoutResponse {
    match outcome {
        SloOutcome::Redirect(url) => LogoutResponse::Found(url),
        SloOutcome::Done => LogoutResponse::Done(Json(MessageDto {
            message: "Logout successful".to_owned(),
        })),
    }
}

#[OpenApi]
impl SamlApi {
    /// List the configured SAML identity providers.
    #[oai(
        path = "/saml/providers",
        method = "get",
        operation_id = "getSAMLProviders"
    )]
    async fn providers(&self) -> Json<SamlProvidersDto> {
        let base = &self.state.public_url;
        let providers = self
            .state
            .login
            .saml_providers()
            .all()
            .iter()
            .map(|p| {
                let info = p.info();
                SamlProviderDto {
                    id: info.id.clone(),
                    name: info.name.clone(),
                    icon: info.icon.clone(),
                    auth_url: format!("{base}/saml/{}/login", info.id),
                    metadata_url: info.metadata_url.clone(),
                    entity_id: info.entity_id.clone(),
                    acs_url: info.acs_url.clone(),
                    slo_url: info.slo_url.clone(),
                    initialized: info.initialized,
                }
            })
            .collect();
        Json(SamlProvidersDto { providers })
    }

    /// Our service-provider metadata for one IdP.
    #[oai(
        path = "/saml/:provider/metadata",
        method = "get",
        operation_id = "getSAMLMetadata"
    )]
    async fn metadata(&self, provider: Path<String>) -> Result<MetadataResponse, ApiError> {
        // No provider can have such an id: it is simply not one of ours (the contract's
        // parameter is any string, so this is not a malformed request).
        if !is_valid_provider_id(&provider.0) {
            return Err(ApiError::not_found("unknown SAML provider"));
        }
        let provider = self
            .state
            .login
            .saml_providers()
            .get(&provider.0)
            .ok_or_else(|| ApiError::not_found("unknown SAML provider"))?;
        let xml = provider
            .metadata_xml()
            .map_err(|e| ApiError::internal(&e.to_string()))?;
        Ok(MetadataResponse::Xml(PlainText(xml)))
    }

    /// Start an SP-initiated login (HTTP-Redirect binding). With `client_callback`, a PKCE
    /// `code_challenge` (S256) is required: the login ends with our code, as in the OAuth flow.
    #[oai(
        path = "/saml/:provider/login",
        method = "get",
        operation_id = "initiateSAMLLogin"
    )]
    async fn login(
        &self,
        provider: Path<String>,
        client_callback: Query<Option<String>>,
        code_challenge: Query<Option<String>>,
        code_challenge_method: Query<Option<String>>,
        state: Query<Option<String>>,
    ) -> Result<LoginRedirect, ApiError> {
        if !is_valid_provider_id(&provider.0) {
            return Err(ApiError::not_found("unknown SAML provider"));
        }
        let url = self
            .state
            .login
            .saml_login(
                &provider.0,
                SamlLoginParams {
                    client_callback: client_callback.0,
                    code_challenge: code_challenge.0,
                    code_challenge_method: code_challenge_method.0,
                    state: state.0,
                },
            )
            .await
            .map_err(saml_error)?;
        Ok(LoginRedirect::Found(url))
    }

    /// Assertion consumer service (HTTP-POST binding).
    #[oai(
        path = "/saml/acs",
        method = "post",
        operation_id = "processSAMLResponse"
    )]
    async fn acs(&self, form: Form<AcsForm>) -> Result<AcsResponse, ApiError> {
        let form = form.0;
        if form
            .saml_response
            .as_ref()
            .is_some_and(|r| r.len() > MAX_SAML_RESPONSE)
        {
            return Err(ApiError::bad_request(
                "invalid_request",
                "SAMLResponse is too large",
            ));
        }
        let outcome = self
            .state
            .login
            .saml_acs(form.saml_response.as_deref(), form.relay_state.as_deref())
            .await
            .map_err(saml_error)?;
        Ok(match outcome {
            CallbackOutcome::Redirect(location) => AcsResponse::Found(location),
            CallbackOutcome::Tokens(pair) => AcsResponse::Tokens(Json(pair.into())),
        })
    }

    /// Single logout, HTTP-Redirect binding (the query string's signature is verified as
    /// received).
    #[oai(path = "/saml/slo", method = "get", operation_id = "processSAMLLogout")]
    async fn slo_redirect(
        &self,
        request: &Request,
        #[oai(name = "SAMLRequest")] saml_request: Query<Option<String>>,
    ) -> Result<LogoutResponse, ApiError> {
        if saml_request.0.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "invalid_request",
                "SAMLRequest is required",
            ));
        }
        let raw_query = request.uri().query().unwrap_or_default();
        let outcome = self
            .state
            .login
            .saml_logout_redirect(raw_query)
            .await
            .map_err(saml_error)?;
        Ok(logout(outcome))
    }

    /// Single logout, HTTP-POST binding (XML signature).
    #[oai(
        path = "/saml/slo",
        method = "post",
        operation_id = "processSAMLLogoutPost"
    )]
    async fn slo_post(&self, form: Form<SloForm>) -> Result<LogoutResponse, ApiError> {
        let Some(saml_request) = form.0.saml_request.filter(|r| !r.is_empty()) else {
            return Err(ApiError::bad_request(
                "invalid_request",
                "SAMLRequest is required",
            ));
        };
        let outcome = self
            .state
            .login
            .saml_logout_post(&saml_request)
            .await
            .map_err(saml_error)?;
        Ok(logout(outcome))
    }
}
