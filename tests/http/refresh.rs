//! Refresh-token families: rotation, reuse detection, the grace window, absolute lifetime.

use base64::Engine;
use chrono::Duration;
use reqwest::StatusCode;

use crate::support::*;

/// `/oauth2/refresh` refuses `refresh_token` with 401 `invalid_grant`.
async fn refused(app: &TestApp, refresh_token: &str) {
    expect_error(
        app.refresh(refresh_token).await,
        "post",
        "/oauth2/refresh",
        401,
        "invalid_grant",
    )
    .await;
}

async fn rotate(app: &TestApp, refresh_token: &str) -> Tokens {
    let resp = app.refresh(refresh_token).await;
    assert_eq!(resp.status(), StatusCode::OK, "refresh succeeds");
    tokens_of(&json_checked(resp, "post", "/oauth2/refresh").await)
}

#[tokio::test]
async fn refresh_rotates_the_token() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    app.clock.advance(Duration::seconds(30));
    let t1 = rotate(&app, &t0.refresh_token).await;
    assert_ne!(t1.refresh_token, t0.refresh_token);
    assert_ne!(t1.access_token, t0.access_token);
    let me = json_checked(app.get_bearer("/me", &t1.access_token).await, "get", "/me").await;
    assert_eq!(me["provider_id"], "alice");
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_family() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    let t1 = rotate(&app, &t0.refresh_token).await;
    app.clock.advance(Duration::seconds(11));
    let t2 = rotate(&app, &t1.refresh_token).await;

    // t0 is two generations old: reuse.
    refused(&app, &t0.refresh_token).await;
    // The newest refresh token of the family now fails too...
    refused(&app, &t2.refresh_token).await;
    // ...and so does every access token issued from the family.
    expect_error(
        app.get_bearer("/me", &t2.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
    expect_error(
        app.get_bearer("/me", &t0.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_retry_within_the_grace_window_succeeds_without_advancing_twice() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    let t1 = rotate(&app, &t0.refresh_token).await;
    app.clock.advance(Duration::seconds(5));
    // The client never saw t1 (flaky network) and retries with t0.
    let t1_again = rotate(&app, &t0.refresh_token).await;
    assert_eq!(
        app.get_bearer("/me", &t1_again.access_token).await.status(),
        StatusCode::OK
    );
    // The family did not advance twice: t1 is still the current token and rotates normally.
    let t2 = rotate(&app, &t1.refresh_token).await;
    assert_eq!(
        app.get_bearer("/me", &t2.access_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_previous_token_after_the_grace_window_is_reuse() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    let t1 = rotate(&app, &t0.refresh_token).await;
    app.clock.advance(Duration::seconds(10));
    refused(&app, &t0.refresh_token).await;
    refused(&app, &t1.refresh_token).await;
}

#[tokio::test]
async fn families_expire_absolutely() {
    let app = spawn().await;
    let mut tokens = app.login("alice").await;
    // Keep rotating every day: the session still ends after seven days.
    for _ in 0..6 {
        app.clock.advance(Duration::days(1));
        tokens = rotate(&app, &tokens.refresh_token).await;
    }
    app.clock.advance(Duration::days(1));
    refused(&app, &tokens.refresh_token).await;
}

#[tokio::test]
async fn the_token_endpoint_refresh_grant_answers_400_for_a_bad_token() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    let resp = app
        .token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t0.refresh_token),
            ("scope", "openid"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let t1 = tokens_of(&json_checked(resp, "post", "/oauth2/token").await);
    assert_eq!(
        app.get_bearer("/me", &t1.access_token).await.status(),
        StatusCode::OK
    );

    let bad = app
        .token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "v4.local.garbage"),
        ])
        .await;
    expect_error(bad, "post", "/oauth2/token", 400, "invalid_grant").await;
    let missing = app.token_form(&[("grant_type", "refresh_token")]).await;
    expect_error(missing, "post", "/oauth2/token", 400, "invalid_request").await;
}

#[tokio::test]
async fn refresh_endpoint_rejects_bad_bodies() {
    let app = spawn().await;
    let cases = [
        ("{}", 400, "invalid_request"),
        ("not json", 400, "invalid_request"),
        (r#"{"refresh_token":""}"#, 400, "invalid_request"),
        (
            r#"{"refresh_token":"abc","extra":1}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"refresh_token":"not-a-real-token"}"#,
            401,
            "invalid_grant",
        ),
        // The schema forbids only U+0000..U+001F (and more than 1000 characters): DEL or a C1
        // control is merely not a valid token.
        (
            r#"{"refresh_token":"a\u007fb\u0098"}"#,
            401,
            "invalid_grant",
        ),
        (r#"{"refresh_token":"a\u0001b"}"#, 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let resp = app
            .client
            .post(app.url("/oauth2/refresh"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(resp, "post", "/oauth2/refresh", status, code).await;
    }
}

/// The key id in a PASETO refresh token's footer.
fn refresh_kid(token: &str) -> String {
    let footer = token.rsplit('.').next().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(footer)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn refresh_tokens_keep_working_across_a_refresh_key_rotation() {
    let app = spawn().await;
    let t0 = app.login("alice").await;
    assert!(
        !app.keys
            .rotate_refresh_if_due(chrono::Duration::hours(24))
            .await
            .unwrap(),
        "not due yet"
    );
    app.clock.advance(chrono::Duration::hours(25));
    assert!(
        app.keys
            .rotate_refresh_if_due(chrono::Duration::hours(24))
            .await
            .unwrap()
    );
    // Sealed under the old key: still refreshes, and the new token is sealed under the new key.
    let t1 = rotate(&app, &t0.refresh_token).await;
    assert_ne!(
        refresh_kid(&t0.refresh_token),
        refresh_kid(&t1.refresh_token)
    );
    let t2 = rotate(&app, &t1.refresh_token).await;
    assert_eq!(
        refresh_kid(&t1.refresh_token),
        refresh_kid(&t2.refresh_token)
    );
    // Rotation and reuse detection are unchanged: the first token is spent.
    refused(&app, &t0.refresh_token).await;
}
