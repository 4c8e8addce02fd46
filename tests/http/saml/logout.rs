//! Single logout over both bindings: signed requests end the sessions, others fail.

use reqwest::StatusCode;

use super::harness::*;
use super::post_acs;
use super::saml_app;
use crate::support::*;

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
