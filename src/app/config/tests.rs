//! Unit tests of configuration validation.

use super::*;

#[test]
fn defaults_are_demo_mode_on_port_8080() {
    let config = Config::default();
    let resolved = config.resolve().expect("defaults are valid");
    assert_eq!(config.mode, Mode::Demo);
    assert_eq!(resolved.listen.to_string(), "127.0.0.1:8080");
    assert!(resolved.tmi_enabled);
    assert!(resolved.allow_callback_token_response);
    assert_eq!(resolved.default_idp.as_deref(), Some("tmi"));
}

#[test]
fn production_requires_a_public_url_and_disables_tmi() {
    let mut config = Config {
        mode: Mode::Production,
        ..Config::default()
    };
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("server.public_url".to_owned())
    );
    config.server.public_url = Some("https://auth.example.com".into());
    let resolved = config.resolve().expect("valid");
    assert!(!resolved.tmi_enabled);
    assert!(!resolved.allow_callback_token_response);
    assert_eq!(resolved.default_idp, None);
}

#[test]
fn production_refuses_first_user_promotion_with_the_tmi_provider() {
    let mut config = Config {
        mode: Mode::Production,
        ..Config::default()
    };
    config.server.public_url = Some("https://auth.example.com".into());
    config.groups.auto_promote_first_user = true;
    assert!(config.resolve().is_ok(), "without the tmi provider");
    config.providers.tmi.enabled = Some(true);
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("groups.auto_promote_first_user".to_owned())
    );
    config.mode = Mode::Demo;
    assert!(config.resolve().is_ok(), "demo mode is for trying it out");
}

#[test]
fn bad_values_name_their_key() {
    let mut config = Config::default();
    config.tokens.access_token_ttl_secs = 5;
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("tokens.access_token_ttl_secs".to_owned())
    );
    let mut config = Config::default();
    config.server.listen = "nope".into();
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("server.listen".to_owned())
    );
    let mut config = Config::default();
    config.oauth.client_callback_allow_list =
        Some(vec!["https://ok.example/*".into(), "bad*".into()]);
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("oauth.client_callback_allow_list[1]".to_owned())
    );
}

#[test]
fn log_level_and_database_values_are_checked_at_start() {
    let mut config = Config::default();
    config.redis.response_timeout_ms = 0;
    assert!(config.resolve().is_ok(), "no Redis in use");
    config.mode = Mode::Production;
    config.server.public_url = Some("https://auth.example.com".into());
    config.cache = CacheKind::Redis;
    config.redis.url = Some("redis://127.0.0.1:6379".into());
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("redis.response_timeout_ms".to_owned())
    );
    let mut config = Config::default();
    config.log.level = "loud".into();
    assert_eq!(
        config.resolve().map_err(|e| e.key),
        Err("log.level".to_owned())
    );
    let mut config = Config {
        mode: Mode::Production,
        storage: StorageKind::Postgres,
        ..Config::default()
    };
    config.server.public_url = Some("https://auth.example.com".into());
    for (url, schema, key) in [
        (None, None, Some("database.url")),
        (Some("mysql://x"), None, Some("database.url")),
        (
            Some("postgres://db/tmi"),
            Some("Tmi"),
            Some("database.schema"),
        ),
        (Some("postgres://db/tmi"), Some(""), Some("database.schema")),
        (
            Some("postgres://db/tmi"),
            Some("pg_tmi"),
            Some("database.schema"),
        ),
        (Some("postgresql://db/tmi"), Some("tmi_1"), None),
    ] {
        config.database.url = url.map(str::to_owned);
        config.database.schema = schema.map(str::to_owned);
        assert_eq!(
            config.resolve().err().map(|e| e.key),
            key.map(str::to_owned),
            "{url:?} {schema:?}"
        );
    }
}

#[test]
fn rules_naming_a_provider_that_is_not_configured_are_warned_about() {
    let mut config = Config::default();
    config.groups.security_reviewers = vec![groups::MemberSpec {
        provider: Some("github".into()),
        idp_group: Some("acme/security".into()),
        ..Default::default()
    }];
    config.groups.administrators = vec![groups::MemberSpec {
        provider: Some("tmi".into()),
        provider_user_id: Some("alice".into()),
        ..Default::default()
    }];
    let warnings = config.resolve().expect("it starts").warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("\"github\""), "{warnings:?}");
}

#[test]
fn a_log_level_without_an_overall_level_is_warned_about() {
    let mut config = Config::default();
    config.log.level = "tmi_auth=debug".into();
    let warnings = config.resolve().expect("it starts").warnings;
    assert!(
        warnings.iter().any(|w| w.contains("no overall level")),
        "{warnings:?}"
    );
    config.log.level = "info, tmi_auth=debug".into();
    assert_eq!(
        config.resolve().expect("it starts").warnings,
        Vec::<String>::new()
    );
}

#[test]
fn tmi_provider_groups_a_login_would_drop_are_refused() {
    for (i, bad) in [
        "",
        " padded ",
        "a\tb",
        "rtl\u{202E}",
        "\u{200B}",
        &"g".repeat(257),
    ]
    .into_iter()
    .enumerate()
    {
        let mut config = Config::default();
        config.providers.tmi.groups = vec!["fine".into(); i];
        config.providers.tmi.groups.push(bad.to_owned());
        assert_eq!(
            config.resolve().map_err(|e| e.key).err(),
            Some(format!("providers.tmi.groups[{i}]")),
            "{bad:?}"
        );
    }
    let mut config = Config::default();
    config.providers.tmi.groups = vec!["tmi-testers".into(), "Équipe sécurité".into()];
    assert!(config.resolve().is_ok());
}
