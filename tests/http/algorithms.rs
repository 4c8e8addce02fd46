//! Access tokens signed with ES256 or RS256 (`tokens.signing_algorithm`), and signing keys
//! read from a PKCS#8 PEM file.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tmi_auth::app::{Application, Config};
use tmi_auth::domain::tokens::keys::SigningAlg;

use crate::support::*;

fn config(alg: SigningAlg) -> Config {
    let mut config = Config::demo_ephemeral();
    config.tokens.signing_algorithm = alg;
    config
}

async fn jwks(app: &TestApp) -> Value {
    json_checked(
        app.get("/.well-known/jwks.json").await,
        "get",
        "/.well-known/jwks.json",
    )
    .await
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// Discovery lists `alg` as the signing algorithm, and RS256 (OIDC Discovery 1.0 §3) after it.
async fn assert_discovery_names(app: &TestApp, alg: SigningAlg) {
    let oidc = json_checked(
        app.get("/.well-known/openid-configuration").await,
        "get",
        "/.well-known/openid-configuration",
    )
    .await;
    let expected = if alg == SigningAlg::RS256 {
        json!(["RS256"])
    } else {
        json!([alg.as_str(), "RS256"])
    };
    assert_eq!(oidc["id_token_signing_alg_values_supported"], expected);
}

/// Everything a client or resource server does with an access token works for `alg`.
async fn tokens_work_end_to_end(alg: SigningAlg, jwt_alg: Algorithm, kty: &str) -> TestApp {
    let app = spawn_with(config(alg)).await;
    let tokens = app.login("alice").await;
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, jwt_alg);
    let kid = header.kid.expect("kid");

    // Published with the members of its key type, and nothing private.
    let body = jwks(&app).await;
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{body}");
    let key = &keys[0];
    assert_eq!(key["kid"], kid.as_str());
    assert_eq!(key["kty"], kty);
    assert_eq!(key["alg"], alg.as_str());
    assert_eq!(key["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(key.get(private).is_none(), "private member {private}");
    }
    // The kid is the key's RFC 7638 thumbprint, computed here from the published members.
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        _ => &["crv", "kty", "x"],
    };
    let canonical: Vec<String> = members
        .iter()
        .map(|m| format!("\"{m}\":\"{}\"", key[*m].as_str().unwrap()))
        .collect();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{{{}}}", canonical.join(",")));
    assert_eq!(kid, URL_SAFE_NO_PAD.encode(digest));

    // An independent JWT library verifies it with the published key.
    let set: JwkSet = serde_json::from_value(body.clone()).unwrap();
    let decoding = DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut validation = Validation::new(jwt_alg);
    validation.set_issuer(&[&app.public]);
    validation.set_audience(&[&app.public]);
    validation.validate_exp = false; // the test clock is not the wall clock
    let data = jsonwebtoken::decode::<Value>(&tokens.access_token, &decoding, &validation)
        .expect("verifies with the JWKS");
    assert_eq!(data.claims["email"], "alice@tmi.local");

    // We accept it, and refresh keeps signing with the same algorithm.
    let me = app.get_bearer("/me", &tokens.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    let refreshed = app.refresh(&tokens.refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&json_checked(refreshed, "post", "/oauth2/refresh").await);
    assert_eq!(
        jsonwebtoken::decode_header(&refreshed.access_token)
            .unwrap()
            .alg,
        jwt_alg
    );

    // Discovery names the algorithm.
    assert_discovery_names(&app, alg).await;

    // The same signature under a header naming another algorithm (or none) is refused.
    let (_, rest) = tokens.access_token.split_once('.').unwrap();
    for other in ["EdDSA", "HS256", "none", "ES256", "RS256"] {
        if other == alg.as_str() {
            continue;
        }
        let forged_header = json!({"alg": other, "typ": "JWT", "kid": kid});
        let forged = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(forged_header.to_string())
        );
        app.expect_me_refuses(&forged).await;
    }
    // A flipped signature byte is refused.
    let mut tampered = tokens.access_token.clone();
    let at = tampered.len() - 10;
    let replacement = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, replacement);
    app.expect_me_refuses(&tampered).await;
    app
}

