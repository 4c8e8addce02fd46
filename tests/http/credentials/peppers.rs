//! The client-secret pepper from files (`credentials.pepper_file`), replaced without breaking
//! credentials (`credentials.previous_pepper_files`), on PostgreSQL so that several
//! configurations share one store. Skips loudly without `TMI_AUTH_TEST_DATABASE_URL`; fails
//! under `CI`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::Rng;
use reqwest::StatusCode;
use tmi_auth::app::config::StorageKind;
use tmi_auth::app::{Application, Config, Mode};

use super::{created, grant_basic, grant_post, id_secret};
use crate::support::*;

fn config(db: &str, schema: &str, pepper: Option<&Path>, previous: &[&Path]) -> Config {
    let mut config = Config::demo_ephemeral();
    config.mode = Mode::Production;
    config.storage = StorageKind::Postgres;
    config.database.url = Some(db.to_owned());
    config.database.schema = Some(schema.to_owned());
    // The tmi provider's "upstream" redirect goes to the public URL, so it must be ours.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.server.listen = format!("127.0.0.1:{port}");
    config.server.public_url = Some(format!("http://127.0.0.1:{port}"));
    config.providers.tmi.enabled = Some(true);
    config.oauth.default_idp = Some("tmi".into());
    config.oauth.client_callback_allow_list = Some(vec!["http://localhost:*".into()]);
    config.credentials.pepper_file = pepper.map(Path::to_path_buf);
    config.credentials.previous_pepper_files = previous.iter().map(|p| p.to_path_buf()).collect();
    config
}

/// Writes 32 random bytes, base64, to `name` in `dir`; the path and the bytes.
fn pepper_file(dir: &TempDir, name: &str) -> (PathBuf, [u8; 32]) {
    let key: [u8; 32] = rand::thread_rng().r#gen();
    let path = dir.path().join(name);
    let text = base64::engine::general_purpose::STANDARD.encode(key);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    (path, key)
}

/// client id → the pepper its stored digest was made under.
async fn pepper_ids(admin: &sqlx::PgPool, schema: &str) -> HashMap<String, String> {
    sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(format!(
        "SELECT client_id, pepper_id FROM \"{schema}\".client_credentials"
    )))
    .fetch_all(admin)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

async fn grant_ok(app: &TestApp, id: &str, secret: &str) {
    let resp = grant_post(app, id, secret).await;
    assert_eq!(resp.status(), StatusCode::OK, "grant for {id}");
}

async fn grant_refused(app: &TestApp, id: &str, secret: &str) -> serde_json::Value {
    let resp = grant_basic(app, id, secret).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "grant for {id}");
    let body: serde_json::Value = resp.json().await.unwrap();
    // 401 is DECISIONS' deviation on this path; the body is the contract's Error schema.
    contract().check("post", "/oauth2/token", 400, &body);
    assert_eq!(body["error"], "invalid_client");
    body
}

#[tokio::test]
async fn the_pepper_can_be_replaced_without_breaking_credentials() {
    let Ok(db) = std::env::var("TMI_AUTH_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "TMI_AUTH_TEST_DATABASE_URL must be set in CI"
        );
        eprintln!("!!! SKIPPING pepper scenario: TMI_AUTH_TEST_DATABASE_URL is not set !!!");
        return;
    };
    let suffix: u64 = rand::thread_rng().r#gen();
    let schema = format!("p_{suffix:016x}");
    let admin = sqlx::PgPool::connect(&db).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let dir = TempDir::new();
    let (first, first_key) = pepper_file(&dir, "first.key");
    let (second, second_key) = pepper_file(&dir, "second.key");

    // 1. No pepper file: the pepper generated into the key store keys the digest.
    let stored = spawn_with(config(&db, &schema, None, &[])).await;
    let alice = stored.login("alice").await;
    let (one, one_secret) = id_secret(&created(&stored, &alice.access_token, "one").await);
    grant_ok(&stored, &one, &one_secret).await;
    let generated = pepper_ids(&admin, &schema).await[&one].clone();

    // 2. A pepper file becomes current: the stored pepper still verifies, and the first use
    //    digests the secret again under the file's pepper.
    let filed = spawn_with(config(&db, &schema, Some(&first), &[])).await;
    grant_ok(&filed, &one, &one_secret).await;
    let ids = pepper_ids(&admin, &schema).await;
    let first_id = ids[&one].clone();
    assert_ne!(first_id, generated, "moved to the file's pepper");
    let alice = filed.login("alice").await;
    let (two, two_secret) = id_secret(&created(&filed, &alice.access_token, "two").await);
    assert_eq!(pepper_ids(&admin, &schema).await[&two], first_id);
    grant_ok(&filed, &one, &one_secret).await;
    // A pepper from a file never enters the database.
    for key in [first_key, second_key] {
        let (stored_copies,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".signing_keys WHERE secret = $1"
        )))
        .bind(key.as_slice())
        .fetch_one(&admin)
        .await
        .unwrap();
        assert_eq!(stored_copies, 0);
    }

    // 3. Rotation: the second file is current, the first only verifies.
    let rotated = spawn_with(config(&db, &schema, Some(&second), &[&first])).await;
    grant_ok(&rotated, &two, &two_secret).await;
    let ids = pepper_ids(&admin, &schema).await;
    let second_id = ids[&two].clone();
    assert_ne!(second_id, first_id);
    assert_eq!(ids[&one], first_id, "unused since, so not moved yet");
    let wrong = grant_refused(&rotated, &two, &one_secret).await;

    // 4. The first pepper dropped: what is still digested under it cannot authenticate
    //    (with the same answer as a wrong secret); what moved works.
    let dropped = spawn_with(config(&db, &schema, Some(&second), &[])).await;
    assert_eq!(grant_refused(&dropped, &one, &one_secret).await, wrong);
    grant_ok(&dropped, &two, &two_secret).await;
    assert_eq!(pepper_ids(&admin, &schema).await[&one], first_id);

    // 5. The operator's view: what each pepper still keys.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tmi-auth"))
        .args(["credentials", "peppers"])
        .env("TMI_AUTH__MODE", "production")
        .env("TMI_AUTH__SERVER__PUBLIC_URL", "https://auth.example.com")
        .env("TMI_AUTH__STORAGE", "postgres")
        .env("TMI_AUTH__DATABASE__URL", &db)
        .env("TMI_AUTH__DATABASE__SCHEMA", &schema)
        .env("TMI_AUTH__CREDENTIALS__PEPPER_FILE", &second)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{second_id}\tcurrent\t1"),
            format!("{generated}\tprevious\t0"),
            format!("{first_id}\tnot configured\t1"),
        ],
        "{listed}"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_pepper_file_must_hold_32_bytes() {
    let dir = TempDir::new();
    let path = dir.path().join("short.key");
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode([7u8; 31]),
    )
    .unwrap();
    let mut config = Config::demo_ephemeral();
    config.credentials.pepper_file = Some(path.clone());
    let err = Application::build(config).await.err().expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("credentials.pepper_file"), "{message}");
    assert!(message.contains("32 bytes"), "{message}");

    let mut config = Config::demo_ephemeral();
    config.credentials.previous_pepper_files = vec![dir.path().join("missing.key")];
    let err = Application::build(config).await.err().expect("refused");
    assert!(
        format!("{err:#}").contains("credentials.previous_pepper_files"),
        "{err:#}"
    );
}
