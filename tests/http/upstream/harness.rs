//! What the upstream scenarios run against: panva's `oidc-provider` (a real, independent OIDC
//! issuer, `tests/oidc/`) as a child process, a small GitHub-style OAuth2 server written here,
//! and a browser-less user agent that follows redirects and keeps cookies.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::StatusCode as PoemStatus;
use poem::web::{Data, Form, Json, Query, Redirect};
use poem::{EndpointExt, IntoResponse, Request, Route, get, handler, post};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tmi_auth::app::Config;

use crate::support::*;

pub const CLIENT_ID: &str = "tmi-test";
pub const CLIENT_SECRET: &str = "fixture-secret-0123456789";

/// A free loopback port for a server whose URL must be known before it starts.
pub fn reserve_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `oidc-provider`; killed on drop.
pub struct OidcIssuer {
    pub issuer: String,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcIssuer {
    /// Starts the issuer for a client redirecting to `redirect_uri`. `None` (with a loud line)
    /// when node or the fixture's packages are missing; under CI that is a failure.
    pub fn start(redirect_uri: &str) -> Option<Self> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        let ready = dir.join("node_modules/oidc-provider").is_dir()
            && Command::new("node").arg("--version").output().is_ok();
        if !ready {
            let message =
                "node or tests/oidc/node_modules missing (run `npm ci --prefix tests/oidc`)";
            if std::env::var_os("CI").is_some() {
                panic!("CI requires the OIDC fixture: {message}");
            }
            eprintln!("\n!!! SKIPPING OIDC scenario: {message}\n");
            return None;
        }
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fixture did not start: {line:?}"));
        Some(Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
            _stdin: stdin,
        })
    }

    /// Makes the next token response carry a tampered ID token (see tests/oidc/server.mjs).
    pub async fn tamper_next(&self, mode: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/__test/mode", self.issuer))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::NO_CONTENT,
            "mode {mode} accepted"
        );
    }
}

/// A demo-mode server on `port` with extra configuration (TOML).
pub async fn spawn_on(port: u16, toml: &str) -> TestApp {
    let dir = std::env::temp_dir().join(format!("tmi-auth-upstream-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\n{toml}"),
    )
    .unwrap();
    let config = Config::load(Some(&file)).unwrap();
    spawn_with(config).await
}

/// TOML for an OIDC provider `op` at `issuer`.
pub fn oidc_entry(issuer: &str) -> String {
    format!(
        "[providers.upstream.op]\nname = \"Test OP\"\nicon = \"openid\"\nissuer = \"{issuer}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nforward_login_hint = true\n"
    )
}

/// What a login through a browser produced at our callback.
pub struct BrowserResult {
    /// Where the provider sent the browser first (our authorize's Location).
    pub upstream_url: String,
    /// Our callback's answer.
    pub callback: Response,
}

/// Authorize at `app` with `idp`, follow the provider's redirects with a fresh cookie jar
/// until the browser comes back to our callback, and call it.
pub async fn browser_login(app: &TestApp, idp: &str, hint: &str) -> BrowserResult {
    let (upstream_url, url) = browser_until_callback(app, idp, hint).await;
    let callback = app.client.get(&url).send().await.unwrap();
    BrowserResult {
        upstream_url,
        callback,
    }
}

