//! Turning one `[providers.upstream.<id>]` entry, with its preset, into validated settings.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{Preset, TokenAuthMethod, UpstreamProviderConfig, UpstreamSpec};
use crate::adapters::oidc::{
    ClaimPath, ClaimPaths, OAuth2Endpoints, OidcEndpoints, TokenAuth, UpstreamEndpoints,
    UpstreamSettings,
};
use crate::app::config::ConfigError;
use crate::domain::login::params::is_valid_provider_id;
use crate::ports::identity_provider::ProviderInfo;

struct Defaults {
    name: &'static str,
    icon: &'static str,
    scopes: &'static [&'static str],
    groups: Option<&'static str>,
}

impl UpstreamProviderConfig {
    pub(super) fn spec(
        &self,
        id: &str,
        jwks_refresh_secs: u64,
    ) -> Result<UpstreamSpec, ConfigError> {
        let key = |field: &str| format!("providers.upstream.{id}.{field}");
        let err = |field: &str, msg: &str| ConfigError::new(&key(field), msg);
        if !is_valid_provider_id(id) || id == "tmi" {
            return Err(ConfigError::new(
                &format!("providers.upstream.{id}"),
                "the id must match ^[a-zA-Z][a-zA-Z0-9_-]*$ (at most 100 characters) and not be `tmi`",
            ));
        }
        let preset = self.preset.or_else(|| Preset::from_id(id));
        let url = |field: &str, raw: &str| self.endpoint(raw).map_err(|m| err(field, &m));

        let (defaults, endpoints, default_auth, mut claims) = match preset {
            Some(Preset::Github) => (
                Defaults {
                    name: "GitHub",
                    icon: "github",
                    scopes: &["read:user", "user:email"],
                    groups: None,
                },
                UpstreamEndpoints::OAuth2(Box::new(OAuth2Endpoints {
                    authorization_url: url(
                        "authorization_url",
                        self.authorization_url
                            .as_deref()
                            .unwrap_or("https://github.com/login/oauth/authorize"),
                    )?,
                    token_url: url(
                        "token_url",
                        self.token_url
                            .as_deref()
                            .unwrap_or("https://github.com/login/oauth/access_token"),
                    )?,
                    userinfo_url: url(
                        "userinfo_url",
                        self.userinfo_url
                            .as_deref()
                            .unwrap_or("https://api.github.com/user"),
                    )?,
                    emails_url: Some(url(
                        "emails_url",
                        self.emails_url
                            .as_deref()
                            .unwrap_or("https://api.github.com/user/emails"),
                    )?),
                })),
                TokenAuth::Post,
                ClaimPaths {
                    subject: path("id"),
                    ..ClaimPaths::standard()
                },
            ),
            preset => {
                let (defaults, issuer) = match preset {
                    Some(Preset::Google) => (
                        Defaults {
                            name: "Google",
                            icon: "google",
                            scopes: &["openid", "email", "profile"],
                            groups: None,
                        },
                        Some(
                            self.issuer
                                .clone()
                                .unwrap_or_else(|| "https://accounts.google.com".into()),
                        ),
                    ),
                    Some(Preset::Microsoft) => {
                        let issuer = match (&self.issuer, &self.tenant) {
                            (Some(issuer), _) => issuer.clone(),
                            (None, Some(tenant)) if is_tenant(tenant) => {
                                format!("https://login.microsoftonline.com/{tenant}/v2.0")
                            }
                            _ => {
                                return Err(err(
                                    "tenant",
                                    "the microsoft preset needs a tenant id or domain (common/organizations/consumers issue tenant-specific tokens and are not supported)",
                                ));
                            }
                        };
                        (
                            Defaults {
                                name: "Microsoft",
                                icon: "microsoft",
                                scopes: &["openid", "email", "profile"],
                                groups: Some("groups"),
                            },
                            Some(issuer),
                        )
                    }
                    Some(Preset::Gitlab) => (
                        Defaults {
                            name: "GitLab",
                            icon: "gitlab",
                            scopes: &["openid", "email", "profile"],
                            groups: Some("groups_direct"),
                        },
                        Some(
                            self.issuer
                                .clone()
                                .unwrap_or_else(|| "https://gitlab.com".into()),
                        ),
                    ),
                    Some(Preset::Keycloak) => (
                        Defaults {
                            name: "Keycloak",
                            icon: "keycloak",
                            scopes: &["openid", "email", "profile"],
                            groups: Some("groups"),
                        },
                        Some(self.issuer.clone().ok_or_else(|| {
                            err(
                                "issuer",
                                "the keycloak preset needs issuer = \"https://<host>/realms/<realm>\"",
                            )
                        })?),
                    ),
                    _ => (
                        Defaults {
                            name: "",
                            icon: "key",
                            scopes: &["openid", "email", "profile"],
                            groups: Some("groups"),
                        },
                        self.issuer.clone(),
                    ),
                };
                let endpoints = match issuer {
                    Some(issuer) => UpstreamEndpoints::Oidc(OidcEndpoints {
                        issuer: url("issuer", &issuer)?,
                        fetch_userinfo: self.fetch_userinfo.unwrap_or(false),
                        jwks_refresh_interval: Duration::from_secs(jwks_refresh_secs),
                        allow_hmac_id_tokens: self.allow_hmac_id_tokens,
                    }),
                    None => {
                        fn need<'a>(
                            field: &str,
                            value: &'a Option<String>,
                            err: impl Fn(&str, &str) -> ConfigError,
                        ) -> Result<&'a str, ConfigError> {
                            value.as_deref().ok_or_else(|| {
                                err(
                                    field,
                                    "is required when no issuer is given (set issuer for OIDC, or authorization_url, token_url and userinfo_url for OAuth2)",
                                )
                            })
                        }
                        UpstreamEndpoints::OAuth2(Box::new(OAuth2Endpoints {
                            authorization_url: url(
                                "authorization_url",
                                need("authorization_url", &self.authorization_url, err)?,
                            )?,
                            token_url: url("token_url", need("token_url", &self.token_url, err)?)?,
                            userinfo_url: url(
                                "userinfo_url",
                                need("userinfo_url", &self.userinfo_url, err)?,
                            )?,
                            emails_url: self
                                .emails_url
                                .as_deref()
                                .map(|u| url("emails_url", u))
                                .transpose()?,
                        }))
                    }
                };
                let groups = defaults.groups;
                (
                    defaults,
                    endpoints,
                    TokenAuth::Basic,
                    ClaimPaths {
                        groups: groups.map(path),
                        ..ClaimPaths::standard()
                    },
                )
            }
        };
        if matches!(endpoints, UpstreamEndpoints::Oidc(_))
            && (self.authorization_url.is_some()
                || self.token_url.is_some()
                || self.userinfo_url.is_some()
                || self.emails_url.is_some())
        {
            return Err(err(
                "issuer",
                "an OIDC provider takes its endpoints from discovery; remove authorization_url, token_url, userinfo_url and emails_url",
            ));
        }
        if matches!(endpoints, UpstreamEndpoints::OAuth2(_)) && self.fetch_userinfo.is_some() {
            return Err(err(
                "fetch_userinfo",
                "applies to OIDC providers only (OAuth2 providers always read userinfo_url)",
            ));
        }

        let c = &self.claims;
        for (field, value, slot) in [
            ("subject", &c.subject, &mut claims.subject),
            ("email", &c.email, &mut claims.email),
            (
                "email_verified",
                &c.email_verified,
                &mut claims.email_verified,
            ),
            ("name", &c.name, &mut claims.name),
        ] {
            if let Some(raw) = value {
                *slot = ClaimPath::parse(raw)
                    .ok_or_else(|| err(&format!("claims.{field}"), "is not a dotted claim path"))?;
            }
        }
        if let Some(raw) = &c.groups {
            claims.groups = if raw.is_empty() {
                None
            } else {
                Some(
                    ClaimPath::parse(raw)
                        .ok_or_else(|| err("claims.groups", "is not a dotted claim path"))?,
                )
            };
        }

        let name = self
            .name
            .clone()
            .or_else(|| (!defaults.name.is_empty()).then(|| defaults.name.to_owned()))
            .unwrap_or_else(|| id.to_owned());
        let icon = self
            .icon
            .clone()
            .unwrap_or_else(|| defaults.icon.to_owned());
        for (field, value) in [
            ("name", &name),
            ("icon", &icon),
            ("client_id", &self.client_id),
        ] {
            if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                return Err(err(field, "must be 1-256 printable characters"));
            }
        }
        let scopes = match &self.scopes {
            Some(scopes) => scopes.clone(),
            None => defaults.scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        if scopes.len() > 50
            || scopes.iter().any(|s| {
                s.is_empty()
                    || s.len() > 200
                    || s.chars().any(|c| c.is_whitespace() || c.is_control())
            })
        {
            return Err(err(
                "scopes",
                "at most 50 scopes, each 1-200 characters without spaces",
            ));
        }
        Ok(UpstreamSpec {
            settings: UpstreamSettings {
                info: ProviderInfo {
                    id: id.to_owned(),
                    name,
                    icon,
                    client_id: self.client_id.clone(),
                },
                client_secret: self.secret(id)?,
                scopes,
                claims,
                token_auth: match self.token_endpoint_auth {
                    Some(TokenAuthMethod::ClientSecretBasic) => TokenAuth::Basic,
                    Some(TokenAuthMethod::ClientSecretPost) => TokenAuth::Post,
                    None => default_auth,
                },
                forward_login_hint: self.forward_login_hint,
            },
            endpoints,
        })
    }

    fn secret(&self, id: &str) -> Result<SecretString, ConfigError> {
        let key = |field: &str| format!("providers.upstream.{id}.{field}");
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    &key("client_secret_file"),
                    "set either client_secret or client_secret_file, not both",
                ));
            }
            (Some(secret), None) => secret.expose_secret().to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    ConfigError::new(
                        &key("client_secret_file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
                .trim()
                .to_owned(),
            (None, None) => {
                return Err(ConfigError::new(
                    &key("client_secret"),
                    "is required (or client_secret_file)",
                ));
            }
        };
        if secret.is_empty() || secret.len() > 1024 {
            return Err(ConfigError::new(
                &key("client_secret"),
                "must be 1-1024 characters",
            ));
        }
        Ok(SecretString::from(secret))
    }

    /// An absolute https URL (http only on loopback, or when explicitly allowed).
    fn endpoint(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_owned())?;
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback || self.allow_insecure_http => {}
            "http" => {
                return Err(
                    "must use https (http only on loopback or with allow_insecure_http)".into(),
                );
            }
            _ => return Err("must use https".into()),
        }
        if url.host_str().is_none() || url.fragment().is_some() || !url.username().is_empty() {
            return Err("must have a host, no fragment and no credentials".into());
        }
        Ok(url)
    }
}

fn path(raw: &str) -> ClaimPath {
    ClaimPath::parse(raw).unwrap_or_else(|| ClaimPaths::standard().subject)
}

/// A GUID or a DNS name; not the multi-tenant aliases.
fn is_tenant(tenant: &str) -> bool {
    !matches!(tenant, "common" | "organizations" | "consumers")
        && !tenant.is_empty()
        && tenant.len() <= 253
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}
