//! Upstream identity providers: a full login through panva's `oidc-provider` (tampered ID
//! tokens included), a GitHub-style OAuth2 provider with claim mapping and the verified
//! e-mail list, upstream failures (502), and the e-mail linking rules (409 or link).

pub mod harness;
mod linking;

use serde_json::Value;

use crate::support::*;
use harness::*;

/// The claims of one of our access tokens (its signature is checked elsewhere).
pub(crate) fn claims_of(tokens: &Tokens) -> Value {
    use base64::Engine as _;
    let payload = tokens.access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The entry for `id` in `GET /oauth2/providers` (validated against the contract).
async fn listed_provider(app: &TestApp, id: &str) -> Value {
    let providers = json_checked(
        app.get("/oauth2/providers").await,
        "get",
        "/oauth2/providers",
    )
    .await;
    providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is listed"))
}

pub(crate) async fn userinfo(app: &TestApp, tokens: &Tokens) -> Value {
    json_checked(
        app.get_bearer("/oauth2/userinfo", &tokens.access_token)
            .await,
        "get",
        "/oauth2/userinfo",
    )
    .await
}

#[tokio::test]
async fn oidc_login_through_a_real_issuer_reaches_me() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let app = spawn_on(port, &oidc_entry(&op.issuer)).await;

    let listed = listed_provider(&app, "op").await;
    assert_eq!(listed["name"], "Test OP");
    assert_eq!(listed["icon"], "openid");
    assert_eq!(listed["client_id"], CLIENT_ID);

    let login = browser_login(&app, "op", "bob").await;
    let upstream = query_of(&login.upstream_url);
    assert!(login.upstream_url.starts_with(&op.issuer));
    assert_eq!(upstream["response_type"], "code");
    assert_eq!(upstream["client_id"], CLIENT_ID);
    assert_eq!(
        upstream["redirect_uri"],
        format!("http://127.0.0.1:{port}/oauth2/callback")
    );
    assert_eq!(upstream["code_challenge_method"], "S256");
    assert_ne!(
        upstream["code_challenge"], CHALLENGE,
        "our own PKCE upstream"
    );
    assert_ne!(
        upstream["state"], "client-state-9",
        "our own state upstream"
    );
    assert!(upstream["nonce"].len() >= 22, "a nonce goes upstream");
    assert_eq!(upstream["login_hint"], "bob");
    let scopes: Vec<&str> = upstream["scope"].split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scope} requested");
    }

    let tokens = tokens_from(&app, login.callback).await;
    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider"], "op");
    assert_eq!(me["provider_id"], "bob");
    assert_eq!(me["email"], "bob@example.test");
    assert_eq!(me["display_name"], "Bob Example");
    let info = userinfo(&app, &tokens).await;
    assert_eq!(info["idp"], "op");
    assert_eq!(claims_of(&tokens)["email_verified"], true);
    assert_eq!(info["groups"], serde_json::json!(["oidc-all", "oidc-devs"]));

    // The same subject logs into the same account again.
    let again = tokens_from(&app, browser_login(&app, "op", "bob").await.callback).await;
    assert_eq!(userinfo(&app, &again).await["sub"], info["sub"]);
    // An unverified e-mail is recorded as unverified.
    let carol = tokens_from(
        &app,
        browser_login(&app, "op", "unverified-carol").await.callback,
    )
    .await;
    assert_eq!(claims_of(&carol)["email_verified"], false);
}

#[tokio::test]
async fn tampered_id_tokens_never_log_anyone_in() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let app = spawn_on(port, &oidc_entry(&op.issuer)).await;
    for (mode, status, code) in [
        ("wrong_nonce", 400, "invalid_grant"),
        ("wrong_aud", 502, "upstream_error"),
        ("wrong_azp", 502, "upstream_error"),
        ("expired", 502, "upstream_error"),
        ("wrong_iss", 502, "upstream_error"),
        ("bad_signature", 502, "upstream_error"),
        ("no_id_token", 502, "upstream_error"),
        // MACed with our client secret: discovery lists HS256, but it is not allowed.
        ("hs256", 502, "upstream_error"),
    ] {
        op.tamper_next(mode).await;
        let login = browser_login(&app, "op", "mallory").await;
        assert_eq!(
            login.callback.status().as_u16(),
            status,
            "{mode} is refused with {status}"
        );
        let body = if status == 400 {
            expect_error(login.callback, "get", "/oauth2/callback", 400, code).await
        } else {
            expect_error_shape(login.callback, "/oauth2/callback", status, code).await
        };
        let description = body["error_description"].as_str().unwrap();
        assert!(
            !description.contains("nonce") && !description.contains("aud"),
            "details stay in the log: {description}"
        );
    }
    // The provider is fine again and so is the login.
    let tokens = tokens_from(&app, browser_login(&app, "op", "mallory").await.callback).await;
    assert_eq!(
        userinfo(&app, &tokens).await["email"],
        "mallory@example.test"
    );
}

