//! Request ids, security headers and CORS.

use reqwest::StatusCode;
use tmi_auth::app::Config;

use crate::support::*;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn().await;
    let resp = app.get("/oauth2/providers").await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let next = app.get("/oauth2/providers").await;
    let next = next.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(next, id, "every request gets its own id");
    assert_eq!(next[..8], id[..8], "one per-process prefix");
    let echoed = app
        .client
        .get(app.url("/no/such/route"))
        .header("x-request-id", "trace-123_abc.9")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123_abc.9");
    let unsafe_id = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith space")
        .send()
        .await
        .unwrap();
    assert_ne!(unsafe_id.headers()["x-request-id"], "bad id\twith space");
}

#[tokio::test]
async fn hsts_is_sent_only_for_an_https_public_url() {
    let app = spawn().await;
    assert!(
        app.get("/healthz")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    let mut config = Config::demo_ephemeral();
    config.server.public_url = Some("https://auth.example.com".into());
    let app = spawn_with(config).await;
    let resp = app.get("/healthz").await;
    assert!(
        resp.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn cors_allows_only_listed_origins_and_never_credentials() {
    let mut config = Config::demo_ephemeral();
    config.server.cors_allowed_origins = vec!["https://app.example.com".into()];
    let app = spawn_with(config).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/oauth2/token"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        preflight
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let simple = app
        .client
        .get(app.url("/oauth2/providers"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let foreign = app
        .client
        .get(app.url("/oauth2/providers"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Served, without the grant: enforcing CORS is the browser's part. A SAML IdP's form POST
    // carries the IdP's origin, or `null`, and must still reach us.
    assert_eq!(foreign.status(), StatusCode::OK);
    for name in ["x-request-id", "x-content-type-options", "cache-control"] {
        assert!(foreign.headers().contains_key(name), "{name}");
    }
    let null_origin = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("origin", "null")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(null_origin.status(), StatusCode::OK);
    assert!(
        null_origin
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // A preflight is granted only to a listed origin, for methods and headers we take.
    for (origin, method, headers) in [
        ("https://evil.example", "POST", "content-type"),
        ("https://app.example.com", "PUT", "content-type"),
        ("https://app.example.com", "POST", "content-type, x-api-key"),
    ] {
        let refused = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/oauth2/token"))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "{origin} {method} {headers}"
        );
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
    // Errors the framework raises (no bearer token, unknown route, missing content type) keep
    // the contract's JSON body and their challenge for a listed origin, and carry the grant.
    for (method, path, status) in [
        (reqwest::Method::GET, "/me", 401),
        (reqwest::Method::GET, "/no/such/route", 404),
        (reqwest::Method::POST, "/oauth2/token", 400),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .header("origin", "https://app.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        if status == 401 {
            assert_eq!(
                resp.headers()["www-authenticate"],
                r#"Bearer realm="tmi-auth""#
            );
        }
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{method} {path}: {body}"
        );
    }
    assert!(
        simple.headers().get_all("vary").iter().any(|v| v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("origin")),
        "responses vary by origin (caches must not mix them)"
    );
    // Without configured origins nobody is allowed.
    let closed = spawn().await;
    let resp = closed
        .client
        .get(closed.url("/oauth2/providers"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn cors_origins_must_be_plain_origins() {
    for bad in [
        "*",
        "https://app.example.com/",
        "https://app.example.com/path",
        "app.example.com",
        // Spellings a browser never sends: they would never match.
        "https://App.example.com",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://user@app.example.com",
        "https://app.example.com#x",
        "https://app.example.com?",
    ] {
        let mut config = Config::demo_ephemeral();
        config.server.cors_allowed_origins = vec![bad.into()];
        assert_eq!(
            config.resolve().map_err(|e| e.key).err().as_deref(),
            Some("server.cors_allowed_origins[0]"),
            "{bad}"
        );
    }
    for good in [
        "https://app.example.com",
        "http://localhost:3000",
        "https://[::1]:8443",
    ] {
        let mut config = Config::demo_ephemeral();
        config.server.cors_allowed_origins = vec![good.into()];
        assert!(config.resolve().is_ok(), "{good}");
    }
}

#[tokio::test]
async fn readiness_without_backends_is_ready() {
    let app = spawn().await;
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_move_when_the_matching_events_happen() {
    let app = spawn().await;
    let before = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(
            &before,
            "tmi_auth_tokens_issued_total{grant=\"authorization_code\"}"
        ),
        0
    );

    let alice = app.login("alice").await;
    assert_eq!(
        app.refresh(&alice.refresh_token).await.status(),
        StatusCode::OK
    );
    app.clock.advance(chrono::Duration::seconds(11));
    assert_eq!(
        app.refresh(&alice.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "reuse"
    );
    let bob = app.login("bob").await;
    let bad_state = app
        .client
        .get(app.url("/oauth2/callback?code=x&state=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_state.status(), StatusCode::BAD_REQUEST);
    let revoke = app
        .client
        .post(app.url("/oauth2/revoke"))
        .bearer_auth(&bob.access_token)
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);

    let resp = app.get("/metrics").await;
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert_eq!(
        metric(
            &text,
            "tmi_auth_tokens_issued_total{grant=\"authorization_code\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &text,
            "tmi_auth_tokens_issued_total{grant=\"refresh_token\"}"
        ),
        1
    );
    assert_eq!(metric(&text, "tmi_auth_refresh_reuse_detected_total"), 1);
    assert_eq!(
        metric(
            &text,
            "tmi_auth_login_failures_total{reason=\"invalid_state\"}"
        ),
        1
    );
    assert_eq!(
        metric(&text, "tmi_auth_revocations_total{kind=\"none\"}"),
        1
    );
    assert!(
        metric(
            &text,
            "tmi_auth_http_requests_total{route=\"/oauth2/token\",method=\"POST\",status=\"200\"}"
        ) >= 1
    );
    assert!(text.contains(
        "tmi_auth_http_request_duration_seconds_bucket{route=\"/oauth2/refresh\",le=\"+Inf\"} 2"
    ));
    assert!(!text.contains("nope"), "no request data in labels");
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_503_even_while_its_body_trickles_in() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::demo_ephemeral();
    config.server.request_timeout_secs = 1;
    let app = spawn_with(config).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read(&mut response),
    )
    .await
    .expect("answered before the client finished")
    .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("service_unavailable"));
}

#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let app = spawn().await;
    let cases = [
        (reqwest::Method::PUT, "/oauth2/token", "POST"),
        (reqwest::Method::DELETE, "/me", "GET, HEAD"),
        (
            reqwest::Method::PATCH,
            "/me/client_credentials",
            "GET, HEAD, POST",
        ),
        (
            reqwest::Method::GET,
            "/me/client_credentials/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "DELETE",
        ),
        (reqwest::Method::POST, "/saml/any/login", "GET, HEAD"),
        (reqwest::Method::PUT, "/saml/slo", "GET, HEAD, POST"),
        (reqwest::Method::POST, "/.well-known/jwks.json", "GET, HEAD"),
        (reqwest::Method::POST, "/healthz", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let mut listed: Vec<String> = resp.headers()["allow"]
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_owned)
            .collect();
        listed.sort();
        let mut expected: Vec<&str> = allow.split(", ").collect();
        expected.sort_unstable();
        assert_eq!(listed, expected, "{method} {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}

/// A rate-limited browser app can read its 429 (and `Retry-After`): the refusal carries the
/// CORS headers the CORS layer would have added. Preflights are not counted.
#[tokio::test]
async fn rate_limited_responses_carry_cors_and_preflights_are_free() {
    let mut config = Config::demo_ephemeral();
    config.server.cors_allowed_origins = vec!["https://app.example.com".into()];
    config.rate_limits.enabled = true;
    config.rate_limits.discovery_per_minute = 2;
    let app = spawn_with(config).await;
    let jwks = || {
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .header("origin", "https://app.example.com")
            .send()
    };
    for _ in 0..4 {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/.well-known/jwks.json"))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{}", preflight.status());
    }
    assert_eq!(jwks().await.unwrap().status(), StatusCode::OK);
    assert_eq!(jwks().await.unwrap().status(), StatusCode::OK);
    let limited = jwks().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        limited.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("retry-after")
    );
    assert!(limited.headers().contains_key("retry-after"));
    // The security headers too, and a refusal of a discovery path is not cacheable.
    for (name, value) in [
        ("cache-control", "no-store"),
        ("pragma", "no-cache"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(limited.headers()[name], value, "{name}");
    }
}
