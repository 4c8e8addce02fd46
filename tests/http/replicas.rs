//! Several replicas on one PostgreSQL and one Redis: no state in the process. Each replica is a
//! full `Application` with its own listener; they share a fresh schema and key prefix. Skips
//! loudly without `TMI_AUTH_TEST_DATABASE_URL` / `TMI_AUTH_TEST_REDIS_URL`; fails under `CI`.

use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tmi_auth::app::config::{CacheKind, StorageKind};
use tmi_auth::app::{Application, Config, Mode};

use crate::support::*;

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

/// A `tmi-auth` process, killed on drop.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Starts `n` real `tmi-auth serve` processes on one schema and key prefix.
fn processes(
    n: usize,
    db: &str,
    redis: &str,
    schema: &str,
    prefix: &str,
) -> (Vec<Process>, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..n {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tmi-auth"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TMI_AUTH__") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TMI_AUTH__MODE", "production")
            .env("TMI_AUTH__SERVER__PUBLIC_URL", "http://auth.test.invalid")
            .env("TMI_AUTH__STORAGE", "postgres")
            .env("TMI_AUTH__DATABASE__URL", db)
            .env("TMI_AUTH__DATABASE__SCHEMA", schema)
            .env("TMI_AUTH__CACHE", "redis")
            .env("TMI_AUTH__REDIS__URL", redis)
            .env("TMI_AUTH__REDIS__KEY_PREFIX", prefix)
            .env("TMI_AUTH__PROVIDERS__TMI__ENABLED", "true")
            .env("TMI_AUTH__OAUTH__DEFAULT_IDP", "tmi")
            .env(
                "TMI_AUTH__OAUTH__CLIENT_CALLBACK_ALLOW_LIST",
                "[\"http://localhost:*\"]",
            )
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("banner").unwrap();
        // Keep draining the rest of the banner so the process never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = first
            .strip_prefix("tmi-auth listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected banner {first:?}"))
            .to_owned();
        children.push(Process(child));
        urls.push(addr);
    }
    (children, urls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_share_all_state_through_postgres_and_redis() {
    let Some(db) = env("TMI_AUTH_TEST_DATABASE_URL") else {
        return;
    };
    let Some(redis) = env("TMI_AUTH_TEST_REDIS_URL") else {
        return;
    };
    let suffix: u64 = rand::thread_rng().r#gen();
    let schema = format!("p_{suffix:016x}");
    let admin = sqlx::PgPool::connect(&db).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    // The first process migrates; start it alone so the others find the schema ready.
    let (mut first, mut urls) = processes(
        1,
        &db,
        &redis,
        &schema,
        &format!("tmi-auth-proc:{suffix:016x}:"),
    );
    let (rest, more) = processes(
        2,
        &db,
        &redis,
        &schema,
        &format!("tmi-auth-proc:{suffix:016x}:"),
    );
    first.extend(rest);
    urls.extend(more);
    let cluster = Cluster {
        replicas: urls,
        db_url: db,
        redis_url: redis,
        redis_prefix: format!("tmi-auth-proc:{suffix:016x}:"),
        reloaders: Vec::new(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        schema,
        admin,
    };
    let erin = cluster.login("erin", 0, 1, 2).await;
    for i in 0..3 {
        assert_eq!(cluster.me(i, &erin.access_token).await, StatusCode::OK);
    }
    let resp = cluster
        .client
        .post(format!("{}/oauth2/refresh", cluster.replicas[2]))
        .json(&json!({"refresh_token": erin.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "refresh on another process");
    let resp = cluster
        .client
        .post(format!("{}/oauth2/revoke", cluster.replicas[0]))
        .bearer_auth(&erin.access_token)
        .form(&[("token", erin.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        cluster.me(1, &erin.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    drop(first);
    cluster.cleanup().await;
}

/// Two replicas redeeming one code at the same moment: whichever wins, its tokens end up
/// revoked, as for any replayed code (RFC 6749 §4.1.2). Before the redeemed marker was
/// written ahead of the code's removal, the winner's tokens stayed valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_at_once_on_two_replicas_leaves_no_working_token() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let redeem = |i: usize, code: String| {
        let request = cluster
            .client
            .post(format!("{}/oauth2/token", cluster.replicas[i]))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
            ]);
        async move { request.send().await.unwrap() }
    };
    for round in 0..6 {
        let code = cluster.code(&format!("racer-{round}"), 0, 1).await;
        let (a, b) = tokio::join!(redeem(0, code.clone()), redeem(1, code));
        let mut refused = 0;
        for resp in [a, b] {
            if resp.status() != StatusCode::OK {
                assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
                refused += 1;
                continue;
            }
            let tokens = tokens_of(&resp.json().await.unwrap());
            for i in 0..2 {
                assert_eq!(
                    cluster.me(i, &tokens.access_token).await,
                    StatusCode::UNAUTHORIZED,
                    "round {round}: the winner's access token is revoked on replica {i}"
                );
            }
            let refresh = cluster
                .client
                .post(format!("{}/oauth2/refresh", cluster.replicas[1]))
                .json(&json!({"refresh_token": tokens.refresh_token}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                refresh.status(),
                StatusCode::UNAUTHORIZED,
                "round {round}: its refresh token is dead"
            );
        }
        assert!(refused >= 1, "round {round}: a code works once at most");
    }
    cluster.cleanup().await;
}

/// A new user's first sign-in running twice at once (two tabs, a double click): both
/// logins reach the one account. One of them used to find the other's new account by
/// e-mail and refuse it with 409 `account_conflict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_first_logins_of_one_new_user_all_succeed() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    for round in 0..3 {
        let hint = format!("newcomer-{round}");
        let mut upstream = Vec::new();
        for i in 0..8 {
            upstream.push((i % 2, cluster.authorize(&hint, i % 2).await));
        }
        let mut callbacks = tokio::task::JoinSet::new();
        for (i, url) in upstream {
            let request = cluster.client.get(cluster.on(i, &url));
            callbacks.spawn(async move { request.send().await.unwrap() });
        }
        while let Some(resp) = callbacks.join_next().await {
            let resp = resp.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::FOUND,
                "round {round}: {:?}",
                resp.text().await
            );
        }
        let users: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\".users WHERE provider_user_id = $1",
            cluster.schema
        )))
        .bind(&hint)
        .fetch_one(&cluster.admin)
        .await
        .unwrap();
        assert_eq!(users, 1, "round {round}: one account");
    }
    cluster.cleanup().await;
}

