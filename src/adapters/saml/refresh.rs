//! A SAML provider whose IdP metadata is fetched again from time to time: an IdP that rolls
//! over its signing certificate is followed without a restart, and one whose metadata could not
//! be fetched at startup starts working once it can.

use std::sync::{Arc, PoisonError, RwLock};

use super::SamaelProvider;
use crate::ports::saml::{
    SamlAssertion, SamlError, SamlLoginRequest, SamlLogout, SamlProvider, SamlProviderInfo,
};

/// The provider built from the latest usable metadata.
pub struct RefreshingSamlProvider {
    current: RwLock<Arc<SamaelProvider>>,
}

impl RefreshingSamlProvider {
    /// Starts with `first`.
    pub fn new(first: SamaelProvider) -> Self {
        Self {
            current: RwLock::new(Arc::new(first)),
        }
    }

    /// From now on, `next` answers (requests already under way finish with the old one).
    pub fn replace(&self, next: SamaelProvider) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }

    fn current(&self) -> Arc<SamaelProvider> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SamlProvider for RefreshingSamlProvider {
    fn info(&self) -> SamlProviderInfo {
        self.current().info()
    }

    fn metadata_xml(&self) -> Result<String, SamlError> {
        self.current().metadata_xml()
    }

    fn login_request(
        &self,
        relay_state: &str,
        request_id: &str,
    ) -> Result<SamlLoginRequest, SamlError> {
        self.current().login_request(relay_state, request_id)
    }

    fn validate_response(
        &self,
        saml_response: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion, SamlError> {
        self.current().validate_response(saml_response, request_id)
    }

    fn validate_logout_redirect(&self, raw_query: &str) -> Result<SamlLogout, SamlError> {
        self.current().validate_logout_redirect(raw_query)
    }

    fn validate_logout_post(&self, saml_request: &str) -> Result<SamlLogout, SamlError> {
        self.current().validate_logout_post(saml_request)
    }

    fn logout_response_redirect(
        &self,
        request_id: &str,
        response_id: &str,
    ) -> Result<Option<String>, SamlError> {
        self.current()
            .logout_response_redirect(request_id, response_id)
    }
}
