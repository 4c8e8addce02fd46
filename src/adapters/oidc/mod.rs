//! Upstream identity providers reached over HTTP: OpenID Connect issuers (discovery, JWKS,
//! verified ID tokens, via the `openidconnect` crate) and plain OAuth2 providers such as GitHub
//! (explicit endpoints, userinfo claim mapping, an optional verified-e-mail call).
//!
//! Invariants: PKCE S256 and our `state` go upstream on every login (plus a nonce for OIDC);
//! no claim is used before the ID token is verified (signature, `iss`, `aud`, `azp`, `exp`,
//! nonce) or, for plain OAuth2, before it came from the provider's own API over our
//! server-side access token; outbound calls never follow redirects, time out and cap bodies.

mod claims;
mod discovered;
mod http;
mod oauth2;

use secrecy::SecretString;
use url::Url;

pub use claims::{ClaimPath, ClaimPaths};
pub use discovered::OidcProvider;
pub use http::{MAX_RESPONSE_BYTES, OutboundError, OutboundHttp};
pub use oauth2::OAuth2Provider;

use crate::ports::identity_provider::{IdpError, ProviderInfo};

/// What an OAuth error from a provider's token endpoint means for the login. Only codes that
/// say the presented code is no good (RFC 6749 §5.2 `invalid_grant`, GitHub's
/// `bad_verification_code`, `invalid_request`) are the client's problem, answered 400
/// `invalid_grant`; the rest (`invalid_client`, `unauthorized_client`,
/// `unsupported_grant_type`, `server_error`, `temporarily_unavailable`, GitHub's
/// `incorrect_client_credentials`, unknown codes) and any 5xx are the provider's or our
/// configuration's, answered 502 and logged.
pub(crate) fn token_endpoint_error(code: &str, server_error_status: bool) -> IdpError {
    let detail = format!("token endpoint: {code}");
    match code {
        "invalid_grant" | "bad_verification_code" | "invalid_request" if !server_error_status => {
            IdpError::Rejected(detail)
        }
        _ => IdpError::Upstream(detail),
    }
}

/// How we authenticate to a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
}

/// Everything one upstream provider needs, validated.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Id, name, icon and client id.
    pub info: ProviderInfo,
    /// Our client secret at the provider.
    pub client_secret: SecretString,
    /// Scopes requested upstream (`openid` is added for OIDC providers).
    pub scopes: Vec<String>,
    /// Where the identity fields are in the provider's claims.
    pub claims: ClaimPaths,
    /// Token endpoint authentication.
    pub token_auth: TokenAuth,
    /// Whether to forward a validated `login_hint` upstream.
    pub forward_login_hint: bool,
}

/// Endpoints of a plain OAuth2 provider.
#[derive(Debug, Clone)]
pub struct OAuth2Endpoints {
    /// Where the browser goes.
    pub authorization_url: Url,
    /// Where we exchange the code.
    pub token_url: Url,
    /// Where we read the user's claims with the access token.
    pub userinfo_url: Url,
    /// A GitHub-style `[{email, primary, verified}]` list, for a verified primary e-mail.
    pub emails_url: Option<Url>,
}

/// Settings of an OIDC provider found by discovery.
#[derive(Debug, Clone)]
pub struct OidcEndpoints {
    /// The issuer; `/.well-known/openid-configuration` is read from under it.
    pub issuer: Url,
    /// Also read the userinfo endpoint after the ID token was verified.
    pub fetch_userinfo: bool,
    /// Least time between two JWKS refreshes triggered by an unknown `kid`.
    pub jwks_refresh_interval: std::time::Duration,
    /// Accept ID tokens MACed with our client secret (HS*) when discovery lists them.
    pub allow_hmac_id_tokens: bool,
}

/// Which kind of provider, with its endpoints.
#[derive(Debug, Clone)]
pub enum UpstreamEndpoints {
    /// OpenID Connect, found by discovery.
    Oidc(OidcEndpoints),
    /// Plain OAuth2 with explicit endpoints.
    OAuth2(Box<OAuth2Endpoints>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bad_code_is_the_clients_problem() {
        for code in ["invalid_grant", "bad_verification_code", "invalid_request"] {
            assert!(matches!(
                token_endpoint_error(code, false),
                IdpError::Rejected(_)
            ));
            assert!(matches!(
                token_endpoint_error(code, true),
                IdpError::Upstream(_)
            ));
        }
        for code in [
            "invalid_client",
            "unauthorized_client",
            "unsupported_grant_type",
            "server_error",
            "temporarily_unavailable",
            "incorrect_client_credentials",
            "made_up",
        ] {
            assert!(matches!(
                token_endpoint_error(code, false),
                IdpError::Upstream(_)
            ));
        }
    }
}
