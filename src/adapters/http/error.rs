//! The one mapping from domain errors to HTTP: status, RFC 6749 / contract `error` code and a
//! client-safe description. 5xx are logged once here and carry no internals.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::domain::access::CallerError;
use crate::domain::credentials::CredentialError;
use crate::domain::groups::GroupError;
use crate::domain::login::LoginError;
use crate::domain::tokens::{AuthError, GrantError};

/// The error body of every failure: `{"error", "error_description"}`.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Error code (RFC 6749 on OAuth endpoints).
    pub error: String,
    /// Human-readable description.
    pub error_description: String,
}

/// Seconds a client should wait after a 503.
const RETRY_AFTER_UNAVAILABLE: u64 = 5;

/// Every error response the API produces.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Bad request.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or invalid authentication.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// Not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Not found.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Conflict.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Internal error.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The upstream identity provider failed.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// A backend is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

fn body(error: &str, description: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: error.to_owned(),
        error_description: description.into(),
    })
}

impl ApiError {
    /// 400 with an RFC 6749 (or contract) code.
    pub fn bad_request(error: &str, description: impl Into<String>) -> Self {
        ApiError::BadRequest(body(error, description))
    }

    /// 401 for a bearer-protected resource (RFC 6750 §3).
    pub fn invalid_token(description: &str) -> Self {
        ApiError::Unauthorized(
            body("unauthorized", description),
            format!(
                r#"Bearer realm="tmi-auth", error="invalid_token", error_description="{description}""#
            ),
        )
    }

    /// 401 when no bearer token was presented.
    pub fn missing_token() -> Self {
        ApiError::Unauthorized(
            body("unauthorized", "a bearer token is required"),
            r#"Bearer realm="tmi-auth""#.to_owned(),
        )
    }

    /// 401 `invalid_client` (RFC 6749 §5.2): the same body for every failure. The Basic
    /// challenge goes with it also when the credentials came in the body: a 401 must carry a
    /// challenge (RFC 9110 §15.5.2).
    pub fn invalid_client(_basic: bool) -> Self {
        ApiError::Unauthorized(
            body("invalid_client", "client authentication failed"),
            r#"Basic realm="tmi-auth""#.to_owned(),
        )
    }

    /// 401 `invalid_client` at revocation or introspection, whose callers authenticate with a
    /// bearer token or client credentials: the challenge answers the scheme the caller used
    /// (RFC 6750 §3.1 for a bearer token), or offers both when it used none.
    pub fn caller_unauthenticated(via: CallerVia) -> Self {
        let challenge = match via {
            CallerVia::Bearer => r#"Bearer realm="tmi-auth", error="invalid_token""#,
            CallerVia::Basic | CallerVia::Body => r#"Basic realm="tmi-auth""#,
            CallerVia::Nothing => r#"Bearer realm="tmi-auth", Basic realm="tmi-auth""#,
        };
        ApiError::Unauthorized(
            body("invalid_client", "client authentication failed"),
            challenge.to_owned(),
        )
    }

    /// 429 with `Retry-After`.
    pub fn too_many(retry_after_secs: u64) -> Self {
        ApiError::TooManyRequests(
            body(
                "rate_limit_exceeded",
                format!("too many failed attempts; retry in {retry_after_secs} seconds"),
            ),
            retry_after_secs,
        )
    }

    /// 404.
    pub fn not_found(description: &str) -> Self {
        ApiError::NotFound(body("not_found", description))
    }

    /// 403.
    pub fn forbidden(error: &str, description: &str) -> Self {
        ApiError::Forbidden(body(error, description))
    }

    /// 500, logged once here.
    pub fn internal(detail: &str) -> Self {
        tracing::error!(%detail, "internal error");
        ApiError::Internal(body(
            "server_error",
            "the server could not complete the request",
        ))
    }