/// Identity-provider groups are the provider's word at the latest login: a group withdrawn
/// there (replica 1 is configured without it) leaves the user's older sessions at their next
/// refresh, with the entitlement it gave. Before, a session kept the groups of its own login
/// for its whole lifetime, while `/me` on the new session said otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_provider_withdrew_leaves_older_sessions_at_their_next_refresh() {
    let Some(cluster) = cluster_with(2, |i, config| {
        if i == 0 {
            config.providers.tmi.groups = vec!["acme-security".into()];
        }
        config.groups.security_reviewers = vec![tmi_auth::app::config::MemberSpec {
            provider: Some("tmi".into()),
            idp_group: Some("acme-security".into()),
            ..Default::default()
        }];
    })
    .await
    else {
        return;
    };
    let claims = |token: &str| -> Value {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let old = cluster.login("dave", 0, 0, 0).await;
    assert_eq!(
        claims(&old.access_token)["groups"],
        json!(["acme-security"])
    );
    assert_eq!(claims(&old.access_token)["tmi_is_security_reviewer"], true);

    let new = cluster.login("dave", 1, 1, 1).await;
    assert_eq!(claims(&new.access_token)["groups"], json!([]));
    assert_eq!(claims(&new.access_token)["tmi_is_security_reviewer"], false);

    let refreshed = cluster
        .client
        .post(format!("{}/oauth2/refresh", cluster.replicas[0]))
        .json(&json!({"refresh_token": old.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&refreshed.json().await.unwrap());
    let refreshed = claims(&refreshed.access_token);
    assert_eq!(refreshed["groups"], json!([]), "the older session follows");
    assert_eq!(refreshed["tmi_is_security_reviewer"], false);
    cluster.cleanup().await;
}

/// `tmi-auth credentials revoke` puts the credential's tokens on the revocation list before
/// deleting it: with Redis out of reach it fails and changes nothing (it can be run again);
/// with Redis it deletes the credential and its tokens stop at once on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoke_command_changes_nothing_when_it_cannot_revoke_the_tokens() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let erin = cluster.login("erin", 0, 0, 0).await;
    let cred = cluster
        .create_credential(0, &erin.access_token, "revoked-by-cli")
        .await;
    let client_id = cred["client_id"].as_str().unwrap().to_owned();
    let grant = || {
        cluster
            .client
            .post(format!("{}/oauth2/token", cluster.replicas[1]))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", cred["client_secret"].as_str().unwrap()),
            ])
            .send()
    };
    let resp = grant().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let token = tokens_of(&resp.json().await.unwrap()).access_token;

    let revoke = |redis_url: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tmi-auth"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TMI_AUTH__") {
                cmd.env_remove(key);
            }
        }
        cmd.args(["credentials", "revoke", &client_id])
            .env("TMI_AUTH__MODE", "production")
            .env("TMI_AUTH__SERVER__PUBLIC_URL", "http://auth.test.invalid")
            .env("TMI_AUTH__STORAGE", "postgres")
            .env("TMI_AUTH__DATABASE__URL", &cluster.db_url)
            .env("TMI_AUTH__DATABASE__SCHEMA", &cluster.schema)
            .env("TMI_AUTH__CACHE", "redis")
            .env("TMI_AUTH__REDIS__URL", redis_url)
            .env("TMI_AUTH__REDIS__KEY_PREFIX", &cluster.redis_prefix)
            .env("TMI_AUTH__REDIS__CONNECTION_TIMEOUT_MS", "500")
            .output()
            .unwrap()
    };
    let failed = revoke("redis://127.0.0.1:1");
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("redis"));
    assert_eq!(
        grant().await.unwrap().status(),
        StatusCode::OK,
        "still there"
    );
    assert_eq!(cluster.me(1, &token).await, StatusCode::OK);

    let done = revoke(&cluster.redis_url);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(grant().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    for i in 0..2 {
        assert_eq!(cluster.me(i, &token).await, StatusCode::UNAUTHORIZED);
    }
    cluster.cleanup().await;
}
