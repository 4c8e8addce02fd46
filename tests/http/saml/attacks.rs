//! Responses that must not log anyone in: forged, tampered, wrapped, stale, misdirected,
//! replayed, unsolicited, or mutated at random.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

use super::harness::{self, *};
use super::{expect_acs_error, post_acs, saml_app, start_login};
use crate::support::*;

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

    // A validly signed assertion in a Response whose status is not Success, or has none.
    const SUCCESS: &str = r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#;
    for (what, status) in [
        (
            "failed status",
            r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode></samlp:Status>"#,
        ),
        ("no status", ""),
    ] {
        let s = start_login(&app).await;
        let a = Assertion::new(&app.public, Some(&s.request_id), "bob");
        let signed = a.signed(&pki, "idp");
        assert!(signed.contains(SUCCESS));
        expect_acs_error(
            post_acs(&app, &signed.replace(SUCCESS, status), Some(&s.relay_state)).await,
            400,
            what,
        )
        .await;
    }

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
    // Plain, and encrypted with either signature placement: the same rules throughout.
    type Sign = fn(&Assertion, &Pki) -> String;
    let ways: [(&str, Sign); 3] = [
        ("carol", |a, pki| a.signed(pki, "idp")),
        ("dave", |a, pki| {
            a.signed_encrypted(pki, "idp", "aes256-gcm")
        }),
        ("erin", |a, pki| {
            a.encrypted_signed_assertion(pki, Some("idp"), "aes256-cbc")
        }),
    ];
    for (who, sign) in ways {
        let response = sign(&Assertion::new(&app.public, None, who), &pki);
        let resp = post_acs(&app, &response, None).await;
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
        assert_eq!(me["provider_id"], who);
        expect_acs_error(
            post_acs(&app, &response, None).await,
            400,
            "replayed assertion",
        )
        .await;
        // An unsolicited response may not claim to answer a request.
        let forged = sign(
            &Assertion::new(&app.public, Some("_forged-request"), who),
            &pki,
        );
        expect_acs_error(
            post_acs(&app, &forged, None).await,
            400,
            "unsolicited with InResponseTo",
        )
        .await;
    }
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
