//! An OpenID Connect provider found by discovery. Metadata and JWKS are fetched at startup
//! (with retries) and cached; a failed discovery is retried on demand at most every
//! [`DISCOVERY_RETRY`]; an ID token signed with an unknown `kid` triggers one JWKS refresh at
//! most every `jwks_refresh_interval`.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::OAuth2TokenResponse as _;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, LoginHint, Nonce, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse as _,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OidcEndpoints, OutboundHttp, TokenAuth, UpstreamSettings, oauth2};
use crate::ports::identity_provider::{
    IdentityProvider, IdpError, ProviderInfo, UpstreamAuthorization, UpstreamCallback,
    UpstreamIdentity,
};

/// Discovery fields beyond OpenID Connect Discovery that we act on.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ExtraProviderMetadata {
    /// RFC 9207: the provider names itself (`iss`) in every authorization response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for ExtraProviderMetadata {}

/// Discovered provider metadata, with [`ExtraProviderMetadata`].
type CoreProviderMetadata = ProviderMetadata<
    ExtraProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// How long start-up waits for a provider's discovery.
pub const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// Least time between two on-demand discovery attempts after a failure.
pub const DISCOVERY_RETRY: Duration = Duration::from_secs(30);

/// An OIDC issuer.
pub struct OidcProvider {
    settings: UpstreamSettings,
    endpoints: OidcEndpoints,
    http: OutboundHttp,
    discovered: RwLock<Option<Arc<CoreProviderMetadata>>>,
    last_discovery: Mutex<Option<Instant>>,
    last_jwks_refresh: Mutex<Option<Instant>>,
}

impl OidcProvider {
    /// Creates the provider and tries discovery up to `attempts` times (a second apart,
    /// doubling). Start-up waits for that at most [`STARTUP_WAIT`]; an issuer that accepts
    /// connections and never answers would otherwise hold the whole service (every provider,
    /// the listener) for attempts × the HTTP timeout. The attempts go on in the background.
    /// A provider whose issuer stays unreachable is still returned: it answers `Upstream`
    /// errors and retries discovery on demand.
    pub async fn start(
        settings: UpstreamSettings,
        endpoints: OidcEndpoints,
        http: OutboundHttp,
        attempts: u32,
    ) -> Arc<Self> {
        let provider = Arc::new(Self {
            settings,
            endpoints,
            http,
            discovered: RwLock::new(None),
            last_discovery: Mutex::new(None),
            last_jwks_refresh: Mutex::new(None),
        });
        let discovering = tokio::spawn(provider.clone().discover_with_retries(attempts));
        if tokio::time::timeout(STARTUP_WAIT, discovering)
            .await
            .is_err()
        {
            tracing::warn!(
                idp = %provider.settings.info.id,
                "OIDC discovery is still running; starting without it"
            );
        }
        provider
    }

