//! Configuration: one typed tree loaded in layers — defaults, then an optional TOML file, then
//! environment variables `TMI_AUTH__SECTION__KEY` — and validated once at startup. Unknown keys
//! are errors, and every error names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

use crate::adapters::http::rate_limit::{Cidr, RateLimitSettings};
use crate::domain::groups::seed::SeedGroup;
use crate::domain::groups::{MemberRef, SeedPlan, SeedRule, UserMatcher};
use crate::domain::login::CallbackAllowList;
use crate::domain::login::params::is_valid_provider_id;
use crate::ports::Limit;

/// Environment prefix; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "TMI_AUTH__";

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration at `{key}`: {message}")]
pub struct ConfigError {
    /// The offending key (dotted path, or a command-line flag).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// How the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// In-memory everything, built-in `tmi` provider, loopback callbacks, ephemeral keys.
    #[default]
    Demo,
    /// Nothing is enabled unless configured.
    Production,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `demo` (default) or `production`.
    pub mode: Mode,
    /// Where users, credentials, groups, refresh families and keys live.
    pub storage: StorageKind,
    /// Where the revocation list, login flows and backoff counters live.
    pub cache: CacheKind,
    /// PostgreSQL, for `storage = "postgres"`.
    pub database: DatabaseConfig,
    /// Redis, for `cache = "redis"`.
    pub redis: RedisConfig,
    /// Listener and HTTP settings.
    pub server: ServerConfig,
    /// Token lifetimes and keys.
    pub tokens: TokensConfig,
    /// Login-flow settings.
    pub oauth: OAuthConfig,
    /// Identity providers.
    pub providers: ProvidersConfig,
    /// Client credentials.
    pub credentials: CredentialsConfig,
    /// Token introspection.
    pub introspection: IntrospectionConfig,
    /// Groups, memberships and administrators.
    pub groups: GroupsConfig,
    /// Rate limits per route class.
    pub rate_limits: RateLimitsConfig,
    /// Logging.
    pub log: LogConfig,
}

/// Storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// In the process (lost at exit).
    #[default]
    Memory,
    /// PostgreSQL.
    Postgres,
}

/// Cache backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CacheKind {
    /// In the process (one replica only).
    #[default]
    Memory,
    /// Redis.
    Redis,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user@host:port/db`.
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// Server-side statement timeout in seconds.
    pub statement_timeout_secs: u64,
    /// Apply migrations when `serve` starts.
    pub auto_migrate: bool,
    /// Schema to use (`[a-z0-9_]`), instead of the server's default search path.
    pub schema: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_secs: 5,
            statement_timeout_secs: 10,
            auto_migrate: true,
            schema: None,
        }
    }
}

/// `[redis]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port`.
    pub url: Option<String>,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Milliseconds one command may take.
    pub response_timeout_ms: u64,
    /// Milliseconds a (re)connection may take.
    pub connection_timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "tmi-auth:".to_owned(),
            response_timeout_ms: 1000,
            connection_timeout_ms: 2000,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Public base URL (issuer, discovery, callback). Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Largest request body in bytes.
    pub body_limit_bytes: usize,
    /// Seconds in-flight requests get to finish at shutdown.
    pub shutdown_grace_secs: u64,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_secs: u64,
    /// Browser origins (`https://app.example.com`) allowed to call the API; never `*`.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            public_url: None,
            body_limit_bytes: 256 * 1024,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
            request_timeout_secs: 30,
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// `[tokens]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    /// `aud` of access tokens; defaults to the public base URL.
    pub audience: Option<String>,
    /// Access-token lifetime.
    pub access_token_ttl_secs: u64,
    /// Absolute lifetime of a login session (refresh family).
    pub refresh_family_lifetime_secs: u64,
    /// Grace window for retrying the previous refresh token.
    pub refresh_grace_secs: u64,
    /// Lifetime of our authorization codes.
    pub authorization_code_ttl_secs: u64,
    /// Lifetime of a pending login flow.
    pub flow_ttl_secs: u64,
    /// Clock skew tolerated on `exp`/`nbf`.
    pub leeway_secs: u64,
    /// PKCS#8 PEM file with an Ed25519 signing key (ephemeral key when absent).
    pub signing_key_file: Option<PathBuf>,
    /// File holding a base64 32-byte refresh-token key (ephemeral key when absent).
    pub refresh_token_key_file: Option<PathBuf>,
    /// Rotate the signing key automatically after this many hours (0: never).
    pub signing_key_rotation_hours: u64,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            audience: None,
            access_token_ttl_secs: 900,
            refresh_family_lifetime_secs: 7 * 24 * 3600,
            refresh_grace_secs: 10,
            authorization_code_ttl_secs: 60,
            flow_ttl_secs: 600,
            leeway_secs: 30,
            signing_key_file: None,
            refresh_token_key_file: None,
            signing_key_rotation_hours: 0,
        }
    }
}

