//! The authorization-code flow with PKCE and the built-in `tmi` provider.

use chrono::Duration;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn full_pkce_login_for_alice_reaches_me() {
    let app = spawn().await;
    let tokens = app.login("alice").await;
    assert!(tokens.refresh_token.starts_with("v4.local."));

    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["principal_type"], "user");
    assert_eq!(me["provider"], "tmi");
    assert_eq!(me["provider_id"], "alice");
    assert_eq!(me["email"], "alice@tmi.local");
    assert_eq!(me["display_name"], "Alice (TMI User)");
    assert_eq!(me["is_admin"], false);
    assert_eq!(me["groups"], serde_json::json!([]));

    let info = app
        .get_bearer("/oauth2/userinfo", &tokens.access_token)
        .await;
    let info = json_checked(info, "get", "/oauth2/userinfo").await;
    assert_eq!(info["email"], "alice@tmi.local");
    assert_eq!(info["idp"], "tmi");
    assert!(
        uuid::Uuid::parse_str(info["sub"].as_str().unwrap()).is_ok(),
        "sub is the internal UUID"
    );
}

#[tokio::test]
async fn the_same_hint_logs_into_the_same_user() {
    let app = spawn().await;
    let first = app.login("Bob-2").await;
    let second = app.login("bob-2").await;
    let first: serde_json::Value = app
        .get_bearer("/oauth2/userinfo", &first.access_token)
        .await
        .json()
        .await
        .unwrap();
    let second: serde_json::Value = app
        .get_bearer("/oauth2/userinfo", &second.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["sub"], second["sub"]);
    assert_eq!(first["name"], "Bob 2 (TMI User)");
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_the_tokens_issued_from_it() {
    let app = spawn().await;
    let code = app.code_for("carol", CHALLENGE).await;
    let first = app.redeem(&code, VERIFIER).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tokens = tokens_of(&first.json().await.unwrap());
    assert_eq!(
        app.get_bearer("/me", &tokens.access_token).await.status(),
        StatusCode::OK
    );

    let replay = app.redeem(&code, VERIFIER).await;
    expect_error(replay, "post", "/oauth2/token", 400, "invalid_grant").await;

    let me = app.get_bearer("/me", &tokens.access_token).await;
    assert!(
        me.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    expect_error(me, "get", "/me", 401, "unauthorized").await;
    let refresh = app.refresh(&tokens.refresh_token).await;
    expect_error(refresh, "post", "/oauth2/refresh", 401, "invalid_grant").await;
}

/// Redemptions of one code racing each other: however they interleave, the code was used
/// more than once, so no token issued from it may keep working (RFC 6749 §4.1.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_twice_at_once_leaves_no_working_token() {
    let app = spawn().await;
    for round in 0..8 {
        let code = app.code_for(&format!("racer-{round}"), CHALLENGE).await;
        let (a, b) = tokio::join!(app.redeem(&code, VERIFIER), app.redeem(&code, VERIFIER));
        let mut refused = 0;
        for resp in [a, b] {
            if resp.status() == StatusCode::OK {
                let tokens = tokens_of(&resp.json().await.unwrap());
                app.expect_me_refuses(&tokens.access_token).await;
                let refresh = app.refresh(&tokens.refresh_token).await;
                expect_error(refresh, "post", "/oauth2/refresh", 401, "invalid_grant").await;
            } else {
                expect_error(resp, "post", "/oauth2/token", 400, "invalid_grant").await;
                refused += 1;
            }
        }
        assert!(refused >= 1, "round {round}: a code works once at most");
    }
}

#[tokio::test]
async fn a_wrong_verifier_fails_and_burns_the_code() {
    let app = spawn().await;
    let code = app.code_for("dave", CHALLENGE).await;
    let wrong = "x".repeat(43);
    expect_error(
        app.redeem(&code, &wrong).await,
        "post",
        "/oauth2/token",
        400,
        "invalid_grant",
    )
    .await;
    // The code was single-use: the right verifier no longer helps.
    expect_error(
        app.redeem(&code, VERIFIER).await,
        "post",
        "/oauth2/token",
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_malformed_verifier_is_invalid_request_and_keeps_the_code() {
    let app = spawn().await;
    let code = app.code_for("erin", CHALLENGE).await;
    expect_error(
        app.redeem(&code, "short").await,
        "post",
        "/oauth2/token",
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(app.redeem(&code, VERIFIER).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_code_fails() {
    let app = spawn().await;
    let code = app.code_for("frank", CHALLENGE).await;
    app.clock.advance(Duration::seconds(61));
    expect_error(
        app.redeem(&code, VERIFIER).await,
        "post",
        "/oauth2/token",
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_code_bound_to_another_redirect_uri_fails() {
    let app = spawn().await;
    // Without redirect_uri: 400 invalid_request, and the code is not spent.
    let unspent = app.code_for("grace", CHALLENGE).await;
    for missing in [None, Some(""), Some("  ")] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", unspent.as_str()),
            ("code_verifier", VERIFIER),
        ];
        form.extend(missing.map(|value| ("redirect_uri", value)));
        let resp = app.token_form(&form).await;
        expect_error(resp, "post", "/oauth2/token", 400, "invalid_request").await;
    }
    assert_eq!(
        app.redeem(&unspent, VERIFIER).await.status(),
        StatusCode::OK
    );
    let code = app.code_for("grace", CHALLENGE).await;
    let resp = app
        .token_form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://localhost:9999/other"),
        ])
        .await;
    expect_error(resp, "post", "/oauth2/token", 400, "invalid_grant").await;
}

#[tokio::test]
async fn the_token_endpoint_accepts_json_and_ignores_unknown_parameters() {
    let app = spawn().await;
    let code = app.code_for("heidi", CHALLENGE).await;
    let resp = app
        .client
        .post(app.url("/oauth2/token?idp=tmi"))
        .json(&serde_json::json!({
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": VERIFIER,
            "redirect_uri": CALLBACK,
            "client_id": "some-public-client",
            "scope": "openid"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_checked(resp, "post", "/oauth2/token").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
}

#[tokio::test]
async fn callback_state_is_single_use() {
    let app = spawn().await;
    let resp = app
        .authorize(&[
            ("idp", "tmi"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
        ])
        .await;
    let upstream = location(&resp);
    assert_eq!(
        app.client.get(&upstream).send().await.unwrap().status(),
        StatusCode::FOUND
    );
    let again = app.client.get(&upstream).send().await.unwrap();
    expect_error(again, "get", "/oauth2/callback", 400, "invalid_request").await;
}

#[tokio::test]
async fn a_forged_upstream_code_is_rejected() {
    let app = spawn().await;
    let resp = app
        .authorize(&[
            ("idp", "tmi"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
        ])
        .await;
    let upstream = location(&resp);
    let state = query_of(&upstream)["state"].clone();
    let forged = app
        .client
        .get(app.url("/oauth2/callback"))
        .query(&[("code", "test_auth_code_12345"), ("state", &state)])
        .send()
        .await
        .unwrap();
    expect_error(forged, "get", "/oauth2/callback", 400, "invalid_grant").await;
}

#[tokio::test]
async fn without_client_callback_demo_mode_answers_with_tokens() {
    let app = spawn().await;
    let resp = app
        .authorize(&[
            ("login_hint", "ivan"),
            ("scope", "openid email"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let upstream = location(&resp);
    let resp = app.client.get(&upstream).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_checked(resp, "get", "/oauth2/callback").await;
    let me = app
        .get_bearer("/me", body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(json_checked(me, "get", "/me").await["provider_id"], "ivan");
}

#[tokio::test]
async fn upstream_denial_is_forwarded_to_the_client_callback() {
    let app = spawn().await;
    let resp = app
        .authorize(&[
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
            ("state", "s1"),
        ])
        .await;
    let state = query_of(&location(&resp))["state"].clone();
    let resp = app
        .client
        .get(app.url("/oauth2/callback"))
        .query(&[("error", "access_denied"), ("state", &state)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let query = query_of(&location(&resp));
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "s1");
    assert!(!query.contains_key("code"));
}

#[tokio::test]
async fn authorize_rejects_bad_parameters_with_rfc6749_codes() {
    let app = spawn().await;
    let good: Vec<(&str, &str)> = vec![
        ("idp", "tmi"),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("client_callback", CALLBACK),
    ];
    let with = |key: &'static str, value: Option<&'static str>| {
        let mut q: Vec<(&str, &str)> = good.iter().filter(|(k, _)| *k != key).cloned().collect();
        if let Some(v) = value {
            q.push((key, v));
        }
        q
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with("scope", None), "invalid_request"),
        (with("scope", Some("profile email")), "invalid_scope"),
        (with("scope", Some("openid<script>")), "invalid_request"),
        (with("code_challenge", None), "invalid_request"),
        (with("code_challenge", Some("tooshort")), "invalid_request"),
        (with("code_challenge_method", None), "invalid_request"),
        (
            with("code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (with("idp", Some("nosuchprovider")), "invalid_request"),
        (with("idp", Some("1-bad idp")), "invalid_request"),
        (
            with("client_callback", Some("https://evil.example/cb")),
            "invalid_request",
        ),
        (
            with("client_callback", Some("http://localhost:@evil.example/")),
            "invalid_request",
        ),
        (
            with("client_callback", Some("not a url")),
            "invalid_request",
        ),
        (
            with("state", Some("bad state with spaces")),
            "invalid_request",
        ),
        (with("login_hint", Some("x")), "invalid_request"),
        (with("login_hint", Some("bad_hint!")), "invalid_request"),
        (
            with("response_type", Some("token")),
            "unsupported_response_type",
        ),
    ];
    for (query, code) in cases {
        let resp = app.authorize(&query).await;
        let body = expect_error(resp, "get", "/oauth2/authorize", 400, code).await;
        assert!(
            !body.to_string().contains("evil.example"),
            "no reflection: {body}"
        );
    }
    let ok = app.authorize(&good).await;
    assert_eq!(ok.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn production_mode_without_callback_token_response_requires_a_client_callback() {
    let mut config = tmi_auth::app::Config::demo_ephemeral();
    config.oauth.allow_callback_token_response = Some(false);
    let app = spawn_with(config).await;
    let resp = app
        .authorize(&[
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .await;
    expect_error(resp, "get", "/oauth2/authorize", 400, "invalid_request").await;
}

#[tokio::test]
async fn a_standard_oauth_client_using_redirect_uri_completes_the_flow() {
    let app = spawn().await;
    let resp = app
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "any-public-client"),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("nonce", "n-0S6_WzA2Mj"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let back = app.client.get(location(&resp)).send().await.unwrap();
    let back = location(&back);
    assert!(back.starts_with(CALLBACK), "{back}");
    let query = query_of(&back);
    assert_eq!(query["state"], "xyz");
    let resp = app
        .token_form(&[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", CALLBACK),
            ("client_id", "any-public-client"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    json_checked(resp, "post", "/oauth2/token").await;

    // Disagreeing callbacks are refused.
    let resp = app
        .authorize(&[
            ("redirect_uri", CALLBACK),
            ("client_callback", "http://localhost:9/other"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .await;
    expect_error(resp, "get", "/oauth2/authorize", 400, "invalid_request").await;
}

#[tokio::test]
async fn the_builtin_provider_refuses_a_redirect_naming_an_issuer() {
    let app = spawn().await;
    let query = [
        ("idp", "tmi"),
        ("login_hint", "mallory"),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("client_callback", CALLBACK),
    ];
    // It never adds `iss` (RFC 9207): a redirect that carries one is not its own.
    let upstream = location(&app.authorize(&query).await);
    let forged = format!("{upstream}&iss=http%3A%2F%2F127.0.0.1%3A9%2Fevil");
    let resp = app.client.get(&forged).send().await.unwrap();
    expect_error(resp, "get", "/oauth2/callback", 400, "invalid_grant").await;
    // Without it the same flow completes.
    let upstream = location(&app.authorize(&query).await);
    let resp = app.client.get(&upstream).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(location(&resp).starts_with(CALLBACK));
}
