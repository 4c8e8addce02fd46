//! Wiring in one place: config → adapters → ports → services → HTTP. `main` and the tests
//! both go through [`Application::build`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Duration as ChronoDuration;
use poem::Server;
use poem::listener::TcpAcceptor;

pub use super::backends::{connect_postgres, postgres_settings};
use super::backends::{open_cache, open_storage};
use super::config::{Config, Mode, Resolved};
use super::key_files::{install_configured_keys, peppers, shared_secret};
use crate::adapters::http::head_deadline::HeadDeadlineAcceptor;
use crate::adapters::http::{self, HttpSettings, HttpState};
use crate::adapters::observability::{AuditLog, Metrics};
use crate::adapters::system::{RandomIds, SystemClock};
use crate::domain::access::AccessService;
use crate::domain::credentials::{CredentialService, CredentialSettings};
use crate::domain::groups::GroupService;
use crate::domain::login::{LoginService, LoginSettings};
use crate::domain::tokens::keys::KeyRing;
use crate::domain::tokens::{TokenService, TokenSettings};
use crate::domain::user::EmailLinking;
use crate::ports::{BackoffPolicy, Clock, EventSink, IdGenerator};

/// See [`Application::key_reloader`].
#[derive(Clone)]
pub struct KeyReloader(Arc<TokenService>);

impl KeyReloader {
    /// Reloads the keys now.
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.0.reload_keys().await.context("reloading keys")
    }

    /// What the scheduler does each minute: rotate the signing key when the active one is
    /// older than `period`. Whether it rotated.
    pub async fn rotate_if_due(&self, period: ChronoDuration) -> anyhow::Result<bool> {
        self.0.rotate_if_due(period).await.context("rotating keys")
    }

    /// The same for the refresh-token key.
    pub async fn rotate_refresh_if_due(&self, period: ChronoDuration) -> anyhow::Result<bool> {
        self.0
            .rotate_refresh_if_due(period)
            .await
            .context("rotating keys")
    }
}

/// Replacements for the defaults, used by tests (a manual clock, for instance).
#[derive(Default, Clone)]
pub struct Overrides {
    /// Clock to use instead of the system clock.
    pub clock: Option<Arc<dyn Clock>>,
}

/// A built, bound, not yet running service.
pub struct Application {
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    public_url: String,
    mode: Mode,
    shutdown_grace: Duration,
    header_timeout: Duration,
    request_timeout: Duration,
    endpoint: poem::endpoint::BoxEndpoint<'static>,
    credentials: Arc<CredentialService>,
    tokens: Arc<TokenService>,
    key_rotation: Option<ChronoDuration>,
    refresh_key_rotation: Option<ChronoDuration>,
}

