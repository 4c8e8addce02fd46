//! Discovery documents, the OpenAPI document and health.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn discovery_documents_match_the_contract_and_use_the_public_url() {
    let app = spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/jwks.json",
    ] {
        // A spoofed Host header must not leak into the documents.
        let resp = app
            .client
            .get(app.url(path))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = json_checked(resp, "get", path).await;
        assert!(!body.to_string().contains("evil.example"), "{path}: {body}");
    }
    let oidc = json_checked(
        app.get("/.well-known/openid-configuration").await,
        "get",
        "/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(oidc["issuer"], app.public);
    assert_eq!(oidc["token_endpoint"], app.url("/oauth2/token"));
    assert_eq!(oidc["jwks_uri"], app.url("/.well-known/jwks.json"));
    // The default signing algorithm, then RS256, which OIDC Discovery 1.0 §3 requires.
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA", "RS256"])
    );
    let prm = json_checked(
        app.get("/.well-known/oauth-protected-resource").await,
        "get",
        "/.well-known/oauth-protected-resource",
    )
    .await;
    assert_eq!(prm["resource"], app.public);
}

#[tokio::test]
async fn configured_public_url_is_the_issuer() {
    let mut config = tmi_auth::app::Config::demo_ephemeral();
    config.server.public_url = Some("https://auth.example.com/".into());
    let app = spawn_with(config).await;
    assert_eq!(app.public, "https://auth.example.com");
    let body = app.get("/.well-known/openid-configuration").await;
    let body = json_checked(body, "get", "/.well-known/openid-configuration").await;
    assert_eq!(body["issuer"], "https://auth.example.com");
    assert_eq!(
        body["authorization_endpoint"],
        "https://auth.example.com/oauth2/authorize"
    );
}

#[tokio::test]
async fn providers_list_the_builtin_provider() {
    let app = spawn().await;
    let body = json_checked(
        app.get("/oauth2/providers").await,
        "get",
        "/oauth2/providers",
    )
    .await;
    let providers = body["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0]["id"], "tmi");
    assert_eq!(
        providers[0]["auth_url"],
        app.url("/oauth2/authorize?idp=tmi")
    );
    assert_eq!(providers[0]["redirect_uri"], app.url("/oauth2/callback"));
}

#[tokio::test]
async fn openapi_document_docs_page_and_health_are_served() {
    let app = spawn().await;
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/oauth2/authorize",
        "/oauth2/token",
        "/oauth2/callback",
        "/oauth2/refresh",
        "/me",
        "/oauth2/userinfo",
        "/.well-known/jwks.json",
        "/saml/providers",
        "/saml/{provider}/login",
        "/saml/acs",
        "/saml/slo",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} in the generated OpenAPI document"
        );
    }
    assert_eq!(
        spec["paths"]["/oauth2/token"]["post"]["operationId"],
        "exchangeOAuthCode"
    );
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
    let health: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
}