    async fn discover_with_retries(self: Arc<Self>, attempts: u32) {
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=attempts.max(1) {
            match self.discover().await {
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(
                        idp = %self.settings.info.id,
                        attempt,
                        error = %err,
                        "OIDC discovery failed"
                    );
                    if attempt < attempts {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
    }

    /// Whether discovery has succeeded.
    pub fn is_ready(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<CoreProviderMetadata>> {
        self.discovered.read().ok().and_then(|d| d.clone())
    }

    async fn discover(&self) -> Result<Arc<CoreProviderMetadata>, String> {
        if let Ok(mut last) = self.last_discovery.lock() {
            *last = Some(Instant::now());
        }
        let issuer = IssuerUrl::new(self.endpoints.issuer.as_str().trim_end_matches('/').into())
            .map_err(|e| e.to_string())?;
        // Also fetches the JWKS and checks that the document names this very issuer.
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| e.to_string())?;
        let metadata = Arc::new(metadata);
        if let Ok(mut slot) = self.discovered.write() {
            *slot = Some(metadata.clone());
        }
        tracing::info!(idp = %self.settings.info.id, "OIDC provider discovered");
        Ok(metadata)
    }

    async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, IdpError> {
        if let Some(metadata) = self.current() {
            return Ok(metadata);
        }
        let recently = self
            .last_discovery
            .lock()
            .ok()
            .and_then(|last| *last)
            .is_some_and(|at| at.elapsed() < DISCOVERY_RETRY);
        if recently {
            return Err(IdpError::Upstream(
                "provider not discovered yet; retrying later".into(),
            ));
        }
        self.discover().await.map_err(IdpError::Upstream)
    }

    /// Re-reads the JWKS unless that happened within the refresh interval.
    async fn refresh_jwks(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> Result<Option<Arc<CoreProviderMetadata>>, IdpError> {
        {
            let Ok(mut last) = self.last_jwks_refresh.lock() else {
                return Ok(None);
            };
            if last.is_some_and(|at| at.elapsed() < self.endpoints.jwks_refresh_interval) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| IdpError::Upstream(format!("JWKS refresh: {e}")))?;
        let refreshed = Arc::new(metadata.clone().set_jwks(jwks));
        if let Ok(mut slot) = self.discovered.write() {
            *slot = Some(refreshed.clone());
        }
        tracing::info!(idp = %self.settings.info.id, "JWKS refreshed after an unknown key id");
        Ok(Some(refreshed))
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        IdpError,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| IdpError::Upstream(format!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.info.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(match self.settings.token_auth {
            TokenAuth::Basic => AuthType::BasicAuth,
            TokenAuth::Post => AuthType::RequestBody,
        }))
    }

    /// Verifies the ID token against `metadata`; `Ok(None)` when its key is unknown.
    fn verify(
        &self,
        metadata: &CoreProviderMetadata,
        redirect_uri: &str,
        id_token: &CoreIdToken,
        nonce: &str,
    ) -> Result<Option<Value>, IdpError> {
        let client = self.client(metadata, redirect_uri)?;
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(id_token_algs(metadata, self.endpoints.allow_hmac_id_tokens));
        match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(_) => {
                let claims = payload(id_token)?;
                check_issue_times(&claims, chrono::Utc::now().timestamp())?;
                Ok(Some(claims))
            }
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => Ok(None),
            // A nonce from another flow means the code was injected into this one.
            Err(ClaimsVerificationError::InvalidNonce(detail)) => {
                Err(IdpError::Rejected(format!("ID token nonce: {detail}")))
            }
            Err(other) => Err(IdpError::Upstream(format!("ID token rejected: {other}"))),
        }
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn info(&self) -> &ProviderInfo {
        &self.settings.info
    }

    async fn authorization_url(&self, req: &UpstreamAuthorization) -> Result<String, IdpError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata, &req.redirect_uri)?;
        let state = req.state.clone();
        let nonce = req.nonce.clone();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(
                self.settings
                    .scopes
                    .iter()
                    .filter(|s| s.as_str() != "openid")
                    .map(|s| Scope::new(s.clone())),
            )
            .add_extra_param("code_challenge", req.pkce_challenge.clone())
            .add_extra_param("code_challenge_method", "S256");
        if self.settings.forward_login_hint
            && let Some(hint) = &req.login_hint
        {
            request = request.set_login_hint(LoginHint::new(hint.clone()));
        }
        let (url, _, _) = request.url();
        Ok(url.into())
    }

    async fn exchange(&self, callback: &UpstreamCallback) -> Result<UpstreamIdentity, IdpError> {
        let metadata = self.metadata().await?;
        match &callback.issuer {
            Some(iss)
                if iss.trim_end_matches('/')
                    != metadata.issuer().as_str().trim_end_matches('/') =>
            {
                return Err(IdpError::Rejected(
                    "the redirect names another issuer (RFC 9207 mix-up)".into(),
                ));
            }
            // A provider that says it always sends `iss` did not send this response, or it
            // was stripped to get around the check above (RFC 9207 §2.4).
            None if metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported
                == Some(true) =>
            {
                return Err(IdpError::Rejected(
                    "the redirect does not name its issuer, which this provider always does \
                     (RFC 9207)"
                        .into(),
                ));
            }
            _ => {}
        }
        let client = self.client(&metadata, &callback.redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(callback.code.clone()))
            .map_err(|e| IdpError::Upstream(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|err| match err {
                // The crate reads an error body whatever the status, and does not keep the
                // status: the code alone decides.
                RequestTokenError::ServerResponse(body) => {
                    super::token_endpoint_error(body.error().as_ref(), false)
                }
                other => IdpError::Upstream(format!("token endpoint: {other}")),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| IdpError::Upstream("token response without an ID token".into()))?;

        let mut claims =
            match self.verify(&metadata, &callback.redirect_uri, id_token, &callback.nonce)? {
                Some(claims) => claims,
                None => match self.refresh_jwks(&metadata).await? {
                    Some(fresh) => self
                        .verify(&fresh, &callback.redirect_uri, id_token, &callback.nonce)?
                        .ok_or_else(|| {
                            IdpError::Upstream("ID token signed with an unknown key".into())
                        })?,
                    None => {
                        return Err(IdpError::Upstream(
                            "ID token signed with an unknown key (JWKS refreshed recently)".into(),
                        ));
                    }
                },
            };

        if self.endpoints.fetch_userinfo
            && let Some(userinfo_url) = metadata.userinfo_endpoint()
        {
            let info = oauth2::get_json(
                &self.http,
                userinfo_url.url(),
                response.access_token().secret(),
            )
            .await?;
            merge_userinfo(&mut claims, info)?;
        }
        self.settings
            .claims
            .identity(&claims)
            .map_err(IdpError::Upstream)
    }
}

/// The algorithms an ID token may be signed with: those discovery lists, without `none`, and
/// without the MACs keyed by our client secret (HS256/384/512) unless the operator allowed
/// them for this provider. Whoever knows the secret could otherwise mint ID tokens.
fn id_token_algs(
    metadata: &CoreProviderMetadata,
    allow_hmac: bool,
) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| match alg {
            CoreJwsSigningAlgorithm::None => false,
            CoreJwsSigningAlgorithm::HmacSha256
            | CoreJwsSigningAlgorithm::HmacSha384
            | CoreJwsSigningAlgorithm::HmacSha512 => allow_hmac,
            _ => true,
        })
        .cloned()
        .collect()
}

/// How far an upstream's clock may run ahead of ours.
const CLOCK_SKEW_SECS: i64 = 120;

/// `iat` (which the verifier only requires to be present) and `nbf` (which it ignores) must
/// not lie in the future: a token "issued" tomorrow was not issued for this login.
fn check_issue_times(claims: &Value, now: i64) -> Result<(), IdpError> {
    for name in ["iat", "nbf"] {
        let Some(value) = claims.get(name) else {
            continue;
        };
        let at = value
            .as_f64()
            .ok_or_else(|| IdpError::Upstream(format!("ID token {name} is not a number")))?;
        if at > (now + CLOCK_SKEW_SECS) as f64 {
            return Err(IdpError::Upstream(format!(
                "ID token {name} lies in the future"
            )));
        }
    }
    Ok(())
}

/// The JSON payload of an ID token whose signature and claims were already verified.
fn payload(id_token: &CoreIdToken) -> Result<Value, IdpError> {
    let compact = id_token.to_string();
    let part = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| IdpError::Upstream("ID token is not a compact JWS".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| IdpError::Upstream(format!("ID token payload: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| IdpError::Upstream(format!("ID token payload: {e}")))
}

/// Adds userinfo claims over the ID token's, after checking both name the same subject
/// (OIDC Core §5.3.2). Registered token claims are never replaced.
fn merge_userinfo(claims: &mut Value, userinfo: Value) -> Result<(), IdpError> {
    let (Value::Object(target), Value::Object(extra)) = (claims, userinfo) else {
        return Err(IdpError::Upstream("userinfo is not a JSON object".into()));
    };
    if extra.get("sub") != target.get("sub") {
        return Err(IdpError::Upstream(
            "userinfo names another subject than the ID token".into(),
        ));
    }
    for (key, value) in extra {
        if !matches!(
            key.as_str(),
            "sub" | "iss" | "aud" | "azp" | "exp" | "iat" | "nbf" | "nonce"
        ) {
            target.insert(key, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn id_tokens_issued_or_valid_only_in_the_future_are_refused() {
        let now = 1_800_000_000;
        assert!(check_issue_times(&json!({"iat": now}), now).is_ok());
        assert!(check_issue_times(&json!({"iat": now + 100, "nbf": now + 100}), now).is_ok());
        assert!(check_issue_times(&json!({"iat": now - 3600, "nbf": now - 3600}), now).is_ok());
        assert!(check_issue_times(&json!({"iat": now + 86_400}), now).is_err());
        assert!(check_issue_times(&json!({"iat": 4_102_444_800_i64}), now).is_err());
        assert!(check_issue_times(&json!({"iat": now, "nbf": now + 86_400}), now).is_err());
        assert!(check_issue_times(&json!({"iat": "soon"}), now).is_err());
    }

    #[test]
    fn userinfo_for_another_subject_is_refused() {
        let mut claims = json!({"sub": "a", "email": "a@x.io"});
        assert!(merge_userinfo(&mut claims, json!({"sub": "b"})).is_err());
        assert!(merge_userinfo(&mut claims, json!({"email": "c@x.io"})).is_err());
        assert_eq!(claims["email"], "a@x.io");
    }

    #[test]
    fn userinfo_adds_claims_but_never_token_claims() {
        let mut claims = json!({"sub": "a", "iss": "https://op", "email": "old@x.io"});
        merge_userinfo(
            &mut claims,
            json!({"sub": "a", "iss": "https://evil", "email": "new@x.io", "groups": ["g"]}),
        )
        .unwrap();
        assert_eq!(claims["iss"], "https://op");
        assert_eq!(claims["email"], "new@x.io");
        assert_eq!(claims["groups"], json!(["g"]));
    }
}
