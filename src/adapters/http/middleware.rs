//! Request hygiene applied to every route: a body size limit enforced before anything parses
//! the body, and response headers (no caching of token responses, no sniffing).

use poem::http::header::{self, HeaderValue};
use poem::http::{StatusCode, Version};
use poem::web::headers::{ContentLength, HeaderMapExt};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::rate_limit::{self, RateLimitSettings};
use crate::ports::RateLimiter;

/// What the hygiene middleware needs.
pub struct Hygiene {
    /// Largest body in bytes.
    pub body_limit: usize,
    /// Rate limits.
    pub rate: RateLimitSettings,
    /// Where rate-limit state lives.
    pub limiter: Arc<dyn RateLimiter>,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Where request counts and latencies go.
    pub metrics: Arc<crate::adapters::observability::Metrics>,
    /// Origins allowed by CORS (empty: CORS is off).
    pub cors_origins: Vec<String>,
}

/// Response headers a browser app may read (CORS).
pub const CORS_EXPOSED: &str = "x-request-id, x-ratelimit-limit, x-ratelimit-remaining, \
     x-ratelimit-reset, retry-after, www-authenticate";

/// CORS for every response to a listed origin, refusals made here included (a 429, 413 or
/// 503): without it a browser app sees an opaque failure and cannot read `Retry-After`. And
/// `Vary: Origin` on every response, since the answer depends on the origin and discovery
/// responses may be cached.
fn cors_fixups(resp: &mut Response, origin: Option<&HeaderValue>, allowed: &[String]) {
    if allowed.is_empty() {
        return;
    }
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin
        && !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        && allowed.iter().any(|o| o.as_bytes() == origin.as_bytes())
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSED),
        );
    }
}

/// Methods and request headers a listed origin may use (CORS).
const CORS_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const CORS_HEADERS: [&str; 3] = ["authorization", "content-type", "x-request-id"];

/// Answers a CORS preflight. A listed origin asking for a method and headers we take gets
/// 204 with the grants (never credentials: we use no cookies); anything else gets a 403 the
/// browser reports as a CORS failure. Actual requests are never refused for their origin:
/// enforcing CORS is the browser's part, and a SAML IdP's form POST to `/saml/acs` carries
/// the IdP's origin (or `null`).
fn preflight(req: &Request, allowed: &[String]) -> Response {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .filter(|origin| allowed.iter().any(|o| o.as_bytes() == origin.as_bytes()));
    let method_ok = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .is_some_and(|m| {
            CORS_METHODS
                .split(", ")
                .any(|ok| ok.as_bytes() == m.as_bytes())
        });
    let headers_ok = headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|name| !name.is_empty())
        .all(|name| {
            CORS_HEADERS
                .iter()
                .any(|ok| name.eq_ignore_ascii_case(ok.as_bytes()))
        });
    let Some(origin) = origin.filter(|_| method_ok && headers_ok) else {
        return json(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this origin, method or header is not allowed (CORS)",
        );
    };
    let mut resp = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone())
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS)
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            CORS_HEADERS.join(", "),
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "600")
        .finish();
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSED),
    );
    resp
}

/// A CORS preflight: answered here, not counted against rate limits.
fn is_preflight(req: &Request) -> bool {
    req.method() == poem::http::Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A request id: the caller's `X-Request-Id` when it is short and plain, else a fresh one.
fn request_id(req: &Request) -> HeaderValue {
    let given = req.headers().get("x-request-id").filter(|v| {
        let v = v.as_bytes();
        !v.is_empty()
            && v.len() <= 64
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
    });
    match given {
        Some(id) => id.clone(),
        None => new_request_id(),
    }
}

/// A fresh request id: a random per-process prefix and a counter (unique, and no system call
/// per request), 24 hex digits.
pub(super) fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| rand::RngCore::next_u32(&mut rand::rngs::OsRng));
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut id = [0u8; 24];
    hex_into(&mut id[..8], u64::from(*prefix));
    hex_into(&mut id[8..], n);
    HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Writes `value` as lower-case hex, zero-padded to the width of `out`.
