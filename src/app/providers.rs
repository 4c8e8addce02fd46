//! Wiring of identity providers: the built-in `tmi` provider, upstream OIDC/OAuth2 providers
//! (discovered concurrently) and SAML providers (IdP metadata fetched when configured as a URL).

use std::sync::Arc;

use anyhow::Context;

use super::config::{Config, Resolved};
use crate::adapters::builtin::TmiProvider;
use crate::adapters::oidc::{OAuth2Provider, OidcProvider, OutboundHttp, UpstreamEndpoints};
use crate::adapters::saml::{RefreshingSamlProvider, SamaelProvider};
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
/// Metadata from a URL is fetched again every `providers.saml_metadata_refresh_secs` (at most a
/// minute after a failed fetch); metadata that is unusable then keeps the previous one.
pub async fn saml_providers(config: &Config, public_url: &str) -> anyhow::Result<SamlProviders> {
    let mut providers = SamlProviders::default();
    let specs = config.providers.saml_specs(public_url)?;
    if specs.is_empty() {
        return Ok(providers);
    }
    let http = OutboundHttp::new(config.providers.http_timeout())
        .context("building the outbound HTTP client")?;
    let every = std::time::Duration::from_secs(config.providers.saml_metadata_refresh_secs);
    for mut spec in specs {
        let id = spec.settings.info.id.clone();
        let Some(url) = spec.metadata_url.clone() else {
            let provider = SamaelProvider::new(spec.settings)
                .map_err(|e| anyhow::anyhow!("providers.saml.{id}: {e}"))?;
            providers.register(Arc::new(provider));
            continue;
        };
        match http.get_text(&url).await {
            Ok(xml) => spec.settings.idp_metadata_xml = Some(xml),
            Err(err) => {
                tracing::warn!(idp = %id, error = %err, "SAML IdP metadata could not be fetched; provider not initialized");
            }
        }
        let provider = Arc::new(RefreshingSamlProvider::new(
            SamaelProvider::new(spec.settings.clone())
                .map_err(|e| anyhow::anyhow!("providers.saml.{id}: {e}"))?,
        ));
        providers.register(provider.clone());
        tokio::spawn(refresh_metadata(
            provider,
            spec.settings,
            url,
            http.clone(),
            every,
        ));
    }
    Ok(providers)
}

/// Fetches `url` again and again, replacing the provider's metadata when it is usable.
async fn refresh_metadata(
    provider: Arc<RefreshingSamlProvider>,
    mut settings: crate::adapters::saml::SamlSettings,
    url: url::Url,
    http: OutboundHttp,
    every: std::time::Duration,
) {
    use crate::ports::SamlProvider as _;
    let retry = every.min(std::time::Duration::from_secs(60));
    let id = settings.info.id.clone();
    loop {
        let initialized = provider.info().initialized;
        tokio::time::sleep(if initialized { every } else { retry }).await;
        let xml = match http.get_text(&url).await {
            Ok(xml) => xml,
            Err(err) => {
                tracing::warn!(idp = %id, error = %err, "SAML IdP metadata could not be fetched again; the previous metadata stays");
                continue;
            }
        };
        settings.idp_metadata_xml = Some(xml);
        match SamaelProvider::new(settings.clone()) {
            Ok(next) if next.info().initialized => {
                if !initialized {
                    tracing::info!(idp = %id, "SAML IdP metadata loaded; provider initialized");
                }
                provider.replace(next);
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(idp = %id, error = %err, "SAML IdP metadata fetched again is unusable; the previous metadata stays");
            }
        }
    }
}
