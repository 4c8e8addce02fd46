//! E-mail addresses across accounts: a new identity whose address another account holds is
//! 409 unless linking is on and both sides verified it; an existing account that takes over
//! another account's address does not count it as verified.

use super::harness::*;
use super::{claims_of, userinfo};
use crate::support::*;

const TMI_VERIFIED: &str = "[providers.tmi]\nemail_verified = true\n";

fn with_email(email: &'static str, verified: bool) -> FakeAccount {
    FakeAccount {
        id: 99,
        name: Some("Same Person"),
        public_email: Some(email),
        emails: vec![(email, true, verified)],
        quirk: Quirk::None,
    }
}

#[tokio::test]
async fn an_email_held_by_another_account_is_409_unless_linking_is_on_and_both_verified() {
    let gh = FakeGithub::start(&[
        ("dup", with_email("Alice@TMI.local", true)),
        ("dupunverified", with_email("alice@tmi.local", false)),
    ])
    .await;

    // Linking off (the default): a verified e-mail on both sides is still a conflict.
    let app = spawn_on(reserve_port(), &format!("{TMI_VERIFIED}\n{}", gh.entry())).await;
    let alice = app.login("alice").await;
    let login = browser_login(&app, "gh", "dup").await;
    expect_error_shape(login.callback, "/oauth2/callback", 409, "account_conflict").await;
    assert_eq!(
        json_checked(
            app.get_bearer("/me", &alice.access_token).await,
            "get",
            "/me"
        )
        .await["provider"],
        "tmi",
        "the existing account is untouched"
    );

    // Linking on: the verified identity joins alice's account; the unverified one may not.
    let app = spawn_on(
        reserve_port(),
        &format!(
            "[oauth]\nlink_accounts_by_verified_email = true\n\n{TMI_VERIFIED}\n{}",
            gh.entry()
        ),
    )
    .await;
    let alice = userinfo(&app, &app.login("alice").await).await;
    let login = browser_login(&app, "gh", "dupunverified").await;
    expect_error_shape(login.callback, "/oauth2/callback", 409, "account_conflict").await;
    let linked = tokens_from(&app, browser_login(&app, "gh", "dup").await.callback).await;
    assert_eq!(
        claims_of(&linked)["idp"],
        "gh",
        "the token names the provider used"
    );
    let linked = userinfo(&app, &linked).await;
    assert_eq!(linked["sub"], alice["sub"], "same account");
    assert_eq!(
        linked["email"], "alice@tmi.local",
        "the account keeps its e-mail"
    );
    // Both identities keep working.
    let again = tokens_from(&app, browser_login(&app, "gh", "dup").await.callback).await;
    assert_eq!(userinfo(&app, &again).await["sub"], alice["sub"]);
    assert_eq!(
        userinfo(&app, &app.login("alice").await).await["sub"],
        alice["sub"]
    );
}

/// An account whose provider now reports an address another account holds keeps it, but not
/// as verified: e-mail rules (here: administrators) and linking must not follow a copy.
#[tokio::test]
async fn an_account_that_takes_another_accounts_address_is_not_verified_for_it() {
    let gh = FakeGithub::start(&[
        ("before", with_email("mallory@example.test", true)),
        ("after", with_email("carol@tmi.local", true)),
    ])
    .await;
    let rule = "[[groups.administrators]]\nemail = \"carol@tmi.local\"\n";
    let app = spawn_on(
        reserve_port(),
        &format!("{TMI_VERIFIED}\n{}\n{rule}", gh.entry()),
    )
    .await;
    let carol = app.login("carol").await;
    let is_admin = |tokens: Tokens| {
        let app = &app;
        async move {
            json_checked(
                app.get_bearer("/me", &tokens.access_token).await,
                "get",
                "/me",
            )
            .await["is_admin"]
                .clone()
        }
    };
    assert_eq!(is_admin(carol).await, true, "the rule matches carol");
    // One GitHub account (the same id) first with its own address, then with carol's.
    let mallory = tokens_from(&app, browser_login(&app, "gh", "before").await.callback).await;
    assert_eq!(claims_of(&mallory)["email_verified"], true);
    let copied = tokens_from(&app, browser_login(&app, "gh", "after").await.callback).await;
    assert_eq!(userinfo(&app, &copied).await["email"], "carol@tmi.local");
    assert_eq!(claims_of(&copied)["email_verified"], false);
    assert_eq!(
        is_admin(copied).await,
        false,
        "the rule does not follow the copy"
    );
    // Nor at the next login with the same claims.
    let again = tokens_from(&app, browser_login(&app, "gh", "after").await.callback).await;
    assert_eq!(claims_of(&again)["email_verified"], false);
    assert_eq!(is_admin(again).await, false, "not at a later login either");
    // Carol's own account stays verified.
    let carol = app.login("carol").await;
    assert_eq!(claims_of(&carol)["email_verified"], true);
    assert_eq!(is_admin(carol).await, true);
}
