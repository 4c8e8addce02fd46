//! Wiring of identity providers: the built-in `tmi` provider, upstream OIDC/OAuth2 providers
//! (discovered concurrently) and SAML providers (IdP metadata fetched when configured as a URL).

use std::sync::Arc;

use anyhow::Context;

use super::config::{Config, Resolved};
use crate::adapters::builtin::TmiProvider;
use crate::adapters::oidc::{OAuth2Provider, OidcProvider, OutboundHttp, UpstreamEndpoints};
use crate::adapters::saml::SamaelProvider;
use crate::domain::providers::{Providers, SamlProviders};
use crate::ports::IdGenerator;
use crate::ports::identity_provider::{IdentityProvider, ProviderInfo};

/// The OAuth/OIDC providers (`tmi` first when enabled).
pub async fn oauth_providers(
    config: &Config,
    resolved: &Resolved,
    ids: Arc<dyn IdGenerator>,
) -> anyhow::Result<Providers> {
    let mut providers = Providers::new();
    if resolved.tmi_enabled {
        if config.mode == crate::app::config::Mode::Production {
            tracing::warn!(
                "the built-in tmi provider is enabled in production: anyone who can reach \
                 the service can sign in as any tmi user without a password"
            );
        }
        let tmi = &config.providers.tmi;
        providers.register(Arc::new(TmiProvider::new(
            ProviderInfo {
                id: "tmi".to_owned(),
                name: tmi.name.clone(),
                icon: tmi.icon.clone(),
                client_id: tmi.client_id.clone(),
            },
            ids,
            tmi.groups.clone(),
            tmi.email_verified,
        )));
    }
    let specs = config.providers.upstream_specs()?;
    if specs.is_empty() {
        // No outbound HTTP client (and no TLS roots in memory) when nothing needs one.
        return Ok(providers);
    }
    let http = OutboundHttp::new(config.providers.http_timeout())
        .context("building the outbound HTTP client")?;
    let attempts = config.providers.discovery_attempts;
    // Discover every OIDC issuer at once; a slow one does not delay the others.
    let mut pending = Vec::new();
    for spec in specs {
        let http = http.clone();
        pending.push(tokio::spawn(async move {
            let provider: Arc<dyn IdentityProvider> = match spec.endpoints {
                UpstreamEndpoints::Oidc(endpoints) => {
                    OidcProvider::start(spec.settings, endpoints, http, attempts).await
                }
                UpstreamEndpoints::OAuth2(endpoints) => {
                    Arc::new(OAuth2Provider::new(spec.settings, *endpoints, http))
                }
            };
            provider
        }));
    }
    for task in pending {
        providers.register(task.await.context("starting an identity provider")?);
    }
    Ok(providers)
}

/// The SAML providers. A provider whose metadata URL cannot be fetched starts uninitialized
/// (listed, refusing logins); unusable keys or metadata stop the service, naming the provider.
pub async fn saml_providers(config: &Config, public_url: &str) -> anyhow::Result<SamlProviders> {
    let mut providers = SamlProviders::default();
    let specs = config.providers.saml_specs(public_url)?;
    if specs.is_empty() {
        return Ok(providers);
    }
    let http = OutboundHttp::new(config.providers.http_timeout())
        .context("building the outbound HTTP client")?;
    for mut spec in specs {
        let id = spec.settings.info.id.clone();
        if let Some(url) = &spec.metadata_url {
            match http.get_text(url).await {
                Ok(xml) => spec.settings.idp_metadata_xml = Some(xml),
                Err(err) => {
                    tracing::warn!(idp = %id, error = %err, "SAML IdP metadata could not be fetched; provider not initialized");
                }
            }
        }
        let provider = SamaelProvider::new(spec.settings)
            .map_err(|e| anyhow::anyhow!("providers.saml.{id}: {e}"))?;
        providers.register(Arc::new(provider));
    }
    Ok(providers)
}
