//! Request hygiene applied to every route: a body size limit enforced before anything parses
//! the body, and response headers (no caching of token responses, no sniffing).

use poem::http::StatusCode;
use poem::http::header::{self, HeaderValue};
use poem::web::headers::{ContentLength, HeaderMapExt};
use std::sync::Arc;

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
}

/// Buffers the body up to the limit (413 beyond it), applies the rate limits, and sets
/// security headers.
pub async fn hygiene<E: Endpoint>(
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
            let decision = match rate_limit::check(&req, &bytes, &ctx.limiter, &ctx.rate).await {
                Ok(decision) => decision,
                Err(limited) => return Ok(limited),
            };
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
    let cacheable = req.uri().path().starts_with("/.well-known/");
    let mut resp = ep.call(req).await?.into_response();
    if let Some(decision) = &decision {
        rate_limit::add_headers(&mut resp, decision);
    }
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
    } else if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(resp)
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