async fn introspect(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn es256_tokens_verify_with_the_jwks_and_introspect() {
    let app = tokens_work_end_to_end(SigningAlg::ES256, Algorithm::ES256, "EC").await;
    let body = jwks(&app).await;
    let key = &body["keys"][0];
    assert_eq!(key["crv"], "P-256");
    for member in ["x", "y"] {
        let bytes = URL_SAFE_NO_PAD
            .decode(key[member].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32, "{member} is a 32-byte coordinate");
    }
    // ES256 signatures are as short as Ed25519's: the token stays under the 1,000 characters
    // introspection takes.
    let tokens = app.login("alice").await;
    assert!(tokens.access_token.len() < 1000);
    let resp = introspect(&app, &tokens.access_token).await;
    let body = json_checked(resp, "post", "/oauth2/introspect").await;
    assert_eq!(body["active"], true, "{body}");
}

#[tokio::test]
async fn rs256_tokens_verify_with_the_jwks() {
    let app = tokens_work_end_to_end(SigningAlg::RS256, Algorithm::RS256, "RSA").await;
    let body = jwks(&app).await;
    let key = &body["keys"][0];
    assert!(key.get("crv").is_none() && key.get("x").is_none());
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "a 2048-bit modulus");
    assert_eq!(key["e"], "AQAB");
    // Revocation takes tokens of up to 2,000 characters: an RS256 token can be revoked.
    let tokens = app.login("alice").await;
    let resp = app
        .client
        .post(app.url("/oauth2/revoke"))
        .bearer_auth(&tokens.access_token)
        .form(&[("token", tokens.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    app.expect_me_refuses(&tokens.access_token).await;
}

#[tokio::test]
async fn client_credential_tokens_follow_the_algorithm() {
    let app = spawn_with(config(SigningAlg::ES256)).await;
    let user = app.login("alice").await;
    let created = app
        .client
        .post(app.url("/me/client_credentials"))
        .bearer_auth(&user.access_token)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    let created = json_checked(created, "post", "/me/client_credentials").await;
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = json_checked(resp, "post", "/oauth2/token").await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().alg,
        Algorithm::ES256
    );
    let resp = introspect(&app, token).await;
    let body = json_checked(resp, "post", "/oauth2/introspect").await;
    assert_eq!(body["active"], true, "{body}");
    assert!(
        body["sub"].as_str().unwrap().starts_with("sa:"),
        "a service-account subject: {body}"
    );
}

#[tokio::test]
async fn signing_keys_are_read_from_pkcs8_pem_files_of_each_type() {
    let dir = TempDir::new();
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .unwrap()
        .as_der()
        .unwrap();
    let ed = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let cases = [
        (SigningAlg::ES256, ec.as_ref().to_vec(), "EC"),
        (SigningAlg::RS256, rsa.as_ref().to_vec(), "RSA"),
        (SigningAlg::EdDSA, ed.as_ref().to_vec(), "OKP"),
    ];
    for (alg, der, kty) in &cases {
        let path = dir.path().join(format!("{alg}.pem"));
        std::fs::write(&path, pem(der)).unwrap();
        let mut config = config(*alg);
        config.tokens.signing_key_file = Some(path.clone());
        let app = spawn_with(config).await;
        let body = jwks(&app).await;
        assert_eq!(body["keys"][0]["kty"], *kty, "{alg}");
        let tokens = app.login("alice").await;
        assert_eq!(
            app.get_bearer("/me", &tokens.access_token).await.status(),
            StatusCode::OK
        );
        // The key in the file is the one that signs: a second start with the same file
        // publishes the same kid.
        let mut again = self::config(*alg);
        again.tokens.signing_key_file = Some(path);
        let second = spawn_with(again).await;
        assert_eq!(
            jwks(&second).await["keys"][0]["kid"],
            body["keys"][0]["kid"]
        );
    }

    // A key of another type than the configured algorithm, and things that are not keys,
    // stop the start with a message naming the setting.
    let (_, der, _) = &cases[0];
    let path = dir.path().join("mismatch.pem");
    std::fs::write(&path, pem(der)).unwrap();
    let mut mismatch = config(SigningAlg::RS256);
    mismatch.tokens.signing_key_file = Some(path);
    let err = Application::build(mismatch).await.err().expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("tokens.signing_key_file"), "{text}");
    assert!(text.contains("ES256") && text.contains("RS256"), "{text}");

    for junk in [
        "not a key".to_owned(),
        pem(b"\x30\x03\x02\x01\x00"),
        pem(der).replace("PRIVATE KEY", "EC PRIVATE KEY"),
    ] {
        let path = dir.path().join("junk.pem");
        std::fs::write(&path, junk).unwrap();
        let mut bad = config(SigningAlg::ES256);
        bad.tokens.signing_key_file = Some(path);
        let err = Application::build(bad).await.err().expect("refused");
        assert!(
            format!("{err:#}").contains("tokens.signing_key_file"),
            "{err:#}"
        );
    }
}

fn hs256_config(dir: &TempDir, secret: &[u8]) -> Config {
    let path = dir.path().join(format!("hs256-{}.secret", secret.len()));
    std::fs::write(&path, secret).unwrap();
    let mut config = config(SigningAlg::HS256);
    config.tokens.hs256_secret_file = Some(path);
    config
}

#[tokio::test]
async fn hs256_tokens_verify_with_the_shared_secret_and_nothing_is_published() {
    let dir = TempDir::new();
    let secret = "a secret shared with the TMI API servers, 48 bytes";
    // The file's trailing line break is not part of the secret.
    let app = spawn_with(hs256_config(&dir, format!("{secret}\n").as_bytes())).await;
    let tokens = app.login("alice").await;
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    let kid = header.kid.expect("kid");

    // A resource server holding the secret verifies it, as the original TMI's servers do.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&app.public]);
    validation.set_audience(&[&app.public]);
    validation.validate_exp = false; // the test clock is not the wall clock
    let data = jsonwebtoken::decode::<Value>(
        &tokens.access_token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("verifies with the shared secret");
    assert_eq!(data.claims["email"], "alice@tmi.local");
    let with_newline = format!("{secret}\n");
    assert!(
        jsonwebtoken::decode::<Value>(
            &tokens.access_token,
            &DecodingKey::from_secret(with_newline.as_bytes()),
            &validation,
        )
        .is_err()
    );

    // Nothing about the secret is published.
    let body = jwks(&app).await;
    assert_eq!(body["keys"], json!([]), "{body}");
    assert!(!body.to_string().contains(&kid));
    assert_discovery_names(&app, SigningAlg::HS256).await;

    // We accept it, refresh and introspection work.
    assert_eq!(
        app.get_bearer("/me", &tokens.access_token).await.status(),
        StatusCode::OK
    );
    let resp = introspect(&app, &tokens.access_token).await;
    let body = json_checked(resp, "post", "/oauth2/introspect").await;
    assert_eq!(body["active"], true, "{body}");
    let refreshed = app.refresh(&tokens.refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    // The same claims and kid MACed under another secret, or relabelled, are refused.
    let mut forged_header = jsonwebtoken::Header::new(Algorithm::HS256);
    forged_header.kid = Some(kid.clone());
    let forged = jsonwebtoken::encode(
        &forged_header,
        &data.claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another secret of forty-eight bytes, not ours.."),
    )
    .unwrap();
    app.expect_me_refuses(&forged).await;
    let (_, rest) = tokens.access_token.split_once('.').unwrap();
    for other in ["HS384", "HS512", "none", "EdDSA"] {
        let relabelled = json!({"alg": other, "typ": "JWT", "kid": kid});
        let relabelled = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(relabelled.to_string()));
        app.expect_me_refuses(&relabelled).await;
    }
}

#[tokio::test]
async fn hs256_needs_a_secret_file_of_at_least_32_bytes() {
    let dir = TempDir::new();
    let err = Application::build(config(SigningAlg::HS256))
        .await
        .err()
        .expect("refused without a secret file");
    assert!(
        format!("{err:#}").contains("tokens.hs256_secret_file"),
        "{err:#}"
    );
    let err = Application::build(hs256_config(&dir, &[b'x'; 31]))
        .await
        .err()
        .expect("refused: 31 bytes");
    assert!(format!("{err:#}").contains("at least 32 bytes"), "{err:#}");
    assert!(
        Application::build(hs256_config(&dir, &[b'x'; 32]))
            .await
            .is_ok()
    );

    // The secret file with another algorithm, or rotation with HS256, is a mistake.
    let mut wrong = hs256_config(&dir, &[b'x'; 32]);
    wrong.tokens.signing_algorithm = SigningAlg::EdDSA;
    let err = Application::build(wrong).await.err().expect("refused");
    assert!(
        format!("{err:#}").contains("tokens.hs256_secret_file"),
        "{err:#}"
    );
    let mut rotating = hs256_config(&dir, &[b'x'; 32]);
    rotating.tokens.signing_key_rotation_hours = 24;
    let err = Application::build(rotating).await.err().expect("refused");
    assert!(
        format!("{err:#}").contains("tokens.signing_key_rotation_hours"),
        "{err:#}"
    );
}
