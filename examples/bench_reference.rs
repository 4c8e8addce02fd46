//! The reference for `bench/run.sh`: a bare poem server whose handlers only parse the same
//! form bodies as `/oauth2/token` and `/oauth2/introspect` and answer with JSON of the same
//! shape, with no authentication, storage or crypto. The benchmark reports tmi-auth's
//! throughput as a ratio of this one, measured in the same run.
//!
//! `/naive/token` is the calibration point the benchmark target was set against: the same
//! handler plus one plain `jsonwebtoken::encode` (EdDSA, the claims of a client-credential
//! token) per request, the way a first implementation would sign. `/signed/token` is the
//! floor for any server that signs a fresh EdDSA token per grant: the same handler plus one
//! Ed25519 signature with a key parsed once, and nothing else (no authentication, storage,
//! middleware or OpenAPI layer).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use poem::listener::TcpListener;
use poem::web::{Form, Json};
use poem::{EndpointExt, Route, Server, handler, post};
use serde_json::{Value, json};

#[handler]
fn token(Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    Json(json!({
        "access_token": form.get("client_id").cloned().unwrap_or_default(),
        "refresh_token": "",
        "token_type": "Bearer",
        "expires_in": 900,
    }))
}

#[handler]
fn introspect(Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    Json(json!({ "active": form.contains_key("token") }))
}

/// The claims of a client-credential token (same fields and sizes as tmi-auth's).
fn claims(client_id: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "iss": "http://127.0.0.1:8080",
        "aud": "http://127.0.0.1:8080",
        "sub": format!("sa:{}:{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
        "exp": now + 900,
        "iat": now,
        "nbf": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "auth_time": now,
        "idp": "tmi",
        "email": "alice@tmi.local",
        "email_verified": false,
        "name": "[Service Account] CI pipeline",
        "groups": [],
        "tmi_is_administrator": false,
        "tmi_is_security_reviewer": false,
        "scope": "openid profile email",
        "client_id": client_id,
    })
}

fn token_response(access_token: String) -> Json<Value> {
    Json(json!({
        "access_token": access_token,
        "refresh_token": "",
        "token_type": "Bearer",
        "expires_in": 900,
    }))
}

#[handler]
fn naive_token(
    Form(form): Form<HashMap<String, String>>,
    key: poem::web::Data<&Arc<EncodingKey>>,
) -> poem::Result<Json<Value>> {
    let claims = claims(form.get("client_id").map_or("", String::as_str));
    let signed = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key)
        .map_err(poem::error::InternalServerError)?;
    Ok(token_response(signed))
}

#[handler]
fn signed_token(
    Form(form): Form<HashMap<String, String>>,
    key: poem::web::Data<&Arc<Ed25519KeyPair>>,
) -> poem::Result<Json<Value>> {
    let claims = claims(form.get("client_id").map_or("", String::as_str));
    let payload = serde_json::to_vec(&claims).map_err(poem::error::InternalServerError)?;
    let mut jwt = URL_SAFE_NO_PAD.encode(
        br#"{"alg":"EdDSA","kid":"umqs558FGfBd1DEsIrnN7qMUIDaxzLVqKK7ELnepLLg","typ":"JWT"}"#,
    );
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jwt);
    let signature = key.sign(jwt.as_bytes());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jwt);
    Ok(token_response(jwt))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| std::io::Error::other("could not generate a key"))?;
    let key = Arc::new(EncodingKey::from_ed_der(pkcs8.as_ref()));
    let keypair = Arc::new(
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| std::io::Error::other("could not parse the key"))?,
    );
    let app = Route::new()
        .at("/oauth2/token", post(token))
        .at("/oauth2/introspect", post(introspect))
        .at("/naive/token", post(naive_token).data(key))
        .at("/signed/token", post(signed_token).data(keypair));
    Server::new(TcpListener::bind(addr)).run(app).await
}