/// `[oauth]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Allowed client callbacks: exact URLs or prefixes ending in `/*` or `:*`.
    /// Demo default: any loopback port over http.
    pub client_callback_allow_list: Option<Vec<String>>,
    /// Whether a flow without client_callback may end with tokens in the callback body.
    /// Demo default: on; production: off.
    pub allow_callback_token_response: Option<bool>,
    /// Provider used when `idp` is omitted. Demo default: `tmi`.
    pub default_idp: Option<String>,
}

/// `[credentials]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsConfig {
    /// Active client credentials allowed per user.
    pub max_active_per_user: usize,
    /// Failed authentications tolerated per client id before backoff engages.
    pub backoff_threshold: u32,
    /// How long failures below the threshold are remembered.
    pub backoff_window_secs: u64,
    /// First lock length; doubles with every further failure.
    pub backoff_base_lock_secs: u64,
    /// Longest lock.
    pub backoff_max_lock_secs: u64,
    /// `last_used_at` is recorded at most this often per credential.
    pub last_used_interval_secs: u64,
    /// File holding a base64 32-byte pepper for client-secret digests (ephemeral when absent).
    pub pepper_file: Option<PathBuf>,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        Self {
            max_active_per_user: 10,
            backoff_threshold: 5,
            backoff_window_secs: 900,
            backoff_base_lock_secs: 30,
            backoff_max_lock_secs: 900,
            last_used_interval_secs: 60,
            pepper_file: None,
        }
    }
}

/// `[groups]`: operator-managed groups and memberships.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsConfig {
    /// Make the first user to sign in an administrator while administrators is empty.
    pub auto_promote_first_user: bool,
    /// `[[groups.define]]`: TMI-managed groups to create.
    pub define: Vec<GroupDefinition>,
    /// `[[groups.members]]`: who belongs to which group (`group` names the target).
    pub members: Vec<MemberSpec>,
    /// `[[groups.administrators]]`: members of the administrators group.
    pub administrators: Vec<MemberSpec>,
    /// `[[groups.security_reviewers]]`: members of the security-reviewers group.
    pub security_reviewers: Vec<MemberSpec>,
}

/// A TMI-managed group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDefinition {
    /// Group name (unique).
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// One member: exactly one of `provider` + `provider_user_id`, `email` (matches verified
/// e-mails), `member_group` (a TMI-managed group) or `provider` + `idp_group` (a group asserted
/// by that identity provider).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSpec {
    /// Target group (only in `[[groups.members]]`).
    pub group: Option<String>,
    /// Provider of a user or of an identity-provider group.
    pub provider: Option<String>,
    /// The provider's subject of a user.
    pub provider_user_id: Option<String>,
    /// A verified e-mail address.
    pub email: Option<String>,
    /// A TMI-managed group.
    pub member_group: Option<String>,
    /// An identity-provider group name.
    pub idp_group: Option<String>,
    /// Notes kept on the membership.
    pub notes: Option<String>,
}

