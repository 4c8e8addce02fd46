//! Request hygiene applied to every route: a body size limit enforced before anything parses
//! the body, and response headers (no caching of token responses, no sniffing).

use poem::http::StatusCode;
use poem::http::header::{self, HeaderValue};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Buffers the body up to `limit` bytes (413 beyond it) and sets security headers.
pub async fn hygiene<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: Request,
    limit: usize,
) -> poem::Result<Response> {
    let too_large = || too_large_response(limit);
    if req
        .headers()
        .typed_get::<ContentLength>()
        .is_some_and(|len| len.0 > limit as u64)
    {
        return Ok(too_large());
    }
    let body = req.take_body();
    match body.into_bytes_limit(limit).await {
        Ok(bytes) => req.set_body(bytes),
        Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
        Err(_) => {
            return Ok(json(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
            ));
        }
    }
    let cacheable = req.uri().path().starts_with("/.well-known/");
    let mut resp = ep.call(req).await?.into_response();
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
