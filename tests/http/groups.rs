//! Groups: `/me`, `/me/groups`, `/me/groups/{id}/members`, `/oauth2/providers/{idp}/groups`,
//! with groups and administrators seeded from configuration.

use reqwest::StatusCode;
use serde_json::Value;
use tmi_auth::app::Config;

use crate::support::*;

const ADMINS: &str = "00000000-0000-0000-0000-000000000002";
const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

const SEEDED: &str = r#"
[server]
listen = "127.0.0.1:0"

[providers.tmi]
email_verified = true

[[groups.define]]
name = "platform-team"
display_name = "Platform Team"

[[groups.define]]
name = "sre"

[[groups.members]]
group = "platform-team"
provider = "tmi"
provider_user_id = "alice"
notes = "team lead (never shown to members)"

[[groups.members]]
group = "platform-team"
member_group = "sre"

[[groups.members]]
group = "sre"
email = "bob@tmi.local"

[[groups.administrators]]
member_group = "platform-team"

[[groups.security_reviewers]]
provider = "tmi"
provider_user_id = "carol"
"#;

/// Loads `toml` through the real configuration loader (file → typed config).
fn config_from_file(toml: &str) -> Config {
    let dir = std::env::temp_dir().join(format!(
        "tmi-auth-groups-{}-{}",
        std::process::id(),
        toml.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tmi-auth.toml");
    std::fs::write(&file, toml).unwrap();
    let config = Config::load(Some(&file)).expect("configuration loads");
    std::fs::remove_dir_all(&dir).ok();
    config
}

async fn me(app: &TestApp, token: &str) -> Value {
    json_checked(app.get_bearer("/me", token).await, "get", "/me").await
}

fn group_names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|g| g["group_name"].as_str().unwrap().to_owned())
        .collect()
}

async fn members(app: &TestApp, token: &str, group: &str, query: &str) -> reqwest::Response {
    app.get_bearer(&format!("/me/groups/{group}/members{query}"), token)
        .await
}

const MEMBERS: &str = "/me/groups/{internal_uuid}/members";

#[tokio::test]
async fn groups_and_administrators_are_seeded_from_a_config_file() {
    let app = spawn_with(config_from_file(SEEDED)).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let dave = app.login("dave").await;

    let a = me(&app, &alice.access_token).await;
    assert_eq!(
        a["is_admin"], true,
        "alice ∈ platform-team ⊂ administrators"
    );
    assert_eq!(group_names(&a["groups"]), ["platform-team"]);
    assert_eq!(a["groups"][0]["name"], "Platform Team");
    let b = me(&app, &bob.access_token).await;
    assert_eq!(
        b["is_admin"], true,
        "bob ∈ sre ⊂ platform-team ⊂ administrators (by verified e-mail)"
    );
    assert_eq!(group_names(&b["groups"]), ["sre"]);
    let c = me(&app, &carol.access_token).await;
    assert_eq!(
        (c["is_admin"].clone(), c["is_security_reviewer"].clone()),
        (Value::Bool(false), Value::Bool(true))
    );
    assert_eq!(group_names(&c["groups"]), ["security-reviewers"]);
    let d = me(&app, &dave.access_token).await;
    assert_eq!(d["is_admin"], false);
    assert_eq!(d["groups"], serde_json::json!([]));

    // The token claims agree.
    let info = json_checked(
        app.client
            .post(app.url("/oauth2/introspect"))
            .form(&[("token", alice.access_token.as_str())])
            .send()
            .await
            .unwrap(),
        "post",
        "/oauth2/introspect",
    )
    .await;
    assert_eq!(info["active"], true);
    let payload = alice.access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["tmi_is_administrator"], true);
    assert_eq!(claims["tmi_is_security_reviewer"], false);

    let mine = json_checked(
        app.get_bearer("/me/groups", &alice.access_token).await,
        "get",
        "/me/groups",
    )
    .await;
    assert_eq!(mine["total"], 1);
    assert_eq!(group_names(&mine["groups"]), ["platform-team"]);
}