impl Application {
    /// Builds the service from configuration with the default adapters.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Overrides::default()).await
    }

    /// Builds the service, replacing some adapters.
    pub async fn build_with(config: Config, overrides: Overrides) -> anyhow::Result<Self> {
        let resolved = config.resolve()?;
        for warning in &resolved.warnings {
            tracing::warn!("{warning}");
        }
        let listener = tokio::net::TcpListener::bind(resolved.listen)
            .await
            .with_context(|| format!("cannot listen on {}", resolved.listen))?;
        let local_addr = listener.local_addr()?;
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let public_url = match &config.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => default_public_url(local_addr),
        };
        if config.mode == crate::app::config::Mode::Production && !is_secure_origin(&public_url) {
            tracing::warn!(
                public_url = %public_url,
                "server.public_url is plain http on a host that is not loopback: tokens, codes \
                 and client secrets would cross the network unencrypted (put TLS in front and \
                 use https)"
            );
        }

        let clock: Arc<dyn Clock> = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let ids: Arc<dyn IdGenerator> = Arc::new(RandomIds);
        let storage = open_storage(&config).await?;
        let metrics = Arc::new(Metrics::new());
        if let Some(pool) = &storage.pool {
            metrics.watch_pool(Arc::new(pool.clone()));
        }
        let events: Arc<dyn EventSink> = Arc::new(AuditLog::new(metrics.clone()));
        let cache = open_cache(&config, clock.clone()).await?;
        let keys = storage.keys.clone();
        install_configured_keys(&config, keys.as_ref(), clock.as_ref()).await?;
        let mut token_settings = token_settings(&config, &public_url);
        token_settings.shared_secret = shared_secret(&config)?;
        let ring = KeyRing::load_or_create(
            keys.as_ref(),
            clock.as_ref(),
            ids.as_ref(),
            token_settings.retention(),
            token_settings.signing_alg,
            token_settings.shared_secret.as_ref(),
        )
        .await
        .context("loading signing keys")?;
        let users = storage.users.clone();
        let peppers = peppers(&config, ring.peppers())?;
        let groups = Arc::new(GroupService::new(
            storage.groups.clone(),
            users.clone(),
            clock.clone(),
            ids.clone(),
            resolved.seed.clone(),
            events.clone(),
        ));
        groups.install().await.context("groups configuration")?;

        let tokens = Arc::new(TokenService::new(
            ring,
            keys,
            storage.families.clone(),
            cache.revocations.clone(),
            users.clone(),
            groups.clone(),
            clock.clone(),
            ids.clone(),
            token_settings,
            events.clone(),
        ));
        let credentials = Arc::new(CredentialService::new(
            storage.credentials.clone(),
            cache.failures.clone(),
            users.clone(),
            tokens.clone(),
            clock.clone(),
            ids.clone(),
            peppers,
            credential_settings(&config),
            events.clone(),
        ));
        let access = Arc::new(AccessService::new(
            tokens.clone(),
            credentials.clone(),
            events.clone(),
        ));
        let login = Arc::new(
            LoginService::new(
                super::providers::oauth_providers(&config, &resolved, ids.clone()).await?,
                cache.flows.clone(),
                users,
                groups.clone(),
                tokens.clone(),
                clock,
                ids,
                login_settings(&config, &resolved, &public_url),
                events,
            )
            .with_saml(super::providers::saml_providers(&config, &public_url).await?),
        );
        let tokens_for_reload = tokens.clone();
        let endpoint = http::endpoint(
            HttpState {
                login,
                tokens,
                credentials: credentials.clone(),
                groups,
                access,
                introspection_requires_auth: resolved.introspection_requires_auth,
                probes: storage
                    .probe
                    .iter()
                    .chain(cache.probe.iter())
                    .cloned()
                    .collect(),
                public_url: public_url.clone(),
            },
            HttpSettings {
                rate_limits: resolved.rate_limits.clone(),
                limiter: cache.limiter.clone(),
                request_timeout: Duration::from_secs(config.server.request_timeout_secs),
                cors_origins: config.server.cors_allowed_origins.clone(),
                metrics,
                body_limit_bytes: config.server.body_limit_bytes,
            },
        );
        Ok(Self {
            acceptor,
            local_addr,
            public_url,
            mode: config.mode,
            shutdown_grace: Duration::from_secs(config.server.shutdown_grace_secs),
            header_timeout: Duration::from_secs(config.server.header_timeout_secs),
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            endpoint: poem::EndpointExt::boxed(endpoint),
            credentials,
            tokens: tokens_for_reload,
            key_rotation: hours(config.tokens.signing_key_rotation_hours),
            refresh_key_rotation: hours(config.tokens.refresh_key_rotation_hours),
        })
    }

    /// The bound address (with the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public base URL in use.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// A handle that makes this instance reload its keys from the key store now (instead of
    /// within the minute), e.g. right after `tmi-auth keys rotate`.
    pub fn key_reloader(&self) -> KeyReloader {
        KeyReloader(self.tokens.clone())
    }

    /// The mode in use.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish within the grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let credentials = self.credentials.clone();
        let tokens = self.tokens.clone();
        let rotation = self.key_rotation;
        let refresh_rotation = self.refresh_key_rotation;
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(LAST_USED_FLUSH);
            let mut ticks: u64 = 0;
            loop {
                tick.tick().await;
                ticks += 1;
                if let Err(err) = credentials.flush_last_used().await {
                    tracing::warn!(error = %err, "could not record client-credential use");
                }
                // About once a minute: rotate the signing key when it is due, and pick up keys
                // rotated by another replica or the CLI.
                if ticks.is_multiple_of(6) {
                    if let Some(period) = rotation
                        && let Err(err) = tokens.rotate_if_due(period).await
                    {
                        tracing::warn!(error = %err, "scheduled key rotation failed");
                    }
                    if let Some(period) = refresh_rotation
                        && let Err(err) = tokens.rotate_refresh_if_due(period).await
                    {
                        tracing::warn!(error = %err, "scheduled refresh-token key rotation failed");
                    }
                    if let Err(err) = tokens.reload_keys().await {
                        tracing::warn!(error = %err, "could not reload keys");
                    }
                }
            }
        });
        let acceptor =
            HeadDeadlineAcceptor::new(self.acceptor, self.header_timeout, self.request_timeout);
        let result = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown_signal(), Some(self.shutdown_grace))
            .await;
        flusher.abort();
        if let Err(err) = self.credentials.flush_last_used().await {
            tracing::warn!(error = %err, "could not record client-credential use at shutdown");
        }
        result
    }
}

