//! Access tokens: verifiable with the published JWKS by an independent JWT library, and
//! rejected when missing, malformed, expired, foreign-signed or unsigned.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use ed25519_dalek::Signer;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::support::*;

async fn jwks(app: &TestApp) -> JwkSet {
    let body = json_checked(
        app.get("/.well-known/jwks.json").await,
        "get",
        "/.well-known/jwks.json",
    )
    .await;
    for key in body["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "JWKS must not publish private member {private}"
            );
        }
    }
    serde_json::from_value(body).unwrap()
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_verify_with_the_keys_from_the_jwks() {
    let app = spawn().await;
    let tokens = app.login("alice").await;
    let set = jwks(&app).await;
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("kid in the header");
    let jwk = set.find(&kid).expect("the signing key is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();

    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&app.public]);
    validation.set_audience(&[&app.public]);
    validation.validate_exp = false; // the test clock is not the wall clock
    let data =
        jsonwebtoken::decode::<Value>(&tokens.access_token, &key, &validation).expect("verifies");
    let claims = data.claims;
    assert!(uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).is_ok());
    assert_eq!(claims["idp"], "tmi");
    assert_eq!(claims["email"], "alice@tmi.local");
    assert_eq!(claims["scope"], "openid profile email");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    for name in [
        "jti",
        "nbf",
        "auth_time",
        "email_verified",
        "name",
        "groups",
        "tmi_is_administrator",
        "tmi_is_security_reviewer",
        "sid",
    ] {
        assert!(claims.get(name).is_some(), "claim {name} present");
    }
    assert!(
        tokens.access_token.len() < 1000,
        "token is {} characters",
        tokens.access_token.len()
    );
}

#[tokio::test]
async fn protected_endpoints_reject_missing_and_malformed_tokens() {
    let app = spawn().await;
    for path in ["/me", "/oauth2/userinfo"] {
        let resp = app.get(path).await;
        assert_eq!(
            resp.headers()["www-authenticate"].to_str().unwrap(),
            r#"Bearer realm="tmi-auth""#
        );
        expect_error(resp, "get", path, 401, "unauthorized").await;
        for bad in [
            "garbage",
            "a.b.c",
            "eyJhbGciOiJFZERTQSJ9.e30.",
            &"x".repeat(5000),
        ] {
            let resp = app.get_bearer(path, bad).await;
            let challenge = resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
            expect_error(resp, "get", path, 401, "unauthorized").await;
        }
        let basic = app
            .client
            .get(app.url(path))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap();
        expect_error(basic, "get", path, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let app = spawn().await;
    let tokens = app.login("alice").await;
    app.clock.advance(Duration::seconds(900 + 30 + 1));
    for path in ["/me", "/oauth2/userinfo"] {
        let resp = app.get_bearer(path, &tokens.access_token).await;
        let body = expect_error(resp, "get", path, 401, "unauthorized").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("expired")
        );
    }
}

#[tokio::test]
async fn foreign_signed_tokens_are_rejected() {
    let app = spawn().await;
    let tokens = app.login("alice").await;
    let claims = claims_of(&tokens.access_token);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(tokens.access_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    // Same header (our kid), same claims, signed by a key that is not ours.
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let forged = format!(
        "{signing_input}.{}",
        b64(&foreign.sign(signing_input.as_bytes()).to_bytes())
    );
    // A tampered payload under the original signature.
    let mut tampered_claims = claims.clone();
    tampered_claims["tmi_is_administrator"] = json!(true);
    let parts: Vec<&str> = tokens.access_token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(tampered_claims.to_string().as_bytes()),
        parts[2]
    );
    for token in [forged, tampered] {
        for path in ["/me", "/oauth2/userinfo"] {
            expect_error(
                app.get_bearer(path, &token).await,
                "get",
                path,
                401,
                "unauthorized",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn alg_none_and_hmac_confusion_are_rejected() {
    let app = spawn().await;
    let tokens = app.login("alice").await;
    let claims = claims_of(&tokens.access_token);
    let kid = jsonwebtoken::decode_header(&tokens.access_token)
        .unwrap()
        .kid
        .unwrap();
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    let unsigned = format!(
        "{}.{}.",
        b64(none_header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    // HS256 keyed with our public key bytes (algorithm confusion).
    let set = jwks(&app).await;
    let x = match &set.find(&kid).unwrap().algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p) => p.x.clone(),
        other => panic!("unexpected key {other:?}"),
    };
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(kid);
    let hmac = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(x).unwrap()),
    )
    .unwrap();
    for token in [unsigned, hmac] {
        for path in ["/me", "/oauth2/userinfo"] {
            expect_error(
                app.get_bearer(path, &token).await,
                "get",
                path,
                401,
                "unauthorized",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn tokens_of_another_server_instance_are_rejected() {
    let app = spawn().await;
    let other = spawn().await;
    let tokens = other.login("alice").await;
    expect_error(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
        401,
        "unauthorized",
    )
    .await;
    expect_error(
        app.refresh(&tokens.refresh_token).await,
        "post",
        "/oauth2/refresh",
        401,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn the_signing_key_rotates_on_schedule_and_old_tokens_keep_verifying() {
    let app = spawn().await;
    let before = app.login("alice").await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert!(
        !app.keys.rotate_if_due(Duration::hours(24)).await.unwrap(),
        "not due yet"
    );
    app.clock.advance(Duration::hours(25));
    assert!(app.keys.rotate_if_due(Duration::hours(24)).await.unwrap());
    let after = app.login("alice").await;
    let new_kid = jsonwebtoken::decode_header(&after.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(old_kid, new_kid);
    let set = jwks(&app).await;
    assert!(set.find(&new_kid).is_some());
    // The old key is retired but still published while tokens it signed may be alive.
    assert!(set.find(&old_kid).is_some());
    assert_eq!(
        app.get_bearer("/me", &after.access_token).await.status(),
        reqwest::StatusCode::OK
    );
}
