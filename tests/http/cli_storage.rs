//! The management commands, run as the real binary against PostgreSQL. Skips loudly without
//! `TMI_AUTH_TEST_DATABASE_URL`; fails under `CI`.

use std::process::Command;

use rand::Rng;

const BIN: &str = env!("CARGO_BIN_EXE_tmi-auth");

struct Db {
    url: String,
    schema: String,
}

impl Db {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("TMI_AUTH__") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .env("TMI_AUTH__MODE", "production")
            .env("TMI_AUTH__SERVER__PUBLIC_URL", "https://auth.example.com")
            .env("TMI_AUTH__STORAGE", "postgres")
            .env("TMI_AUTH__DATABASE__URL", &self.url)
            .env("TMI_AUTH__DATABASE__SCHEMA", &self.schema)
            .env("RUST_LOG", "warn,audit=info");
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?} failed: {err}");
        out
    }

    fn fails(&self, args: &[&str], expect: &str) {
        let (code, _, err) = self.run(args);
        assert_eq!(code, 1, "{args:?} should fail: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

/// The test database's URL; `None` (with a loud skip line) without one, a failure under `CI`.
fn database_url(scenario: &str) -> Option<String> {
    let url = std::env::var("TMI_AUTH_TEST_DATABASE_URL").ok();
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "TMI_AUTH_TEST_DATABASE_URL must be set in CI"
        );
        eprintln!("!!! SKIPPING {scenario} scenario: TMI_AUTH_TEST_DATABASE_URL is not set !!!");
    }
    url
}