/// `[rate_limits]`: requests per minute per route class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Off entirely when false.
    pub enabled: bool,
    /// `/oauth2/authorize`, `/oauth2/callback`: per client IP.
    pub login_per_minute: u32,
    /// `/oauth2/token`, `/oauth2/refresh`: per client IP, and per `client_id`.
    pub token_per_minute: u32,
    /// `/oauth2/introspect`, `/oauth2/revoke`: per caller.
    pub caller_per_minute: u32,
    /// `/.well-known/*`: per client IP.
    pub discovery_per_minute: u32,
    /// Other API routes: per client IP.
    pub api_per_minute: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login_per_minute: 100,
            token_per_minute: 300,
            caller_per_minute: 1200,
            discovery_per_minute: 300,
            api_per_minute: 600,
        }
    }
}

/// `[introspection]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IntrospectionConfig {
    /// Require callers to authenticate (RFC 7662 §2.1). Demo default: no; production: yes.
    pub require_client_auth: Option<bool>,
}

/// `[providers]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// The built-in test provider.
    pub tmi: TmiProviderConfig,
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

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` or `json`; defaults to pretty in demo and json in production.
    pub format: Option<LogFormat>,
    /// Filter directive, e.g. `info` or `tmi_auth=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: None,
            level: "info".to_owned(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

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
        if self.storage == StorageKind::Postgres
            && self.database.url.as_deref().is_none_or(str::is_empty)
        {
            return Err(ConfigError::new(
                "database.url",
                "is required when storage = \"postgres\"",
            ));
        }
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
        for (i, origin) in self.server.cors_allowed_origins.iter().enumerate() {
            let ok = url::Url::parse(origin).is_ok_and(|u| {
                (u.scheme() == "https" || u.scheme() == "http")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && !origin.ends_with('/')
                    && u.query().is_none()
            });
            if !ok {
                return Err(ConfigError::new(
                    &format!("server.cors_allowed_origins[{i}]"),
                    "expected an origin like https://app.example.com (no path, no wildcard)",
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
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {min} and {max}"),
                ));
            }
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
        Ok(Resolved {
            listen,
            allow_list,
            allow_callback_token_response: self.oauth.allow_callback_token_response.unwrap_or(demo),
            default_idp,
            tmi_enabled,
            log_format,
            introspection_requires_auth: self.introspection.require_client_auth.unwrap_or(!demo),
            seed: self.groups.seed_plan()?,
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

impl GroupsConfig {
    /// Validates the group configuration into a seed plan; errors name the entry.
    pub fn seed_plan(&self) -> Result<SeedPlan, ConfigError> {
        let mut plan = SeedPlan {
            auto_promote_first_user: self.auto_promote_first_user,
            ..SeedPlan::default()
        };
        for (i, def) in self.define.iter().enumerate() {
            let key = format!("groups.define[{i}].name");
            check_name(&key, &def.name)?;
            if ["everyone", "administrators", "security-reviewers"].contains(&def.name.as_str()) {
                return Err(ConfigError::new(&key, "names a built-in group"));
            }
            if let Some(display) = &def.display_name {
                check_name(&format!("groups.define[{i}].display_name"), display)?;
            }
            plan.groups.push(SeedGroup {
                name: def.name.clone(),
                display_name: def.display_name.clone(),
            });
        }
        let lists = [
            ("groups.members", &self.members, None),
            (
                "groups.administrators",
                &self.administrators,
                Some("administrators"),
            ),
            (
                "groups.security_reviewers",
                &self.security_reviewers,
                Some("security-reviewers"),
            ),
        ];
        for (list, specs, fixed) in lists {
            for (i, spec) in specs.iter().enumerate() {
                let at = |field: &str| format!("{list}[{i}].{field}");
                let group = match (fixed, &spec.group) {
                    (Some(name), None) => name.to_owned(),
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::new(&at("group"), "is not allowed here"));
                    }
                    (None, Some(name)) => {
                        check_name(&at("group"), name)?;
                        if name == "everyone" {
                            return Err(ConfigError::new(&at("group"), "everyone is implicit"));
                        }
                        name.clone()
                    }
                    (None, None) => return Err(ConfigError::new(&at("group"), "is required")),
                };
                let member = match (
                    &spec.provider,
                    &spec.provider_user_id,
                    &spec.email,
                    &spec.member_group,
                    &spec.idp_group,
                ) {
                    (Some(provider), Some(subject), None, None, None) => {
                        check_provider(&at("provider"), provider)?;
                        check_name(&at("provider_user_id"), subject)?;
                        MemberRef::User(UserMatcher::Identity {
                            provider: provider.clone(),
                            provider_user_id: subject.clone(),
                        })
                    }
                    (None, None, Some(email), None, None) => {
                        if !crate::domain::user::is_plausible_email(email) {
                            return Err(ConfigError::new(&at("email"), "is not an e-mail address"));
                        }
                        MemberRef::User(UserMatcher::VerifiedEmail(email.clone()))
                    }
                    (None, None, None, Some(name), None) => {
                        check_name(&at("member_group"), name)?;
                        MemberRef::Group(name.clone())
                    }
                    (Some(provider), None, None, None, Some(name)) => {
                        check_provider(&at("provider"), provider)?;
                        check_name(&at("idp_group"), name)?;
                        MemberRef::IdpGroup {
                            provider: provider.clone(),
                            name: name.clone(),
                        }
                    }
                    _ => {
                        return Err(ConfigError::new(
                            &format!("{list}[{i}]"),
                            "needs exactly one of provider + provider_user_id, email, member_group, provider + idp_group",
                        ));
                    }
                };
                if spec
                    .notes
                    .as_ref()
                    .is_some_and(|n| n.chars().count() > 1000)
                {
                    return Err(ConfigError::new(
                        &at("notes"),
                        "must be at most 1000 characters",
                    ));
                }
                plan.rules.push(SeedRule {
                    group,
                    member,
                    notes: spec.notes.clone(),
                });
            }
        }
        Ok(plan)
    }
}

fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control)
    {
        return Err(ConfigError::new(key, "must be 1-256 printable characters"));
    }
    Ok(())
}

