//! Loading the layered configuration and validating it once, into [`Resolved`] settings.
//! Every error names its key.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::*;
use crate::adapters::http::rate_limit::{Cidr, RateLimitSettings};
use crate::domain::groups::SeedPlan;
use crate::domain::login::CallbackAllowList;
use crate::domain::login::params::is_valid_provider_id;
use crate::ports::Limit;

/// Settings derived from a validated [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Listen address.
    pub listen: SocketAddr,
    /// Callback allow-list.
    pub allow_list: CallbackAllowList,
    /// Whether the callback may answer with tokens.
    pub allow_callback_token_response: bool,
    /// Provider used when `idp` is omitted.
    pub default_idp: Option<String>,
    /// Whether the built-in provider is on.
    pub tmi_enabled: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// Whether introspection requires caller authentication.
    pub introspection_requires_auth: bool,
    /// Groups to seed.
    pub seed: SeedPlan,
    /// Rate limits.
    pub rate_limits: RateLimitSettings,
    /// Things that start but are probably mistakes, for the log.
    pub warnings: Vec<String>,
}

impl Config {
    /// Defaults, then the TOML file (if given; it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "--config",
                    format!("{} is not a readable file", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        figment.extract().map_err(|err| {
            let key = err.path.join(".");
            let key = if key.is_empty() {
                "(root)".to_owned()
            } else {
                key
            };
            ConfigError {
                key,
                message: err.kind.to_string(),
            }
        })
    }

    /// Demo-mode defaults listening on an ephemeral loopback port (for tests).
    pub fn demo_ephemeral() -> Self {
        let mut config = Self::default();
        config.server.listen = "127.0.0.1:0".to_owned();
        config
    }

