//! Discovery documents and the JWKS. Every URL comes from the configured public base URL,
//! never from the request's `Host` header.

use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::HttpState;
use super::dto::{
    AuthorizationServerMetadataDto, JwkDto, JwksDto, OpenIdConfigurationDto, ProtectedResourceDto,
};
use crate::domain::tokens::keys::PublicKey;

/// The discovery endpoints.
pub struct DiscoveryApi {
    state: HttpState,
}

impl DiscoveryApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.public_url)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The algorithms our tokens are signed with, then `RS256`, which OpenID Connect Discovery 1.0
/// §3 requires in this list (validators such as Authlib's refuse a document without it). No ID
/// token is ever issued, and the key set holds no RSA key unless RS256 is configured, so the
/// extra entry lets no token verify that would not otherwise.
fn id_token_algorithms<'a>(signing: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut algs: Vec<String> = signing.map(str::to_owned).collect();
    if !algs.iter().any(|alg| alg == "RS256") {
        algs.push("RS256".to_owned());
    }
    algs
}

#[OpenApi]
impl DiscoveryApi {
    /// OpenID Connect discovery document.
    #[oai(
        path = "/.well-known/openid-configuration",
        method = "get",
        operation_id = "getOpenIDConfiguration"
    )]
    async fn openid_configuration(&self) -> Json<OpenIdConfigurationDto> {
        Json(OpenIdConfigurationDto {
            issuer: self.state.tokens.settings().issuer.clone(),
            authorization_endpoint: self.url("/oauth2/authorize"),
            token_endpoint: self.url("/oauth2/token"),
            userinfo_endpoint: self.url("/oauth2/userinfo"),
            jwks_uri: self.url("/.well-known/jwks.json"),
            introspection_endpoint: self.url("/oauth2/introspect"),
            response_types_supported: strings(&["code"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: id_token_algorithms(
                self.state
                    .tokens
                    .signing_algorithms()
                    .iter()
                    .map(|alg| alg.as_str()),
            ),
            scopes_supported: strings(&SCOPES),
            claims_supported: strings(&[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "auth_time",
                "idp",
                "email",
                "email_verified",
                "name",
                "groups",
                "tmi_is_administrator",
                "tmi_is_security_reviewer",
                "scope",
            ]),
        })
    }

    /// OAuth 2.0 authorization server metadata (RFC 8414).
    #[oai(
        path = "/.well-known/oauth-authorization-server",
        method = "get",
        operation_id = "getOAuthAuthorizationServerMetadata"
    )]
    async fn authorization_server(&self) -> Json<AuthorizationServerMetadataDto> {
        Json(AuthorizationServerMetadataDto {
            issuer: self.state.tokens.settings().issuer.clone(),
            authorization_endpoint: self.url("/oauth2/authorize"),
            token_endpoint: self.url("/oauth2/token"),
            introspection_endpoint: self.url("/oauth2/introspect"),
            response_types_supported: strings(&["code"]),
            grant_types_supported: strings(&[
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ]),
            token_endpoint_auth_methods_supported: strings(&[
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]),
        })
    }

    /// JSON Web Key Set: every key that may still verify one of our tokens.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJWKS"
    )]
    async fn jwks(&self) -> Json<JwksDto> {
        let keys = self
            .state
            .tokens
            .public_keys()
            .into_iter()
            .filter(|k| k.key != PublicKey::Secret)
            .map(|k| {
                let mut jwk = JwkDto {
                    kty: String::new(),
                    crv: None,
                    x: None,
                    y: None,
                    n: None,
                    e: None,
                    kid: k.kid,
                    key_use: "sig".to_owned(),
                    alg: k.alg.as_str().to_owned(),
                };
                match k.key {
                    PublicKey::Okp { x } => {
                        jwk.kty = "OKP".to_owned();
                        jwk.crv = Some("Ed25519".to_owned());
                        jwk.x = Some(x);
                    }
                    PublicKey::Ec { x, y } => {
                        jwk.kty = "EC".to_owned();
                        jwk.crv = Some("P-256".to_owned());
                        jwk.x = Some(x);
                        jwk.y = Some(y);
                    }
                    PublicKey::Rsa { n, e } => {
                        jwk.kty = "RSA".to_owned();
                        jwk.n = Some(n);
                        jwk.e = Some(e);
                    }
                    PublicKey::Secret => {}
                }
                jwk
            })
            .collect();
        Json(JwksDto { keys })
    }

    /// OAuth 2.0 protected resource metadata (RFC 9728).
    #[oai(
        path = "/.well-known/oauth-protected-resource",
        method = "get",
        operation_id = "getOAuthProtectedResourceMetadata"
    )]
    async fn protected_resource(&self) -> Json<ProtectedResourceDto> {
        Json(ProtectedResourceDto {
            resource: self.state.public_url.clone(),
            scopes_supported: strings(&SCOPES),
            authorization_servers: vec![self.state.tokens.settings().issuer.clone()],
            jwks_uri: self.url("/.well-known/jwks.json"),
            bearer_methods_supported: strings(&["header"]),
            resource_name: "TMI (Threat Modeling Improved) API".to_owned(),
        })
    }
}
