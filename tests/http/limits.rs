//! Rate limits: they engage and reset (manual clock), key on the socket peer unless the peer is
//! a trusted proxy, count client ids at the token endpoint however they are presented, and
//! count introspection and revocation per address, whatever credential is presented.

use chrono::Duration;
use reqwest::StatusCode;
use tmi_auth::app::Config;

use crate::support::*;

fn authorize_query() -> Vec<(&'static str, &'static str)> {
    vec![
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("client_callback", CALLBACK),
    ]
}

async fn authorize_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url("/oauth2/authorize"))
        .query(&authorize_query());
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

fn limited(login_per_minute: u32, trusted: &[&str]) -> Config {
    let mut config = Config::demo_ephemeral();
    config.rate_limits.login_per_minute = login_per_minute;
    config.rate_limits.token_per_minute = 2;
    config.server.trusted_proxies = trusted.iter().map(|s| (*s).to_owned()).collect();
    config
}

#[tokio::test]
async fn login_limits_engage_and_reset() {
    let app = spawn_with(limited(3, &[])).await;
    for remaining in ["2", "1", "0"] {
        let resp = authorize_from(&app, None).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        assert_eq!(resp.headers()["x-ratelimit-remaining"], remaining);
        let reset: u64 = resp.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 1_700_000_000, "epoch seconds");
    }
    let resp = authorize_from(&app, None).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "20");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    expect_error(resp, "get", "/oauth2/authorize", 429, "rate_limit_exceeded").await;
    // Other route classes have their own budget.
    assert_eq!(
        app.get("/.well-known/jwks.json").await.status(),
        StatusCode::OK
    );

    app.clock.advance(Duration::seconds(20));
    assert_eq!(authorize_from(&app, None).await.status(), StatusCode::FOUND);
    assert_eq!(
        authorize_from(&app, None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_with(limited(3, &[])).await;
    for (i, ip) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            authorize_from(&app, Some(ip)).await.status(),
            StatusCode::FOUND,
            "request {i}"
        );
    }
    let resp = authorize_from(&app, Some("198.51.100.4")).await;
    assert_eq!(
        resp.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "all four share the socket peer's budget"
    );
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = spawn_with(limited(2, &["127.0.0.0/8", "::1"])).await;
    // Different clients behind the proxy have separate budgets.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_eq!(
            authorize_from(&app, Some(ip)).await.status(),
            StatusCode::FOUND
        );
    }
    // The rightmost untrusted hop counts: a client cannot choose its own address by
    // prepending one.
    let spoofing = ["203.0.113.1, 198.51.100.9", "203.0.113.2, 198.51.100.9"];
    assert_eq!(
        authorize_from(&app, Some(spoofing[0])).await.status(),
        StatusCode::FOUND
    );
    assert_eq!(
        authorize_from(&app, Some(spoofing[1])).await.status(),
        StatusCode::FOUND
    );
    let third = authorize_from(&app, Some("203.0.113.3, 198.51.100.9")).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_token_endpoint_limits_each_client_id_wherever_it_is_presented() {
    let app = spawn_with(limited(100, &["127.0.0.0/8", "::1"])).await;
    let id = "tmi_cc_AAAAAAAAAAAAAAAAAAAAAA";
    let from = |ip: &'static str| {
        app.client
            .post(app.url("/oauth2/token"))
            .header("x-forwarded-for", ip)
    };
    let first = from("198.51.100.1")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let second = from("198.51.100.2")
        .basic_auth(id, Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let third = from("198.51.100.3")
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": id, "client_secret": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        third.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "same client id from three addresses"
    );
    // Another client id from another address is unaffected.
    let other = from("198.51.100.4")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "tmi_cc_BBBBBBBBBBBBBBBBBBBBBB"),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn made_up_callers_share_their_addresss_budget_at_revocation() {
    let mut config = limited(100, &[]);
    config.rate_limits.caller_per_minute = 3;
    let app = spawn_with(config).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = app
            .client
            .post(app.url("/oauth2/revoke"))
            .bearer_auth(format!("made-up-{i}"))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 429],
        "a new bearer token per request opens no new budget"
    );
}
