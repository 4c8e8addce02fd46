//! Unit tests of upstream provider configuration: presets, required fields, key names.

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::ExposeSecret;

use crate::adapters::oidc::{TokenAuth, UpstreamEndpoints};
use crate::app::config::{Config, ConfigError};

fn specs(toml: &str) -> Result<Vec<super::UpstreamSpec>, ConfigError> {
    let config: Config = Figment::from(Toml::string(toml))
        .extract()
        .map_err(|e| ConfigError::new(&e.path.join("."), e.kind.to_string()))?;
    config.resolve()?;
    config.providers.upstream_specs()
}

fn error_key(toml: &str) -> String {
    specs(toml).map(|_| ()).unwrap_err().key
}

#[test]
fn three_lines_make_a_google_provider() {
    let specs = specs(
        "[providers.upstream.google]\nclient_id = \"id.apps.googleusercontent.com\"\nclient_secret = \"s3cret\"\n",
    )
    .unwrap();
    let google = &specs[0];
    assert_eq!(google.settings.info.id, "google");
    assert_eq!(google.settings.info.name, "Google");
    assert_eq!(google.settings.info.icon, "google");
    assert_eq!(google.settings.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.settings.token_auth, TokenAuth::Basic);
    assert_eq!(google.settings.client_secret.expose_secret(), "s3cret");
    match &google.endpoints {
        UpstreamEndpoints::Oidc(oidc) => {
            assert_eq!(oidc.issuer.as_str(), "https://accounts.google.com/");
        }
        UpstreamEndpoints::OAuth2(_) => panic!("google is OIDC"),
    }
    assert!(
        !format!("{:?}", specs[0]).contains("s3cret"),
        "secrets never appear in Debug output"
    );
}

#[test]
fn github_is_oauth2_with_the_email_list_and_post_auth() {
    let specs = specs(
        "[providers.upstream.github]\nclient_id = \"Iv1.abc\"\nclient_secret = \"x\"\nname = \"GitHub.com\"\n",
    )
    .unwrap();
    let gh = &specs[0];
    assert_eq!(gh.settings.info.name, "GitHub.com");
    assert_eq!(gh.settings.token_auth, TokenAuth::Post);
    assert_eq!(gh.settings.scopes, ["read:user", "user:email"]);
    match &gh.endpoints {
        UpstreamEndpoints::OAuth2(e) => {
            assert_eq!(
                e.token_url.as_str(),
                "https://github.com/login/oauth/access_token"
            );
            assert_eq!(
                e.emails_url.as_ref().map(|u| u.as_str()),
                Some("https://api.github.com/user/emails")
            );
        }
        UpstreamEndpoints::Oidc(_) => panic!("github is plain OAuth2"),
    }
}

#[test]
fn microsoft_needs_a_single_tenant_and_keycloak_an_issuer() {
    let base = "client_id = \"c\"\nclient_secret = \"s\"\n";
    assert_eq!(
        error_key(&format!("[providers.upstream.microsoft]\n{base}")),
        "providers.upstream.microsoft.tenant"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.microsoft]\n{base}tenant = \"common\"\n"
        )),
        "providers.upstream.microsoft.tenant"
    );
    let ok = specs(&format!(
        "[providers.upstream.microsoft]\n{base}tenant = \"contoso.onmicrosoft.com\"\n"
    ))
    .unwrap();
    match &ok[0].endpoints {
        UpstreamEndpoints::Oidc(oidc) => assert_eq!(
            oidc.issuer.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        ),
        UpstreamEndpoints::OAuth2(_) => panic!("microsoft is OIDC"),
    }
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.corp]\npreset = \"keycloak\"\n{base}"
        )),
        "providers.upstream.corp.issuer"
    );
}

#[test]
fn invalid_entries_name_their_key() {
    let base = "client_id = \"c\"\nclient_secret = \"s\"\n";
    // Neither an issuer nor explicit endpoints.
    assert_eq!(
        error_key(&format!("[providers.upstream.corp]\n{base}")),
        "providers.upstream.corp.authorization_url"
    );
    // Plain http away from loopback.
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.corp]\n{base}issuer = \"http://idp.example.com\"\n"
        )),
        "providers.upstream.corp.issuer"
    );
    // Both secret forms, or none.
    assert_eq!(
        error_key(
            "[providers.upstream.google]\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_secret_file = \"/x\"\n"
        ),
        "providers.upstream.google.client_secret_file"
    );
    assert_eq!(
        error_key("[providers.upstream.google]\nclient_id = \"c\"\n"),
        "providers.upstream.google.client_secret"
    );
    // Unknown fields, bad ids, bad claim paths, OIDC with explicit endpoints.
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.google]\n{base}colour = \"red\"\n"
        )),
        "providers.upstream.google.colour"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.1bad]\n{base}issuer = \"https://x.io\"\n"
        )),
        "providers.upstream.1bad"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.tmi]\n{base}issuer = \"https://x.io\"\n"
        )),
        "providers.upstream.tmi"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.corp]\n{base}issuer = \"https://x.io\"\n[providers.upstream.corp.claims]\ngroups = \"a..b\"\n"
        )),
        "providers.upstream.corp.claims.groups"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.google]\n{base}token_url = \"https://x.io/token\"\n"
        )),
        "providers.upstream.google.issuer"
    );
    // The default provider must exist.
    assert_eq!(
        error_key("[oauth]\ndefault_idp = \"nobody\"\n"),
        "oauth.default_idp"
    );
}