/// Like [`browser_login`], but stops before calling our callback: returns the provider's
/// first URL and the callback URL the provider sent the browser to.
pub async fn browser_until_callback(app: &TestApp, idp: &str, hint: &str) -> (String, String) {
    let resp = app
        .authorize(&[
            ("idp", idp),
            ("login_hint", hint),
            ("scope", "openid profile email"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
            ("state", "client-state-9"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND, "authorize redirects");
    let upstream_url = location(&resp);
    let callback_prefix = format!("{}/oauth2/callback", app.public);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar: HashMap<String, String> = HashMap::new();
    let mut url = upstream_url.clone();
    for _ in 0..12 {
        if url.starts_with(&callback_prefix) {
            return (upstream_url, url);
        }
        let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let resp = browser
            .get(&url)
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        for set in resp.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        assert!(
            resp.status().is_redirection(),
            "provider answered {} at {url}",
            resp.status()
        );
        let next = location(&resp);
        url = url::Url::parse(&url).unwrap().join(&next).unwrap().into();
    }
    panic!("the browser never came back to our callback");
}

/// Redeems the code our callback sent to the client callback.
pub async fn tokens_from(app: &TestApp, callback: Response) -> Tokens {
    assert_eq!(callback.status(), StatusCode::FOUND, "callback redirects");
    let back = location(&callback);
    assert!(back.starts_with(CALLBACK), "to the client: {back}");
    let query = query_of(&back);
    assert_eq!(query["state"], "client-state-9");
    let resp = app.redeem(&query["code"], VERIFIER).await;
    assert_eq!(resp.status(), StatusCode::OK);
    tokens_of(&json_checked(resp, "post", "/oauth2/token").await)
}

/// Checks an error status the contract does not list for this operation (502, 409): the
/// body still has the contract's Error shape.
pub async fn expect_error_shape(resp: Response, path: &str, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.unwrap();
    contract().check("get", path, 400, &body);
    assert_eq!(body["error"], code, "{body}");
    body
}

// ---------------------------------------------------------------------------------------------
// A GitHub-style OAuth2 provider (no OIDC): authorize, access_token, /user and /user/emails.

/// One account of the fake provider.
#[derive(Clone)]
pub struct FakeAccount {
    pub id: u64,
    pub name: Option<&'static str>,
    pub public_email: Option<&'static str>,
    /// `(email, primary, verified)`.
    pub emails: Vec<(&'static str, bool, bool)>,
    /// How `/user` misbehaves, if at all.
    pub quirk: Quirk,
}

/// Misbehaviour of the fake `/user` endpoint.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum Quirk {
    #[default]
    None,
    /// A 1 MiB JSON body.
    Huge,
    /// A redirect to another host's userinfo.
    Redirect,
}

#[derive(Default)]
struct FakeState {
    accounts: HashMap<String, FakeAccount>,
    /// code → (login, code_challenge, redirect_uri)
    codes: HashMap<String, (String, String, String)>,
    /// access token → login
    tokens: HashMap<String, String>,
    /// Number of token requests seen (to check server-side exchange).
    token_requests: usize,
}

/// The running fake provider.
pub struct FakeGithub {
    pub base: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeGithub {
    pub async fn start(accounts: &[(&str, FakeAccount)]) -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            accounts: accounts
                .iter()
                .map(|(login, a)| ((*login).to_owned(), a.clone()))
                .collect(),
            ..FakeState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Route::new()
            .at("/login/oauth/authorize", get(fake_authorize))
            .at("/login/oauth/access_token", post(fake_token))
            .at("/user", get(fake_user))
            .at("/user/emails", get(fake_emails))
            .data(state.clone());
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self { base, state }
    }

    pub fn token_requests(&self) -> usize {
        self.state.lock().unwrap().token_requests
    }

    /// TOML for this provider as `gh` with the GitHub preset pointed here.
    pub fn entry(&self) -> String {
        format!(
            "[providers.upstream.gh]\npreset = \"github\"\nclient_id = \"gh-client\"\n\
             client_secret = \"gh-secret\"\nforward_login_hint = true\n\
             authorization_url = \"{b}/login/oauth/authorize\"\ntoken_url = \"{b}/login/oauth/access_token\"\n\
             userinfo_url = \"{b}/user\"\nemails_url = \"{b}/user/emails\"\n",
            b = self.base
        )
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
    login: Option<String>,
}

#[handler]
fn fake_authorize(
    Query(q): Query<AuthorizeQuery>,
    Data(state): Data<&Arc<Mutex<FakeState>>>,
) -> poem::Response {
    if q.client_id != "gh-client" || q.code_challenge_method != "S256" {
        return PoemStatus::BAD_REQUEST.into_response();
    }
    let login = q.login.unwrap_or_else(|| "octo".to_owned());
    let code = format!("code-{}-{}", login, q.state.len());
    state.lock().unwrap().codes.insert(
        code.clone(),
        (login, q.code_challenge, q.redirect_uri.clone()),
    );
    let mut back = url::Url::parse(&q.redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q.state);
    Redirect::see_other(back.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: String,
    client_secret: String,
    code: String,
    code_verifier: String,
    redirect_uri: String,
}

#[handler]
fn fake_token(Form(f): Form<TokenForm>, Data(state): Data<&Arc<Mutex<FakeState>>>) -> Json<Value> {
    let mut state = state.lock().unwrap();
    state.token_requests += 1;
    if f.client_id != "gh-client" || f.client_secret != "gh-secret" {
        return Json(json!({"error": "incorrect_client_credentials"}));
    }
    // GitHub answers a bad code with 200 and an error member.
    let Some((login, challenge, redirect_uri)) = state.codes.remove(&f.code) else {
        return Json(json!({"error": "bad_verification_code"}));
    };
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(f.code_verifier.as_bytes()));
    if computed != challenge || redirect_uri != f.redirect_uri {
        return Json(json!({"error": "bad_verification_code"}));
    }
    let token = format!("gho_{login}_{}", state.tokens.len());
    state.tokens.insert(token.clone(), login);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}))
}

fn account_of(req: &Request, state: &Mutex<FakeState>) -> Option<FakeAccount> {
    let token = req
        .header("authorization")?
        .strip_prefix("Bearer ")?
        .to_owned();
    let state = state.lock().unwrap();
    let login = state.tokens.get(&token)?;
    state.accounts.get(login).cloned()
}

#[handler]
fn fake_user(req: &Request, Data(state): Data<&Arc<Mutex<FakeState>>>) -> poem::Response {
    match account_of(req, state) {
        Some(a) if a.quirk == Quirk::Huge => Json(json!({
            "id": a.id, "bio": "x".repeat(1024 * 1024)
        }))
        .into_response(),
        Some(a) if a.quirk == Quirk::Redirect => {
            Redirect::temporary("http://127.0.0.1:9/user").into_response()
        }
        Some(a) => Json(json!({
            "id": a.id, "login": "someone", "name": a.name, "email": a.public_email
        }))
        .into_response(),
        None => PoemStatus::UNAUTHORIZED.into_response(),
    }
}

#[handler]
fn fake_emails(req: &Request, Data(state): Data<&Arc<Mutex<FakeState>>>) -> poem::Response {
    match account_of(req, state) {
        Some(a) => Json(Value::Array(
            a.emails
                .iter()
                .map(|(email, primary, verified)| {
                    json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
                })
                .collect(),
        ))
        .into_response(),
        None => PoemStatus::UNAUTHORIZED.into_response(),
    }
}
