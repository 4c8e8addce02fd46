//! The built-in `tmi` provider (demo and development only).
//!
//! It skips the upstream round trip: the "upstream" authorization URL is our own callback,
//! carrying as code the S256 challenge of the flow's upstream PKCE verifier. The exchange
//! accepts exactly that code (checked in constant time against the verifier kept in the flow
//! record), so a code is only good for the flow that produced it. The identity comes from the
//! flow's `login_hint` (`alice` → `alice@tmi.local`, "Alice (TMI User)"), or is a random test
//! user without one.

use std::sync::Arc;

use async_trait::async_trait;
use subtle::ConstantTimeEq;
use url::Url;

use crate::domain::login::LoginHint;
use crate::domain::pkce::{CodeChallenge, CodeVerifier};
use crate::ports::IdGenerator;
use crate::ports::identity_provider::{
    IdentityProvider, IdpError, ProviderInfo, UpstreamAuthorization, UpstreamCallback,
    UpstreamIdentity,
};

/// The built-in test provider.
pub struct TmiProvider {
    info: ProviderInfo,
    ids: Arc<dyn IdGenerator>,
    groups: Vec<String>,
    email_verified: bool,
}

impl TmiProvider {
    /// A provider presenting itself with `info`, asserting `groups` for every user, and
    /// vouching for the e-mail addresses it makes up when `email_verified`.
    pub fn new(
        info: ProviderInfo,
        ids: Arc<dyn IdGenerator>,
        groups: Vec<String>,
        email_verified: bool,
    ) -> Self {
        Self {
            info,
            ids,
            groups,
            email_verified,
        }
    }
}

#[async_trait]
impl IdentityProvider for TmiProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn authorization_url(&self, req: &UpstreamAuthorization) -> Result<String, IdpError> {
        let mut url =
            Url::parse(&req.redirect_uri).map_err(|e| IdpError::Upstream(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("code", &req.pkce_challenge)
            .append_pair("state", &req.state);
        Ok(url.into())
    }

    async fn exchange(&self, callback: &UpstreamCallback) -> Result<UpstreamIdentity, IdpError> {
        // This provider never names an issuer in its redirect (RFC 9207): one that does was
        // not made by it.
        if callback.issuer.is_some() {
            return Err(IdpError::Rejected(
                "the redirect names an issuer, which the built-in provider never does".into(),
            ));
        }
        let verifier = CodeVerifier::parse(&callback.pkce_verifier)
            .map_err(|_| IdpError::Upstream("flow verifier is malformed".into()))?;
        let expected = CodeChallenge::s256(&verifier);
        let matches: bool = expected
            .as_str()
            .as_bytes()
            .ct_eq(callback.code.as_bytes())
            .into();
        if !matches {
            return Err(IdpError::Rejected(
                "code does not belong to this flow".into(),
            ));
        }
        let identity = match callback.login_hint.as_deref().and_then(LoginHint::parse) {
            Some(hint) => UpstreamIdentity {
                subject: hint.as_str().to_owned(),
                email: Some(format!("{}@tmi.local", hint.as_str())),
                email_verified: self.email_verified,
                name: Some(hint.display_name()),
                groups: self.groups.clone(),
            },
            None => {
                let mut bytes = [0u8; 4];
                self.ids.fill_random(&mut bytes);
                let number = u32::from_le_bytes(bytes) % 100_000_000;
                UpstreamIdentity {
                    subject: format!("testuser-{number:08}"),
                    email: Some(format!("testuser-{number:08}@tmi.local")),
                    email_verified: self.email_verified,
                    name: Some(format!("Test User {number:08}")),
                    groups: self.groups.clone(),
                }
            }
        };
        Ok(identity)
    }
}