/// Our client secret refused by the provider is our configuration's fault, not the user's: 502,
/// whether the provider is an OIDC issuer (401 `invalid_client`) or GitHub (200
/// `incorrect_client_credentials`).
#[tokio::test]
async fn a_client_secret_the_provider_refuses_is_502() {
    let gh = FakeGithub::start(&[("octo", octo())]).await;
    let entry = gh
        .entry()
        .replace("client_secret = \"gh-secret\"", "client_secret = \"stale\"");
    let app = spawn_on(reserve_port(), &entry).await;
    let login = browser_login(&app, "gh", "octo").await;
    expect_error_shape(login.callback, "/oauth2/callback", 502, "upstream_error").await;

    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let entry = oidc_entry(&op.issuer).replace(CLIENT_SECRET, "stale-secret-0123456789");
    let app = spawn_on(port, &entry).await;
    let login = browser_login(&app, "op", "mallory").await;
    expect_error_shape(login.callback, "/oauth2/callback", 502, "upstream_error").await;
}

/// ID tokens MACed with our client secret log in only where the operator allowed them.
#[tokio::test]
async fn hmac_id_tokens_need_the_providers_opt_in() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("HS256")),
        "the issuer advertises HS256, so only our pin refuses it"
    );
    let entry = format!("{}allow_hmac_id_tokens = true\n", oidc_entry(&op.issuer));
    let app = spawn_on(port, &entry).await;
    op.tamper_next("hs256").await;
    let tokens = tokens_from(&app, browser_login(&app, "op", "mallory").await.callback).await;
    assert_eq!(
        userinfo(&app, &tokens).await["email"],
        "mallory@example.test"
    );
}

#[tokio::test]
async fn a_redirect_naming_another_issuer_is_refused() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let app = spawn_on(port, &oidc_entry(&op.issuer)).await;
    let (_, callback) = browser_until_callback(&app, "op", "bob").await;
    assert_eq!(
        query_of(&callback)["iss"],
        op.issuer,
        "the issuer sends iss (RFC 9207)"
    );
    let mut forged = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "http://127.0.0.1:9/evil".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = app.client.get(forged.as_str()).send().await.unwrap();
    expect_error(resp, "get", "/oauth2/callback", 400, "invalid_grant").await;

    // The issuer advertises authorization_response_iss_parameter_supported: a response
    // without `iss` cannot be from it, or had it stripped (RFC 9207 §2.4).
    let (_, callback) = browser_until_callback(&app, "op", "bob").await;
    let mut stripped = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = stripped
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = app.client.get(stripped.as_str()).send().await.unwrap();
    expect_error(resp, "get", "/oauth2/callback", 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_new_signing_key_is_fetched_once_and_unknown_keys_are_refused() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let app = spawn_on(port, &oidc_entry(&op.issuer)).await;
    tokens_from(&app, browser_login(&app, "op", "bob").await.callback).await;
    // The issuer rotates to a key we have not seen: one JWKS refresh, and the login works.
    op.tamper_next("rotated_key").await;
    let tokens = tokens_from(&app, browser_login(&app, "op", "bob").await.callback).await;
    assert_eq!(claims_of(&tokens)["email"], "bob@example.test");
    // A key id nobody publishes: no second refresh within the interval, and no login.
    op.tamper_next("unknown_kid").await;
    let login = browser_login(&app, "op", "bob").await;
    expect_error_shape(login.callback, "/oauth2/callback", 502, "upstream_error").await;
}

#[tokio::test]
async fn string_booleans_and_rfc3339_dates_in_an_id_token_still_log_in() {
    let port = reserve_port();
    let Some(op) = OidcIssuer::start(&format!("http://127.0.0.1:{port}/oauth2/callback")) else {
        return;
    };
    let app = spawn_on(port, &oidc_entry(&op.issuer)).await;
    // `"email_verified": "true"` as AWS Cognito sends it, and `updated_at` as a date string.
    for (account, verified) in [("bob", true), ("unverified-dan", false)] {
        op.tamper_next("string_claims").await;
        let tokens = tokens_from(&app, browser_login(&app, "op", account).await.callback).await;
        assert_eq!(claims_of(&tokens)["email_verified"], verified, "{account}");
    }
}

