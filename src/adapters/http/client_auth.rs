//! Reading client authentication from a request: HTTP Basic (`client_secret_basic`, with the
//! RFC 6749 §2.3.1 form-encoding of id and secret) or body parameters (`client_secret_post`).
//! Using both at once is refused (RFC 6749 §2.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use poem::Request;
use poem::http::header::AUTHORIZATION;
use secrecy::SecretString;

use super::error::ApiError;

/// Client credentials presented with a request.
pub struct PresentedClient {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub secret: SecretString,
    /// Whether they came in an HTTP Basic header.
    pub basic: bool,
}

/// The `Authorization` header's scheme and value, if any.
fn authorization(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), rest.trim().to_owned()))
}

/// A bearer token from the `Authorization` header.
pub fn bearer(req: &Request) -> Option<String> {
    match authorization(req) {
        Some((scheme, token)) if scheme == "bearer" && !token.is_empty() => Some(token),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential component.
fn form_decode(part: &str) -> Option<String> {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Client credentials from Basic or the body. `Ok(None)` when none were presented (a client
/// id alone is a public client naming itself); a 400 when both methods were used; a 401
/// `invalid_client` for an unreadable Basic header or a secret without a client id.
pub fn client_credentials(
    req: &Request,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<Option<PresentedClient>, ApiError> {
    let basic = match authorization(req) {
        Some((scheme, value)) if scheme == "basic" => {
            let decoded = STANDARD
                .decode(value.as_bytes())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| {
                    let (id, secret) = text.split_once(':')?;
                    Some((form_decode(id)?, form_decode(secret)?))
                });
            match decoded {
                Some(pair) => Some(pair),
                None => return Err(ApiError::invalid_client(true)),
            }
        }
        _ => None,
    };
    let body_secret = body_secret.filter(|s| !s.is_empty());
    match (basic, body_id.filter(|s| !s.is_empty()), body_secret) {
        (Some(_), _, Some(_)) => Err(ApiError::bad_request(
            "invalid_request",
            "use exactly one client authentication method",
        )),
        // A body client_id naming another client than Basic is a second identity.
        (Some((client_id, _)), Some(body_id), None) if body_id != client_id => {
            Err(ApiError::bad_request(
                "invalid_request",
                "the client_id in the body is not the one authenticated with HTTP Basic",
            ))
        }
        (Some((client_id, secret)), _, None) => Ok(Some(PresentedClient {
            client_id,
            secret: SecretString::from(secret),
            basic: true,
        })),
        (None, Some(client_id), Some(secret)) => Ok(Some(PresentedClient {
            client_id: client_id.to_owned(),
            secret: SecretString::from(secret.to_owned()),
            basic: false,
        })),
        // A secret without a client id authenticates nobody: a failed authentication, not
        // silently a public client.
        (None, None, Some(_)) => Err(ApiError::invalid_client(false)),
        (None, Some(_), None) | (None, None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_components_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%FF"), None);
    }
}
