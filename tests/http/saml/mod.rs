//! SAML 2.0: metadata, SP-initiated login ending in our code, the ACS against responses
//! signed by xmlsec1 (valid, wrong signer, tampered, wrapped, expired, wrong audience or
//! destination, replayed, mismatched InResponseTo, DOCTYPE), IdP-initiated logins, and single
//! logout over both bindings.

mod harness;

use base64::Engine as _;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::*;
use crate::upstream::harness::{reserve_port, spawn_on};
use harness::*;

/// A started login: its RelayState and the AuthnRequest ID.
struct Started {
    relay_state: String,
    request_id: String,
}

async fn start_login(app: &TestApp) -> Started {
    let resp = app
        .client
        .get(app.url("/saml/idp/login"))
        .query(&[
            ("client_callback", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "saml-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = location(&resp);
    assert!(location.starts_with(IDP_SSO), "{location}");
    let query = query_of(&location);
    let relay_state = query["RelayState"].clone();
    assert!(relay_state.len() <= 80, "RelayState is at most 80 bytes");
    let request = inflate_b64(&query["SAMLRequest"]);
    assert!(request.contains("AuthnRequest"), "{request}");
    assert!(
        !request.contains("saml-state"),
        "the client's state stays with us"
    );
    Started {
        relay_state,
        request_id: attribute(&request, "ID"),
    }
}

async fn post_acs(app: &TestApp, response_xml: &str, relay_state: Option<&str>) -> Response {
    let mut form = vec![("SAMLResponse", b64(response_xml))];
    if let Some(relay) = relay_state {
        form.push(("RelayState", relay.to_owned()));
    }
    app.client
        .post(app.url("/saml/acs"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn expect_acs_error(resp: Response, status: u16, what: &str) {
    assert_eq!(resp.status().as_u16(), status, "{what}");
    let body = json_checked(resp, "post", "/saml/acs").await;
    let description = body["error_description"].as_str().unwrap();
    assert!(
        !description.contains("Assertion") && !description.contains('<'),
        "generic error for {what}: {description}"
    );
}

async fn saml_app(pki: &Pki, extra: &str) -> TestApp {
    let port = reserve_port();
    spawn_on(port, &pki.provider_toml(extra)).await
}

#[tokio::test]
async fn sp_initiated_login_ends_with_our_code_and_tokens() {
    let Some(pki) = Pki::generate("happy") else {
        return;
    };
    let app = saml_app(&pki, "").await;

    let list = json_checked(app.get("/saml/providers").await, "get", "/saml/providers").await;
    assert_eq!(list["providers"][0]["id"], "idp");
    assert_eq!(list["providers"][0]["initialized"], true);
    assert_eq!(
        list["providers"][0]["acs_url"],
        format!("{}/saml/acs", app.public)
    );

    for sign_response in [false, true] {
        let started = start_login(&app).await;
        let mut assertion = Assertion::new(&app.public, Some(&started.request_id), "alice");
        assertion.sign_response = sign_response;
        let resp = post_acs(
            &app,
            &assertion.signed(&pki, "idp"),
            Some(&started.relay_state),
        )
        .await;
        assert_eq!(
            resp.status(),
            StatusCode::FOUND,
            "signed response: {sign_response}"
        );
        let back = location(&resp);
        let query = query_of(&back);
        assert!(back.starts_with(CALLBACK));
        assert_eq!(query["state"], "saml-state");
        let token = app.redeem(&query["code"], VERIFIER).await;
        assert_eq!(token.status(), StatusCode::OK);
        let tokens = tokens_of(&json_checked(token, "post", "/oauth2/token").await);
        let me = json_checked(
            app.get_bearer("/me", &tokens.access_token).await,
            "get",
            "/me",
        )
        .await;
        assert_eq!(me["provider"], "idp");
        assert_eq!(me["provider_id"], "alice");
        assert_eq!(me["email"], "alice@example.test");
        assert_eq!(me["display_name"], "SAML alice");
        let info: Value = app
            .get_bearer("/oauth2/userinfo", &tokens.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(info["groups"], serde_json::json!(["saml-staff"]));
    }
}

#[tokio::test]
async fn encrypted_assertions_are_decrypted_with_our_key() {
    let Some(pki) = Pki::generate("encrypted") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "frank");
    let response = assertion.signed_encrypted(&pki, "idp");
    assert!(response.contains("EncryptedAssertion") && !response.contains(">frank<"));
    let resp = post_acs(&app, &response, Some(&started.relay_state)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let query = query_of(&location(&resp));
    let token = app.redeem(&query["code"], VERIFIER).await;
    let tokens = tokens_of(&json_checked(token, "post", "/oauth2/token").await);
    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider_id"], "frank");
}

#[tokio::test]
async fn metadata_describes_our_service_provider() {
    let Some(pki) = Pki::generate("metadata") else {
        return;
    };
    let app = saml_app(&pki, "sign_authn_requests = true").await;
    let resp = app.get("/saml/idp/metadata").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/samlmetadata+xml"
    );
    let xml = resp.text().await.unwrap();
    assert!(xml.contains(&format!("entityID=\"{}/saml/idp/metadata\"", app.public)));
    assert!(xml.contains(&format!("Location=\"{}/saml/acs\"", app.public)));
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"));
    assert!(
        xml.contains(&pki.cert_b64("sp")),
        "our signing certificate is published"
    );
    assert!(xml.contains("AuthnRequestsSigned=\"true\""));
    assert!(
        xml.contains("xmlenc#aes128-cbc") && !xml.contains("aes256"),
        "only decryptable algorithms"
    );
    expect_error(
        app.get("/saml/nope/metadata").await,
        "get",
        "/saml/{provider}/metadata",
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/saml/1bad/metadata").await,
        "get",
        "/saml/{provider}/metadata",
        400,
        "invalid_request",
    )
    .await;
    // Signed AuthnRequests carry a verifiable query signature.
    let resp = app
        .client
        .get(app.url("/saml/idp/login"))
        .query(&[
            ("client_callback", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let query = query_of(&location(&resp));
    assert_eq!(
        query["SigAlg"],
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    );
    assert!(!query["Signature"].is_empty());
    // A client callback without PKCE is refused, as is an unknown provider.
    let resp = app
        .client
        .get(app.url("/saml/idp/login"))
        .query(&[("client_callback", CALLBACK)])
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        "get",
        "/saml/{provider}/login",
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        app.get("/saml/nope/login").await,
        "get",
        "/saml/{provider}/login",
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn forged_tampered_wrapped_and_stale_responses_are_refused() {
    let Some(pki) = Pki::generate("attacks") else {
        return;
    };
    let app = saml_app(&pki, "").await;

    // Signed by a certificate of the same CA that is not in the IdP metadata.
    let s = start_login(&app).await;
    let a = Assertion::new(&app.public, Some(&s.request_id), "mallory");
    expect_acs_error(
        post_acs(&app, &a.signed(&pki, "rogue"), Some(&s.relay_state)).await,
        401,
        "wrong signer",
    )
    .await;

    // An attribute changed after signing.
    let s = start_login(&app).await;
    let a = Assertion::new(&app.public, Some(&s.request_id), "bob");
    let tampered = a.signed(&pki, "idp").replace(">bob<", ">alice<");
    expect_acs_error(
        post_acs(&app, &tampered, Some(&s.relay_state)).await,
        401,
        "tampered NameID",
    )
    .await;

    // Wrapping: the signed assertion moved under an extension, a forged one in its place.
    let s = start_login(&app).await;
    let good = Assertion::new(&app.public, Some(&s.request_id), "bob");
    let signed = strip_declaration(&pki.sign(&good.assertion_xml(), "Assertion", "idp")).to_owned();
    let mut evil = good.clone();
    evil.name_id = "admin".into();
    let forged = evil
        .assertion_xml()
        .replace(&harness::signature_template(&evil.id), "");
    let wrapped = good.response_xml(&format!(
        "<samlp:Extensions>{signed}</samlp:Extensions>{forged}"
    ));
    expect_acs_error(
        post_acs(&app, &wrapped, Some(&s.relay_state)).await,
        400,
        "moved signed assertion",
    )
    .await;

    // Wrapping: a second, unsigned assertion next to the signed one.
    let s = start_login(&app).await;
    let good = Assertion::new(&app.public, Some(&s.request_id), "bob");
    let signed = strip_declaration(&pki.sign(&good.assertion_xml(), "Assertion", "idp")).to_owned();
    let mut extra = good.clone();
    extra.id = "_second".into();
    extra.name_id = "admin".into();
    let second = extra
        .assertion_xml()
        .replace(&harness::signature_template("_second"), "");
    let doubled = good.response_xml(&format!("{signed}{second}"));
    expect_acs_error(
        post_acs(&app, &doubled, Some(&s.relay_state)).await,
        400,
        "second unsigned assertion",
    )
    .await;

    // Comment injection in the NameID (the signature survives exclusive c14n).
    let s = start_login(&app).await;
    let a = Assertion::new(&app.public, Some(&s.request_id), "alice.example.test.evil");
    let injected = a.signed(&pki, "idp").replace(
        ">alice.example.test.evil<",
        ">alice<!---->.example.test.evil<",
    );
    expect_acs_error(
        post_acs(&app, &injected, Some(&s.relay_state)).await,
        400,
        "comment in NameID",
    )
    .await;

    // Expired, wrong audience, wrong destination (signed response), DOCTYPE.
    type Change = Box<dyn Fn(&mut Assertion)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "expired",
            Box::new(|a: &mut Assertion| a.not_on_or_after = chrono::Duration::minutes(-10)),
        ),
        (
            "wrong audience",
            Box::new(|a: &mut Assertion| a.audience = "https://someone-else.example".into()),
        ),
        (
            "wrong destination",
            Box::new(|a: &mut Assertion| {
                a.destination = "https://someone-else.example/acs".into();
                a.sign_response = true;
            }),
        ),
        (
            "wrong recipient",
            Box::new(|a: &mut Assertion| a.recipient = "https://someone-else.example/acs".into()),
        ),
    ];
    for (what, change) in cases {
        let s = start_login(&app).await;
        let mut a = Assertion::new(&app.public, Some(&s.request_id), "bob");
        change(&mut a);
        expect_acs_error(
            post_acs(&app, &a.signed(&pki, "idp"), Some(&s.relay_state)).await,
            400,
            what,
        )
        .await;
    }
    let s = start_login(&app).await;
    let a = Assertion::new(&app.public, Some(&s.request_id), "bob");
    let doctype = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{}", a.signed(&pki, "idp"));
    expect_acs_error(
        post_acs(&app, &doctype, Some(&s.relay_state)).await,
        400,
        "DOCTYPE",
    )
    .await;
}

#[tokio::test]
async fn in_response_to_must_match_and_responses_are_single_use() {
    let Some(pki) = Pki::generate("binding") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    // A response to another request.
    let first = start_login(&app).await;
    let second = start_login(&app).await;
    let a = Assertion::new(&app.public, Some(&first.request_id), "bob");
    expect_acs_error(
        post_acs(&app, &a.signed(&pki, "idp"), Some(&second.relay_state)).await,
        400,
        "InResponseTo mismatch",
    )
    .await;
    // The right response, then the same again.
    let a = Assertion::new(&app.public, Some(&first.request_id), "bob");
    let signed = a.signed(&pki, "idp");
    assert_eq!(
        post_acs(&app, &signed, Some(&first.relay_state))
            .await
            .status(),
        StatusCode::FOUND
    );
    expect_acs_error(
        post_acs(&app, &signed, Some(&first.relay_state)).await,
        400,
        "replay",
    )
    .await;
    // Unsolicited responses are refused unless the provider allows them.
    let a = Assertion::new(&app.public, None, "bob");
    expect_acs_error(
        post_acs(&app, &a.signed(&pki, "idp"), None).await,
        400,
        "IdP-initiated",
    )
    .await;
}

#[tokio::test]
async fn idp_initiated_logins_work_when_enabled_and_replays_fail() {
    let Some(pki) = Pki::generate("unsolicited") else {
        return;
    };
    let app = saml_app(&pki, "allow_idp_initiated = true").await;
    let a = Assertion::new(&app.public, None, "carol");
    let signed = a.signed(&pki, "idp");
    let resp = post_acs(&app, &signed, None).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "demo mode answers with tokens"
    );
    let tokens = tokens_of(&json_checked(resp, "post", "/saml/acs").await);
    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider_id"], "carol");
    expect_acs_error(
        post_acs(&app, &signed, None).await,
        400,
        "replayed assertion",
    )
    .await;
    // An unsolicited response may not claim to answer a request.
    let a = Assertion::new(&app.public, Some("_forged-request"), "carol");
    expect_acs_error(
        post_acs(&app, &a.signed(&pki, "idp"), None).await,
        400,
        "unsolicited with InResponseTo",
    )
    .await;
}

#[tokio::test]
async fn signed_logout_requests_end_the_sessions_and_unsigned_ones_fail() {
    let Some(pki) = Pki::generate("logout") else {
        return;
    };
    let app = saml_app(&pki, "allow_idp_initiated = true").await;
    let login = |name: &'static str| {
        let a = Assertion::new(&app.public, None, name);
        let signed = a.signed(&pki, "idp");
        let app = &app;
        async move {
            let resp = post_acs(app, &signed, None).await;
            tokens_of(&json_checked(resp, "post", "/saml/acs").await)
        }
    };

    // HTTP-POST binding: unsigned → 400; signed by the IdP → 200 and the session is over.
    let dave = login("dave").await;
    let (_, unsigned) = logout_request(&app.public, "dave", false);
    let resp = app
        .client
        .post(app.url("/saml/slo"))
        .form(&[("SAMLRequest", b64(&unsigned))])
        .send()
        .await
        .unwrap();
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    let (_, rogue) = logout_request(&app.public, "dave", true);
    let rogue = pki.sign(&rogue, "LogoutRequest", "rogue");
    let resp = app
        .client
        .post(app.url("/saml/slo"))
        .form(&[("SAMLRequest", b64(&rogue))])
        .send()
        .await
        .unwrap();
    expect_error(resp, "post", "/saml/slo", 400, "invalid_request").await;
    assert_eq!(
        app.refresh(&dave.refresh_token).await.status(),
        StatusCode::OK,
        "still logged in"
    );
    let dave = login("dave").await;
    let (_, signed) = logout_request(&app.public, "dave", true);
    let signed = pki.sign(&signed, "LogoutRequest", "idp");
    let resp = app
        .client
        .post(app.url("/saml/slo"))
        .form(&[("SAMLRequest", b64(&signed))])
        .send()
        .await
        .unwrap();
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

    // HTTP-Redirect binding: the query signature is checked as received.
    let erin = login("erin").await;
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
}

#[tokio::test]
async fn an_idp_without_a_signing_certificate_stops_startup() {
    let Some(pki) = Pki::generate("nocert") else {
        return;
    };
    let metadata = pki.path("bare.xml");
    std::fs::write(&metadata, pki.idp_metadata(false)).unwrap();
    let dir = pki.path("config.toml");
    std::fs::write(
        &dir,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[providers.saml.bare]\nidp_metadata_file = \"{}\"\n",
            metadata.display()
        ),
    )
    .unwrap();
    let config = tmi_auth::app::Config::load(Some(&dir)).unwrap();
    let err = tmi_auth::app::Application::build(config)
        .await
        .err()
        .expect("startup fails");
    let message = format!("{err:#}");
    assert!(message.contains("providers.saml.bare"), "{message}");
    assert!(message.contains("signing certificate"), "{message}");
}

/// A bounded, deterministic stand-in for the fuzz target (`fuzz/`, run by hand): mutated
/// versions of a validly signed response never log anyone in and never crash the server.
#[tokio::test]
async fn mutated_responses_are_refused_without_server_errors() {
    let Some(pki) = Pki::generate("mutations") else {
        return;
    };
    let app = saml_app(
        &pki,
        "allow_idp_initiated = true\n[rate_limits]\nenabled = false",
    )
    .await;
    let seed = Assertion::new(&app.public, None, "zed")
        .signed(&pki, "idp")
        .into_bytes();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut logged_in = false;
    for round in 0..300 {
        let mut bytes = seed.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at.max(1)),
                2 => bytes.insert(at, b"<>\"&'/="[(next() % 7) as usize]),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        let form = [(
            "SAMLResponse",
            base64::engine::general_purpose::STANDARD.encode(&bytes),
        )];
        let resp = app
            .client
            .post(app.url("/saml/acs"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        if status == 200 {
            // Only unsigned envelope bytes changed: it may log in, but only as the signed
            // subject, and only once (the assertion ID is now used up).
            let tokens = tokens_of(&json_checked(resp, "post", "/saml/acs").await);
            let me: Value = app
                .get_bearer("/me", &tokens.access_token)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(me["provider_id"], "zed", "round {round}");
            assert!(
                !logged_in,
                "round {round}: a second login from one assertion"
            );
            logged_in = true;
            continue;
        }
        assert!(
            status == 400 || status == 401,
            "round {round}: mutated response answered {status}"
        );
    }
    // The server is still healthy; the untouched response works unless a mutation used it.
    let resp = post_acs(&app, std::str::from_utf8(&seed).unwrap(), None).await;
    let expected = if logged_in { 400 } else { 200 };
    assert_eq!(resp.status().as_u16(), expected);
}

#[tokio::test]
async fn an_unreachable_metadata_url_leaves_the_provider_listed_but_uninitialized() {
    let dead = reserve_port();
    let app = spawn_on(
        reserve_port(),
        &format!(
            "[providers]\nhttp_timeout_secs = 2\n[providers.saml.later]\nidp_metadata_url = \"http://127.0.0.1:{dead}/metadata\"\n"
        ),
    )
    .await;
    let list = json_checked(app.get("/saml/providers").await, "get", "/saml/providers").await;
    assert_eq!(list["providers"][0]["id"], "later");
    assert_eq!(list["providers"][0]["initialized"], false);
    let resp = app
        .client
        .get(app.url("/saml/later/login"))
        .query(&[
            ("client_callback", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    expect_error(resp, "get", "/saml/{provider}/login", 500, "server_error").await;
    // Its metadata is still served, so the IdP side can be set up meanwhile.
    assert_eq!(
        app.get("/saml/later/metadata").await.status(),
        StatusCode::OK
    );
}