    /// 503, logged once here.
    pub fn unavailable(detail: &str) -> Self {
        tracing::warn!(%detail, "backend unavailable");
        ApiError::Unavailable(
            body(
                "service_unavailable",
                "a backend service is temporarily unavailable; retry later",
            ),
            RETRY_AFTER_UNAVAILABLE,
        )
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidRequest(msg) => ApiError::bad_request("invalid_request", msg),
            LoginError::InvalidScope(msg) => ApiError::bad_request("invalid_scope", msg),
            LoginError::UnsupportedResponseType => {
                ApiError::bad_request("unsupported_response_type", err.to_string())
            }
            LoginError::UnknownProvider => {
                ApiError::bad_request("invalid_request", err.to_string())
            }
            LoginError::InvalidState => ApiError::bad_request("invalid_request", err.to_string()),
            LoginError::AccessDenied => ApiError::bad_request("access_denied", err.to_string()),
            LoginError::UpstreamRejected => ApiError::bad_request("invalid_grant", err.to_string()),
            LoginError::Upstream(detail) => {
                tracing::warn!(%detail, "upstream identity provider failure");
                ApiError::BadGateway(body(
                    "upstream_error",
                    "the identity provider could not complete the login",
                ))
            }
            LoginError::SamlInvalid(detail) => {
                tracing::info!(%detail, "SAML message refused");
                ApiError::bad_request("invalid_request", "invalid SAML message".to_owned())
            }
            LoginError::SamlRejected(detail) => {
                tracing::info!(%detail, "SAML message not authenticated");
                ApiError::Unauthorized(
                    // Not an OAuth endpoint: DECISIONS.md's `unauthorized`.
                    body(
                        "unauthorized",
                        "the SAML message could not be authenticated",
                    ),
                    r#"Bearer realm="tmi-auth""#.to_owned(),
                )
            }
            LoginError::AccountConflict => {
                ApiError::Conflict(body("account_conflict", err.to_string()))
            }
            LoginError::Unavailable(detail) => ApiError::unavailable(&detail),
            LoginError::Unexpected(detail) => ApiError::internal(&detail),
        }
    }
}

/// Maps a grant failure. `/oauth2/refresh` answers 401 for a bad refresh token, the token
/// endpoint 400 (RFC 6749 §5.2).
pub fn grant_error(err: GrantError, refresh_endpoint: bool) -> ApiError {
    match err {
        GrantError::InvalidRequest(msg) => ApiError::bad_request("invalid_request", msg),
        GrantError::InvalidGrant(msg) if refresh_endpoint => ApiError::Unauthorized(
            body("invalid_grant", msg),
            r#"Bearer realm="tmi-auth", error="invalid_token""#.to_owned(),
        ),
        GrantError::InvalidGrant(msg) => ApiError::bad_request("invalid_grant", msg),
        GrantError::UnsupportedGrantType => {
            ApiError::bad_request("unsupported_grant_type", "grant_type is not supported")
        }
        GrantError::Unavailable(detail) => ApiError::unavailable(&detail),
        GrantError::Unexpected(detail) => ApiError::internal(&detail),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Malformed
            | AuthError::Invalid
            | AuthError::UnknownKey
            | AuthError::UnknownSubject => ApiError::invalid_token("the access token is invalid"),
            AuthError::Expired => ApiError::invalid_token("the access token has expired"),
            AuthError::Revoked => ApiError::invalid_token("the access token has been revoked"),
            AuthError::Unavailable(detail) => ApiError::unavailable(&detail),
            AuthError::Unexpected(detail) => ApiError::internal(&detail),
        }
    }
}

/// Maps a client-credential failure; `basic` says whether the client used HTTP Basic.
pub fn credential_error(err: CredentialError, basic: bool) -> ApiError {
    match err {
        CredentialError::InvalidRequest(msg) => ApiError::bad_request("invalid_request", msg),
        CredentialError::QuotaExceeded => ApiError::forbidden("quota_exceeded", &err.to_string()),
        CredentialError::NotFound => {
            ApiError::NotFound(body("not_found", "client credential not found"))
        }
        CredentialError::InvalidClient => ApiError::invalid_client(basic),
        CredentialError::TooManyAttempts { retry_after_secs } => {
            ApiError::too_many(retry_after_secs)
        }
        CredentialError::Unavailable(detail) => ApiError::unavailable(&detail),
        CredentialError::Unexpected(detail) => ApiError::internal(&detail),
    }
}

/// Maps a group failure.
pub fn group_error(err: GroupError) -> ApiError {
    match err {
        GroupError::InvalidRequest(msg) => ApiError::bad_request("invalid_request", msg),
        GroupError::NotFound => ApiError::not_found("group not found"),
        GroupError::Forbidden => ApiError::forbidden("forbidden", "not a member of this group"),
        GroupError::Unavailable(detail) => ApiError::unavailable(&detail),
        GroupError::Config(detail) | GroupError::Unexpected(detail) => ApiError::internal(&detail),
    }
}