fn hex_into(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// Gives every request an id (response header and a field of every log line inside it), a
/// time limit, and the hygiene below.
pub async fn hygiene<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    ctx: Arc<Hygiene>,
) -> poem::Result<Response> {
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        client_ip = tracing::field::Empty,
        method = %req.method(),
        path = %req.uri().path()
    );
    if !span.is_disabled()
        && let Some(ip) = rate_limit::client_ip(&req, &ctx.rate.trusted_proxies)
    {
        span.record("client_ip", tracing::field::display(ip));
    }
    let route = crate::adapters::observability::route_label(req.uri().path());
    let discovery = req.uri().path().starts_with("/.well-known/");
    let method = crate::adapters::observability::method_label(req.method().as_str());
    // A preflight's answer carries its own grant (or, refused, none).
    let origin = if ctx.cors_origins.is_empty() || is_preflight(&req) {
        None
    } else {
        req.headers().get(header::ORIGIN).cloned()
    };
    let started = std::time::Instant::now();
    // The time limit covers reading the body too, so a slow client cannot hold a request open.
    let mut resp = match tokio::time::timeout(
        ctx.request_timeout,
        // Boxed: the whole endpoint chain's future is large, and the timeout and the span
        // would otherwise move it around by value.
        Box::pin(process(ep, req, ctx.clone())).instrument(span.clone()),
    )
    .await
    {
        Ok(result) => result?,
        Err(_) => {
            span.in_scope(|| tracing::warn!("request timed out"));
            let mut resp = json(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the request took too long; retry later",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            resp
        }
    };
    let status = resp.status().as_u16();
    ctx.metrics
        .observe_request(route, method, status, started.elapsed());
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        )
    });
    cors_fixups(&mut resp, origin.as_ref(), &ctx.cors_origins);
    // Security headers on every response, early refusals (429, 413, 503) included; only a
    // discovery document that was served may be cached.
    let cacheable = discovery && resp.status() == StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if cacheable {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    headers.insert("x-request-id", id);
    if ctx.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(resp)
}

/// Buffers the body up to the limit (413 beyond it), applies the rate limits and the
/// duplicate checks, and completes `Allow` on 405s.
async fn process<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    ctx: Arc<Hygiene>,
) -> poem::Result<Response> {
    let limit = ctx.body_limit;
    let too_large = || too_large_response(limit);
    if req
        .headers()
        .typed_get::<ContentLength>()
        .is_some_and(|len| len.0 > limit as u64)
    {
        return Ok(too_large());
    }
    let body = req.take_body();
    let decision = match body.into_bytes_limit(limit).await {
        Ok(bytes) => {
            // Preflights are answered here and cost no rate-limit budget.
            if !ctx.cors_origins.is_empty() && is_preflight(&req) {
                return Ok(preflight(&req, &ctx.cors_origins));
            }
            let decision = match rate_limit::check(&req, &bytes, &ctx.limiter, &ctx.rate).await {
                Ok(decision) => decision,
                Err(limited) => return Ok(limited),
            };
            if let Some(refusal) =
                repeated_field(&req).or_else(|| unsupported_coding(&req, !bytes.is_empty()))
            {
                return Ok(refusal);
            }
            if is_json(&req)
                && let Some(key) = super::json_keys::duplicate_key(&bytes)
            {
                let description = if key.is_empty() {
                    "a key is given more than once in the JSON body".to_owned()
                } else {
                    format!("the key {key} is given more than once in the JSON body")
                };
                return Ok(json(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &description,
                ));
            }
            req.set_body(bytes);
            decision
        }
        Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
        Err(_) => {
            return Ok(json(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
            ));
        }
    };
    let uri = req.uri().clone();
    let mut resp = ep.call(req).await?.into_response();
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::ALLOW)
        && let Some(allow) = super::routes::allowed_methods(uri.path())
    {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    if let Some(decision) = &decision {
        rate_limit::add_headers(&mut resp, decision);
    }
    Ok(resp)
}