#[tokio::test]
async fn management_commands_work_against_postgres() {
    let Some(url) = database_url("CLI storage") else {
        return;
    };
    let suffix: u64 = rand::thread_rng().r#gen();
    let schema = format!("c_{suffix:016x}");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let db = Db {
        url,
        schema: schema.clone(),
    };

    // Values that cannot work are refused before connecting, naming their key.
    for (key, value, expect) in [
        ("TMI_AUTH__DATABASE__SCHEMA", "Bad", "`database.schema`"),
        (
            "TMI_AUTH__DATABASE__URL",
            "mysql://x",
            "`database.url`: must be a PostgreSQL URL",
        ),
        ("TMI_AUTH__DATABASE__URL", "", "`database.url`: is required"),
    ] {
        for command in [&["migrate"][..], &["keys", "list"]] {
            let out = db.command(command).env(key, value).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command:?} {key}={value}: {err}"
            );
            assert!(err.contains(expect), "{command:?} {key}={value}: {err}");
        }
    }

    // migrate creates the configured schema when it does not exist yet.
    assert!(db.ok(&["migrate"]).contains("migrations applied"));
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(
        tables > 0,
        "the migrations created their tables in {schema}"
    );
    db.ok(&["keys", "rotate"]);
    db.ok(&["keys", "rotate"]);
    let keys = db.ok(&["keys", "list"]);
    let signing: Vec<&str> = keys
        .lines()
        .filter(|l| l.contains("access_token_signing"))
        .collect();
    assert_eq!(signing.len(), 2, "{keys}");
    assert!(
        signing.iter().all(|l| l.contains("\tEdDSA\t")),
        "the algorithm is listed: {keys}"
    );
    for _ in 0..2 {
        let out = db.ok(&["keys", "rotate", "--refresh"]);
        assert!(out.contains("new refresh-token key"), "{out}");
    }
    let keys = db.ok(&["keys", "list"]);
    let refresh: Vec<&str> = keys
        .lines()
        .filter(|l| l.contains("refresh_token_encryption"))
        .collect();
    assert_eq!(refresh.len(), 2, "{keys}");
    assert_eq!(
        refresh.iter().filter(|l| l.ends_with("active")).count(),
        1,
        "{keys}"
    );
    assert_eq!(
        keys.lines()
            .filter(|l| l.contains("access_token_signing"))
            .count(),
        2,
        "the signing keys are untouched: {keys}"
    );
    assert_eq!(
        signing.iter().filter(|l| l.ends_with("active")).count(),
        1,
        "{keys}"
    );

    db.ok(&[
        "groups",
        "create",
        "platform",
        "--display-name",
        "Platform Team",
    ]);
    db.fails(&["groups", "create", "platform"], "exists");
    db.ok(&["groups", "create", "sre"]);

    // Members by verified e-mail: exactly one account must have it.
    let carol = insert_users(&db).await;
    db.ok(&[
        "groups",
        "add-member",
        "platform",
        "--email",
        "CAROL@example.com",
        "--notes",
        "on call\tuntil March",
    ]);
    let members = db.ok(&["groups", "members", "platform"]);
    assert!(
        members.contains(&format!("{carol}\ton call until March\n")),
        "carol is a member, with the notes on her line: {members}"
    );
    db.ok(&[
        "groups",
        "remove-member",
        "platform",
        "--email",
        "carol@example.com",
    ]);
    for (address, expect) in [
        ("dave@example.com", "not verified"),
        ("shared@example.com", "several users"),
        ("nobody@example.com", "no user"),
        ("not-an-address", "not an e-mail address"),
    ] {
        db.fails(&["admins", "add", "--email", address], expect);
    }
    let (code, _, err) = db.run(&[
        "admins",
        "add",
        "--email",
        "carol@example.com",
        "--user",
        "tmi:carol",
    ]);
    assert_ne!(code, 0, "--email and --user together: {err}");
    assert!(db.ok(&["groups", "list"]).contains("platform"));
    db.ok(&["groups", "add-member", "platform", "--group", "sre"]);
    db.fails(
        &["groups", "add-member", "sre", "--group", "platform"],
        "cycle",
    );
    assert!(
        db.ok(&["groups", "members", "platform"])
            .contains("group\tsre")
    );
    let (code, _, err) = db.run(&["admins", "add", "--group", "platform"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("membership_added") && err.contains("cli"),
        "audited: {err}"
    );
    assert!(db.ok(&["admins", "list"]).contains("group\tplatform"));
    // The everyone group, directly or through a group, never becomes a privileged role.
    for args in [
        &["admins", "add", "--group", "everyone"][..],
        &[
            "groups",
            "add-member",
            "security-reviewers",
            "--group",
            "everyone",
        ],
        &["groups", "add-member", "sre", "--group", "everyone"],
    ] {
        db.fails(args, "every user");
    }
    db.fails(&["admins", "add", "--user", "tmi:nobody"], "no user");
    db.fails(&["admins", "add", "--group", "nope"], "no group");
    // The last administrator goes: with first-user promotion on, the operator is warned that
    // the next sign-in would become administrator.
    let out = db
        .command(&["admins", "remove", "--group", "platform"])
        .env("TMI_AUTH__GROUPS__AUTO_PROMOTE_FIRST_USER", "true")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("will become administrator"), "{err}");
    assert_eq!(
        db.ok(&["admins", "list"]).trim(),
        "",
        "administrators is empty"
    );
    db.ok(&["admins", "add", "--group", "platform"]);
    let (code, _, err) = db.run(&["admins", "remove", "--group", "platform"]);
    assert_eq!(code, 0);
    assert!(!err.contains("warning"), "promotion off: no warning: {err}");
    assert!(!db.ok(&["admins", "list"]).contains("platform"));
    db.ok(&["groups", "add-member", "sre", "--group", "everyone"]);
    db.fails(&["admins", "add", "--group", "platform"], "every user");
    db.ok(&["groups", "remove-member", "sre", "--group", "everyone"]);
    db.ok(&["groups", "remove-member", "platform", "--group", "sre"]);
    db.fails(&["credentials", "list", "--user", "tmi:nobody"], "no user");
    db.fails(&["users", "sign-out", "--user", "tmi:nobody"], "no user");
    let (code, out, err) = db.run(&["users", "sign-out", "--user", "tmi:carol"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 session(s) ended"), "{out}");
    assert!(
        err.contains("cache is not redis"),
        "the operator is told: {err}"
    );
    db.fails(
        &["credentials", "revoke", "tmi_cc_AAAAAAAAAAAAAAAAAAAAAA"],
        "no client credential",
    );
    // Two operators creating one group at the same moment: one creates it, the other is told
    // it exists (both used to report success, each with its own audit event).
    for round in 0..6 {
        let name = format!("race-{round}");
        let racers: Vec<_> = (0..4)
            .map(|_| {
                db.command(&["groups", "create", &name])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<_> = racers
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let created = outcomes.iter().filter(|o| o.status.success()).count();
        assert_eq!(created, 1, "round {round}: {outcomes:?}");
        for refused in outcomes.iter().filter(|o| !o.status.success()) {
            assert!(String::from_utf8_lossy(&refused.stderr).contains("exists"));
        }
    }

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// Users as their first sign-in leaves them: carol (verified), dave (unverified), and two
/// accounts sharing one verified address. Returns carol's id.
async fn insert_users(db: &Db) -> tmi_auth::domain::user::UserId {
    use tmi_auth::adapters::postgres::{PostgresSettings, PostgresUserRepository, connect};
    use tmi_auth::domain::user::{User, UserId};
    use tmi_auth::ports::UserRepository;

    let pool = connect(&PostgresSettings {
        url: db.url.clone(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
        schema: Some(db.schema.clone()),
    })
    .await
    .unwrap();
    let users = PostgresUserRepository::new(pool);
    let now = chrono::Utc::now();
    let mut carol = None;
    for (provider, subject, email, verified) in [
        ("tmi", "carol", "carol@example.com", true),
        ("tmi", "dave", "Dave@Example.com", false),
        ("tmi", "erin", "shared@example.com", true),
        ("github", "erin", "shared@example.com", true),
    ] {
        let user = User {
            id: UserId::from_uuid(uuid::Uuid::new_v4()),
            provider: provider.into(),
            provider_user_id: subject.into(),
            email: email.into(),
            email_verified: verified,
            name: subject.into(),
            created_at: now,
            last_login_at: now,
        };
        users.insert(&user).await.unwrap();
        if subject == "carol" {
            carol = Some(user.id);
        }
    }
    carol.unwrap()
}

/// A role that owns its pre-created schema but may not create schemas in the database (the
/// usual hardened set-up) can migrate and start: the schema is created only when missing.
#[tokio::test]
async fn a_role_owning_only_its_schema_can_migrate() {
    let Some(url) = database_url("schema-owner") else {
        return;
    };
    let suffix: u64 = rand::thread_rng().r#gen();
    let (role, schema) = (format!("r_{suffix:016x}"), format!("o_{suffix:016x}"));
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    execute_all(
        &admin,
        [
            format!("CREATE ROLE \"{role}\" LOGIN"),
            format!("CREATE SCHEMA \"{schema}\" AUTHORIZATION \"{role}\""),
        ],
    )
    .await;
    let mut as_role = url::Url::parse(&url).unwrap();
    as_role.set_username(&role).unwrap();
    let db = Db {
        url: as_role.to_string(),
        schema: schema.clone(),
    };
    let (code, out, err) = db.run(&["migrate"]);
    let (keys_code, _, keys_err) = db.run(&["keys", "rotate"]);
    execute_all(
        &admin,
        [
            format!("DROP SCHEMA \"{schema}\" CASCADE"),
            format!("DROP ROLE \"{role}\""),
        ],
    )
    .await;
    assert_eq!(code, 0, "migrate as the schema's owner: {err}");
    assert!(out.contains("migrations applied"), "{out}");
    assert_eq!(keys_code, 0, "{keys_err}");
}

/// Runs administrative statements built from generated names, in order.
async fn execute_all(admin: &sqlx::PgPool, statements: [String; 2]) {
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(admin)
            .await
            .unwrap();
    }
}
