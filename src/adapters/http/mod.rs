//! The HTTP adapter: poem + poem-openapi. Handlers are thin: extract the DTO, convert to
//! domain input, make one service call, map the result. The generated OpenAPI document is
//! served at `/openapi.json`, with an interactive page at `/docs`.

mod client_auth;
mod credentials;
mod discovery;
mod dto;
mod error;
mod groups;
pub mod head_deadline;
mod json_keys;
mod me;
mod middleware;
mod oauth;
pub mod rate_limit;
mod routes;
mod saml;
mod serde_json_payload;
mod strict;
mod transport_errors;

use std::sync::{Arc, OnceLock};

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route, get, handler};
use poem_openapi::OpenApiService;
use poem_openapi::payload::Json;

pub use error::{ApiError, ErrorBody};

use crate::domain::access::AccessService;
use crate::domain::credentials::CredentialService;
use crate::domain::groups::GroupService;
use crate::domain::login::LoginService;
use crate::domain::tokens::TokenService;

/// Everything the handlers need.
#[derive(Clone)]
pub struct HttpState {
    /// The login flow.
    pub login: Arc<LoginService>,
    /// Token issuance and validation.
    pub tokens: Arc<TokenService>,
    /// Client credentials.
    pub credentials: Arc<CredentialService>,
    /// Groups.
    pub groups: Arc<GroupService>,
    /// Revocation and introspection.
    pub access: Arc<AccessService>,
    /// Whether `/oauth2/introspect` requires caller authentication.
    pub introspection_requires_auth: bool,
    /// Backends `/readyz` asks.
    pub probes: Vec<Arc<dyn crate::ports::Probe>>,
    /// Our public base URL, without a trailing slash.
    pub public_url: String,
}

/// HTTP-level settings.
#[derive(Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Rate limits per route class.
    pub rate_limits: rate_limit::RateLimitSettings,
    /// Where rate-limit state lives.
    pub limiter: Arc<dyn crate::ports::RateLimiter>,
    /// Longest time a request may take.
    pub request_timeout: std::time::Duration,
    /// Browser origins allowed to call the API (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// Metrics registry.
    pub metrics: Arc<crate::adapters::observability::Metrics>,
}

/// Every API of the service, in the order the OpenAPI document lists them.
type Apis = (
    oauth::OAuthApi,
    me::MeApi,
    credentials::CredentialsApi,
    groups::GroupsApi,
    saml::SamlApi,
    discovery::DiscoveryApi,
);

fn api_service(state: HttpState, public_url: String) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            oauth::OAuthApi::new(state.clone()),
            me::MeApi::new(state.clone()),
            credentials::CredentialsApi::new(state.clone()),
            groups::GroupsApi::new(state.clone()),
            saml::SamlApi::new(state.clone()),
            discovery::DiscoveryApi::new(state),
        ),
        "tmi-auth",
        env!("CARGO_PKG_VERSION"),
    )
    .server(public_url)
}

/// The OpenAPI document and the docs page, built on first request: they are large (the page
/// embeds Swagger UI) and rarely read, so an idle server does not hold them.
struct ApiDocs {
    state: HttpState,
    public_url: String,
    spec: OnceLock<String>,
    html: OnceLock<String>,
}

#[handler]
fn openapi_json(docs: poem::web::Data<&Arc<ApiDocs>>) -> poem::Response {
    let spec = docs
        .spec
        .get_or_init(|| api_service(docs.state.clone(), docs.public_url.clone()).spec());
    poem::Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(spec.clone())
}

#[handler]
fn docs_page(docs: poem::web::Data<&Arc<ApiDocs>>) -> poem::web::Html<String> {
    let html = docs
        .html
        .get_or_init(|| api_service(docs.state.clone(), docs.public_url.clone()).swagger_ui_html());
    poem::web::Html(html.clone())
}

/// Builds the complete endpoint: API, docs, health, error rendering and hygiene middleware.
pub fn endpoint(
    state: HttpState,
    settings: HttpSettings,
) -> impl Endpoint<Output = poem::Response> + 'static {
    let public_url = state.public_url.clone();
    let probes = state.probes.clone();
    let hygiene = Arc::new(middleware::Hygiene {
        body_limit: settings.body_limit_bytes,
        rate: settings.rate_limits,
        limiter: settings.limiter,
        hsts: public_url.starts_with("https://"),
        request_timeout: settings.request_timeout,
        metrics: settings.metrics.clone(),
        cors_origins: settings.cors_origins.clone(),
    });
    let metrics = settings.metrics;
    let docs = Arc::new(ApiDocs {
        state: state.clone(),
        public_url: public_url.clone(),
        spec: OnceLock::new(),
        html: OnceLock::new(),
    });
    let api = api_service(state, public_url);

    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz).data(probes))
        .at("/metrics", get(render_metrics).data(metrics))
        .at("/openapi.json", get(openapi_json).data(docs.clone()))
        .at("/docs", get(docs_page).data(docs))
        // No prefix to strip: `nest` would rebuild every request's URI for nothing.
        .nest_no_strip("/", api)
        .with(CatchPanic::new().with_handler(middleware::panic_response))
        // CORS is the hygiene layer's: it answers preflights and adds the grant to every
        // response, errors rendered here included.
        .catch_all_error(error::render_uncaught)
        .around(move |ep, req| middleware::hygiene(ep, req, hygiene.clone()))
}

/// Prometheus text exposition.
#[handler]
fn render_metrics(
    metrics: poem::web::Data<&Arc<crate::adapters::observability::Metrics>>,
) -> poem::Response {
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.0.render())
}

/// 200 when every backend answers, else 503 naming the failing ones.
#[handler]
async fn readyz(probes: poem::web::Data<&Vec<Arc<dyn crate::ports::Probe>>>) -> poem::Response {
    let mut failing = Vec::new();
    for probe in probes.0 {
        if let Err(err) = probe.check().await {
            tracing::warn!(backend = probe.name(), error = %err, "readiness check failed");
            failing.push(probe.name());
        }
    }
    let (status, body) = if failing.is_empty() {
        (
            poem::http::StatusCode::OK,
            serde_json::json!({"status": "ready"}),
        )
    } else {
        (
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unavailable", "failing": failing}),
        )
    };
    poem::Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

#[handler]
fn healthz() -> Json<dto::HealthDto> {
    Json(dto::HealthDto {
        status: "ok".to_owned(),
    })
}