    /// Checks every value and derives the settings that depend on the mode.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let demo = self.mode == Mode::Demo;
        if demo && self.storage != StorageKind::Memory {
            return Err(ConfigError::new(
                "storage",
                "demo mode keeps everything in memory; set mode = \"production\"",
            ));
        }
        if demo && self.cache != CacheKind::Memory {
            return Err(ConfigError::new(
                "cache",
                "demo mode keeps everything in memory; set mode = \"production\"",
            ));
        }
        if self.storage == StorageKind::Postgres {
            self.database.check()?;
        }
        crate::app::telemetry::check_level(&self.log.level)
            .map_err(|m| ConfigError::new("log.level", m))?;
        if self.cache == CacheKind::Redis && self.redis.url.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::new(
                "redis.url",
                "is required when cache = \"redis\"",
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if self.redis.key_prefix.len() > 100
            || self
                .redis
                .key_prefix
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ConfigError::new(
                "redis.key_prefix",
                "must be at most 100 printable characters without spaces",
            ));
        }
        for (key, ms) in [
            ("redis.response_timeout_ms", self.redis.response_timeout_ms),
            (
                "redis.connection_timeout_ms",
                self.redis.connection_timeout_ms,
            ),
        ] {
            // 0 would time out every command (redis-rs has no "no timeout" here).
            if self.cache == CacheKind::Redis && !(1..=60_000).contains(&ms) {
                return Err(ConfigError::new(key, "must be between 1 and 60000"));
            }
        }
        let listen: SocketAddr = self.server.listen.parse().map_err(|_| {
            ConfigError::new("server.listen", "expected an address like 127.0.0.1:8080")
        })?;
        if let Some(url) = &self.server.public_url {
            check_base_url(url).map_err(|m| ConfigError::new("server.public_url", m))?;
        } else if !demo {
            return Err(ConfigError::new(
                "server.public_url",
                "is required in production mode",
            ));
        }
        if !(1..=600).contains(&self.server.request_timeout_secs) {
            return Err(ConfigError::new(
                "server.request_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if !(1..=600).contains(&self.server.header_timeout_secs) {
            return Err(ConfigError::new(
                "server.header_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        for (i, origin) in self.server.cors_allowed_origins.iter().enumerate() {
            // Browsers send an origin in one serialization (lowercase host, no default port),
            // and it is compared byte for byte: any other spelling would never match.
            let ok = url::Url::parse(origin).is_ok_and(|u| {
                (u.scheme() == "https" || u.scheme() == "http")
                    && u.origin().ascii_serialization() == *origin
            });
            if !ok {
                return Err(ConfigError::new(
                    &format!("server.cors_allowed_origins[{i}]"),
                    "expected an origin as browsers send it, like https://app.example.com \
                     (lowercase, no default port, path, wildcard or user name)",
                ));
            }
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "server.body_limit_bytes",
                "must be at least 1024",
            ));
        }
        let t = &self.tokens;
        for (key, value, min, max) in [
            (
                "tokens.access_token_ttl_secs",
                t.access_token_ttl_secs,
                30,
                86_400,
            ),
            (
                "tokens.refresh_family_lifetime_secs",
                t.refresh_family_lifetime_secs,
                60,
                90 * 86_400,
            ),
            ("tokens.refresh_grace_secs", t.refresh_grace_secs, 0, 300),
            (
                "tokens.authorization_code_ttl_secs",
                t.authorization_code_ttl_secs,
                10,
                600,
            ),
            ("tokens.flow_ttl_secs", t.flow_ttl_secs, 60, 3600),
            ("tokens.leeway_secs", t.leeway_secs, 0, 300),
            (
                "tokens.signing_key_rotation_hours",
                t.signing_key_rotation_hours,
                0,
                24 * 365,
            ),
            (
                "tokens.refresh_key_rotation_hours",
                t.refresh_key_rotation_hours,
                0,
                24 * 365,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        match (t.signing_algorithm, &t.hs256_secret_file) {
            (SigningAlg::HS256, None) => {
                return Err(ConfigError::new(
                    "tokens.hs256_secret_file",
                    "is required when tokens.signing_algorithm = \"HS256\"",
                ));
            }
            (SigningAlg::HS256, Some(_)) if t.signing_key_rotation_hours != 0 => {
                return Err(ConfigError::new(
                    "tokens.signing_key_rotation_hours",
                    "must be 0 with HS256 (the shared secret is rotated by changing the file)",
                ));
            }
            (alg, Some(_)) if alg != SigningAlg::HS256 => {
                return Err(ConfigError::new(
                    "tokens.hs256_secret_file",
                    "is only used with tokens.signing_algorithm = \"HS256\"",
                ));
            }
            (SigningAlg::HS256, Some(_)) if t.signing_key_file.is_some() => {
                return Err(ConfigError::new(
                    "tokens.signing_key_file",
                    "is not used with HS256 (the key is tokens.hs256_secret_file)",
                ));
            }
            _ => {}
        }
        if let Some(aud) = &t.audience
            && (aud.trim().is_empty() || aud.len() > 1000)
        {
            {
                return Err(ConfigError::new(
                    "tokens.audience",
                    "must be 1-1000 characters",
                ));
            }
        }
        let allow_list = match &self.oauth.client_callback_allow_list {
            Some(entries) => CallbackAllowList::parse(entries).map_err(|(i, m)| {
                ConfigError::new(&format!("oauth.client_callback_allow_list[{i}]"), m)
            })?,
            None if demo => CallbackAllowList::loopback(),
            None => CallbackAllowList::default(),
        };
        let tmi_enabled = self.providers.tmi.enabled.unwrap_or(demo);
        if tmi_enabled && !demo && self.groups.auto_promote_first_user {
            // The tmi provider signs in whoever names a user: the first caller would become
            // administrator of a production service.
            return Err(ConfigError::new(
                "groups.auto_promote_first_user",
                "cannot be used in production while the built-in tmi provider is enabled \
                 (anyone could sign in as the first user and become an administrator)",
            ));
        }
        let default_idp = match &self.oauth.default_idp {
            Some(id) if !is_valid_provider_id(id) => {
                return Err(ConfigError::new(
                    "oauth.default_idp",
                    "is not a valid provider id",
                ));
            }
            Some(id) => Some(id.clone()),
            None if tmi_enabled && demo => Some("tmi".to_owned()),
            None => None,
        };
        if default_idp.as_deref() == Some("tmi") && !tmi_enabled {
            return Err(ConfigError::new(
                "oauth.default_idp",
                "names the tmi provider, which is disabled",
            ));
        }
        self.providers.check_shared()?;
        let upstream = self.providers.upstream_specs()?;
        let public = self
            .server
            .public_url
            .as_deref()
            .unwrap_or("http://localhost");
        let mut provider_ids: Vec<String> = upstream
            .iter()
            .map(|spec| spec.settings.info.id.clone())
            .collect();
        if tmi_enabled {
            provider_ids.push("tmi".to_owned());
        }
        for spec in self.providers.saml_specs(public.trim_end_matches('/'))? {
            provider_ids.push(spec.settings.info.id.clone());
            let id = &spec.settings.info.id;
            if id == "tmi" || upstream.iter().any(|u| &u.settings.info.id == id) {
                return Err(ConfigError::new(
                    &format!("providers.saml.{id}"),
                    "the id is already used by another provider",
                ));
            }
        }
        if let Some(id) = default_idp.as_deref()
            && id != "tmi"
            && !upstream.iter().any(|spec| spec.settings.info.id == id)
        {
            return Err(ConfigError::new(
                "oauth.default_idp",
                "names no enabled provider",
            ));
        }
        let tmi = &self.providers.tmi;
        for (key, value) in [
            ("providers.tmi.name", &tmi.name),
            ("providers.tmi.icon", &tmi.icon),
            ("providers.tmi.client_id", &tmi.client_id),
        ] {
            if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                return Err(ConfigError::new(key, "must be 1-256 printable characters"));
            }
        }
        // Asserted at every login; one the login would drop is a mistake to say now.
        for (i, group) in tmi.groups.iter().enumerate() {
            if group.trim() != group || !crate::domain::text::is_displayable(group, 256) {
                return Err(ConfigError::new(
                    &format!("providers.tmi.groups[{i}]"),
                    "must be 1-256 printable characters without surrounding spaces (no control \
                     or bidirectional control characters)",
                ));
            }
        }
        let c = &self.credentials;
        if !(1..=1000).contains(&c.max_active_per_user) {
            return Err(ConfigError::new(
                "credentials.max_active_per_user",
                "must be between 1 and 1000",
            ));
        }
        for (key, value, min, max) in [
            (
                "credentials.backoff_threshold",
                u64::from(c.backoff_threshold),
                1,
                1000,
            ),
            (
                "credentials.backoff_window_secs",
                c.backoff_window_secs,
                1,
                86_400,
            ),
            (
                "credentials.backoff_base_lock_secs",
                c.backoff_base_lock_secs,
                1,
                86_400,
            ),
            (
                "credentials.backoff_max_lock_secs",
                c.backoff_max_lock_secs,
                1,
                86_400,
            ),
            (
                "credentials.last_used_interval_secs",
                c.last_used_interval_secs,
                1,
                86_400,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        if c.backoff_max_lock_secs < c.backoff_base_lock_secs {
            return Err(ConfigError::new(
                "credentials.backoff_max_lock_secs",
                "must not be less than credentials.backoff_base_lock_secs",
            ));
        }
        let log_format = self.log.format.unwrap_or(if demo {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        });
        let seed = self.groups.seed_plan()?;
        let mut warnings: Vec<String> = seed
            .providers_named()
            .filter(|(_, provider)| !provider_ids.iter().any(|id| id == provider))
            .map(|(index, provider)| {
                format!(
                    "group rule {index} names the provider {provider:?}, which is not configured \
                     or not enabled: it matches nobody"
                )
            })
            .collect();
        if !crate::app::telemetry::has_overall_level(&self.log.level) {
            warnings.push(format!(
                "log.level {:?} sets no overall level: lines of every other target, audit \
                 events included, are off (start it with one, e.g. \"info,…\")",
                self.log.level
            ));
        }
        Ok(Resolved {
            warnings,
            listen,
            allow_list,
            allow_callback_token_response: self.oauth.allow_callback_token_response.unwrap_or(demo),
            default_idp,
            tmi_enabled,
            log_format,
            introspection_requires_auth: self.introspection.require_client_auth.unwrap_or(!demo),
            seed,
            rate_limits: self.rate_limit_settings()?,
        })
    }
}

impl Config {
    fn rate_limit_settings(&self) -> Result<RateLimitSettings, ConfigError> {
        let mut trusted = Vec::new();
        for (i, entry) in self.server.trusted_proxies.iter().enumerate() {
            trusted.push(Cidr::parse(entry.trim()).ok_or_else(|| {
                ConfigError::new(
                    &format!("server.trusted_proxies[{i}]"),
                    "expected an address or CIDR",
                )
            })?);
        }
        let r = &self.rate_limits;
        let per_minute = |key: &str, n: u32| {
            if (1..=1_000_000).contains(&n) {
                Ok(Limit {
                    limit: n,
                    window: std::time::Duration::from_secs(60),
                })
            } else {
                Err(ConfigError::new(key, "must be between 1 and 1000000"))
            }
        };
        Ok(RateLimitSettings {
            enabled: r.enabled,
            trusted_proxies: trusted,
            login: per_minute("rate_limits.login_per_minute", r.login_per_minute)?,
            token: per_minute("rate_limits.token_per_minute", r.token_per_minute)?,
            caller: per_minute("rate_limits.caller_per_minute", r.caller_per_minute)?,
            discovery: per_minute("rate_limits.discovery_per_minute", r.discovery_per_minute)?,
            api: per_minute("rate_limits.api_per_minute", r.api_per_minute)?,
        })
    }
}

/// An absolute http(s) URL without query or fragment.
fn check_base_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute URL".to_owned())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("must use http or https".into());
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err("must have a host and no query or fragment".into());
    }
    Ok(())
}
