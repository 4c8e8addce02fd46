//! Request and response bodies, shaped exactly like the contract's schemas. Domain types
//! never derive these traits; handlers convert.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use super::strict::{OptionalString, StrictString};
use crate::domain::tokens::TokenPair;

/// `AuthTokenResponse`.
#[derive(Debug, Object, Serialize)]
pub struct TokenResponseDto {
    /// JWT access token.
    pub access_token: String,
    /// Refresh token (`""` when none is issued).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

impl From<TokenPair> for TokenResponseDto {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: pair.expires_in,
        }
    }
}

/// `POST /oauth2/token` body, JSON or form. Unknown parameters are ignored (RFC 6749 §3.2).
#[derive(Debug, Default, Object, Deserialize)]
pub struct TokenRequestDto {
    /// `authorization_code`, `refresh_token` (or `client_credentials`).
    pub grant_type: Option<StrictString>,
    /// Our authorization code.
    pub code: Option<StrictString>,
    /// PKCE verifier.
    pub code_verifier: Option<StrictString>,
    /// The client callback the code was delivered to.
    pub redirect_uri: Option<StrictString>,
    /// Refresh token.
    pub refresh_token: Option<StrictString>,
    /// Client id.
    pub client_id: Option<StrictString>,
    /// Client secret.
    pub client_secret: Option<StrictString>,
    /// Ignored.
    pub state: Option<StrictString>,
}

/// `TokenRefreshRequest`.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct RefreshRequestDto {
    /// The refresh token.
    pub refresh_token: StrictString,
}

/// One entry of `GET /oauth2/providers`.
#[derive(Debug, Object)]
pub struct ProviderDto {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Icon.
    pub icon: String,
    /// Our authorize URL for this provider.
    pub auth_url: String,
    /// Our token URL.
    pub token_url: String,
    /// Our callback URL.
    pub redirect_uri: String,
    /// Client id towards the provider.
    pub client_id: String,
}

/// `GET /oauth2/providers` body.
#[derive(Debug, Object)]
pub struct ProvidersDto {
    /// Configured providers.
    pub providers: Vec<ProviderDto>,
}

/// `GET /oauth2/userinfo` body (OIDC Core §5.1).
#[derive(Debug, Object)]
pub struct UserInfoDto {
    /// Subject (our internal user id).
    pub sub: String,
    /// E-mail.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    /// Provider.
    #[oai(skip_serializing_if_is_none)]
    pub idp: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
}

/// `UserGroupMembership`.
#[derive(Debug, Object)]
pub struct GroupMembershipDto {
    /// Group id.
    pub internal_uuid: String,
    /// Group name.
    pub group_name: String,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
}

/// `UserWithAdminStatus`.
#[derive(Debug, Object)]
pub struct MeDto {
    /// Always `user`.
    pub principal_type: String,
    /// Provider.
    pub provider: String,
    /// Provider's subject.
    pub provider_id: String,
    /// Display name.
    pub display_name: String,
    /// E-mail.
    pub email: String,
    /// Effective administrator.
    pub is_admin: bool,
    /// Effective security reviewer.
    pub is_security_reviewer: bool,
    /// Direct group memberships.
    pub groups: Vec<GroupMembershipDto>,
}

/// `/.well-known/openid-configuration`.
#[derive(Debug, Object)]
pub struct OpenIdConfigurationDto {
    /// Issuer.
    pub issuer: String,
    /// Authorize endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Userinfo endpoint.
    pub userinfo_endpoint: String,
    /// JWKS.
    pub jwks_uri: String,
    /// Introspection endpoint.
    pub introspection_endpoint: String,
    /// Response types.
    pub response_types_supported: Vec<String>,
    /// Subject types.
    pub subject_types_supported: Vec<String>,
    /// Signing algorithms.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Scopes.
    pub scopes_supported: Vec<String>,
    /// Claims.
    pub claims_supported: Vec<String>,
}

/// `/.well-known/oauth-authorization-server` (RFC 8414, restricted to the contract's fields).
#[derive(Debug, Object)]
pub struct AuthorizationServerMetadataDto {
    /// Issuer.
    pub issuer: String,
    /// Authorize endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Introspection endpoint.
    pub introspection_endpoint: String,
    /// Response types.
    pub response_types_supported: Vec<String>,
    /// Grant types.
    pub grant_types_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// One public key: OKP (Ed25519), EC (P-256) or RSA, with the members RFC 7518 §6 / RFC 8037
/// require for its type.
#[derive(Debug, Object)]
pub struct JwkDto {
    /// Key type.
    pub kty: String,
    /// Curve (OKP and EC keys).
    #[oai(skip_serializing_if_is_none)]
    pub crv: Option<String>,
    /// Public key (OKP) or x coordinate (EC).
    #[oai(skip_serializing_if_is_none)]
    pub x: Option<String>,
    /// y coordinate (EC).
    #[oai(skip_serializing_if_is_none)]
    pub y: Option<String>,
    /// Modulus (RSA).
    #[oai(skip_serializing_if_is_none)]
    pub n: Option<String>,
    /// Exponent (RSA).
    #[oai(skip_serializing_if_is_none)]
    pub e: Option<String>,
    /// Key id.
    pub kid: String,
    /// Use.
    #[oai(rename = "use")]
    pub key_use: String,
    /// Algorithm.
    pub alg: String,
}

/// `/.well-known/jwks.json`.
#[derive(Debug, Object)]
pub struct JwksDto {
    /// Keys.
    pub keys: Vec<JwkDto>,
}

/// `/.well-known/oauth-protected-resource` (RFC 9728).
#[derive(Debug, Object)]
pub struct ProtectedResourceDto {
    /// Resource identifier.
    pub resource: String,
    /// Scopes.
    pub scopes_supported: Vec<String>,
    /// Authorization servers.
    pub authorization_servers: Vec<String>,
    /// JWKS.
    pub jwks_uri: String,
    /// Bearer methods.
    pub bearer_methods_supported: Vec<String>,
    /// Name.
    pub resource_name: String,
}

/// `GET /healthz`.
#[derive(Debug, Object)]
pub struct HealthDto {
    /// `ok`.
    pub status: String,
}

/// `POST /me/client_credentials` body.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateCredentialDto {
    /// Name (1–100 characters).
    pub name: StrictString,
    /// Description (at most 500 characters). Not nullable in the contract: `null` is a 400.
    pub description: OptionalString,
    /// Expiry (RFC 3339, in the future). Not nullable in the contract: `null` is a 400.
    pub expires_at: OptionalString,
}

