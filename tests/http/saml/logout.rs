//! Single logout over both bindings: signed requests end the sessions, others fail.

use reqwest::StatusCode;

use super::harness::*;
use super::post_acs;
use super::saml_app;
use crate::support::*;
use crate::upstream::harness::reserve_port;

/// An IdP-initiated login of `name`; its tokens.
async fn idp_login(app: &TestApp, pki: &Pki, name: &str) -> Tokens {
    let signed = Assertion::new(&app.public, None, name).signed(pki, "idp");
    let resp = post_acs(app, &signed, None).await;
    tokens_of(&json_checked(resp, "post", "/saml/acs").await)
}

/// A LogoutRequest over the HTTP-POST binding.
async fn post_slo(app: &TestApp, xml: &str) -> reqwest::Response {
    app.client
        .post(app.url("/saml/slo"))
        .form(&[("SAMLRequest", b64(xml))])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_logout_requests_end_the_sessions_and_unsigned_ones_fail() {
    let Some(pki) = Pki::generate("logout") else {
        return;
    };
    let app = saml_app(&pki, "allow_idp_initiated = true").await;

    // HTTP-POST binding: unsigned → 400; signed by the IdP → 200 and the session is over.
    let dave = idp_login(&app, &pki, "dave").await;
    let (_, unsigned) = logout_request(&app.public, "dave", false);
    let resp = post_slo(&app, &unsigned).await;
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    let (_, rogue) = logout_request(&app.public, "dave", true);
    let rogue = pki.sign(&rogue, "LogoutRequest", "rogue");
    let resp = post_slo(&app, &rogue).await;
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    assert_eq!(
        app.refresh(&dave.refresh_token).await.status(),
        StatusCode::OK,
        "still logged in"
    );
    let dave = idp_login(&app, &pki, "dave").await;
    let (_, signed) = logout_request(&app.public, "dave", true);
    let signed = pki.sign(&signed, "LogoutRequest", "idp");
    let resp = post_slo(&app, &signed).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        json_checked(resp, "post", "/saml/slo").await["message"],
        "Logout successful"
    );
    assert_eq!(
        app.refresh(&dave.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "refresh family revoked"
    );
    assert_eq!(
        app.get_bearer("/me", &dave.access_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "access token revoked"
    );
    // A LogoutRequest acts once: replayed while still fresh, it would end sessions opened
    // after the real logout.
    let dave = idp_login(&app, &pki, "dave").await;
    let resp = post_slo(&app, &signed).await;
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    // Past its NotOnOrAfter a request is void (SAML core §3.7.1).
    let (_, expired) = logout_request(&app.public, "dave", true);
    let expired = expired.replacen(
        " Version=\"2.0\"",
        &format!(
            " Version=\"2.0\" NotOnOrAfter=\"{}\"",
            instant(chrono::Duration::minutes(-10))
        ),
        1,
    );
    let expired = pki.sign(&expired, "LogoutRequest", "idp");
    let resp = post_slo(&app, &expired).await;
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    assert_eq!(
        app.refresh(&dave.refresh_token).await.status(),
        StatusCode::OK,
        "the session opened after the logout lives on"
    );

    // HTTP-Redirect binding: the query signature is checked as received.
    let erin = idp_login(&app, &pki, "erin").await;
    let (request_id, xml) = logout_request(&app.public, "erin", false);
    let encoded = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let query = format!(
        "SAMLRequest={}&RelayState=r1&SigAlg={}",
        encoded(&deflate_b64(&xml)),
        encoded("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let unsigned = app
        .client
        .get(format!("{}?{query}", app.url("/saml/slo")))
        .send()
        .await
        .unwrap();
    expect_error(unsigned, "get", "/saml/slo", 400, "invalid_request").await;
    let forged = format!(
        "{query}&Signature={}",
        encoded(&pki.sign_query(&query, "rogue"))
    );
    let forged = app
        .client
        .get(format!("{}?{forged}", app.url("/saml/slo")))
        .send()
        .await
        .unwrap();
    expect_error(forged, "get", "/saml/slo", 400, "invalid_request").await;
    let signed = format!(
        "{query}&Signature={}",
        encoded(&pki.sign_query(&query, "idp"))
    );
    let resp = app
        .client
        .get(format!("{}?{signed}", app.url("/saml/slo")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "back to the IdP with a LogoutResponse"
    );
    let back = location(&resp);
    assert!(back.starts_with(IDP_SLO));
    let answer = inflate_b64(&query_of(&back)["SAMLResponse"]);
    assert!(
        answer.contains(&format!("InResponseTo=\"{request_id}\"")),
        "{answer}"
    );
    assert!(answer.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));
    assert_eq!(
        app.refresh(&erin.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Lower-case percent escapes (AD FS writes them): the signature covers the octets as sent.
    let frank = idp_login(&app, &pki, "frank").await;
    let (_, xml) = logout_request(&app.public, "frank", false);
    let lower = |v: String| {
        let mut out = String::new();
        let mut rest = v.as_str();
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            out.push_str(&rest[at..at + 3].to_ascii_lowercase());
            rest = &rest[at + 3..];
        }
        out.push_str(rest);
        out
    };
    let query = lower(format!(
        "SAMLRequest={}&SigAlg={}",
        encoded(&deflate_b64(&xml)),
        encoded("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    ));
    assert!(query.contains("%3a%2f%2f"), "{query}");
    let signed = format!(
        "{query}&Signature={}",
        lower(encoded(&pki.sign_query(&query, "idp")))
    );
    let resp = app
        .client
        .get(format!("{}?{signed}", app.url("/saml/slo")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        app.refresh(&frank.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_by_name_id_reaches_users_whose_subject_comes_from_an_attribute() {
    let Some(pki) = Pki::generate("logout-mapped") else {
        return;
    };
    let app = saml_app(
        &pki,
        "allow_idp_initiated = true\nattributes = { subject = \"mail\" }",
    )
    .await;
    let frank = idp_login(&app, &pki, "frank").await;
    let grace = idp_login(&app, &pki, "grace").await;
    // The account is keyed by the mail attribute, not by the NameID.
    let me = json_checked(
        app.get_bearer("/me", &frank.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider_id"], "frank@example.test");

    // The IdP logs out the NameID "frank": frank's sessions end, grace's do not.
    let (_, request) = logout_request(&app.public, "frank", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    let resp = post_slo(&app, &request).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&frank.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "frank's family is revoked"
    );
    assert_eq!(
        app.get_bearer("/me", &frank.access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = app.refresh(&grace.refresh_token).await;
    assert_eq!(resp.status(), StatusCode::OK, "grace is still logged in");
    let grace = tokens_of(&json_checked(resp, "post", "/oauth2/refresh").await);

    // frank signs in again, and the IdP's next logout of "frank" ends that session too.
    let again = idp_login(&app, &pki, "frank").await;
    let (_, request) = logout_request(&app.public, "frank", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    assert_eq!(post_slo(&app, &request).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&again.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A NameID no login recorded logs nobody out, even one equal to a subject.
    let (_, request) = logout_request(&app.public, "grace@example.test", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    assert_eq!(post_slo(&app, &request).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&grace.refresh_token).await.status(),
        StatusCode::OK,
        "the NameID is not read as a subject"
    );

    // A NameID the IdP gave two users (not unique per user): its logout ends both.
    let mut logins = Vec::new();
    for mail in ["henry@example.test", "iris@example.test"] {
        let mut assertion = Assertion::new(&app.public, None, "shared-name");
        assertion.email = mail.to_owned();
        let resp = post_acs(&app, &assertion.signed(&pki, "idp"), None).await;
        logins.push(tokens_of(&json_checked(resp, "post", "/saml/acs").await));
    }
    let (_, request) = logout_request(&app.public, "shared-name", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    assert_eq!(post_slo(&app, &request).await.status(), StatusCode::OK);
    for tokens in &logins {
        assert_eq!(
            app.refresh(&tokens.refresh_token).await.status(),
            StatusCode::UNAUTHORIZED,
            "every user recorded for the NameID is logged out"
        );
    }
}

#[tokio::test]
async fn records_kept_before_the_list_format_still_log_out() {
    use redis::AsyncCommands;
    let Some(pki) = Pki::generate("logout-legacy") else {
        return;
    };
    let Ok(redis_url) = std::env::var("TMI_AUTH_TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "TMI_AUTH_TEST_REDIS_URL must be set in CI"
        );
        eprintln!("!!! SKIPPING legacy NameID scenario: TMI_AUTH_TEST_REDIS_URL is not set !!!");
        return;
    };
    // Flow records in Redis, where the previous version left its single-value records.
    let port = reserve_port();
    let dir = pki.path("legacy");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\n{}",
            pki.provider_toml("allow_idp_initiated = true\nattributes = { subject = \"mail\" }")
        ),
    )
    .unwrap();
    let mut config = tmi_auth::app::Config::load(Some(&file)).unwrap();
    let prefix = format!("tmi-auth-saml-legacy:{}:", uuid::Uuid::new_v4().simple());
    config.mode = tmi_auth::app::Mode::Production;
    config.cache = tmi_auth::app::config::CacheKind::Redis;
    config.redis.url = Some(redis_url.clone());
    config.redis.key_prefix = prefix.clone();
    config.oauth.allow_callback_token_response = Some(true);
    let app = spawn_with(config).await;
    let frank = idp_login(&app, &pki, "frank").await;

    // Turn the record this login made into the old format: one JSON array under the old key.
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis
        .keys(format!("{prefix}flow:saml-nameid-list:*"))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let subjects: Vec<String> = redis.lrange(&keys[0], 0, -1).await.unwrap();
    assert_eq!(subjects, ["frank@example.test"]);
    let old_key = keys[0].replace(":saml-nameid-list:", ":saml-nameid:");
    let () = redis
        .set_ex(&old_key, serde_json::to_string(&subjects).unwrap(), 600)
        .await
        .unwrap();
    let () = redis.del(&keys[0]).await.unwrap();

    let (_, request) = logout_request(&app.public, "frank", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    assert_eq!(post_slo(&app, &request).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&frank.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old record still names frank"
    );
    let leftovers: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
    if !leftovers.is_empty() {
        let () = redis.del(leftovers).await.unwrap();
    }
}

/// A logout that fails half-way can be retried by the IdP with the same request: the failed
/// attempt does not count as acted on, and the sessions' access tokens are listed before their
/// families are marked revoked, so the retry finds the same sessions (marked first, it would
/// find none and the access tokens would stay valid). Here Redis refuses the revocation list's
/// writes: an ACL lets tmi-auth write only its other keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_that_fails_half_way_can_be_retried() {
    let Some(pki) = Pki::generate("logout-retry") else {
        return;
    };
    let Some(redis_port) = crate::outage::redis_port() else {
        return;
    };
    let _redis = crate::outage::redis_on(redis_port).await;
    let acl = |rules: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis_port.to_string(), "ACL", "SETUSER", "tmi"])
            .args(rules)
            .output()
            .expect("redis-cli runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    };
    acl(&["on", ">tmi-test-password", "~*", "&*", "+@all"]);

    let port = reserve_port();
    let dir = std::env::temp_dir().join(format!("tmi-auth-slo-retry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "mode = \"production\"\ncache = \"redis\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
             public_url = \"http://127.0.0.1:{port}\"\n\n[redis]\n\
             url = \"redis://tmi:tmi-test-password@127.0.0.1:{redis_port}\"\n\n\
             [rate_limits]\nenabled = false\n\n[oauth]\n\
             client_callback_allow_list = [\"http://localhost:*\"]\n\
             allow_callback_token_response = true\n\n{}",
            pki.provider_toml("allow_idp_initiated = true")
        ),
    )
    .unwrap();
    let app = spawn_with(tmi_auth::app::Config::load(Some(&file)).unwrap()).await;
    // Redis expires revocation entries by the wall clock.
    app.clock.set(chrono::Utc::now());

    let dave = idp_login(&app, &pki, "dave").await;
    assert_eq!(
        app.get_bearer("/me", &dave.access_token).await.status(),
        StatusCode::OK
    );
    // Reads of every key, writes of all but the revocation list's.
    acl(&["resetkeys", "%R~*", "~*flow:*", "~*fail:*", "~*rate:*"]);
    let (_, request) = logout_request(&app.public, "dave", true);
    let request = pki.sign(&request, "LogoutRequest", "idp");
    let resp = post_slo(&app, &request).await;
    assert!(
        resp.status().is_server_error(),
        "the logout could not be completed: {}",
        resp.status()
    );
    acl(&["resetkeys", "~*"]);
    // The IdP sends the same request again: it was not acted on, so it is no replay.
    let resp = post_slo(&app, &request).await;
    assert_eq!(resp.status(), StatusCode::OK, "the IdP's retry");
    let resp = post_slo(&app, &request).await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "once acted on, it is a replay"
    );
    assert_eq!(
        app.get_bearer("/me", &dave.access_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "the retry ended the session that the failed attempt did not"
    );
    assert_eq!(
        app.refresh(&dave.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