/// Refuses a request that names a query parameter the API reads more than once (RFC 6749
/// §4.1.2.1: "includes a parameter more than once"; the first value would silently win), or
/// has two `Authorization` headers (a singleton field, RFC 9110 §5.3: which one counts?):
/// 401 where a bearer token is required, else 400. Also an HTTP/1.1 request with no `Host`
/// or several (RFC 9112 §3.2), and one with two `Content-Type` headers.
fn repeated_field(req: &Request) -> Option<Response> {
    let headers = req.headers();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, gets 400.
    let mut hosts = headers.get_all(header::HOST).iter();
    let first_host = hosts.next();
    if hosts.next().is_some() || (first_host.is_none() && req.version() == Version::HTTP_11) {
        return Some(json(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "an HTTP/1.1 request names exactly one Host",
        ));
    }
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        let description = "the Authorization header is given more than once";
        if super::routes::bearer_protected(req.uri().path()) {
            let mut resp = json(StatusCode::UNAUTHORIZED, "unauthorized", description);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="tmi-auth", error="invalid_request""#),
            );
            return Some(resp);
        }
        return Some(json(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            description,
        ));
    }
    // Two media types for one body: which parser applies?
    if headers
        .get_all(header::CONTENT_TYPE)
        .iter()
        .nth(1)
        .is_some()
    {
        return Some(json(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the Content-Type header is given more than once",
        ));
    }
    let query = req.uri().query().filter(|q| q.contains('&'))?;
    let mut seen = std::collections::HashSet::new();
    let name = url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .filter(|name| super::routes::is_query_parameter(name))
        .find(|name| !seen.insert(name.clone()))?;
    Some(json(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &format!("the query parameter {name} is given more than once"),
    ))
}

/// Refuses a body in a coding we would otherwise read as plain bytes: a transfer coding other
/// than chunked (RFC 9112 §6.1), chunked applied twice (which the HTTP parser undoes once), or
/// a body in a content coding other than identity (RFC 9110 §8.4; `Accept-Encoding: identity`
/// names the one we take). 400 `invalid_request`, the refusal every operation documents (RFC
/// 9110 and 9112 suggest 415 and 501, which the contract does not list).
fn unsupported_coding(req: &Request, has_body: bool) -> Option<Response> {
    let headers = req.headers();
    let codings = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|coding| !coding.is_empty())
            .collect::<Vec<_>>()
    };
    let transfer = codings(header::TRANSFER_ENCODING);
    if transfer.len() > 1 || transfer.iter().any(|c| !c.eq_ignore_ascii_case(b"chunked")) {
        return Some(json(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the only transfer coding supported is chunked, applied once",
        ));
    }
    if has_body
        && codings(header::CONTENT_ENCODING)
            .iter()
            .any(|coding| !coding.eq_ignore_ascii_case(b"identity"))
    {
        let mut resp = json(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request bodies must not be content-coded (Content-Encoding)",
        );
        resp.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        return Some(resp);
    }
    None
}

/// Whether the request says its body is JSON (`application/json` or `…+json`).
fn is_json(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let bytes = value.as_bytes();
    let media = bytes
        .split(|&b| b == b';')
        .next()
        .unwrap_or(bytes)
        .trim_ascii();
    media.eq_ignore_ascii_case(b"application/json")
        || media
            .len()
            .checked_sub(5)
            .is_some_and(|at| media[at..].eq_ignore_ascii_case(b"+json"))
}

fn too_large_response(limit: usize) -> Response {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        &format!("the request body exceeds {limit} bytes"),
    )
}

fn json(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

/// The response for a handler that panicked: a generic 500, logged.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send>) -> Response {
    tracing::error!("a request handler panicked");
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete the request",
    )
}