/// How often noted client-credential uses are written in a batch.
const LAST_USED_FLUSH: Duration = Duration::from_secs(10);

fn credential_settings(config: &Config) -> CredentialSettings {
    let c = &config.credentials;
    CredentialSettings {
        max_active_per_user: c.max_active_per_user,
        backoff: BackoffPolicy {
            threshold: c.backoff_threshold,
            window: Duration::from_secs(c.backoff_window_secs),
            base_lock: Duration::from_secs(c.backoff_base_lock_secs),
            max_lock: Duration::from_secs(c.backoff_max_lock_secs),
        },
        last_used_interval: ChronoDuration::seconds(
            i64::try_from(c.last_used_interval_secs).unwrap_or(60),
        ),
    }
}

fn default_public_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

fn token_settings(config: &Config, public_url: &str) -> TokenSettings {
    let t = &config.tokens;
    let secs = |v: u64| ChronoDuration::seconds(i64::try_from(v).unwrap_or(i64::MAX / 1000));
    TokenSettings {
        issuer: public_url.to_owned(),
        audience: t.audience.clone().unwrap_or_else(|| public_url.to_owned()),
        access_ttl: secs(t.access_token_ttl_secs),
        family_lifetime: secs(t.refresh_family_lifetime_secs),
        refresh_grace: secs(t.refresh_grace_secs),
        leeway: secs(t.leeway_secs),
        signing_alg: t.signing_algorithm,
        shared_secret: None,
    }
}

/// A rotation period from a number of hours (0: no rotation).
fn hours(hours: u64) -> Option<ChronoDuration> {
    match hours {
        0 => None,
        hours => Some(ChronoDuration::hours(i64::try_from(hours).unwrap_or(24))),
    }
}

fn login_settings(config: &Config, resolved: &Resolved, public_url: &str) -> LoginSettings {
    let t = &config.tokens;
    let secs = |v: u64| ChronoDuration::seconds(i64::try_from(v).unwrap_or(3600));
    LoginSettings {
        callback_url: format!("{public_url}/oauth2/callback"),
        allow_list: resolved.allow_list.clone(),
        allow_callback_token_response: resolved.allow_callback_token_response,
        default_idp: resolved.default_idp.clone(),
        flow_ttl: secs(t.flow_ttl_secs),
        code_ttl: secs(t.authorization_code_ttl_secs),
        email_linking: if config.oauth.link_accounts_by_verified_email {
            EmailLinking::VerifiedBothSides
        } else {
            EmailLinking::Refuse
        },
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Whether clients reach `url` over TLS, or stay on this machine (loopback, `localhost`).
fn is_secure_origin(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() == "https" {
        return true;
    }
    match parsed.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod secure_origin_tests {
    use super::is_secure_origin;

    #[test]
    fn only_tls_or_loopback_origins_are_secure() {
        assert!(is_secure_origin("https://auth.example.com"));
        assert!(is_secure_origin("http://localhost:8080"));
        assert!(is_secure_origin("http://127.0.0.1:8080"));
        assert!(is_secure_origin("http://[::1]:8080"));
        assert!(is_secure_origin("http://app.localhost"));
        assert!(!is_secure_origin("http://auth.example.com"));
        assert!(!is_secure_origin("http://10.0.0.5:8080"));
        assert!(!is_secure_origin("http://localhost.example.com"));
    }
}
