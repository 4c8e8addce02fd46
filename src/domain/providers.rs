//! The registry of configured upstream identity providers, in display order.

use std::sync::Arc;

use crate::ports::{IdentityProvider, SamlProvider};

/// Configured providers, looked up by id.
#[derive(Clone, Default)]
pub struct Providers {
    ordered: Vec<Arc<dyn IdentityProvider>>,
}

impl Providers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a provider; a later provider with the same id replaces the earlier one.
    pub fn register(&mut self, provider: Arc<dyn IdentityProvider>) {
        self.ordered.retain(|p| p.info().id != provider.info().id);
        self.ordered.push(provider);
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn IdentityProvider>> {
        self.ordered.iter().find(|p| p.info().id == id)
    }

    /// All providers in registration order.
    pub fn all(&self) -> &[Arc<dyn IdentityProvider>] {
        &self.ordered
    }
}

/// Configured SAML identity providers, in display order.
#[derive(Clone, Default)]
pub struct SamlProviders {
    ordered: Vec<Arc<dyn SamlProvider>>,
}

impl SamlProviders {
    /// Adds a provider; a later provider with the same id replaces the earlier one.
    pub fn register(&mut self, provider: Arc<dyn SamlProvider>) {
        self.ordered.retain(|p| p.info().id != provider.info().id);
        self.ordered.push(provider);
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn SamlProvider>> {
        self.ordered.iter().find(|p| p.info().id == id)
    }

    /// All providers in registration order.
    pub fn all(&self) -> &[Arc<dyn SamlProvider>] {
        &self.ordered
    }
}
