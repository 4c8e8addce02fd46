//! Client credentials: `/me/client_credentials` and the `client_credentials` grant.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

mod grant;
mod grant_types;
mod peppers;

const PATH: &str = "/me/client_credentials";

async fn create(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(PATH))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn created(app: &TestApp, token: &str, name: &str) -> Value {
    let resp = create(app, token, json!({ "name": name })).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_checked(resp, "post", PATH).await
}

async fn grant_post(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.token_form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ])
    .await
}

async fn grant_basic(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

fn id_secret(cred: &Value) -> (String, String) {
    (
        cred["client_id"].as_str().unwrap().to_owned(),
        cred["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn create_list_and_delete_a_credential() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let resp = create(
        &app,
        &alice.access_token,
        json!({"name": "CI", "description": "pipeline", "expires_at": "2027-06-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cred = json_checked(resp, "post", PATH).await;
    let client_id = cred["client_id"].as_str().unwrap();
    assert!(
        client_id.starts_with("tmi_cc_") && client_id.len() == 7 + 22,
        "{client_id}"
    );
    assert_eq!(cred["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(cred["expires_at"], "2027-06-01T00:00:00Z");

    let list = json_checked(app.get_bearer(PATH, &alice.access_token).await, "get", PATH).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["limit"], 20);
    assert_eq!(list["offset"], 0);
    let item = &list["credentials"][0];
    assert_eq!(item["client_id"], cred["client_id"]);
    assert_eq!(item["is_active"], true);
    assert!(
        !list
            .to_string()
            .contains(cred["client_secret"].as_str().unwrap()),
        "never a secret"
    );
    assert!(item.get("client_secret").is_none());

    let id = cred["id"].as_str().unwrap();
    let del = app
        .client
        .delete(app.url(&format!("{PATH}/{id}")))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    let again = app
        .client
        .delete(app.url(&format!("{PATH}/{id}")))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    expect_error(
        again,
        "delete",
        "/me/client_credentials/{id}",
        404,
        "not_found",
    )
    .await;
    let list = json_checked(app.get_bearer(PATH, &alice.access_token).await, "get", PATH).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn creation_validates_every_field() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cases = [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "a".repeat(101)}),
        json!({"name": "bad\u{0007}name"}),
        json!({"name": "\u{200B}\u{FEFF}"}),
        json!({"name": "invoice\u{202E}fdp.exe"}),
        json!({"name": "ok", "description": "d".repeat(501)}),
        json!({"name": "ok", "description": "invoice\u{202E}fdp.exe"}),
        json!({"name": "ok", "expires_at": "next tuesday"}),
        json!({"name": "ok", "expires_at": "2020-01-01T00:00:00Z"}),
        // In the year 10000 once in UTC: no RFC 3339 date-time could show it.
        json!({"name": "ok", "expires_at": "9999-12-31T23:59:59-23:59"}),
        json!({"name": "ok", "unknown": 1}),
        json!({"name": 42}),
        json!({"name": null}),
        // Optional but not nullable in the contract.
        json!({"name": "ok", "description": null}),
        json!({"name": "ok", "expires_at": null}),
        json!({"name": "ok", "description": 7}),
    ];
    for body in cases {
        let resp = create(&app, &alice.access_token, body.clone()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        expect_error(resp, "post", PATH, 400, "invalid_request").await;
    }
    let ok = create(
        &app,
        &alice.access_token,
        json!({"name": "a".repeat(100), "description": "d".repeat(500)}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_quota_limits_active_credentials() {
    let mut config = tmi_auth::app::Config::demo_ephemeral();
    config.credentials.max_active_per_user = 2;
    let app = spawn_with(config).await;
    let alice = app.login("alice").await;
    created(&app, &alice.access_token, "one").await;
    created(&app, &alice.access_token, "two").await;
    let third = create(&app, &alice.access_token, json!({"name": "three"})).await;
    expect_error(third, "post", PATH, 403, "quota_exceeded").await;
    // Another user has a quota of their own.
    let bob = app.login("bob").await;
    created(&app, &bob.access_token, "bobs").await;
}

#[tokio::test]
async fn listing_is_newest_first_and_paginated() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    for name in ["c1", "c2", "c3"] {
        created(&app, &alice.access_token, name).await;
        app.clock.advance(Duration::seconds(1));
    }
    let page = json_checked(
        app.get_bearer(&format!("{PATH}?limit=2"), &alice.access_token)
            .await,
        "get",
        PATH,
    )
    .await;
    let names: Vec<&str> = page["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c3", "c2"]);
    assert_eq!(page["total"], 3);
    let page = json_checked(
        app.get_bearer(&format!("{PATH}?limit=2&offset=2"), &alice.access_token)
            .await,
        "get",
        PATH,
    )
    .await;
    assert_eq!(page["credentials"][0]["name"], "c1");
    assert_eq!(page["offset"], 2);
    for bad in ["limit=0", "limit=101", "limit=-1", "offset=-1", "limit=abc"] {
        let resp = app
            .get_bearer(&format!("{PATH}?{bad}"), &alice.access_token)
            .await;
        expect_error(resp, "get", PATH, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn credentials_are_private_to_their_owner() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let cred = created(&app, &alice.access_token, "alices").await;
    let list = json_checked(app.get_bearer(PATH, &bob.access_token).await, "get", PATH).await;
    assert_eq!(list["total"], 0);
    let id = cred["id"].as_str().unwrap();
    let resp = app
        .client
        .delete(app.url(&format!("{PATH}/{id}")))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    let theirs = expect_error(
        resp,
        "delete",
        "/me/client_credentials/{id}",
        404,
        "not_found",
    )
    .await;
    let unknown = app
        .client
        .delete(app.url(&format!("{PATH}/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    let unknown = expect_error(
        unknown,
        "delete",
        "/me/client_credentials/{id}",
        404,
        "not_found",
    )
    .await;
    assert_eq!(theirs, unknown, "someone else's and unknown look the same");
    for malformed in [
        "not-a-uuid".to_owned(),
        format!("{{{id}}}"),
        id.replace('-', ""),
    ] {
        let resp = app
            .client
            .delete(app.url(&format!("{PATH}/{malformed}")))
            .bearer_auth(&bob.access_token)
            .send()
            .await
            .unwrap();
        expect_error(
            resp,
            "delete",
            "/me/client_credentials/{id}",
            400,
            "invalid_request",
        )
        .await;
    }
    // Alice's credential still works.
    let (client_id, secret) = id_secret(&cred);
    assert_eq!(
        grant_post(&app, &client_id, &secret).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn credential_endpoints_require_a_user_token() {
    let app = spawn().await;
    let resp = app.client.get(app.url(PATH)).send().await.unwrap();
    expect_error(resp, "get", PATH, 401, "unauthorized").await;
    let alice = app.login("alice").await;
    let (client_id, secret) = id_secret(&created(&app, &alice.access_token, "svc").await);
    let body = json_checked(
        grant_post(&app, &client_id, &secret).await,
        "post",
        "/oauth2/token",
    )
    .await;
    let service_token = body["access_token"].as_str().unwrap();
    let resp = create(&app, service_token, json!({"name": "nested"})).await;
    expect_error(resp, "post", PATH, 403, "forbidden").await;
    expect_error(
        app.get_bearer(PATH, service_token).await,
        "get",
        PATH,
        401,
        "unauthorized",
    )
    .await;
}
