//! What a SAML login shows afterwards: the profile at `/me` and the provider's groups.

use reqwest::StatusCode;

use super::harness::*;
use super::{post_acs, saml_app, start_login};
use crate::support::*;

/// A NameID may hold markup characters; `/me` still answers within the contract's
/// `provider_id` pattern (`^[^<>"'&]*$`), percent-encoding them.
#[tokio::test]
async fn a_name_id_with_markup_characters_stays_within_the_contract() {
    let Some(pki) = Pki::generate("markup") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    let started = start_login(&app).await;
    let mut assertion = Assertion::new(
        &app.public,
        Some(&started.request_id),
        "o&apos;brien&amp;co&lt;x&gt;",
    );
    assertion.email = "obrien@example.test".into();
    let resp = post_acs(
        &app,
        &assertion.signed(&pki, "idp"),
        Some(&started.relay_state),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let code = query_of(&location(&resp))["code"].clone();
    let tokens =
        tokens_of(&json_checked(app.redeem(&code, VERIFIER).await, "post", "/oauth2/token").await);
    // json_checked validates the body against the contract's schema, pattern included.
    let me = json_checked(
        app.get_bearer("/me", &tokens.access_token).await,
        "get",
        "/me",
    )
    .await;
    assert_eq!(me["provider_id"], "o%27brien%26co%3Cx%3E");
}

/// Groups asserted at a SAML login are listed for the provider, as for OAuth providers.
#[tokio::test]
async fn a_saml_providers_groups_are_listed() {
    let Some(pki) = Pki::generate("provider-groups") else {
        return;
    };
    let app = saml_app(&pki, "").await;
    let started = start_login(&app).await;
    let assertion = Assertion::new(&app.public, Some(&started.request_id), "gina");
    let resp = post_acs(
        &app,
        &assertion.signed(&pki, "idp"),
        Some(&started.relay_state),
    )
    .await;
    let code = query_of(&location(&resp))["code"].clone();
    let tokens =
        tokens_of(&json_checked(app.redeem(&code, VERIFIER).await, "post", "/oauth2/token").await);
    let listed = json_checked(
        app.get_bearer("/oauth2/providers/idp/groups", &tokens.access_token)
            .await,
        "get",
        "/oauth2/providers/{idp}/groups",
    )
    .await;
    assert_eq!(listed["idp"], "idp");
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["saml-staff"]);
    let unknown = app
        .get_bearer("/oauth2/providers/nope/groups", &tokens.access_token)
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