/// `ClientCredentialResponse` (the only place a secret appears).
#[derive(Debug, Object)]
pub struct ClientCredentialResponseDto {
    /// Credential id.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// Client secret (shown once).
    pub client_secret: String,
    /// Name.
    pub name: String,
    /// Description.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<String>,
}

/// `ClientCredentialInfo` (never a secret).
#[derive(Debug, Object)]
pub struct ClientCredentialInfoDto {
    /// Credential id.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    /// Not expired.
    pub is_active: bool,
    /// Last successful grant.
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last modification.
    pub modified_at: String,
    /// Expiry.
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<String>,
}

/// `ListClientCredentialsResponse`.
#[derive(Debug, Object)]
pub struct ListCredentialsDto {
    /// This page.
    pub credentials: Vec<ClientCredentialInfoDto>,
    /// Total for the user.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}

/// `TokenRevocationRequest` (RFC 7009), JSON or form.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequestDto {
    /// The token to revoke.
    pub token: Option<StrictString>,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<StrictString>,
    /// Client id (client_secret_post).
    pub client_id: Option<StrictString>,
    /// Client secret (client_secret_post).
    pub client_secret: Option<StrictString>,
}

/// `TokenIntrospectionRequest` (RFC 7662), form.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequestDto {
    /// The token to introspect.
    pub token: Option<StrictString>,
    /// Optional hint (ignored: only access tokens can be active).
    pub token_type_hint: Option<StrictString>,
    /// Client id for `client_secret_post` caller authentication (RFC 7662 §2.1 with RFC 6749
    /// §2.3.1). Beyond the contract's closed schema, which would leave OAuth libraries set to
    /// `client_secret_post` unable to introspect; used only when callers must authenticate.
    pub client_id: Option<StrictString>,
    /// Client secret for `client_secret_post` (see `client_id`).
    pub client_secret: Option<StrictString>,
}

/// Introspection response: `active`, plus the contract's fields for active tokens.
#[derive(Debug, Default, Object, Serialize)]
pub struct IntrospectionDto {
    /// Whether the token is active.
    pub active: bool,
    /// Subject.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// E-mail.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expiry.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `Bearer`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Scopes.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `MyGroupListResponse`.
#[derive(Debug, Object)]
pub struct MyGroupsDto {
    /// Direct memberships.
    pub groups: Vec<GroupMembershipDto>,
    /// How many.
    pub total: i64,
}

/// `GroupMember`: audit fields (`added_by_*`, `notes`) are always null here.
#[derive(Debug, Object)]
pub struct GroupMemberDto {
    /// Membership record id.
    pub id: String,
    /// The group.
    pub group_internal_uuid: String,
    /// `user` or `group`.
    pub subject_type: String,
    /// User member: id.
    pub user_internal_uuid: Option<String>,
    /// User member: e-mail.
    pub user_email: Option<String>,
    /// User member: name.
    pub user_name: Option<String>,
    /// User member: provider.
    pub user_provider: Option<String>,
    /// User member: provider subject.
    pub user_provider_user_id: Option<String>,
    /// Group member: id.
    pub member_group_internal_uuid: Option<String>,
    /// Group member: name.
    pub member_group_name: Option<String>,
    /// When added.
    pub added_at: String,
    /// Redacted.
    pub added_by_internal_uuid: Option<String>,
    /// Redacted.
    pub added_by_email: Option<String>,
    /// Redacted.
    pub notes: Option<String>,
}

/// `GroupMemberListResponse`.
#[derive(Debug, Object)]
pub struct GroupMembersDto {
    /// This page.
    pub members: Vec<GroupMemberDto>,
    /// The group's total.
    pub total: i64,
    /// Limit applied.
    pub limit: i64,
    /// Offset applied.
    pub offset: i64,
}

/// One group of a provider.
#[derive(Debug, Object)]
pub struct ProviderGroupDto {
    /// Group name.
    pub name: String,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub display_name: Option<String>,
    /// Whether threat-model authorizations use it (not tracked here: always false).
    pub used_in_authorizations: bool,
}

/// `GET /oauth2/providers/{idp}/groups`.
#[derive(Debug, Object)]
pub struct ProviderGroupsDto {
    /// Provider id.
    pub idp: String,
    /// Groups recorded for it.
    pub groups: Vec<ProviderGroupDto>,
}