#[tokio::test]
async fn effective_members_list_members_with_audit_fields_redacted() {
    let app = spawn_with(config_from_file(SEEDED)).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let dave = app.login("dave").await;
    let platform = me(&app, &alice.access_token).await["groups"][0]["internal_uuid"]
        .as_str()
        .unwrap()
        .to_owned();

    let list = json_checked(
        members(&app, &alice.access_token, &platform, "").await,
        "get",
        MEMBERS,
    )
    .await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["limit"], 50);
    let members_list = list["members"].as_array().unwrap();
    let user = members_list
        .iter()
        .find(|m| m["subject_type"] == "user")
        .unwrap();
    assert_eq!(user["user_provider_user_id"], "alice");
    assert_eq!(user["user_email"], "alice@tmi.local");
    let group = members_list
        .iter()
        .find(|m| m["subject_type"] == "group")
        .unwrap();
    assert_eq!(group["member_group_name"], "sre");
    assert!(group["user_internal_uuid"].is_null());
    for m in members_list {
        for redacted in ["added_by_internal_uuid", "added_by_email", "notes"] {
            assert!(m[redacted].is_null(), "{redacted} is redacted in {m}");
        }
        assert_eq!(m["group_internal_uuid"], platform.as_str());
    }
    assert!(!list.to_string().contains("team lead"));

    // Bob is an effective member through sre; Dave is not.
    assert_eq!(
        members(&app, &bob.access_token, &platform, "")
            .await
            .status(),
        StatusCode::OK
    );
    expect_error(
        members(&app, &dave.access_token, &platform, "").await,
        "get",
        MEMBERS,
        403,
        "forbidden",
    )
    .await;
    // Administrators: alice and bob are effective members (via platform-team).
    let admins = json_checked(
        members(&app, &bob.access_token, ADMINS, "").await,
        "get",
        MEMBERS,
    )
    .await;
    assert_eq!(admins["members"][0]["subject_type"], "group");
    // Everyone may list the everyone group.
    let everyone = json_checked(
        members(&app, &dave.access_token, EVERYONE, "").await,
        "get",
        MEMBERS,
    )
    .await;
    assert_eq!(everyone["total"], 0);

    // Pagination and bad input.
    let page = json_checked(
        members(&app, &alice.access_token, &platform, "?limit=1&offset=1").await,
        "get",
        MEMBERS,
    )
    .await;
    assert_eq!(page["members"].as_array().unwrap().len(), 1);
    assert_eq!(
        (page["limit"].clone(), page["offset"].clone()),
        (Value::from(1), Value::from(1))
    );
    // DECISIONS.md: 1..=1000, although the contract's schema allows 0.
    for bad in [
        "?limit=0",
        "?limit=-1",
        "?limit=1001",
        "?offset=-1",
        "?limit=x",
    ] {
        let error = expect_error(
            members(&app, &alice.access_token, &platform, bad).await,
            "get",
            MEMBERS,
            400,
            "invalid_request",
        )
        .await;
        // poem-openapi's type names ("integer_int64") are not the contract's.
        assert!(!error.to_string().contains("int64"), "{bad}: {error}");
    }
    // Only the hyphenated form (the contract's `format: uuid`), not other spellings of the id.
    let platform_bare = platform.replace('-', "");
    let platform_braced = format!("{{{platform}}}");
    let platform_urn = format!("urn:uuid:{platform}");
    for bad in [
        "not-a-uuid",
        &platform_bare,
        &platform_braced,
        &platform_urn,
    ] {
        expect_error(
            members(&app, &alice.access_token, bad, "").await,
            "get",
            MEMBERS,
            400,
            "invalid_request",
        )
        .await;
    }
    assert_eq!(
        members(&app, &alice.access_token, &platform.to_uppercase(), "")
            .await
            .status(),
        StatusCode::OK
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    expect_error(
        members(&app, &alice.access_token, &unknown, "").await,
        "get",
        MEMBERS,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/me/groups/{platform}/members")).await,
        "get",
        MEMBERS,
        401,
        "unauthorized",
    )
    .await;
    expect_error(
        app.get("/me/groups").await,
        "get",
        "/me/groups",
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn identity_provider_groups_are_recorded_and_can_grant_admin() {
    let mut config = Config::demo_ephemeral();
    config.providers.tmi.groups = vec!["tmi-admins".into(), "readers".into()];
    config.groups.administrators = vec![tmi_auth::app::config::MemberSpec {
        provider: Some("tmi".into()),
        idp_group: Some("tmi-admins".into()),
        ..Default::default()
    }];
    let app = spawn_with(config).await;
    let erin = app.login("erin").await;
    let me_erin = me(&app, &erin.access_token).await;
    assert_eq!(me_erin["is_admin"], true, "tmi-admins ⊂ administrators");
    assert_eq!(
        me_erin["groups"],
        serde_json::json!([]),
        "IdP groups are not direct TMI memberships"
    );
    let info = json_checked(
        app.get_bearer("/oauth2/userinfo", &erin.access_token).await,
        "get",
        "/oauth2/userinfo",
    )
    .await;
    assert_eq!(info["groups"], serde_json::json!(["tmi-admins", "readers"]));

    let path = "/oauth2/providers/{idp}/groups";
    let groups = json_checked(
        app.get_bearer("/oauth2/providers/tmi/groups", &erin.access_token)
            .await,
        "get",
        path,
    )
    .await;
    assert_eq!(groups["idp"], "tmi");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["readers", "tmi-admins"]);
    expect_error(
        app.get_bearer("/oauth2/providers/nope/groups", &erin.access_token)
            .await,
        "get",
        path,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get_bearer("/oauth2/providers/1bad/groups", &erin.access_token)
            .await,
        "get",
        path,
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        app.get("/oauth2/providers/tmi/groups").await,
        "get",
        path,
        401,
        "unauthorized",
    )
    .await;

    // Refreshed tokens keep the groups and the entitlements.
    let resp = app.refresh(&erin.refresh_token).await;
    let refreshed = tokens_of(&json_checked(resp, "post", "/oauth2/refresh").await);
    let info = json_checked(
        app.get_bearer("/oauth2/userinfo", &refreshed.access_token)
            .await,
        "get",
        "/oauth2/userinfo",
    )
    .await;
    assert_eq!(info["groups"], serde_json::json!(["tmi-admins", "readers"]));
}

#[tokio::test]
async fn the_first_user_can_be_promoted_automatically() {
    let mut config = Config::demo_ephemeral();
    config.groups.auto_promote_first_user = true;
    let app = spawn_with(config).await;
    let first = app.login("first").await;
    let second = app.login("second").await;
    let first_again = app.login("first").await;
    assert_eq!(me(&app, &first.access_token).await["is_admin"], true);
    assert_eq!(me(&app, &first_again.access_token).await["is_admin"], true);
    let m = me(&app, &second.access_token).await;
    assert_eq!(
        (m["is_admin"].clone(), m["is_security_reviewer"].clone()),
        (Value::Bool(false), Value::Bool(false))
    );
    // A client credential of the administrator gets tokens without the roles, and /me says
    // the same as their claims.
    let created = app
        .client
        .post(app.url("/me/client_credentials"))
        .bearer_auth(&first.access_token)
        .json(&serde_json::json!({"name": "pipeline"}))
        .send()
        .await
        .unwrap();
    let cred = json_checked(created, "post", "/me/client_credentials").await;
    let granted = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cred["client_id"].as_str().unwrap()),
            ("client_secret", cred["client_secret"].as_str().unwrap()),
        ])
        .await;
    let token = json_checked(granted, "post", "/oauth2/token").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let service = me(&app, &token).await;
    for (claim, field) in [
        ("tmi_is_administrator", "is_admin"),
        ("tmi_is_security_reviewer", "is_security_reviewer"),
    ] {
        assert_eq!(claims[claim], false, "{claim}");
        assert_eq!(service[field], false, "{field}");
    }
}

