//! Separate `tmi-auth serve` processes (not tasks of one test process) sharing PostgreSQL and
//! Redis.

use rand::Rng;
use reqwest::StatusCode;
use serde_json::json;

use super::{Cluster, env};

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