fn check_provider(key: &str, value: &str) -> Result<(), ConfigError> {
    if is_valid_provider_id(value) {
        Ok(())
    } else {
        Err(ConfigError::new(key, "is not a valid provider id"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_demo_mode_on_port_8080() {
        let config = Config::default();
        let resolved = config.resolve().expect("defaults are valid");
        assert_eq!(config.mode, Mode::Demo);
        assert_eq!(resolved.listen.to_string(), "127.0.0.1:8080");
        assert!(resolved.tmi_enabled);
        assert!(resolved.allow_callback_token_response);
        assert_eq!(resolved.default_idp.as_deref(), Some("tmi"));
    }

    #[test]
    fn production_requires_a_public_url_and_disables_tmi() {
        let mut config = Config {
            mode: Mode::Production,
            ..Config::default()
        };
        assert_eq!(
            config.resolve().map_err(|e| e.key),
            Err("server.public_url".to_owned())
        );
        config.server.public_url = Some("https://auth.example.com".into());
        let resolved = config.resolve().expect("valid");
        assert!(!resolved.tmi_enabled);
        assert!(!resolved.allow_callback_token_response);
        assert_eq!(resolved.default_idp, None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = Config::default();
        config.tokens.access_token_ttl_secs = 5;
        assert_eq!(
            config.resolve().map_err(|e| e.key),
            Err("tokens.access_token_ttl_secs".to_owned())
        );
        let mut config = Config::default();
        config.server.listen = "nope".into();
        assert_eq!(
            config.resolve().map_err(|e| e.key),
            Err("server.listen".to_owned())
        );
        let mut config = Config::default();
        config.oauth.client_callback_allow_list =
            Some(vec!["https://ok.example/*".into(), "bad*".into()]);
        assert_eq!(
            config.resolve().map_err(|e| e.key),
            Err("oauth.client_callback_allow_list[1]".to_owned())
        );
    }
}