#[tokio::test]
async fn a_cyclic_group_configuration_refuses_to_start() {
    let toml = r#"
[server]
listen = "127.0.0.1:0"
[[groups.define]]
name = "a"
[[groups.define]]
name = "b"
[[groups.members]]
group = "a"
member_group = "b"
[[groups.members]]
group = "b"
member_group = "a"
"#;
    let result = tmi_auth::app::Application::build(config_from_file(toml)).await;
    let err = result.err().expect("startup fails").to_string() + "";
    assert!(format!("{err:#}").contains("groups"), "{err}");
}

#[tokio::test]
async fn a_user_rule_naming_an_undefined_group_refuses_to_start() {
    // It used to start, and then every login the rule matched failed with 500.
    let toml = "[server]\nlisten = \"127.0.0.1:0\"\n[[groups.members]]\ngroup = \"nope\"\n\
                email = \"xuser@tmi.local\"\n";
    let result = tmi_auth::app::Application::build(config_from_file(toml)).await;
    let err = format!("{:#}", result.err().expect("startup fails"));
    assert!(err.contains("rule 0: no group named \"nope\""), "{err}");
}

#[tokio::test]
async fn a_configuration_giving_every_user_a_role_refuses_to_start() {
    // Directly, and through a group that holds everyone.
    for rules in [
        "[[groups.administrators]]\nmember_group = \"everyone\"\n",
        "[[groups.define]]\nname = \"all\"\n[[groups.members]]\ngroup = \"all\"\n\
         member_group = \"everyone\"\n[[groups.security_reviewers]]\nmember_group = \"all\"\n",
    ] {
        let toml = format!("[server]\nlisten = \"127.0.0.1:0\"\n{rules}");
        let result = tmi_auth::app::Application::build(config_from_file(&toml)).await;
        let err = format!("{:#}", result.err().expect("startup fails"));
        assert!(err.contains("every user"), "{err}");
    }
}

#[test]
fn group_configuration_errors_name_the_entry() {
    let bad = "[[groups.members]]\ngroup = \"x\"\nprovider = \"tmi\"\n";
    let config = config_from_file(bad);
    let err = config.resolve().expect_err("incomplete member rule");
    assert_eq!(err.key, "groups.members[0]");
    let bad = "[[groups.administrators]]\ngroup = \"x\"\nemail = \"a@b.example\"\n";
    let err = config_from_file(bad)
        .resolve()
        .expect_err("group not allowed");
    assert_eq!(err.key, "groups.administrators[0].group");
    let twice = "[[groups.define]]\nname = \"a\"\n[[groups.define]]\nname = \"b\"\n\
                 [[groups.define]]\nname = \"a\"\ndisplay_name = \"Second A\"\n";
    let err = config_from_file(twice)
        .resolve()
        .expect_err("a group defined twice");
    assert_eq!(err.key, "groups.define[2].name");
    assert!(err.to_string().contains("groups.define[0]"), "{err}");
}
