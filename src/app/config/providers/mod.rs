//! `[providers]`: the built-in `tmi` provider and upstream OIDC/OAuth2 providers
//! (`[providers.upstream.<id>]`), with presets so a typical entry is three lines:
//!
//! ```toml
//! [providers.upstream.google]
//! client_id = "1234.apps.googleusercontent.com"
//! client_secret_file = "/run/secrets/google"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;
use crate::adapters::oidc::{UpstreamEndpoints, UpstreamSettings};

mod saml;
mod spec;

pub use saml::{SamlAttributesConfig, SamlProviderConfig, SamlSpec};
#[cfg(test)]
mod tests;

/// `[providers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// The built-in test provider.
    pub tmi: TmiProviderConfig,
    /// Upstream providers by id (listed in id order).
    pub upstream: BTreeMap<String, UpstreamProviderConfig>,
    /// SAML identity providers by id (listed in id order).
    pub saml: BTreeMap<String, SamlProviderConfig>,
    /// Seconds one outbound call to a provider may take.
    pub http_timeout_secs: u64,
    /// Discovery attempts at startup before a provider starts as not-yet-discovered.
    pub discovery_attempts: u32,
    /// Least seconds between two JWKS refreshes caused by an unknown key id.
    pub jwks_refresh_interval_secs: u64,
    /// Seconds between two fetches of a SAML IdP's metadata from its `idp_metadata_url`
    /// (after a failed fetch, at most a minute).
    pub saml_metadata_refresh_secs: u64,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        Self {
            tmi: TmiProviderConfig::default(),
            upstream: BTreeMap::new(),
            saml: BTreeMap::new(),
            http_timeout_secs: 10,
            discovery_attempts: 3,
            jwks_refresh_interval_secs: 60,
            saml_metadata_refresh_secs: 21_600,
        }
    }
}

/// `[providers.tmi]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TmiProviderConfig {
    /// Enabled? Demo default: yes; production: no.
    pub enabled: Option<bool>,
    /// Display name.
    pub name: String,
    /// Icon.
    pub icon: String,
    /// Client id shown in the providers list.
    pub client_id: String,
    /// Groups asserted for every user of this provider (test data).
    pub groups: Vec<String>,
    /// Whether the provider vouches for the `<hint>@tmi.local` e-mail (lets e-mail rules match).
    pub email_verified: bool,
}

impl Default for TmiProviderConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            name: "TMI Development".to_owned(),
            icon: "shield".to_owned(),
            client_id: "tmi-client".to_owned(),
            groups: Vec::new(),
            email_verified: false,
        }
    }
}

/// Ready-made provider settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Google (OIDC, `https://accounts.google.com`).
    Google,
    /// Microsoft Entra ID (OIDC, needs `tenant`).
    Microsoft,
    /// GitHub (OAuth2 + `/user/emails`).
    Github,
    /// GitLab (OIDC, `https://gitlab.com` unless `issuer` says otherwise).
    Gitlab,
    /// Keycloak (OIDC, needs `issuer` = `https://host/realms/<realm>`).
    Keycloak,
}

impl Preset {
    pub(super) fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "google" => Self::Google,
            "microsoft" => Self::Microsoft,
            "github" => Self::Github,
            "gitlab" => Self::Gitlab,
            "keycloak" => Self::Keycloak,
            _ => return None,
        })
    }
}

/// Token endpoint authentication, as named in RFC 8414.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic.
    ClientSecretBasic,
    /// In the form body.
    ClientSecretPost,
}

/// Claim paths (dotted, e.g. `realm_access.roles`); unset ones use the preset or OIDC names.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimsConfig {
    /// Stable user id.
    pub subject: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// E-mail verified flag.
    pub email_verified: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Groups; `""` turns groups off.
    pub groups: Option<String>,
}

