//! A Redis outage: protected endpoints answer 503 (never 200: token validation fails closed
//! when the revocation list cannot be read) and recover when Redis returns, without a restart.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use tmi_auth::app::config::CacheKind;
use tmi_auth::app::{Application, Config, Mode};

use crate::support::*;

fn start_redis(port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

async fn wait_for_redis(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not come up on {port}");
}

/// A Redis of the test's own on `port`, up; stopped when dropped.
pub(crate) async fn redis_on(port: u16) -> Killer {
    let redis = Killer(start_redis(port));
    wait_for_redis(port).await;
    redis
}

pub(crate) struct Killer(Child);
impl Drop for Killer {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A free port for a Redis of the test's own, or `None` (the test skips) when redis-server
/// is not installed, which CI does not allow.
pub(crate) fn redis_port() -> Option<u16> {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server must be installed in CI"
        );
        eprintln!("!!! SKIPPING outage scenario: redis-server is not installed !!!");
        return None;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Some(listener.local_addr().unwrap().port())
}

/// Production mode with that Redis, memory storage and the built-in login provider.
fn redis_config(port: u16) -> Config {
    let mut config = Config::demo_ephemeral();
    config.mode = Mode::Production;
    config.cache = CacheKind::Redis;
    config.redis.url = Some(format!("redis://127.0.0.1:{port}"));
    config.server.public_url = Some("http://auth.test.invalid".into());
    config.providers.tmi.enabled = Some(true);
    config.oauth.default_idp = Some("tmi".into());
    config.oauth.client_callback_allow_list = Some(vec!["http://localhost:*".into()]);
    config
}

/// Logs in through the built-in provider (authorize, its callback, the code exchange).
async fn log_in(client: &reqwest::Client, base: &str) -> Tokens {
    let resp = client
        .get(format!("{base}/oauth2/authorize"))
        .query(&[
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    let upstream = url::Url::parse(&location(&resp)).unwrap();
    let callback = format!("{base}{}?{}", upstream.path(), upstream.query().unwrap());
    let resp = client.get(callback).send().await.unwrap();
    let code = query_of(&location(&resp))["code"].clone();
    let resp = client
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    tokens_of(&resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_gives_503_and_recovers() {
    let Some(port) = redis_port() else {
        return;
    };
    let redis = redis_on(port).await;

    let app = Application::build(redis_config(port))
        .await
        .expect("starts with Redis up");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Log in (the flow records live in Redis).
    let token = log_in(&client, &base).await.access_token;
    let me = || client.get(format!("{base}/me")).bearer_auth(&token).send();
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    drop(redis);
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["redis"]));
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "the process is up"
    );
    let down = me().await.unwrap();
    assert_eq!(
        down.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "fails closed"
    );
    assert!(down.headers().contains_key("retry-after"));
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["error"], "service_unavailable");

    let _redis = redis_on(port).await;
    let mut recovered = false;
    for _ in 0..50 {
        if me().await.unwrap().status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "recovers without a restart once Redis is back");
}

/// Redis that reads but refuses writes (`NOREPLICAS`): what needs a write fails with 503 and
/// leaves nothing half-done. A credential is not deleted while its tokens cannot be revoked;
/// a detected refresh-token reuse still kills the family (the store is marked first), and
/// presenting a token of it again completes the revocation of its access tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refusing_writes_leaves_nothing_half_done() {
    let Some(port) = redis_port() else {
        return;
    };
    let _redis = redis_on(port).await;
    let writes = |allowed: bool| {
        let status = Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "CONFIG",
                "SET",
                "min-replicas-to-write",
            ])
            .arg(if allowed { "0" } else { "1" })
            .output()
            .expect("redis-cli runs");
        assert!(status.status.success());
    };

    let mut config = redis_config(port);
    config.tokens.refresh_grace_secs = 0;
    config.rate_limits.enabled = false;
    let app = Application::build(config).await.expect("starts");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{base}{path}");
    let get = |path: String, token: String| {
        let request = client.get(url(&path)).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let refresh = |token: String| {
        let request = client
            .post(url("/oauth2/refresh"))
            .json(&serde_json::json!({ "refresh_token": token }));
        async move { request.send().await.unwrap() }
    };

    let tokens = log_in(&client, &base).await;
    let cred: serde_json::Value = client
        .post(url("/me/client_credentials"))
        .bearer_auth(&tokens.access_token)
        .json(&serde_json::json!({ "name": "svc" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = client
        .post(url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cred["client_id"].as_str().unwrap()),
            ("client_secret", cred["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let service: serde_json::Value = resp.json().await.unwrap();
    let service = service["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get("/me".into(), service.clone()).await.status(),
        StatusCode::OK
    );
    let rotated = tokens_of(
        &refresh(tokens.refresh_token.clone())
            .await
            .json()
            .await
            .unwrap(),
    );

    writes(false);
    // The credential's tokens cannot be revoked: it is not deleted either.
    let path = format!("/me/client_credentials/{}", cred["id"].as_str().unwrap());
    let delete = || {
        client
            .delete(url(&path))
            .bearer_auth(&tokens.access_token)
            .send()
    };
    let resp = delete().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "NOREPLICAS is an outage, not a server error"
    );
    let listed: serde_json::Value =
        get("/me/client_credentials".into(), tokens.access_token.clone())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        listed["total"], 1,
        "still there, so the delete can be retried"
    );
    // Reuse of the rotated-away refresh token: the family dies even though its access
    // tokens cannot be put on the revocation list yet.
    let reuse = refresh(tokens.refresh_token.clone()).await;
    assert_eq!(reuse.status(), StatusCode::SERVICE_UNAVAILABLE);
    let current = refresh(rotated.refresh_token.clone()).await;
    assert!(
        current.status().is_client_error(),
        "the current token of a reused family is dead: {}",
        current.status()
    );

    writes(true);
    assert_eq!(delete().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get("/me".into(), service).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Presenting a token of the revoked family again completes its revocation.
    assert_eq!(
        get("/me".into(), rotated.access_token.clone())
            .await
            .status(),
        StatusCode::OK
    );
    assert!(
        refresh(tokens.refresh_token.clone())
            .await
            .status()
            .is_client_error()
    );
    assert_eq!(
        get("/me".into(), rotated.access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
