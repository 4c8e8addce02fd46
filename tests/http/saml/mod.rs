//! SAML 2.0: metadata, SP-initiated login ending in our code, the ACS against responses
//! signed by xmlsec1 (valid, wrong signer, tampered, wrapped, expired, wrong audience or
//! destination, replayed, mismatched InResponseTo, DOCTYPE), IdP-initiated logins, and single
//! logout over both bindings.

mod attacks;
mod harness;
mod logout;
mod profile;
mod refresh;

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

/// `GET /saml/{provider}/login` with a client callback and a PKCE challenge.
async fn pkce_login(app: &TestApp, provider: &str) -> Response {
    app.client
        .get(app.url(&format!("/saml/{provider}/login")))
        .query(&[
            ("client_callback", CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
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
    // Not an OAuth endpoint: DECISIONS.md's codes.
    let code = if status == 401 {
        "unauthorized"
    } else {
        "invalid_request"
    };
    assert_eq!(body["error"], code, "{what}");
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
    let response = assertion.signed_encrypted(&pki, "idp", "aes128-cbc");
    assert!(response.contains("EncryptedAssertion") && !response.contains(">frank<"));
    assert_eq!(login_as(&app, &response, &started).await, "frank");

    // AES-256 (what Entra ID and AD FS use), in CBC and GCM, under a signed Response.
    for cipher in ["aes256-cbc", "aes256-gcm"] {
        let started = start_login(&app).await;
        let assertion = Assertion::new(&app.public, Some(&started.request_id), "grace");
        let response = assertion.signed_encrypted(&pki, "idp", cipher);
        assert!(response.contains(cipher) && !response.contains(">grace<"));
        assert_eq!(
            login_as(&app, &response, &started).await,
            "grace",
            "{cipher}"
        );
    }
}

#[tokio::test]
async fn an_encrypted_assertion_may_carry_its_own_signature_instead() {
    // Entra ID and AD FS sign the assertion, not the Response, by default; encrypted, that
    // signature is inside the ciphertext.
    let Some(pki) = Pki::generate("encrypted-signed") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    for cipher in ["aes256-cbc", "aes256-gcm", "aes128-cbc"] {
        let started = start_login(&app).await;
        let assertion = Assertion::new(&app.public, Some(&started.request_id), "heidi");
        let mut response = assertion.encrypted_signed_assertion(&pki, Some("idp"), cipher);
        assert!(!response.contains("<ds:Signature") && !response.contains(">heidi<"));
        if cipher == "aes128-cbc" {
            // With a byte-order mark and a multi-byte character before the assertion: the
            // offsets the XML reader reports must still fall where the assertion is.
            response = format!(
                "\u{feff}{}",
                response.replacen(
                    "<saml:EncryptedAssertion",
                    "\u{a0}\u{a0}<saml:EncryptedAssertion",
                    1
                )
            );
        }
        assert_eq!(
            login_as(&app, &response, &started).await,
            "heidi",
            "{cipher}"
        );
    }

    // Not signed at all, signed by a key the IdP metadata does not name, or a ciphertext
    // that does not decrypt: refused, and a forger cannot tell which (one status, one
    // message).
    let garble = |response: String| {
        let at = response.rfind("</xenc:CipherValue>").unwrap();
        format!("{}AAAA{}", &response[..at - 4], &response[at..])
    };
    let mut bodies = Vec::new();
    for what in ["unsigned", "rogue signer", "garbled ciphertext"] {
        let started = start_login(&app).await;
        let assertion = Assertion::new(&app.public, Some(&started.request_id), "mallory");
        let response = match what {
            "unsigned" => assertion.encrypted_signed_assertion(&pki, None, "aes256-cbc"),
            "rogue signer" => {
                assertion.encrypted_signed_assertion(&pki, Some("rogue"), "aes256-cbc")
            }
            _ => garble(assertion.encrypted_signed_assertion(&pki, Some("idp"), "aes256-cbc")),
        };
        let resp = post_acs(&app, &response, Some(&started.relay_state)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{what}");
        bodies.push(json_checked(resp, "post", "/saml/acs").await["error_description"].clone());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // Signed and decrypted, but answering another request.
    let started = start_login(&app).await;
    let mut assertion = Assertion::new(&app.public, Some(&started.request_id), "mallory");
    assertion.in_response_to = Some("_not-our-request".into());
    let response = assertion.encrypted_signed_assertion(&pki, Some("idp"), "aes256-gcm");
    expect_acs_error(
        post_acs(&app, &response, Some(&started.relay_state)).await,
        400,
        "answers another request",
    )
    .await;
}

#[tokio::test]
async fn a_signed_response_must_cover_the_encrypted_assertion_it_carries() {
    let Some(pki) = Pki::generate("encrypted-swap") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "ivan");
    let signed = assertion.signed_encrypted(&pki, "idp", "aes256-gcm");
    // Another ciphertext (encrypted for us, for someone else) swapped in after signing.
    let mut evil = assertion.clone();
    evil.name_id = "admin".into();
    let forged = pki.encrypt_assertion(
        &evil
            .assertion_xml()
            .replace(&harness::signature_template(&evil.id), ""),
        "aes256-gcm",
    );
    let start = signed.find("<saml:EncryptedAssertion").unwrap();
    let end =
        signed.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
    let swapped = format!("{}{forged}{}", &signed[..start], &signed[end..]);
    expect_acs_error(
        post_acs(&app, &swapped, Some(&started.relay_state)).await,
        401,
        "ciphertext swapped under the response signature",
    )
    .await;
    // The same message, unswapped, logs in (for a fresh login: a refusal spends the RelayState).
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "ivan");
    let signed = assertion.signed_encrypted(&pki, "idp", "aes256-gcm");
    assert_eq!(login_as(&app, &signed, &started).await, "ivan");
}

#[tokio::test]
async fn a_provider_can_be_held_to_gcm() {
    let Some(pki) = Pki::generate("gcm-only") else {
        return;
    };
    let app = saml_app(&pki, "encryption_methods = [\"aes256-gcm\"]").await;
    let xml = app.get("/saml/idp/metadata").await.text().await.unwrap();
    assert!(
        xml.contains("xmlenc11#aes256-gcm") && !xml.contains("-cbc"),
        "{xml}"
    );
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "judy");
    let cbc = assertion.encrypted_signed_assertion(&pki, Some("idp"), "aes256-cbc");
    expect_acs_error(
        post_acs(&app, &cbc, Some(&started.relay_state)).await,
        400,
        "CBC from a GCM-only provider",
    )
    .await;
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "judy");
    let gcm = assertion.encrypted_signed_assertion(&pki, Some("idp"), "aes256-gcm");
    assert_eq!(login_as(&app, &gcm, &started).await, "judy");
}

/// Posts `response` to the ACS for `started`, redeems the code and returns `/me`'s provider_id.
async fn login_as(app: &TestApp, response: &str, started: &Started) -> String {
    let resp = post_acs(app, response, Some(&started.relay_state)).await;
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
    me["provider_id"].as_str().unwrap().to_owned()
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
    assert!(xml.contains(
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
    ) || xml.contains(
        "<NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>"
    ));
    assert_eq!(
        xml.matches("use=\"signing\"").count(),
        1,
        "one signing key descriptor: {xml}"
    );
    assert_eq!(
        xml.matches("use=\"encryption\"").count(),
        1,
        "one encryption key descriptor"
    );
    // What we decrypt, strongest first; PKCS#1 v1.5 key transport is not offered.
    let offered: Vec<&str> = xml
        .split("EncryptionMethod Algorithm=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        offered,
        [
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2009/xmlenc11#aes192-gcm",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "http://www.w3.org/2009/xmlenc11#rsa-oaep",
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        ],
        "{xml}"
    );
    expect_error(
        app.get("/saml/nope/metadata").await,
        "get",
        "/saml/{provider}/metadata",
        404,
        "not_found",
    )
    .await;
    // An id no provider can have is just as unknown (the contract's parameter is any string).
    for path in [
        "/saml/1bad/metadata",
        "/saml/0/login",
        "/saml/%C3%A9%20x/login",
    ] {
        let template = if path.ends_with("login") {
            "/saml/{provider}/login"
        } else {
            "/saml/{provider}/metadata"
        };
        expect_error(app.get(path).await, "get", template, 404, "not_found").await;
    }
    // Signed AuthnRequests carry a verifiable query signature.
    let resp = pkce_login(&app, "idp").await;
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
    let resp = pkce_login(&app, "later").await;
    expect_error(resp, "get", "/saml/{provider}/login", 500, "server_error").await;
    // Its metadata is still served, so the IdP side can be set up meanwhile.
    assert_eq!(
        app.get("/saml/later/metadata").await.status(),
        StatusCode::OK
    );
}
