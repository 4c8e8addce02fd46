//! RFC 7009 revocation and RFC 7662 introspection.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn revoke(app: &TestApp, caller: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/revoke"))
        .bearer_auth(caller)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    json_checked(resp, "post", "/oauth2/introspect").await
}

#[tokio::test]
async fn introspection_describes_active_access_tokens_only() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let info = introspect(&app, &alice.access_token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["email"], "alice@tmi.local");
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["iss"], app.public);
    assert_eq!(info["scope"], "openid profile email");
    let allowed = [
        "active",
        "sub",
        "email",
        "name",
        "exp",
        "iat",
        "iss",
        "token_type",
        "scope",
    ];
    assert!(
        info.as_object()
            .unwrap()
            .keys()
            .all(|k| allowed.contains(&k.as_str())),
        "{info}"
    );

    for inactive in [alice.refresh_token.as_str(), "garbage", "a.b.c"] {
        assert_eq!(introspect(&app, inactive).await, json!({"active": false}));
    }
    app.clock.advance(chrono::Duration::seconds(931));
    assert_eq!(
        introspect(&app, &alice.access_token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspection_rejects_bad_requests() {
    let app = spawn().await;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("token", "")],
        vec![("token", "x"), ("extra", "y")],
    ];
    for form in cases {
        let resp = app
            .client
            .post(app.url("/oauth2/introspect"))
            .form(&form)
            .send()
            .await
            .unwrap();
        expect_error(resp, "post", "/oauth2/introspect", 400, "invalid_request").await;
    }
    let long_id = "a".repeat(257);
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", "x"), ("client_id", long_id.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(resp, "post", "/oauth2/introspect", 400, "invalid_request").await;
    let long = "x".repeat(1001);
    let wide = "é".repeat(1001);
    for (token, why) in [
        (long.as_str(), "token is longer than 1000 characters"),
        (wide.as_str(), "token is longer than 1000 characters"),
        ("a\u{1f}b", "token contains control characters"),
    ] {
        let resp = app
            .client
            .post(app.url("/oauth2/introspect"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let body = expect_error(resp, "post", "/oauth2/introspect", 400, "invalid_request").await;
        assert_eq!(body["error_description"], why);
    }
    // Strings the schema allows are merely inactive tokens (RFC 7662 §2.2).
    let wide_ok = "é".repeat(1000);
    for token in ["\u{7f}", "a\u{98}b", wide_ok.as_str()] {
        assert_eq!(
            introspect(&app, token).await,
            json!({"active": false}),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn introspection_can_require_caller_authentication() {
    let mut config = tmi_auth::app::Config::demo_ephemeral();
    config.introspection.require_client_auth = Some(true);
    let app = spawn_with(config).await;
    let alice = app.login("alice").await;
    let anonymous = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // A resource server authenticates with its client credentials (HTTP Basic)...
    let cred: Value = app
        .client
        .post(app.url("/me/client_credentials"))
        .bearer_auth(&alice.access_token)
        .json(&json!({"name": "resource server"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(
            cred["client_id"].as_str().unwrap(),
            cred["client_secret"].as_str(),
        )
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_checked(resp, "post", "/oauth2/introspect").await["active"],
        true
    );
    // ...or a bearer token; a wrong secret is refused.
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .bearer_auth(&alice.access_token)
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(cred["client_id"].as_str().unwrap(), Some("wrong"))
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // client_secret_post works too (what OAuth libraries send when configured for it)...
    let id = cred["client_id"].as_str().unwrap();
    let secret = cred["client_secret"].as_str().unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        app.client
            .post(app.url("/oauth2/introspect"))
            .form(&form)
            .send()
    };
    let token = || ("token", alice.access_token.clone());
    let resp = post(vec![
        token(),
        ("client_id", id.to_owned()),
        ("client_secret", secret.to_owned()),
    ])
    .await
    .unwrap();
    assert_eq!(
        json_checked(resp, "post", "/oauth2/introspect").await["active"],
        true
    );
    // ...and is refused with a wrong secret, like Basic.
    let resp = post(vec![
        token(),
        ("client_id", id.to_owned()),
        ("client_secret", "wrong".to_owned()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // Two authentication methods at once are a bad request (RFC 6749 §2.3).
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("token", alice.access_token.as_str()),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_revoked_access_token_stops_working() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let resp = revoke(
        &app,
        &alice.access_token,
        &[
            ("token", &alice.access_token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        json_checked(resp, "post", "/oauth2/revoke").await,
        json!({})
    );
    expect_error(
        app.get_bearer("/me", &alice.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(
        introspect(&app, &alice.access_token).await,
        json!({"active": false})
    );
    // The refresh token of the session still works: revoking an access token is narrow.
    assert_eq!(
        app.refresh(&alice.refresh_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let other_session = app.login("alice").await;
    // Wrong hint: still found.
    let resp = revoke(
        &app,
        &other_session.access_token,
        &[
            ("token", &alice.refresh_token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(
        json_checked(resp, "post", "/oauth2/revoke").await,
        json!({})
    );
    expect_error(
        app.refresh(&alice.refresh_token).await,
        "post",
        "/oauth2/refresh",
        401,
        "invalid_grant",
    )
    .await;
    expect_error(
        app.get_bearer("/me", &alice.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
    // The other session of the same user is untouched.
    assert_eq!(
        app.get_bearer("/me", &other_session.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_someone_elses_token_has_no_effect() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let mallory = app.login("mallory").await;
    for token in [&alice.access_token, &alice.refresh_token] {
        let resp = revoke(&app, &mallory.access_token, &[("token", token)]).await;
        assert_eq!(
            json_checked(resp, "post", "/oauth2/revoke").await,
            json!({})
        );
    }
    assert_eq!(
        app.get_bearer("/me", &alice.access_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.refresh(&alice.refresh_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_tokens_revoke_successfully() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let resp = revoke(
        &app,
        &alice.access_token,
        &[("token", "not-a-token-we-issued")],
    )
    .await;
    assert_eq!(
        json_checked(resp, "post", "/oauth2/revoke").await,
        json!({})
    );
    let json_body = app
        .client
        .post(app.url("/oauth2/revoke"))
        .bearer_auth(&alice.access_token)
        .json(&json!({"token": "whatever", "token_type_hint": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_checked(json_body, "post", "/oauth2/revoke").await,
        json!({})
    );
    // Anything the contract's schema allows is at worst "not our token": DEL, C1 controls and
    // multi-byte characters up to 2000 characters (not bytes).
    let wide = "é".repeat(2000);
    for token in ["\u{7f}abc", "a\u{98}b", wide.as_str()] {
        let resp = revoke(&app, &alice.access_token, &[("token", token)]).await;
        assert_eq!(
            json_checked(resp, "post", "/oauth2/revoke").await,
            json!({}),
            "{token:?}"
        );
    }
    let too_long = "é".repeat(2001);
    for (token, why) in [
        ("a\u{1}b", "token contains control characters"),
        (too_long.as_str(), "token is longer than 2000 characters"),
    ] {
        let resp = revoke(&app, &alice.access_token, &[("token", token)]).await;
        let body = expect_error(resp, "post", "/oauth2/revoke", 400, "invalid_request").await;
        assert_eq!(body["error_description"], why);
    }
}

#[tokio::test]
async fn revocation_requires_caller_authentication_and_a_token() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let anonymous = app
        .client
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    let challenge = |resp: &reqwest::Response| {
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    // No credentials: both ways in are offered.
    let offered = challenge(&anonymous);
    assert!(
        offered.contains("Bearer") && offered.contains("Basic"),
        "{offered}"
    );
    expect_error(anonymous, "post", "/oauth2/revoke", 401, "invalid_client").await;
    // A bad bearer token is answered in its own scheme (RFC 6750 §3.1).
    let bad_bearer = revoke(&app, "garbage", &[("token", &alice.access_token)]).await;
    let answered = challenge(&bad_bearer);
    assert!(
        answered.starts_with("Bearer") && answered.contains(r#"error="invalid_token""#),
        "{answered}"
    );
    expect_error(bad_bearer, "post", "/oauth2/revoke", 401, "invalid_client").await;
    // A wrong secret, and client credentials the schema allows but no credential can have:
    // both a failed authentication, not a malformed request.
    for (id, secret) in [
        ("tmi_cc_AAAAAAAAAAAAAAAAAAAAAA", "x"),
        ("tmi_cc_\u{1}\u{7f}", "x\ny"),
    ] {
        let resp = app
            .client
            .post(app.url("/oauth2/revoke"))
            .form(&[
                ("token", alice.access_token.as_str()),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        expect_error(resp, "post", "/oauth2/revoke", 401, "invalid_client").await;
    }
    assert_eq!(
        app.get_bearer("/me", &alice.access_token).await.status(),
        StatusCode::OK,
        "nothing revoked"
    );

    let long_id = "a".repeat(257);
    for form in [
        vec![],
        vec![("token", "")],
        vec![("token", "x"), ("token_type_hint", "id_token")],
        vec![("token", "x"), ("nope", "1")],
        vec![("token", "x"), ("client_id", long_id.as_str())],
    ] {
        let resp = revoke(&app, &alice.access_token, &form).await;
        expect_error(resp, "post", "/oauth2/revoke", 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn a_client_credential_can_revoke_its_owners_tokens() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cred: Value = app
        .client
        .post(app.url("/me/client_credentials"))
        .bearer_auth(&alice.access_token)
        .json(&json!({"name": "janitor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(
            cred["client_id"].as_str().unwrap(),
            cred["client_secret"].as_str(),
        )
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_checked(resp, "post", "/oauth2/revoke").await,
        json!({})
    );
    expect_error(
        app.get_bearer("/me", &alice.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
}
