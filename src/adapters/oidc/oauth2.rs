//! A plain OAuth2 provider with explicit endpoints (GitHub and the like): PKCE S256 and our
//! state upstream, the code exchanged server-side, the identity read from the provider's
//! userinfo API with the access token and mapped through configured claim paths; optionally a
//! GitHub-style e-mail list decides which address is verified.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openidconnect::http::{self, HeaderValue, Method, StatusCode, header};
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;
use url::form_urlencoded::{Serializer, byte_serialize};

use super::{OAuth2Endpoints, OutboundHttp, TokenAuth, UpstreamSettings};
use crate::ports::identity_provider::{
    IdentityProvider, IdpError, ProviderInfo, UpstreamAuthorization, UpstreamCallback,
    UpstreamIdentity,
};

/// A provider with explicitly configured endpoints.
pub struct OAuth2Provider {
    settings: UpstreamSettings,
    endpoints: OAuth2Endpoints,
    http: OutboundHttp,
}

impl OAuth2Provider {
    /// A provider using `endpoints`.
    pub fn new(settings: UpstreamSettings, endpoints: OAuth2Endpoints, http: OutboundHttp) -> Self {
        Self {
            settings,
            endpoints,
            http,
        }
    }

    async fn access_token(&self, callback: &UpstreamCallback) -> Result<String, IdpError> {
        let client_id = &self.settings.info.client_id;
        let secret = self.settings.client_secret.expose_secret();
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", callback.code.as_str()),
            ("redirect_uri", callback.redirect_uri.as_str()),
            ("code_verifier", callback.pkce_verifier.as_str()),
        ];
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(self.endpoints.token_url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        match self.settings.token_auth {
            TokenAuth::Post => {
                pairs.push(("client_id", client_id));
                pairs.push(("client_secret", secret));
            }
            TokenAuth::Basic => {
                // RFC 6749 §2.3.1: form-encode both parts before base64.
                let user: String = byte_serialize(client_id.as_bytes()).collect();
                let pass: String = byte_serialize(secret.as_bytes()).collect();
                let basic = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
                let value = HeaderValue::from_str(&basic)
                    .map_err(|_| IdpError::Upstream("client id is not a header value".into()))?;
                request = request.header(header::AUTHORIZATION, value);
            }
        }
        let body = Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes();
        let request = request
            .body(body)
            .map_err(|e| IdpError::Upstream(e.to_string()))?;
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| IdpError::Upstream(format!("token endpoint: {e}")))?;
        let status = response.status();
        let body: Value = serde_json::from_slice(response.body()).map_err(|_| {
            IdpError::Upstream(format!("token endpoint answered {status} without JSON"))
        })?;
        // GitHub reports a bad code with 200 and an `error` member.
        if let Some(error) = body.get("error").and_then(Value::as_str) {
            return Err(super::token_endpoint_error(error, status.is_server_error()));
        }
        if status != StatusCode::OK {
            return Err(IdpError::Upstream(format!(
                "token endpoint answered {status}"
            )));
        }
        if let Some(kind) = body.get("token_type").and_then(Value::as_str)
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(IdpError::Upstream(format!("unsupported token type {kind}")));
        }
        match body.get("access_token").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => Ok(token.to_owned()),
            _ => Err(IdpError::Upstream(
                "token response without an access token".into(),
            )),
        }
    }

    /// Applies a GitHub-style e-mail list: the primary verified address wins; otherwise the
    /// userinfo address counts as verified only if the list says so.
    fn apply_emails(identity: &mut UpstreamIdentity, list: &Value) {
        let Some(items) = list.as_array() else {
            identity.email_verified = false;
            return;
        };
        let entry = |item: &Value| {
            Some((
                item.get("email")?.as_str()?.to_owned(),
                item.get("primary")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                item.get("verified")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ))
        };
        let entries: Vec<(String, bool, bool)> = items.iter().filter_map(entry).collect();
        if let Some((email, _, _)) = entries
            .iter()
            .find(|(_, primary, verified)| *primary && *verified)
        {
            identity.email = Some(email.clone());
            identity.email_verified = true;
            return;
        }
        identity.email_verified = identity.email.as_ref().is_some_and(|current| {
            entries
                .iter()
                .any(|(email, _, verified)| *verified && email.eq_ignore_ascii_case(current))
        });
    }
}

#[async_trait]
impl IdentityProvider for OAuth2Provider {
    fn info(&self) -> &ProviderInfo {
        &self.settings.info
    }

    async fn authorization_url(&self, req: &UpstreamAuthorization) -> Result<String, IdpError> {
        let mut url = self.endpoints.authorization_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.info.client_id)
            .append_pair("redirect_uri", &req.redirect_uri)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &req.state)
            .append_pair("code_challenge", &req.pkce_challenge)
            .append_pair("code_challenge_method", "S256");
        if self.settings.forward_login_hint
            && let Some(hint) = &req.login_hint
        {
            url.query_pairs_mut().append_pair("login", hint);
        }
        Ok(url.into())
    }

    async fn exchange(&self, callback: &UpstreamCallback) -> Result<UpstreamIdentity, IdpError> {
        let token = self.access_token(callback).await?;
        let userinfo = get_json(&self.http, &self.endpoints.userinfo_url, &token).await?;
        let mut identity = self
            .settings
            .claims
            .identity(&userinfo)
            .map_err(IdpError::Upstream)?;
        if let Some(emails_url) = &self.endpoints.emails_url {
            let list = get_json(&self.http, emails_url, &token).await?;
            Self::apply_emails(&mut identity, &list);
        }
        Ok(identity)
    }
}

/// GETs a JSON document with a bearer token; anything but 200 + JSON is an upstream failure.
pub(super) async fn get_json(
    http: &OutboundHttp,
    url: &Url,
    access_token: &str,
) -> Result<Value, IdpError> {
    let bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| IdpError::Upstream("access token is not a header value".into()))?;
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, bearer)
        .body(Vec::new())
        .map_err(|e| IdpError::Upstream(e.to_string()))?;
    let response = http
        .send(request)
        .await
        .map_err(|e| IdpError::Upstream(format!("{}: {e}", url.path())))?;
    if response.status() != StatusCode::OK {
        return Err(IdpError::Upstream(format!(
            "{} answered {}",
            url.path(),
            response.status()
        )));
    }
    serde_json::from_slice(response.body())
        .map_err(|_| IdpError::Upstream(format!("{} did not answer JSON", url.path())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn identity(email: Option<&str>, verified: bool) -> UpstreamIdentity {
        UpstreamIdentity {
            subject: "1".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
            name: None,
            groups: Vec::new(),
        }
    }

    #[test]
    fn the_primary_verified_address_wins() {
        let mut id = identity(Some("public@x.io"), false);
        OAuth2Provider::apply_emails(
            &mut id,
            &json!([
                {"email": "public@x.io", "primary": false, "verified": false},
                {"email": "main@x.io", "primary": true, "verified": true}
            ]),
        );
        assert_eq!(id.email.as_deref(), Some("main@x.io"));
        assert!(id.email_verified);
    }

    #[test]
    fn an_unverified_primary_leaves_the_address_unverified() {
        let mut id = identity(Some("main@x.io"), true);
        OAuth2Provider::apply_emails(
            &mut id,
            &json!([{"email": "main@x.io", "primary": true, "verified": false}]),
        );
        assert_eq!(id.email.as_deref(), Some("main@x.io"));
        assert!(!id.email_verified);
        let mut id = identity(Some("main@x.io"), true);
        OAuth2Provider::apply_emails(&mut id, &json!({"message": "Not Found"}));
        assert!(!id.email_verified);
    }
}
