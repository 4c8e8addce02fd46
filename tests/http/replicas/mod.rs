//! Several replicas on one PostgreSQL and one Redis: no state in the process. Each replica is a
//! full `Application` with its own listener; they share a fresh schema and key prefix. Skips
//! loudly without `TMI_AUTH_TEST_DATABASE_URL` / `TMI_AUTH_TEST_REDIS_URL`; fails under `CI`.

use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tmi_auth::app::config::{CacheKind, StorageKind};
use tmi_auth::app::{Application, Config, Mode};

use crate::support::*;

mod processes;
mod races;

struct Cluster {
    replicas: Vec<String>,
    /// What the management commands need to reach the same storage.
    db_url: String,
    redis_url: String,
    redis_prefix: String,
    reloaders: Vec<tmi_auth::app::startup::KeyReloader>,
    client: reqwest::Client,
    schema: String,
    admin: sqlx::PgPool,
}

fn env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) => Some(v),
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "{var} must be set in CI");
            eprintln!("!!! SKIPPING replica scenarios: {var} is not set !!!");
            None
        }
    }
}

async fn cluster(n: usize) -> Option<Cluster> {
    cluster_with(n, |_, _| {}).await
}

/// `n` replicas; `configure(i, config)` adjusts replica `i` before it starts.
async fn cluster_with(n: usize, configure: impl Fn(usize, &mut Config)) -> Option<Cluster> {
    let db = env("TMI_AUTH_TEST_DATABASE_URL")?;
    let redis = env("TMI_AUTH_TEST_REDIS_URL")?;
    let suffix: u64 = rand::thread_rng().r#gen();
    let schema = format!("r_{suffix:016x}");
    let admin = sqlx::PgPool::connect(&db).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let mut replicas = Vec::new();
    let mut reloaders = Vec::new();
    let redis_prefix = format!("tmi-auth-replicas:{suffix:016x}:");
    for i in 0..n {
        let mut config = Config::demo_ephemeral();
        config.mode = Mode::Production;
        config.storage = StorageKind::Postgres;
        config.cache = CacheKind::Redis;
        config.database.url = Some(db.clone());
        config.database.schema = Some(schema.clone());
        config.redis.url = Some(redis.clone());
        config.redis.key_prefix = redis_prefix.clone();
        config.server.public_url = Some("http://auth.test.invalid".into());
        config.providers.tmi.enabled = Some(true);
        config.oauth.default_idp = Some("tmi".into());
        config.oauth.client_callback_allow_list = Some(vec!["http://localhost:*".into()]);
        configure(i, &mut config);
        let app = Application::build(config).await.expect("replica starts");
        replicas.push(format!("http://{}", app.local_addr()));
        reloaders.push(app.key_reloader());
        tokio::spawn(app.run_until_stopped());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Some(Cluster {
        replicas,
        db_url: db,
        redis_url: redis,
        redis_prefix,
        reloaders,
        client,
        schema,
        admin,
    })
}

impl Cluster {
    /// `url` (from any replica or the public URL) re-pointed at replica `i`.
    fn on(&self, i: usize, url: &str) -> String {
        let parsed = url::Url::parse(url).unwrap();
        let mut path = parsed.path().to_owned();
        if let Some(q) = parsed.query() {
            path = format!("{path}?{q}");
        }
        format!("{}{path}", self.replicas[i])
    }

    async fn login(&self, hint: &str, a: usize, b: usize, c: usize) -> Tokens {
        let code = self.code(hint, a, b).await;
        let resp = self
            .client
            .post(format!("{}/oauth2/token", self.replicas[c]))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "token on a third replica");
        tokens_of(&resp.json().await.unwrap())
    }

    /// `GET /oauth2/authorize` on replica `i` for `hint`; the upstream (tmi) URL it redirects to.
    async fn authorize(&self, hint: &str, i: usize) -> String {
        let resp = self
            .client
            .get(format!("{}/oauth2/authorize", self.replicas[i]))
            .query(&[
                ("login_hint", hint),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("client_callback", CALLBACK),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        location(&resp)
    }

    /// Our authorization code for `hint`: authorize on replica `a`, callback on replica `b`.
    async fn code(&self, hint: &str, a: usize, b: usize) -> String {
        let upstream = self.authorize(hint, a).await;
        let resp = self.client.get(self.on(b, &upstream)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "callback on replica {b}");
        query_of(&location(&resp))["code"].clone()
    }

    /// `POST /me/client_credentials` on replica `i`; the created credential (with its secret).
    async fn create_credential(&self, i: usize, token: &str, name: &str) -> Value {
        let resp = self
            .client
            .post(format!("{}/me/client_credentials", self.replicas[i]))
            .bearer_auth(token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// The `tmi-auth` binary running `args` against this cluster's storage, with Redis at
    /// `redis_url` (the cluster's, or one that is down).
    fn cli(&self, args: &[&str], redis_url: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tmi-auth"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TMI_AUTH__") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .env("TMI_AUTH__MODE", "production")
            .env("TMI_AUTH__SERVER__PUBLIC_URL", "http://auth.test.invalid")
            .env("TMI_AUTH__STORAGE", "postgres")
            .env("TMI_AUTH__DATABASE__URL", &self.db_url)
            .env("TMI_AUTH__DATABASE__SCHEMA", &self.schema)
            .env("TMI_AUTH__CACHE", "redis")
            .env("TMI_AUTH__REDIS__URL", redis_url)
            .env("TMI_AUTH__REDIS__KEY_PREFIX", &self.redis_prefix);
        cmd
    }

    async fn me(&self, i: usize, token: &str) -> StatusCode {
        self.client
            .get(format!("{}/me", self.replicas[i]))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn cleanup(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{}\" CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_spans_three_replicas_and_revocation_reaches_all() {
    let Some(cluster) = cluster(3).await else {
        return;
    };
    let alice = cluster.login("alice", 0, 1, 2).await;
    for i in 0..3 {
        assert_eq!(
            cluster.me(i, &alice.access_token).await,
            StatusCode::OK,
            "replica {i} accepts the token"
        );
    }
    let resp = cluster
        .client
        .post(format!("{}/oauth2/revoke", cluster.replicas[0]))
        .bearer_auth(&alice.access_token)
        .form(&[("token", alice.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        cluster.me(1, &alice.access_token).await,
        StatusCode::UNAUTHORIZED,
        "revoked on A, rejected on B"
    );
    assert_eq!(
        cluster.me(2, &alice.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    cluster.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_credential_on_one_replica_rejects_its_tokens_on_another() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let bob = cluster.login("bob", 0, 0, 0).await;
    let cred = cluster
        .create_credential(1, &bob.access_token, "replicated")
        .await;
    let (id, secret) = (
        cred["client_id"].as_str().unwrap(),
        cred["client_secret"].as_str().unwrap(),
    );
    let body: Value = cluster
        .client
        .post(format!("{}/oauth2/token", cluster.replicas[0]))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(cluster.me(1, &token).await, StatusCode::OK);
    let del = cluster
        .client
        .delete(format!(
            "{}/me/client_credentials/{}",
            cluster.replicas[0],
            cred["id"].as_str().unwrap()
        ))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert_eq!(cluster.me(1, &token).await, StatusCode::UNAUTHORIZED);
    cluster.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_across_replicas_rotate_exactly_once() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let carol = cluster.login("carol", 0, 1, 0).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = cluster.client.clone();
        let url = format!("{}/oauth2/refresh", cluster.replicas[i % 2]);
        let token = carol.refresh_token.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }));
    }
    let mut successes = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        // Within the grace window every concurrent presentation of the current token succeeds.
        assert_eq!(status, StatusCode::OK, "{body}");
        successes.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successes.len(), 50);
    let (seq,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT current_seq FROM \"{}\".refresh_families",
        cluster.schema
    )))
    .fetch_one(&cluster.admin)
    .await
    .unwrap();
    assert_eq!(
        seq, 1,
        "exactly one rotation won; the others were grace retries"
    );
    cluster.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_for_one_replica_verifies_on_another() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let before = cluster.login("dave", 0, 0, 0).await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token)
        .unwrap()
        .kid
        .unwrap();

    // What `tmi-auth keys rotate` does, on the shared database; A reloads at once.
    let settings = tmi_auth::adapters::postgres::PostgresSettings {
        url: std::env::var("TMI_AUTH_TEST_DATABASE_URL").unwrap(),
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
        schema: Some(cluster.schema.clone()),
    };
    let pool = tmi_auth::adapters::postgres::connect(&settings)
        .await
        .unwrap();
    let store = tmi_auth::adapters::postgres::PostgresKeyStore::new(pool);
    let new_key = tmi_auth::domain::tokens::keys::rotate_signing_key(
        &store,
        &tmi_auth::adapters::system::SystemClock,
        &tmi_auth::adapters::system::RandomIds,
        tmi_auth::domain::tokens::keys::SigningAlg::EdDSA,
    )
    .await
    .unwrap();
    cluster.reloaders[0].reload().await.unwrap();

    let after = cluster.login("dave", 0, 0, 0).await;
    let new_kid = jsonwebtoken::decode_header(&after.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(new_kid, new_key.kid, "A signs with the rotated key");
    assert_ne!(new_kid, old_kid);
    // B has not reloaded: it meets an unknown kid, reloads, and accepts the token.
    assert_eq!(cluster.me(1, &after.access_token).await, StatusCode::OK);
    // Tokens signed by the old key keep verifying until they expire.
    assert_eq!(cluster.me(1, &before.access_token).await, StatusCode::OK);
    assert_eq!(cluster.me(0, &before.access_token).await, StatusCode::OK);
    let jwks: Value = cluster
        .client
        .get(format!("{}/.well-known/jwks.json", cluster.replicas[1]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    cluster.cleanup().await;
}

/// An operator signs a user out from the command line: each of their sessions ends on every
/// replica, at once; other users' sessions go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_a_user_out_everywhere() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let first = cluster.login("frank", 0, 1, 0).await;
    let second = cluster.login("frank", 1, 0, 1).await;
    let other = cluster.login("gina", 0, 0, 1).await;
    let out = cluster
        .cli(
            &["users", "sign-out", "--user", "tmi:frank"],
            &cluster.redis_url,
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 session(s) ended"), "{stdout}");
    let refresh = |i: usize, token: &str| {
        cluster
            .client
            .post(format!("{}/oauth2/refresh", cluster.replicas[i]))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    for tokens in [&first, &second] {
        for i in 0..2 {
            assert_eq!(
                cluster.me(i, &tokens.access_token).await,
                StatusCode::UNAUTHORIZED,
                "access token rejected on replica {i}"
            );
        }
        let resp = refresh(1, &tokens.refresh_token).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "refresh token dead"
        );
    }
    assert_eq!(cluster.me(1, &other.access_token).await, StatusCode::OK);
    let resp = refresh(0, &other.refresh_token).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "another user signs on");
    cluster.cleanup().await;
}
