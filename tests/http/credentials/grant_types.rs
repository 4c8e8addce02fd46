//! The other grants at the token endpoint, seen from a client credential: a credential is
//! for `client_credentials` only, a failed authentication is refused whatever the grant, and
//! a missing or unknown grant type is named before anyone authenticates.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{created, grant_post, id_secret};
use crate::support::*;

#[tokio::test]
async fn other_grants_refuse_failed_client_authentication_and_client_credentials() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let cred = created(&app, &alice.access_token, "Deploy Bot").await;
    let (client_id, secret) = id_secret(&cred);
    let unknown = "tmi_cc_AAAAAAAAAAAAAAAAAAAAAA";
    for (id, presented, status, code) in [
        (unknown, "wrong", 401, "invalid_client"),
        (client_id.as_str(), "wrong", 401, "invalid_client"),
        ("tmi-web", "a-secret", 401, "invalid_client"),
        // A credential that authenticates is still only for client_credentials.
        (
            client_id.as_str(),
            secret.as_str(),
            400,
            "unauthorized_client",
        ),
    ] {
        for basic in [true, false] {
            let code_value = app.code_for("bob", CHALLENGE).await;
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code_value.as_str()),
                ("code_verifier", VERIFIER),
            ];
            let request = app.client.post(app.url("/oauth2/token"));
            let request = if basic {
                request.basic_auth(id, Some(presented))
            } else {
                form.extend([("client_id", id), ("client_secret", presented)]);
                request
            };
            let resp = request.form(&form).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{id} basic={basic}");
            if status == 401 {
                assert!(resp.headers().contains_key("www-authenticate"));
            }
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], code, "{id} basic={basic}");
            // The code was not spent on a refused request.
            assert_eq!(
                app.redeem(&code_value, VERIFIER).await.status(),
                StatusCode::OK
            );
        }
    }
    // Refresh too; a public client naming itself (no secret, or Basic with an empty one) is
    // not authenticating, and gets its tokens.
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client_id, Some("wrong"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", alice.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // The same at /oauth2/refresh, and for a secret that names no client.
    let resp = app
        .client
        .post(app.url("/oauth2/refresh"))
        .basic_auth(&client_id, Some("wrong"))
        .json(&json!({ "refresh_token": alice.refresh_token }))
        .send()
        .await
        .unwrap();
    expect_error(resp, "post", "/oauth2/refresh", 401, "invalid_client").await;
    let resp = app
        .token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", alice.refresh_token.as_str()),
            ("client_secret", "orphan"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("tmi-web", Some(""))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", alice.refresh_token.as_str()),
            ("client_id", "tmi-web"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_unknown_grant_type_is_named_whoever_asks() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let (client_id, secret) = id_secret(&created(&app, &alice.access_token, "Deploy Bot").await);
    // RFC 6749 §5.2: missing → invalid_request, unknown → unsupported_grant_type, with or
    // without (valid) client credentials; `unauthorized_client` is for grants that exist.
    for (grant, code) in [
        (None, "invalid_request"),
        (Some(""), "invalid_request"),
        (Some("password"), "unsupported_grant_type"),
        (Some("CLIENT_CREDENTIALS"), "unsupported_grant_type"),
        (
            Some("urn:ietf:params:oauth:grant-type:device_code"),
            "unsupported_grant_type",
        ),
    ] {
        for basic in [true, false] {
            let mut form: Vec<(&str, &str)> =
                grant.map(|g| ("grant_type", g)).into_iter().collect();
            let request = app.client.post(app.url("/oauth2/token"));
            let request = if basic {
                request.basic_auth(&client_id, Some(&secret))
            } else {
                form.extend([
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                ]);
                request
            };
            let resp = request.form(&form).send().await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::BAD_REQUEST,
                "{grant:?} basic={basic}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], code, "{grant:?} basic={basic}");
        }
    }
    // Nor with a wrong secret: the grant type is refused before anyone authenticates, so
    // even more attempts than the backoff threshold lock nothing.
    for _ in 0..8 {
        let resp = app
            .client
            .post(app.url("/oauth2/token"))
            .basic_auth(&client_id, Some("wrong"))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unsupported_grant_type");
    }
    // None of that counted as a failed authentication: the credential still works.
    assert_eq!(
        grant_post(&app, &client_id, &secret).await.status(),
        StatusCode::OK
    );
}
