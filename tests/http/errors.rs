//! Error rendering: every failure is `{"error","error_description"}` with the right status.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn().await;
    let big = "a".repeat(300 * 1024);
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=refresh_token&refresh_token={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn token_endpoint_errors_use_rfc6749_codes() {
    let app = spawn().await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (
            vec![("grant_type", "authorization_code")],
            "invalid_request",
        ),
        (
            vec![("grant_type", "authorization_code"), ("code", "abc")],
            "invalid_request",
        ),
        // redirect_uri is required (the contract; RFC 6749 §4.1.3).
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "abc"),
                ("code_verifier", VERIFIER),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "abc"),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CALLBACK),
            ],
            "invalid_grant",
        ),
    ];
    for (form, code) in cases {
        expect_error(
            app.token_form(&form).await,
            "post",
            "/oauth2/token",
            400,
            code,
        )
        .await;
    }
    let long_code = "c".repeat(600);
    let resp = app
        .token_form(&[
            ("grant_type", "authorization_code"),
            ("code", &long_code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
        ])
        .await;
    expect_error(resp, "post", "/oauth2/token", 400, "invalid_grant").await;
    // The contract's idp query parameter is held to its pattern.
    let long_idp = "a".repeat(101);
    for idp in ["!!", "", "1tmi", long_idp.as_str()] {
        let resp = app
            .client
            .post(app.url("/oauth2/token"))
            .query(&[("idp", idp)])
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        expect_error(resp, "post", "/oauth2/token", 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn malformed_token_requests_are_400_not_500() {
    let app = spawn().await;
    let bodies: Vec<(&str, &str, &str)> = vec![
        (
            "text/plain",
            "grant_type=authorization_code",
            "invalid_request",
        ),
        ("application/json", "{not json", "invalid_request"),
        (
            "application/json",
            r#"{"grant_type": 5}"#,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"grant_type": null}"#,
            "invalid_request",
        ),
        ("application/json", "[]", "invalid_request"),
        (
            "application/x-www-form-urlencoded",
            "%%%",
            "invalid_request",
        ),
        ("application/json", "", "invalid_request"),
    ];
    for (content_type, body, code) in bodies {
        let resp = app
            .client
            .post(app.url("/oauth2/token"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let error = expect_error(resp, "post", "/oauth2/token", 400, code).await;
        // Our internal type names (`TokenRequestDto`) mean nothing to a client.
        assert!(!error.to_string().contains("Dto"), "{error}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = spawn().await;
    let resp = app.get("/no/such/route").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn token_responses_are_not_cacheable() {
    let app = spawn().await;
    let code = app.code_for("alice", CHALLENGE).await;
    let resp = app.redeem(&code, VERIFIER).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}