#[tokio::test]
async fn an_unreachable_issuer_gives_502_and_the_service_still_starts() {
    let dead = reserve_port();
    let app = spawn_on(
        reserve_port(),
        &format!(
            "[providers]\ndiscovery_attempts = 1\nhttp_timeout_secs = 2\n\n{}",
            oidc_entry(&format!("http://127.0.0.1:{dead}"))
        ),
    )
    .await;
    let resp = app
        .authorize(&[
            ("idp", "op"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
        ])
        .await;
    let body = expect_error_shape(resp, "/oauth2/authorize", 502, "upstream_error").await;
    assert!(
        !body.to_string().contains(&dead.to_string()),
        "no internals: {body}"
    );
    // Other providers keep working.
    app.login("alice").await;
}

/// An issuer that accepts connections and never answers holds only itself back: start-up
/// waits a few seconds for its discovery, not attempts × the HTTP timeout (here 3 × 60 s),
/// and the rest of the service works meanwhile.
#[tokio::test]
async fn a_silent_issuer_does_not_hold_up_start_up() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        spawn_on(
            reserve_port(),
            &format!(
                "[providers]\ndiscovery_attempts = 3\nhttp_timeout_secs = 60\n\n{}",
                oidc_entry(&issuer)
            ),
        ),
    )
    .await;
    let app = started.expect("the service starts while the issuer stays silent");
    app.login("alice").await;
    held.abort();
}

fn octo() -> FakeAccount {
    FakeAccount {
        id: 4242,
        name: Some("Octo Cat"),
        public_email: Some("octo-public@example.test"),
        emails: vec![
            ("octo-public@example.test", false, false),
            ("octo@example.test", true, true),
        ],
        quirk: Quirk::None,
    }
}

#[tokio::test]
async fn github_style_login_maps_claims_and_the_verified_primary_email() {
    let gh = FakeGithub::start(&[
        ("octo", octo()),
        (
            "nomail",
            FakeAccount {
                id: 7,
                name: None,
                public_email: None,
                emails: vec![("hidden@example.test", true, false)],
                quirk: Quirk::None,
            },
        ),
    ])
    .await;
    let app = spawn_on(reserve_port(), &gh.entry()).await;
    let listed = listed_provider(&app, "gh").await;
    assert_eq!(listed["name"], "GitHub");
    assert_eq!(listed["icon"], "github");

    let login = browser_login(&app, "gh", "octo").await;
    let upstream = query_of(&login.upstream_url);
    assert_eq!(upstream["scope"], "read:user user:email");
    assert_eq!(upstream["code_challenge_method"], "S256");
    let tokens = tokens_from(&app, login.callback).await;
    assert_eq!(gh.token_requests(), 1, "the code was exchanged server-side");
    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider"], "gh");
    assert_eq!(me["provider_id"], "4242", "numeric ids become strings");
    assert_eq!(
        me["email"], "octo@example.test",
        "the verified primary wins"
    );
    assert_eq!(me["display_name"], "Octo Cat");
    assert_eq!(claims_of(&tokens)["email_verified"], true);

    // No public e-mail and an unverified primary: a placeholder address, never verified.
    let tokens = tokens_from(&app, browser_login(&app, "gh", "nomail").await.callback).await;
    let info = userinfo(&app, &tokens).await;
    assert_eq!(claims_of(&tokens)["email_verified"], false);
    assert_ne!(info["email"], "hidden@example.test");
}

#[tokio::test]
async fn a_code_the_provider_rejects_is_invalid_grant_and_an_unreachable_one_is_502() {
    let gh = FakeGithub::start(&[("octo", octo())]).await;
    let app = spawn_on(reserve_port(), &gh.entry()).await;
    // Skip the provider: present our callback a code it never issued.
    let resp = app
        .authorize(&[
            ("idp", "gh"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", CALLBACK),
        ])
        .await;
    let state = query_of(&location(&resp))["state"].clone();
    let resp = app
        .client
        .get(app.url("/oauth2/callback"))
        .query(&[("code", "forged"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(resp, "get", "/oauth2/callback", 400, "invalid_grant").await;

    let dead = reserve_port();
    let entry = gh.entry().replace(
        &format!("token_url = \"{}/login/oauth/access_token\"", gh.base),
        &format!("token_url = \"http://127.0.0.1:{dead}/token\""),
    );
    let app = spawn_on(reserve_port(), &entry).await;
    let login = browser_login(&app, "gh", "octo").await;
    let body = expect_error_shape(login.callback, "/oauth2/callback", 502, "upstream_error").await;
    assert_eq!(
        body["error_description"],
        "the identity provider could not complete the login"
    );
}

#[tokio::test]
async fn oversized_or_redirected_provider_answers_are_upstream_errors() {
    let gh = FakeGithub::start(&[
        (
            "huge",
            FakeAccount {
                quirk: Quirk::Huge,
                ..octo()
            },
        ),
        (
            "moved",
            FakeAccount {
                quirk: Quirk::Redirect,
                ..octo()
            },
        ),
    ])
    .await;
    let app = spawn_on(reserve_port(), &gh.entry()).await;
    for login in ["huge", "moved"] {
        let login = browser_login(&app, "gh", login).await;
        expect_error_shape(login.callback, "/oauth2/callback", 502, "upstream_error").await;
    }
}