/// Maps a failed caller authentication at `/oauth2/revoke` or `/oauth2/introspect`.
pub fn caller_error(err: CallerError, via: CallerVia) -> ApiError {
    match err {
        CallerError::Unauthenticated | CallerError::Credential(CredentialError::InvalidClient) => {
            ApiError::caller_unauthenticated(via)
        }
        CallerError::Credential(e) => credential_error(e, via == CallerVia::Basic),
        CallerError::Auth(e) => e.into(),
    }
}

/// How a revocation or introspection caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerVia {
    /// A bearer token.
    Bearer,
    /// HTTP Basic client credentials.
    Basic,
    /// Client credentials in the body.
    Body,
    /// Nothing.
    Nothing,
}

/// Turns any error that escaped a handler (parse failures, unknown routes, missing bearer,
/// oversized bodies, panics) into the contract's JSON error body. Responses our handlers built
/// themselves pass through untouched.
pub async fn render_uncaught(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let description = clean(&err.to_string());
    let api_error = match status {
        StatusCode::UNAUTHORIZED => ApiError::missing_token(),
        StatusCode::FORBIDDEN => ApiError::forbidden("forbidden", &description),
        StatusCode::NOT_FOUND => ApiError::NotFound(body("not_found", "no such resource")),
        StatusCode::METHOD_NOT_ALLOWED => {
            return json_response(status, "invalid_request", "method not allowed");
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            return json_response(status, "invalid_request", "request body is too large");
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::bad_request(
            "invalid_request",
            "this endpoint does not accept that content type (each operation's types are in \
             /openapi.json)",
        ),
        s if s.is_client_error() => ApiError::bad_request("invalid_request", description),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(&description),
        _ => ApiError::internal(&description),
    };
    api_error.into_response()
}

fn json_response(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// `"object"` for every quoted name of one of our DTO types (`failed to parse
/// "CreateCredentialDto"`, `Expected input type "TokenRequestDto"`), and `"integer"` for
/// poem-openapi's `"integer_int64"` and the like: internal names, not the contract's.
fn without_dto_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let (before, quoted) = rest.split_at(open);
        out.push_str(before);
        let name = quoted[1..].split('"').next().unwrap_or("");
        let closed = quoted[1..].len() > name.len();
        let primitive = ["integer_", "number_"]
            .into_iter()
            .find(|prefix| {
                name.strip_prefix(prefix).is_some_and(|format| {
                    !format.is_empty()
                        && format
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                })
            })
            .map(|prefix| prefix.trim_end_matches('_'));
        let dto = name.len() > 3
            && name.ends_with("Dto")
            && name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        if closed && (dto || primitive.is_some()) {
            out.push('"');
            out.push_str(primitive.unwrap_or("object"));
            out.push('"');
            rest = &quoted[name.len() + 2..];
        } else {
            out.push('"');
            rest = &quoted[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Keeps a description printable and short.
fn clean(text: &str) -> String {
    // poem-openapi names our DTO types in its messages; they mean nothing to a client.
    let text = text
        .split_once(" (occurred while parsing")
        .map_or(text, |(message, _)| message);
    let printable: String = without_dto_names(text)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    if printable.is_empty() {
        "invalid request".to_owned()
    } else {
        printable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_name_our_dto_types() {
        assert_eq!(
            clean(r#"failed to parse "CreateCredentialDto": missing field `name`"#),
            r#"failed to parse "object": missing field `name`"#
        );
        assert_eq!(
            clean(
                r#"Expected input type "TokenRequestDto", found "x" (occurred while parsing "TokenRequestDto")"#
            ),
            r#"Expected input type "object", found "x""#
        );
        // Other quoted words, and an unclosed quote, stay as they are.
        assert_eq!(clean(r#"unknown field "Dto""#), r#"unknown field "Dto""#);
        assert_eq!(clean(r#"a "NotADto value"#), r#"a "NotADto value"#);
        assert_eq!(clean(r#""My-Dto" "AbcDto""#), r#""My-Dto" "object""#);
        assert_eq!(
            clean(
                r#"failed to parse parameter `limit`: Expected input type "integer_int64", found "x""#
            ),
            r#"failed to parse parameter `limit`: Expected input type "integer", found "x""#
        );
        assert_eq!(
            clean(r#""number_double" "integer_" "integer_X""#),
            r#""number" "integer_" "integer_X""#
        );
    }
}