/// `[providers.upstream.<id>]`: one OIDC or OAuth2 provider.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamProviderConfig {
    /// Preset; defaults to the id when the id names one (`google`, `github`, ...).
    pub preset: Option<Preset>,
    /// Set false to keep the entry but not offer it.
    pub enabled: Option<bool>,
    /// Display name.
    pub name: Option<String>,
    /// Icon identifier.
    pub icon: Option<String>,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (prefer `client_secret_file`).
    pub client_secret: Option<SecretString>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested upstream.
    pub scopes: Option<Vec<String>>,
    /// OIDC issuer (discovery).
    pub issuer: Option<String>,
    /// Microsoft tenant id or domain.
    pub tenant: Option<String>,
    /// OAuth2: authorization endpoint.
    pub authorization_url: Option<String>,
    /// OAuth2: token endpoint.
    pub token_url: Option<String>,
    /// OAuth2: userinfo endpoint.
    pub userinfo_url: Option<String>,
    /// OAuth2: GitHub-style e-mail list for a verified primary address.
    pub emails_url: Option<String>,
    /// OIDC: also read the userinfo endpoint.
    pub fetch_userinfo: Option<bool>,
    /// Token endpoint authentication.
    pub token_endpoint_auth: Option<TokenAuthMethod>,
    /// Claim paths.
    pub claims: ClaimsConfig,
    /// Pass the flow's validated `login_hint` upstream (OIDC `login_hint`, GitHub `login`).
    pub forward_login_hint: bool,
    /// Allow plain-http endpoints on non-loopback hosts (development only).
    pub allow_insecure_http: bool,
    /// OIDC: also accept ID tokens MACed with our client secret (HS256/384/512) when discovery
    /// lists them. Off: only the asymmetric algorithms discovery lists.
    pub allow_hmac_id_tokens: bool,
}

/// A validated upstream provider.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// Settings shared by both kinds.
    pub settings: UpstreamSettings,
    /// OIDC or OAuth2 endpoints.
    pub endpoints: UpstreamEndpoints,
}

impl ProvidersConfig {
    /// Validates every enabled upstream provider (reading secret files).
    pub fn upstream_specs(&self) -> Result<Vec<UpstreamSpec>, ConfigError> {
        let mut specs = Vec::new();
        for (id, entry) in &self.upstream {
            if entry.enabled == Some(false) {
                continue;
            }
            specs.push(entry.spec(id, self.jwks_refresh_interval_secs)?);
        }
        Ok(specs)
    }

    /// Validates every enabled SAML provider (reading its files).
    pub fn saml_specs(&self, public_url: &str) -> Result<Vec<SamlSpec>, ConfigError> {
        let mut specs: Vec<SamlSpec> = self
            .saml
            .iter()
            .filter(|(_, entry)| entry.enabled)
            .map(|(id, entry)| entry.spec(id, public_url))
            .collect::<Result<_, _>>()?;
        // One key decrypts for every provider that shares it, and an encrypted key can be
        // carried from one provider's message into another's: providers sharing an sp_key
        // accept only the content encryption methods they all accept.
        let keys: Vec<Option<String>> = specs
            .iter()
            .map(|s| {
                s.settings
                    .sp_key_pem
                    .as_ref()
                    .map(|k| k.expose_secret().trim().to_owned())
            })
            .collect();
        let lists: Vec<Vec<String>> = specs
            .iter()
            .map(|s| s.settings.content_encryption.clone())
            .collect();
        for (i, spec) in specs.iter_mut().enumerate() {
            let Some(key) = &keys[i] else { continue };
            for (j, other) in lists.iter().enumerate() {
                if j != i && keys[j].as_ref() == Some(key) {
                    spec.settings
                        .content_encryption
                        .retain(|m| other.contains(m));
                }
            }
            if spec.settings.content_encryption.is_empty() {
                return Err(ConfigError::new(
                    &format!(
                        "providers.saml.{}.encryption_methods",
                        spec.settings.info.id
                    ),
                    "has no method in common with another provider that uses the same sp_key",
                ));
            }
        }
        Ok(specs)
    }

    /// Checks the settings shared by all providers.
    pub fn check_shared(&self) -> Result<(), ConfigError> {
        for (key, value, min, max) in [
            ("providers.http_timeout_secs", self.http_timeout_secs, 1, 60),
            (
                "providers.discovery_attempts",
                u64::from(self.discovery_attempts),
                1,
                10,
            ),
            (
                "providers.jwks_refresh_interval_secs",
                self.jwks_refresh_interval_secs,
                0,
                86_400,
            ),
            (
                "providers.saml_metadata_refresh_secs",
                self.saml_metadata_refresh_secs,
                1,
                604_800,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        Ok(())
    }

    /// The outbound timeout.
    pub fn http_timeout(&self) -> Duration {
        Duration::from_secs(self.http_timeout_secs)
    }
}
