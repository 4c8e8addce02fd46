//! Upstream identity providers (the built-in `tmi` provider, OIDC, OAuth2, ...).

use async_trait::async_trait;

/// How a provider presents itself in `GET /oauth2/providers`.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    /// Provider id, matching `^[a-zA-Z][a-zA-Z0-9_-]*$`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Icon identifier.
    pub icon: String,
    /// The client id we use towards this provider (public information).
    pub client_id: String,
}

/// What we send the browser upstream with.
#[derive(Debug, Clone)]
pub struct UpstreamAuthorization {
    /// Our own state value; the provider must hand it back unchanged.
    pub state: String,
    /// Our nonce for ID tokens.
    pub nonce: String,
    /// S256 challenge of our upstream PKCE verifier.
    pub pkce_challenge: String,
    /// Our `/oauth2/callback` URL.
    pub redirect_uri: String,
    /// Optional login hint (already validated).
    pub login_hint: Option<String>,
}

/// What we exchange the upstream code with.
#[derive(Clone)]
pub struct UpstreamCallback {
    /// The code the provider sent to our callback.
    pub code: String,
    /// Our upstream PKCE verifier for this flow.
    pub pkce_verifier: String,
    /// The nonce we sent.
    pub nonce: String,
    /// Our `/oauth2/callback` URL.
    pub redirect_uri: String,
    /// The login hint of this flow, if any.
    pub login_hint: Option<String>,
    /// The `iss` the provider added to its redirect (RFC 9207), if any. A provider that knows
    /// its issuer MUST reject a different one (an authorization-server mix-up).
    pub issuer: Option<String>,
}

impl std::fmt::Debug for UpstreamCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamCallback")
            .field("redirect_uri", &self.redirect_uri)
            .field("login_hint", &self.login_hint)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The identity an upstream provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's stable subject for this user.
    pub subject: String,
    /// E-mail address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider verified that e-mail.
    pub email_verified: bool,
    /// Display name, if given.
    pub name: Option<String>,
    /// Groups asserted by the provider.
    pub groups: Vec<String>,
}

/// Why an upstream leg failed.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The provider (or we, on its behalf) rejected what the client presented; a client error.
    #[error("rejected by the identity provider: {0}")]
    Rejected(String),
    /// The provider could not be reached or answered nonsense; details are for logs only.
    #[error("identity provider failure: {0}")]
    Upstream(String),
}

/// One upstream identity provider.
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Static description of the provider.
    fn info(&self) -> &ProviderInfo;

    /// The absolute URL to send the browser to. It MUST carry `req.state` so the provider's
    /// redirect back to `req.redirect_uri` can be matched to the flow.
    async fn authorization_url(&self, req: &UpstreamAuthorization) -> Result<String, IdpError>;

    /// Exchanges the code received on our callback for a verified identity. MUST return
    /// `Rejected` when the code is not valid for this flow, and never trust any claim it has
    /// not verified.
    async fn exchange(&self, callback: &UpstreamCallback) -> Result<UpstreamIdentity, IdpError>;
}
