//! The `client_credentials` grant: both client authentication methods, identical failures,
//! backoff, and tokens that die with their credential.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PATH, create, created, grant_basic, grant_post, id_secret};
use crate::support::*;

#[tokio::test]
async fn the_grant_works_with_post_and_basic_authentication() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cred = created(&app, &alice.access_token, "Deploy Bot").await;
    let (client_id, secret) = id_secret(&cred);
    for resp in [
        grant_post(&app, &client_id, &secret).await,
        grant_basic(&app, &client_id, &secret).await,
    ] {
        assert_eq!(resp.status(), StatusCode::OK);
        let body = json_checked(resp, "post", "/oauth2/token").await;
        assert_eq!(body["refresh_token"], "");
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().unwrap();
        let me = json_checked(app.get_bearer("/me", token).await, "get", "/me").await;
        assert_eq!(
            me["provider_id"], "alice",
            "a service token speaks for its owner"
        );
        let info = json_checked(
            app.client
                .post(app.url("/oauth2/introspect"))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap(),
            "post",
            "/oauth2/introspect",
        )
        .await;
        assert_eq!(info["active"], true);
        assert_eq!(info["name"], "[Service Account] Deploy Bot");
        assert!(
            info["sub"]
                .as_str()
                .unwrap()
                .starts_with(&format!("sa:{}:", cred["id"].as_str().unwrap()))
        );
    }
    // JSON body too.
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Both methods at once is refused.
    let both = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    // Basic for one client and a body client_id naming another: two identities, refused;
    // the same client_id in the body (some libraries send it) is fine.
    for (body_id, status) in [
        ("tmi_cc_AAAAAAAAAAAAAAAAAAAAAA", StatusCode::BAD_REQUEST),
        (client_id.as_str(), StatusCode::OK),
    ] {
        let resp = app
            .client
            .post(app.url("/oauth2/token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("client_id", body_id)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "body client_id {body_id}");
    }
}

#[tokio::test]
async fn tokens_of_credentials_with_long_names_stay_introspectable() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    // The contract allows 100 characters; 100 four-byte characters would make a token of
    // ~1,400 characters, past the 1,000 that introspection accepts.
    for name in ["\u{1F511}".repeat(100), "n".repeat(100)] {
        let cred = created(&app, &alice.access_token, &name).await;
        let (client_id, secret) = id_secret(&cred);
        let body = json_checked(
            grant_post(&app, &client_id, &secret).await,
            "post",
            "/oauth2/token",
        )
        .await;
        let token = body["access_token"].as_str().unwrap();
        assert!(token.len() <= 1000, "{} characters", token.len());
        let info = json_checked(
            app.client
                .post(app.url("/oauth2/introspect"))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap(),
            "post",
            "/oauth2/introspect",
        )
        .await;
        assert_eq!(info["active"], true);
        let shown = info["name"].as_str().unwrap();
        let full = format!("[Service Account] {name}");
        assert!(
            shown == full || full.starts_with(shown.trim_end_matches('\u{2026}')),
            "{shown}"
        );
        // The listing keeps the whole name.
        let listed = json_checked(
            app.get_bearer(super::PATH, &alice.access_token).await,
            "get",
            super::PATH,
        )
        .await;
        assert!(
            listed["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name.as_str())
        );
    }
}

#[tokio::test]
async fn unknown_wrong_expired_and_deleted_credentials_fail_identically() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let (good_id, good_secret) = id_secret(&created(&app, &alice.access_token, "good").await);
    let expiring = create(
        &app,
        &alice.access_token,
        json!({"name": "expiring", "expires_at": "2026-11-27T13:00:00Z"}),
    )
    .await;
    let (exp_id, exp_secret) = id_secret(&json_checked(expiring, "post", PATH).await);
    let deleted = created(&app, &alice.access_token, "deleted").await;
    let (del_id, del_secret) = id_secret(&deleted);
    let del = app
        .client
        .delete(app.url(&format!("{PATH}/{}", deleted["id"].as_str().unwrap())))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    app.clock.advance(Duration::hours(2));

    let attempts = [
        grant_post(&app, "tmi_cc_AAAAAAAAAAAAAAAAAAAAAA", &good_secret).await,
        grant_post(&app, &good_id, "wrong-secret").await,
        grant_post(&app, &exp_id, &exp_secret).await,
        grant_post(&app, &del_id, &del_secret).await,
        grant_post(&app, "garbage", "garbage").await,
        grant_basic(&app, &good_id, "wrong-secret").await,
        app.token_form(&[("grant_type", "client_credentials")])
            .await,
    ];
    let mut bodies = Vec::new();
    for resp in attempts {
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        contract().check("post", "/oauth2/token", 400, &body); // the Error schema
        bodies.push(body);
    }
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "identical bodies: {bodies:?}"
    );
    assert_eq!(bodies[0]["error"], "invalid_client");
    // The good credential still works (the wrong-secret failures are below the threshold).
    assert_eq!(
        grant_post(&app, &good_id, &good_secret).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn backoff_engages_after_repeated_failures_and_clears() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let (client_id, secret) = id_secret(&created(&app, &alice.access_token, "target").await);
    for _ in 0..5 {
        assert_eq!(
            grant_post(&app, &client_id, "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right secret waits.
    let locked = grant_post(&app, &client_id, &secret).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "retry after {retry}");
    expect_error(locked, "post", "/oauth2/token", 429, "rate_limit_exceeded").await;

    app.clock.advance(Duration::seconds(31));
    assert_eq!(
        grant_post(&app, &client_id, &secret).await.status(),
        StatusCode::OK
    );
    // Success reset the counter: the next failure is an ordinary 401, not a lock.
    assert_eq!(
        grant_post(&app, &client_id, "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        grant_post(&app, &client_id, &secret).await.status(),
        StatusCode::OK
    );

    // Locks grow: five failures, wait out 30 s, one more failure locks for 60 s.
    for _ in 0..5 {
        grant_post(&app, &client_id, "wrong").await;
    }
    app.clock.advance(Duration::seconds(31));
    assert_eq!(
        grant_post(&app, &client_id, "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.clock.advance(Duration::seconds(31));
    let locked = grant_post(&app, &client_id, &secret).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn deleting_a_credential_revokes_its_tokens_at_once() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cred = created(&app, &alice.access_token, "short-lived").await;
    let (client_id, secret) = id_secret(&cred);
    let body: Value = grant_basic(&app, &client_id, &secret)
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_bearer("/me", &token).await.status(), StatusCode::OK);
    let del = app
        .client
        .delete(app.url(&format!("{PATH}/{}", cred["id"].as_str().unwrap())))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get_bearer("/me", &token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
    let info = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_checked(info, "post", "/oauth2/introspect").await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn a_hundred_concurrent_grants_with_one_credential_all_succeed() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let (client_id, secret) = id_secret(&created(&app, &alice.access_token, "busy").await);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = app.client.clone();
        let url = app.url("/oauth2/token");
        let (id, secret) = (client_id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ])
                .send()
                .await
                .unwrap();
            resp.status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_credential_token_never_outlives_the_credential() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let resp = create(
        &app,
        &alice.access_token,
        json!({"name": "brief", "expires_at": "2026-11-27T12:05:00Z"}),
    )
    .await;
    let (client_id, secret) = id_secret(&json_checked(resp, "post", PATH).await);
    let body = json_checked(
        grant_post(&app, &client_id, &secret).await,
        "post",
        "/oauth2/token",
    )
    .await;
    assert_eq!(body["expires_in"], 300);
}

#[tokio::test]
async fn client_credentials_beside_a_bearer_token_must_not_be_wrong() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cred = created(&app, &alice.access_token, "Deploy Bot").await;
    let (client_id, secret) = id_secret(&cred);
    let victim = app.login("bob").await;
    for (presented, status) in [("wrong", 401), (secret.as_str(), 200)] {
        let resp = app
            .client
            .post(app.url("/oauth2/revoke"))
            .bearer_auth(&alice.access_token)
            .form(&[
                ("token", victim.access_token.as_str()),
                ("client_id", client_id.as_str()),
                ("client_secret", presented),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "secret {presented}");
        if status == 401 {
            expect_error(resp, "post", "/oauth2/revoke", 401, "invalid_client").await;
        }
    }
    // The bearer token stays the caller: bob's token is not alice's to revoke.
    assert_eq!(
        app.get_bearer("/me", &victim.access_token).await.status(),
        StatusCode::OK
    );
}
