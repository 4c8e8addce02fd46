//! Test harness: a real server on a loopback socket, built by the same `Application::build_with`
//! as `main`, with a manual clock; and a validator for the contract's response schemas.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tmi_auth::adapters::memory::ManualClock;
use tmi_auth::app::{Application, Config, Overrides};

/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CALLBACK: &str = "http://localhost:8079/cb";

pub struct TestApp {
    /// Reloads or rotates this instance's keys.
    pub keys: tmi_auth::app::startup::KeyReloader,
    /// Where the server really listens.
    pub base: String,
    /// The configured public base URL (issuer).
    pub public: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
}

/// Starts a demo-mode server on an ephemeral port.
pub async fn spawn() -> TestApp {
    spawn_with(Config::demo_ephemeral()).await
}

pub async fn spawn_with(config: Config) -> TestApp {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    ));
    let app = Application::build_with(
        config,
        Overrides {
            clock: Some(clock.clone()),
        },
    )
    .await
    .expect("application builds");
    let base = format!("http://{}", app.local_addr());
    let keys = app.key_reloader();
    let public = app.public_url().to_owned();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        keys,
        base,
        public,
        clock,
        client,
    }
}

/// Tokens as returned by the token endpoint.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `/me` refuses `token` with the contract's 401.
    pub async fn expect_me_refuses(&self, token: &str) {
        expect_error(
            self.get_bearer("/me", token).await,
            "get",
            "/me",
            401,
            "unauthorized",
        )
        .await;
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `GET /oauth2/authorize` with the given query pairs.
    pub async fn authorize(&self, query: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url("/oauth2/authorize"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// Runs authorize → (tmi "upstream") → callback and returns our code from the client
    /// callback redirect.
    pub async fn code_for(&self, hint: &str, challenge: &str) -> String {
        let resp = self
            .authorize(&[
                ("idp", "tmi"),
                ("login_hint", hint),
                ("scope", "openid profile email"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("client_callback", CALLBACK),
                ("state", "client-state-1"),
            ])
            .await;
        assert_eq!(resp.status(), StatusCode::FOUND, "authorize redirects");
        let upstream = location(&resp);
        let resp = self.client.get(&upstream).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "callback redirects");
        let back = location(&resp);
        assert!(
            back.starts_with(CALLBACK),
            "redirects to the client callback: {back}"
        );
        let query = query_of(&back);
        assert_eq!(
            query.get("state").map(String::as_str),
            Some("client-state-1")
        );
        query
            .get("code")
            .cloned()
            .expect("code in the client callback")
    }

    /// `POST /oauth2/token` as a form.
    pub async fn token_form(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/oauth2/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn redeem(&self, code: &str, verifier: &str) -> Response {
        self.token_form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", CALLBACK),
        ])
        .await
    }

    /// The full PKCE login, returning the token pair.
    pub async fn login(&self, hint: &str) -> Tokens {
        let code = self.code_for(hint, CHALLENGE).await;
        let resp = self.redeem(&code, VERIFIER).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = json_checked(resp, "post", "/oauth2/token").await;
        tokens_of(&body)
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.client
            .post(self.url("/oauth2/refresh"))
            .json(&serde_json::json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap()
    }
}

pub fn tokens_of(body: &Value) -> Tokens {
    Tokens {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

pub fn location(resp: &Response) -> String {
    resp.headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_of(url: &str) -> HashMap<String, String> {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Reads the JSON body and validates it against the contract for this operation and status.
pub async fn json_checked(resp: Response, method: &str, path: &str) -> Value {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = resp.json().await.expect("JSON body");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    contract().check(method, path, status, &body);
    body
}

/// Asserts an error response: status, `error` code, and the contract's Error schema.
pub async fn expect_error(
    resp: Response,
    method: &str,
    path: &str,
    status: u16,
    code: &str,
) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for {method} {path}");
    let body = json_checked(resp, method, path).await;
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    body
}

// ---------------------------------------------------------------------------------------------
// Contract validation

pub struct Contract {
    docs: Vec<Value>,
}

fn contract_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/contract")
}

static CONTRACT: std::sync::OnceLock<Option<Contract>> = std::sync::OnceLock::new();

/// The contract, or a no-op validator when the files are absent outside CI.
pub fn contract() -> &'static Contract {
    static EMPTY: Contract = Contract { docs: Vec::new() };
    CONTRACT
        .get_or_init(|| {
            let dir = contract_dir();
            let files = ["tmi-auth-openapi.json", "tmi-discovery-openapi.json"];
            let mut docs = Vec::new();
            for file in files {
                match std::fs::read_to_string(dir.join(file)) {
                    Ok(text) => docs.push(to_json_schema(serde_json::from_str(&text).unwrap())),
                    Err(err) => {
                        if std::env::var_os("CI").is_some() {
                            panic!("contract file {file} missing in CI: {err}");
                        }
                        eprintln!(
                            "!!! SKIPPING CONTRACT VALIDATION: {} not found ({err}) !!!",
                            dir.join(file).display()
                        );
                        return None;
                    }
                }
            }
            Some(Contract { docs })
        })
        .as_ref()
        .unwrap_or(&EMPTY)
}

/// OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a union with `null`.
fn to_json_schema(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("nullable") == Some(&Value::Bool(true))
                    && let Some(Value::String(t)) = map.get("type").cloned()
                {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// Panics unless `body` validates against the schema of `method path` for `status`.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        if self.docs.is_empty() {
            return;
        }
        let (doc, op_pointer) = self
            .docs
            .iter()
            .find_map(|doc| {
                doc["paths"][path][method]
                    .is_object()
                    .then(|| (doc, format!("/paths/{}/{method}", escape(path))))
            })
            .unwrap_or_else(|| panic!("{method} {path} is not in the contract"));
        let responses = doc.pointer(&format!("{op_pointer}/responses")).unwrap();
        let status_key = status.to_string();
        let Some(response) = responses.get(&status_key) else {
            panic!("{method} {path}: status {status} is not documented; body {body}");
        };
        let response_pointer = match response.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.trim_start_matches('#').to_owned(),
            None => format!("{op_pointer}/responses/{status_key}"),
        };
        let schema_pointer = format!("{response_pointer}/content/application~1json/schema");
        assert!(
            doc.pointer(&schema_pointer).is_some(),
            "{method} {path} {status}: no JSON schema"
        );
        let mut root = doc.clone();
        if path == "/.well-known/jwks.json" {
            // DECISIONS.md: JWKS keys carry their public members, which the contract's closed
            // key schema would forbid. Everything else about the document is still checked.
            let items = format!("{}/properties/keys/items", schema_pointer);
            if let Some(Value::Object(items)) = root.pointer_mut(&items) {
                items.remove("additionalProperties");
            }
        }
        root.as_object_mut().unwrap().insert(
            "$ref".into(),
            Value::String(format!(
                "#{}",
                // Braces of path templates are not allowed in a URI fragment.
                schema_pointer.replace('{', "%7B").replace('}', "%7D")
            )),
        );
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| {
                panic!("schema for {method} {path} {status} does not compile: {e}")
            });
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: body {body} violates the contract: {errors:#?}"
        );
    }
}

#[test]
fn the_contract_validator_rejects_bodies_that_break_the_schema() {
    if contract().docs.is_empty() {
        eprintln!("!!! SKIPPING: contract files absent !!!");
        return;
    }
    let ok = serde_json::json!({"error": "invalid_request", "error_description": "x"});
    contract().check("post", "/oauth2/token", 400, &ok);
    for bad in [
        serde_json::json!({"error": "invalid_request"}),
        serde_json::json!({"error": "invalid_request", "error_description": "x", "unexpected": 1}),
        serde_json::json!({"access_token": "a", "refresh_token": "b", "token_type": "Bearer", "expires_in": 1, "extra": 1}),
    ] {
        let status = if bad.get("access_token").is_some() {
            200
        } else {
            400
        };
        let result =
            std::panic::catch_unwind(|| contract().check("post", "/oauth2/token", status, &bad));
        assert!(result.is_err(), "{bad} must be rejected");
    }
}

/// A directory removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("tmi-auth-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
