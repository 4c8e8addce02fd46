//! SAML 2.0 identity providers, seen from our service-provider side. The adapter owns all XML
//! and signature work; the domain only sees validated results.

use chrono::{DateTime, Utc};

use super::identity_provider::UpstreamIdentity;

/// How a SAML provider presents itself in `GET /saml/providers`.
#[derive(Debug, Clone)]
pub struct SamlProviderInfo {
    /// Provider id, matching `^[a-zA-Z][a-zA-Z0-9_-]*$`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Icon identifier.
    pub icon: String,
    /// Our SP entity id toward this IdP.
    pub entity_id: String,
    /// Our metadata URL for this IdP.
    pub metadata_url: String,
    /// Our assertion consumer service URL.
    pub acs_url: String,
    /// Our single logout URL.
    pub slo_url: String,
    /// Whether the IdP's metadata was loaded (logins are possible).
    pub initialized: bool,
    /// Whether unsolicited (IdP-initiated) responses are accepted.
    pub allow_idp_initiated: bool,
    /// Whether the user's subject comes from an attribute rather than the NameID (single
    /// logout then finds users through the NameIDs their logins recorded).
    pub subject_from_attribute: bool,
}

/// A login request ready to send the browser with.
#[derive(Debug, Clone)]
pub struct SamlLoginRequest {
    /// The IdP's SSO URL carrying the (deflated, optionally signed) AuthnRequest and RelayState.
    pub redirect_url: String,
    /// The AuthnRequest's ID (the `InResponseTo` a response must carry).
    pub request_id: String,
}

/// A validated assertion.
#[derive(Debug, Clone)]
pub struct SamlAssertion {
    /// Who the IdP vouched for.
    pub identity: UpstreamIdentity,
    /// The assertion's ID (kept until `expires_at` so a replay fails).
    pub assertion_id: String,
    /// When the assertion stops being acceptable anyway.
    pub expires_at: DateTime<Utc>,
    /// The assertion's NameID when the provider takes the subject from an attribute: single
    /// logout names the user by it.
    pub name_id: Option<String>,
}

/// A validated, signed logout request.
#[derive(Debug, Clone)]
pub struct SamlLogout {
    /// The LogoutRequest's ID.
    pub request_id: String,
    /// The NameID the IdP logs out (the subject itself unless the provider maps the subject
    /// from an attribute; see [`SamlAssertion::name_id`]).
    pub name_id: String,
}

/// Why a SAML message was refused. The text is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// Malformed, oversized, or failing a protocol rule (audience, destination, time, ...).
    #[error("invalid SAML message: {0}")]
    Invalid(String),
    /// Not signed, or not by a certificate of this IdP.
    #[error("SAML signature rejected: {0}")]
    Signature(String),
    /// The provider cannot serve (metadata not loaded, our key unusable).
    #[error("SAML provider unavailable: {0}")]
    Unavailable(String),
}

/// One configured SAML IdP. All methods are pure computation over the given input.
pub trait SamlProvider: Send + Sync + 'static {
    /// Its description, as of now (a provider whose IdP metadata is refreshed may become
    /// initialized later).
    fn info(&self) -> SamlProviderInfo;

    /// Our SP metadata document for this IdP.
    fn metadata_xml(&self) -> Result<String, SamlError>;

    /// An AuthnRequest (HTTP-Redirect binding) with ID `request_id`, carrying `relay_state`.
    fn login_request(
        &self,
        relay_state: &str,
        request_id: &str,
    ) -> Result<SamlLoginRequest, SamlError>;

    /// Validates the base64 `SAMLResponse` of an HTTP-POST to our ACS: size, no DOCTYPE,
    /// signature by this IdP over the assertion (directly or through the response), issuer,
    /// destination, audience, time conditions with the configured skew, and `InResponseTo`
    /// equal to `request_id` (`None`: unsolicited, accepted only when the provider allows
    /// IdP-initiated logins). MUST NOT check for replays; the caller does.
    fn validate_response(
        &self,
        saml_response: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion, SamlError>;

    /// Validates a LogoutRequest received with the HTTP-Redirect binding: `raw_query` is our
    /// SLO URL's query string exactly as received (its signature covers it).
    fn validate_logout_redirect(&self, raw_query: &str) -> Result<SamlLogout, SamlError>;

    /// Validates a base64 LogoutRequest received with the HTTP-POST binding (XML signature).
    fn validate_logout_post(&self, saml_request: &str) -> Result<SamlLogout, SamlError>;

    /// Where to send the browser with a successful LogoutResponse (ID `response_id`) to
    /// `request_id`, when the IdP has an HTTP-Redirect SLO endpoint; `None` otherwise.
    fn logout_response_redirect(
        &self,
        request_id: &str,
        response_id: &str,
    ) -> Result<Option<String>, SamlError>;
}
