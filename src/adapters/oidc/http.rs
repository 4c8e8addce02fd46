//! Outbound HTTP toward identity providers: no redirects followed, connect and total
//! timeouts, and response bodies capped before they are buffered. Used both as the
//! openidconnect HTTP client and for plain OAuth2 calls.

use std::time::Duration;

use std::pin::Pin;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, http};

/// Largest upstream response body we read (discovery documents, JWKS, tokens, userinfo).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why an outbound call failed; the text is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// Could not connect, timed out, or the connection broke.
    #[error("transport: {0}")]
    Transport(String),
    /// The response body exceeded [`MAX_RESPONSE_BYTES`].
    #[error("response body larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// A shared outbound client.
#[derive(Clone, Debug)]
pub struct OutboundHttp {
    client: reqwest::Client,
}

impl OutboundHttp {
    /// A client that gives up after `timeout` per request.
    pub fn new(timeout: Duration) -> Result<Self, OutboundError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("tmi-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OutboundError::Transport(e.to_string()))?;
        Ok(Self { client })
    }

    /// GETs a document (status 200 required) as UTF-8 text.
    pub async fn get_text(&self, url: &url::Url) -> Result<String, OutboundError> {
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str())
            .body(Vec::new())
            .map_err(|e| OutboundError::Transport(e.to_string()))?;
        let response = self.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(OutboundError::Transport(format!(
                "answered {}",
                response.status()
            )));
        }
        String::from_utf8(response.into_body())
            .map_err(|_| OutboundError::Transport("not UTF-8".into()))
    }

    /// Sends one request and buffers the (bounded) response.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| OutboundError::Transport(e.to_string()))?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| OutboundError::Transport(without_url(e)))?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(OutboundError::TooLarge);
        }
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| OutboundError::Transport(without_url(e)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| OutboundError::Transport(e.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for OutboundHttp {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// reqwest errors print the URL, which for some providers carries secrets in the query; keep
/// only the kind of failure.
fn without_url(err: reqwest::Error) -> String {
    err.without_url().to_string()
}
