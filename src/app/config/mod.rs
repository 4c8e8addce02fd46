//! Configuration: one typed tree loaded in layers — defaults, then an optional TOML file, then
//! environment variables `TMI_AUTH__SECTION__KEY` — and validated once at startup. Unknown keys
//! are errors, and every error names the key.

use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::tokens::keys::SigningAlg;

mod groups;
mod providers;
mod resolve;

pub use groups::{GroupDefinition, GroupsConfig, MemberSpec};
pub use providers::{
    ClaimsConfig, Preset, ProvidersConfig, SamlAttributesConfig, SamlProviderConfig, SamlSpec,
    TmiProviderConfig, TokenAuthMethod, UpstreamProviderConfig, UpstreamSpec,
};
pub use resolve::Resolved;

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

impl DatabaseConfig {
    /// Checks what can be checked without connecting: the URL's scheme and the schema name.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.url.as_deref() {
            None | Some("") => {
                return Err(ConfigError::new("database.url", "is required"));
            }
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                return Err(ConfigError::new(
                    "database.url",
                    "must be a PostgreSQL URL (postgres://user@host:port/database)",
                ));
            }
            Some(_) => {}
        }
        match &self.schema {
            Some(schema) if !crate::adapters::postgres::is_schema_name(schema) => {
                Err(ConfigError::new(
                    "database.schema",
                    "must be 1 to 63 of [a-z0-9_], not starting with pg_ (reserved by PostgreSQL)",
                ))
            }
            _ => Ok(()),
        }
    }
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
    /// Seconds a client has to send a complete request head, counted from the first read
    /// after the connection opened or the previous response; then the connection is closed
    /// (a stalled or trickled head, an idle keep-alive).
    pub header_timeout_secs: u64,
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
            header_timeout_secs: 30,
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
    /// Algorithm of access tokens: `EdDSA` (default), `ES256` or `RS256`. Changing it makes a
    /// new signing key at start; the old keys verify until their tokens expire.
    pub signing_algorithm: SigningAlg,
    /// PKCS#8 PEM file with the signing key (Ed25519, P-256 or RSA of 2048 to 4096 bits,
    /// matching `signing_algorithm`); a generated key when absent.
    pub signing_key_file: Option<PathBuf>,
    /// File holding the secret shared with resource servers when `signing_algorithm` is
    /// `HS256` (its bytes, without a trailing line break; at least 32).
    pub hs256_secret_file: Option<PathBuf>,
    /// File holding a base64 32-byte refresh-token key (ephemeral key when absent).
    pub refresh_token_key_file: Option<PathBuf>,
    /// Rotate the signing key automatically after this many hours (0: never).
    pub signing_key_rotation_hours: u64,
    /// Rotate the refresh-token key automatically after this many hours (0: never).
    pub refresh_key_rotation_hours: u64,
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
            signing_algorithm: SigningAlg::default(),
            signing_key_file: None,
            hs256_secret_file: None,
            refresh_token_key_file: None,
            signing_key_rotation_hours: 0,
            refresh_key_rotation_hours: 0,
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
    /// Let a first login through a new provider join the account holding the same e-mail when
    /// both sides verified it. Off: such logins get 409 `account_conflict`.
    pub link_accounts_by_verified_email: bool,
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
    /// File holding a base64 32-byte pepper for client-secret digests. Without it the pepper
    /// generated into the key store is used.
    pub pepper_file: Option<PathBuf>,
    /// Peppers used before (files like `pepper_file`): they only verify secrets still digested
    /// under them, which are digested again under the current pepper when they authenticate.
    pub previous_pepper_files: Vec<PathBuf>,
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
            previous_pepper_files: Vec::new(),
        }
    }
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
    /// `/oauth2/introspect`, `/oauth2/revoke`: per client IP.
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

#[cfg(test)]
mod tests;
