//! Metrics (Prometheus text format) and the audit log: the `EventSink` adapter writes one
//! structured log event per audit event (target `audit`) and counts it; the HTTP layer counts
//! requests and their latency. No metric label carries user input except the bounded route.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::ports::{AuditEvent, EventSink};

/// Latency histogram buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// A counter family with at most one label; values are looked up without allocating.
struct Counter {
    label: Option<&'static str>,
    values: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Inner {
    /// HTTP requests by (route, method, status), without allocating per request.
    requests: HashMap<(&'static str, &'static str, u16), u64>,
    /// Counters by name, then by the value of their one label (`""` without a label).
    counters: BTreeMap<&'static str, Counter>,
    latency: HashMap<&'static str, Histogram>,
}

/// A pool whose size is reported as gauges.
pub trait PoolStats: Send + Sync + 'static {
    /// (connections open, connections idle).
    fn stats(&self) -> (u32, u32);
}

impl PoolStats for sqlx::PgPool {
    fn stats(&self) -> (u32, u32) {
        (
            self.size(),
            u32::try_from(self.num_idle()).unwrap_or(u32::MAX),
        )
    }
}

/// Process-wide metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    pool: Mutex<Option<Arc<dyn PoolStats>>>,
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports this pool's size.
    pub fn watch_pool(&self, pool: Arc<dyn PoolStats>) {
        *self.pool.lock().unwrap_or_else(PoisonError::into_inner) = Some(pool);
    }

    /// Adds one to the unlabelled counter `name`.
    pub fn inc(&self, name: &'static str) {
        self.add(name, None, "");
    }

    /// Adds one to `name{label="value"}` (`value` is a bounded, code-chosen string).
    pub fn inc_label(&self, name: &'static str, label: &'static str, value: &str) {
        self.add(name, Some(label), value);
    }

    fn add(&self, name: &'static str, label: Option<&'static str>, value: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let counter = inner.counters.entry(name).or_insert_with(|| Counter {
            label,
            values: BTreeMap::new(),
        });
        match counter.values.get_mut(value) {
            Some(n) => *n += 1,
            None => {
                counter.values.insert(value.to_owned(), 1);
            }
        }
    }

    /// Counts one HTTP request.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        if status == 503 {
            self.inc("tmi_auth_backend_errors_total");
        }
        let secs = elapsed.as_secs_f64();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *inner.requests.entry((route, method, status)).or_default() += 1;
        let h = inner.latency.entry(route).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, counter) in &inner.counters {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (value, n) in &counter.values {
                match counter.label {
                    Some(label) => {
                        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
                    }
                    None => {
                        let _ = writeln!(out, "{name} {n}");
                    }
                }
            }
        }
        let _ = writeln!(out, "# TYPE tmi_auth_http_requests_total counter");
        let requests: BTreeMap<_, _> = inner.requests.iter().collect();
        for ((route, method, status), value) in requests {
            let _ = writeln!(
                out,
                "tmi_auth_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# TYPE tmi_auth_http_request_duration_seconds histogram"
        );
        let latency: BTreeMap<_, _> = inner.latency.iter().collect();
        for (route, h) in latency {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tmi_auth_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "tmi_auth_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "tmi_auth_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "tmi_auth_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        drop(inner);
        if let Some(pool) = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            let (size, idle) = pool.stats();
            let _ = writeln!(out, "# TYPE tmi_auth_db_pool_connections gauge");
            let _ = writeln!(out, "tmi_auth_db_pool_connections{{state=\"open\"}} {size}");
            let _ = writeln!(out, "tmi_auth_db_pool_connections{{state=\"idle\"}} {idle}");
        }
        out
    }
}

/// The audit log: a structured log line per event, and counters.
pub struct AuditLog {
    metrics: Arc<Metrics>,
}