#[test]
fn a_secret_file_is_read_and_trimmed_and_disabled_entries_are_skipped() {
    let path = std::env::temp_dir().join(format!("tmi-auth-secret-{}", std::process::id()));
    std::fs::write(&path, "from-file\n").unwrap();
    let specs = specs(&format!(
        "[providers.upstream.gitlab]\nclient_id = \"c\"\nclient_secret_file = \"{}\"\n\
         [providers.upstream.google]\nenabled = false\nclient_id = \"c\"\n",
        path.display()
    ))
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        specs.len(),
        1,
        "the disabled entry is not validated or offered"
    );
    assert_eq!(specs[0].settings.client_secret.expose_secret(), "from-file");
    assert_eq!(
        specs[0].settings.claims.groups,
        crate::adapters::oidc::ClaimPath::parse("groups_direct")
    );
}

#[test]
fn saml_entries_are_validated_with_their_key_named() {
    let dir = std::env::temp_dir().join(format!("tmi-auth-saml-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let metadata = dir.join("idp.xml");
    std::fs::write(&metadata, "<md:EntityDescriptor/>").unwrap();
    let meta = format!("idp_metadata_file = \"{}\"\n", metadata.display());
    let config: Config = Figment::from(Toml::string(&format!(
        "[server]\npublic_url = \"https://auth.example.com\"\n[providers.saml.okta]\n{meta}name = \"Okta\"\n"
    )))
    .extract()
    .unwrap();
    config.resolve().unwrap();
    let spec = &config
        .providers
        .saml_specs("https://auth.example.com")
        .unwrap()[0];
    let info = &spec.settings.info;
    assert_eq!(
        info.entity_id,
        "https://auth.example.com/saml/okta/metadata"
    );
    assert_eq!(info.acs_url, "https://auth.example.com/saml/acs");
    assert_eq!(info.slo_url, "https://auth.example.com/saml/slo");
    assert!(!info.allow_idp_initiated, "IdP-initiated is off by default");
    assert!(spec.settings.idp_metadata_xml.is_some());
    assert_eq!(
        spec.settings.content_encryption.len(),
        6,
        "every content encryption algorithm by default"
    );
    let config: Config = Figment::from(Toml::string(&format!(
        "[server]\npublic_url = \"https://auth.example.com\"\n[providers.saml.okta]\n{meta}encryption_methods = [\"aes256-gcm\", \"aes128-gcm\"]\n"
    )))
    .extract()
    .unwrap();
    assert_eq!(
        config
            .providers
            .saml_specs("https://auth.example.com")
            .unwrap()[0]
            .settings
            .content_encryption,
        [
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm"
        ]
    );
    // Providers sharing an sp_key accept only what they all accept.
    let shared = "sp_key = \"KEY\"\nsp_certificate = \"CERT\"\n";
    let config: Config = Figment::from(Toml::string(&format!(
        "[server]\npublic_url = \"https://auth.example.com\"\n[providers.saml.a]\n{meta}{shared}encryption_methods = [\"aes256-gcm\"]\n[providers.saml.b]\n{meta}{shared}[providers.saml.c]\n{meta}"
    )))
    .extract()
    .unwrap();
    let specs = config
        .providers
        .saml_specs("https://auth.example.com")
        .unwrap();
    let methods = |id: &str| {
        specs
            .iter()
            .find(|s| s.settings.info.id == id)
            .unwrap()
            .settings
            .content_encryption
            .len()
    };
    assert_eq!((methods("a"), methods("b"), methods("c")), (1, 1, 6));
    assert_eq!(
        error_key(&format!(
            "[providers.saml.a]\n{meta}{shared}encryption_methods = [\"aes256-gcm\"]\n[providers.saml.b]\n{meta}{shared}encryption_methods = [\"aes128-cbc\"]\n"
        )),
        "providers.saml.a.encryption_methods"
    );
    for bad in ["[]", "[\"aes256-ctr\"]", "[\"aes256-gcm\", \"aes256-gcm\"]"] {
        assert_eq!(
            error_key(&format!(
                "[providers.saml.okta]\n{meta}encryption_methods = {bad}\n"
            )),
            "providers.saml.okta.encryption_methods",
            "{bad}"
        );
    }

    assert_eq!(
        error_key("[providers.saml.okta]\nname = \"Okta\"\n"),
        "providers.saml.okta.idp_metadata"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.saml.okta]\n{meta}idp_metadata_url = \"https://idp.example.com/md\"\n"
        )),
        "providers.saml.okta.idp_metadata_url"
    );
    assert_eq!(
        error_key("[providers.saml.okta]\nidp_metadata_url = \"http://idp.example.com/md\"\n"),
        "providers.saml.okta.idp_metadata_url"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.saml.okta]\n{meta}sign_authn_requests = true\n"
        )),
        "providers.saml.okta.sign_authn_requests"
    );
    assert_eq!(
        error_key(&format!("[providers.saml.okta]\n{meta}sp_key = \"x\"\n")),
        "providers.saml.okta.sp_certificate"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.saml.okta]\n{meta}clock_skew_secs = 3600\n"
        )),
        "providers.saml.okta.clock_skew_secs"
    );
    assert_eq!(
        error_key(&format!(
            "[providers.upstream.corp]\nclient_id = \"c\"\nclient_secret = \"s\"\nissuer = \"https://x.io\"\n[providers.saml.corp]\n{meta}"
        )),
        "providers.saml.corp"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn group_rules_naming_configured_providers_draw_no_warning() {
    let toml = "[providers.upstream.google]\nclient_id = \"id.apps.googleusercontent.com\"\n\
                client_secret = \"s3cret\"\n\
                [[groups.security_reviewers]]\nprovider = \"google\"\nidp_group = \"sec\"\n\
                [[groups.administrators]]\nprovider = \"gitlab\"\nprovider_user_id = \"7\"\n";
    let config: Config = Figment::from(Toml::string(toml)).extract().unwrap();
    let warnings = config.resolve().unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("\"gitlab\""), "{warnings:?}");
}