impl AuditLog {
    /// Logs and counts into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl EventSink for AuditLog {
    fn record(&self, event: AuditEvent) {
        let name = event.name();
        match &event {
            AuditEvent::LoginSucceeded { user, idp } => {
                tracing::info!(target: "audit", event = name, subject = %user, provider = %idp, outcome = "success");
            }
            AuditEvent::LoginFailed { idp, reason } => {
                tracing::info!(target: "audit", event = name, provider = %idp, reason, outcome = "failure");
                self.metrics
                    .inc_label("tmi_auth_login_failures_total", "reason", reason);
            }
            AuditEvent::TokenIssued { grant, subject } => {
                tracing::info!(target: "audit", event = name, grant, subject = %subject, outcome = "success");
                self.metrics
                    .inc_label("tmi_auth_tokens_issued_total", "grant", grant);
            }
            AuditEvent::RefreshReuseDetected { user } => {
                tracing::warn!(target: "audit", event = name, subject = %user, outcome = "family_revoked");
                self.metrics.inc("tmi_auth_refresh_reuse_detected_total");
            }
            AuditEvent::TokenRevoked { actor, what } => {
                tracing::info!(target: "audit", event = name, actor = %actor, what, outcome = "success");
                self.metrics
                    .inc_label("tmi_auth_revocations_total", "kind", what);
            }
            AuditEvent::ClientAuthFailed { reason } => {
                tracing::info!(target: "audit", event = name, reason, outcome = "failure");
                self.metrics
                    .inc_label("tmi_auth_client_auth_failures_total", "reason", reason);
            }
            AuditEvent::CredentialCreated { owner, credential }
            | AuditEvent::CredentialDeleted { owner, credential } => {
                tracing::info!(target: "audit", event = name, actor = %owner, subject = %credential, outcome = "success");
            }
            AuditEvent::MembershipAdded { group, member, by } => {
                tracing::info!(target: "audit", event = name, actor = by, subject = %member, group = %group, outcome = "success");
            }
        }
        self.metrics
            .inc_label("tmi_auth_audit_events_total", "event", name);
    }
}

/// The method label: the common ones by name, `OTHER` for the rest (bounded cardinality).
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The route label for a path: the contract's template for known routes, `other` for the rest
/// (bounded cardinality whatever clients send).
pub fn route_label(path: &str) -> &'static str {
    const EXACT: [&str; 23] = [
        "/saml/providers",
        "/saml/acs",
        "/saml/slo",
        "/oauth2/authorize",
        "/oauth2/callback",
        "/oauth2/token",
        "/oauth2/refresh",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/userinfo",
        "/oauth2/providers",
        "/me",
        "/me/groups",
        "/me/client_credentials",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
    ];
    if let Some(known) = EXACT.iter().find(|p| **p == path) {
        return known;
    }
    if path.starts_with("/me/client_credentials/") {
        "/me/client_credentials/{id}"
    } else if path.starts_with("/me/groups/") && path.ends_with("/members") {
        "/me/groups/{internal_uuid}/members"
    } else if path.starts_with("/oauth2/providers/") && path.ends_with("/groups") {
        "/oauth2/providers/{idp}/groups"
    } else if path.starts_with("/saml/") && path.ends_with("/metadata") {
        "/saml/{provider}/metadata"
    } else if path.starts_with("/saml/") && path.ends_with("/login") {
        "/saml/{provider}/login"
    } else if path.starts_with("/docs") {
        "/docs"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn route_labels_are_the_contract_templates_and_bounded() {
        assert_eq!(
            route_label("/saml/okta/metadata"),
            "/saml/{provider}/metadata"
        );
        assert_eq!(route_label("/saml/okta/login"), "/saml/{provider}/login");
        assert_eq!(route_label("/saml/acs"), "/saml/acs");
        assert_eq!(
            route_label("/oauth2/providers/github/groups"),
            "/oauth2/providers/{idp}/groups"
        );
        assert_eq!(route_label("/anything/else/42"), "other");
    }
}
