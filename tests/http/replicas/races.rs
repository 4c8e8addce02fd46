//! Races and staleness across replicas: one code redeemed twice at once, parallel first
//! sign-ins, identity-provider groups that changed between logins, and the revoke command
//! when Redis is out of reach.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{cluster, cluster_with};
use crate::support::*;

/// Two replicas redeeming one code at the same moment: whichever wins, its tokens end up
/// revoked, as for any replayed code (RFC 6749 §4.1.2). Before the redeemed marker was
/// written ahead of the code's removal, the winner's tokens stayed valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_at_once_on_two_replicas_leaves_no_working_token() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let redeem = |i: usize, code: String| {
        let request = cluster
            .client
            .post(format!("{}/oauth2/token", cluster.replicas[i]))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CALLBACK),
            ]);
        async move { request.send().await.unwrap() }
    };
    for round in 0..6 {
        let code = cluster.code(&format!("racer-{round}"), 0, 1).await;
        let (a, b) = tokio::join!(redeem(0, code.clone()), redeem(1, code));
        let mut refused = 0;
        for resp in [a, b] {
            if resp.status() != StatusCode::OK {
                assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
                refused += 1;
                continue;
            }
            let tokens = tokens_of(&resp.json().await.unwrap());
            for i in 0..2 {
                assert_eq!(
                    cluster.me(i, &tokens.access_token).await,
                    StatusCode::UNAUTHORIZED,
                    "round {round}: the winner's access token is revoked on replica {i}"
                );
            }
            let refresh = cluster
                .client
                .post(format!("{}/oauth2/refresh", cluster.replicas[1]))
                .json(&json!({"refresh_token": tokens.refresh_token}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                refresh.status(),
                StatusCode::UNAUTHORIZED,
                "round {round}: its refresh token is dead"
            );
        }
        assert!(refused >= 1, "round {round}: a code works once at most");
    }
    cluster.cleanup().await;
}

/// A new user's first sign-in running twice at once (two tabs, a double click): both
/// logins reach the one account. One of them used to find the other's new account by
/// e-mail and refuse it with 409 `account_conflict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_first_logins_of_one_new_user_all_succeed() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    for round in 0..3 {
        let hint = format!("newcomer-{round}");
        let mut upstream = Vec::new();
        for i in 0..8 {
            upstream.push((i % 2, cluster.authorize(&hint, i % 2).await));
        }
        let mut callbacks = tokio::task::JoinSet::new();
        for (i, url) in upstream {
            let request = cluster.client.get(cluster.on(i, &url));
            callbacks.spawn(async move { request.send().await.unwrap() });
        }
        while let Some(resp) = callbacks.join_next().await {
            let resp = resp.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::FOUND,
                "round {round}: {:?}",
                resp.text().await
            );
        }
        let users: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\".users WHERE provider_user_id = $1",
            cluster.schema
        )))
        .bind(&hint)
        .fetch_one(&cluster.admin)
        .await
        .unwrap();
        assert_eq!(users, 1, "round {round}: one account");
    }
    cluster.cleanup().await;
}

/// Identity-provider groups are the provider's word at the latest login: a group withdrawn
/// there (replica 1 is configured without it) leaves the user's older sessions at their next
/// refresh, with the entitlement it gave. Before, a session kept the groups of its own login
/// for its whole lifetime, while `/me` on the new session said otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_provider_withdrew_leaves_older_sessions_at_their_next_refresh() {
    let Some(cluster) = cluster_with(2, |i, config| {
        if i == 0 {
            config.providers.tmi.groups = vec!["acme-security".into()];
        }
        config.groups.security_reviewers = vec![tmi_auth::app::config::MemberSpec {
            provider: Some("tmi".into()),
            idp_group: Some("acme-security".into()),
            ..Default::default()
        }];
    })
    .await
    else {
        return;
    };
    let claims = |token: &str| -> Value {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let old = cluster.login("dave", 0, 0, 0).await;
    assert_eq!(
        claims(&old.access_token)["groups"],
        json!(["acme-security"])
    );
    assert_eq!(claims(&old.access_token)["tmi_is_security_reviewer"], true);

    let new = cluster.login("dave", 1, 1, 1).await;
    assert_eq!(claims(&new.access_token)["groups"], json!([]));
    assert_eq!(claims(&new.access_token)["tmi_is_security_reviewer"], false);

    let refreshed = cluster
        .client
        .post(format!("{}/oauth2/refresh", cluster.replicas[0]))
        .json(&json!({"refresh_token": old.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&refreshed.json().await.unwrap());
    let refreshed = claims(&refreshed.access_token);
    assert_eq!(refreshed["groups"], json!([]), "the older session follows");
    assert_eq!(refreshed["tmi_is_security_reviewer"], false);
    cluster.cleanup().await;
}

/// `tmi-auth credentials revoke` puts the credential's tokens on the revocation list before
/// deleting it: with Redis out of reach it fails and changes nothing (it can be run again);
/// with Redis it deletes the credential and its tokens stop at once on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoke_command_changes_nothing_when_it_cannot_revoke_the_tokens() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let erin = cluster.login("erin", 0, 0, 0).await;
    let cred = cluster
        .create_credential(0, &erin.access_token, "revoked-by-cli")
        .await;
    let client_id = cred["client_id"].as_str().unwrap().to_owned();
    let grant = || {
        cluster
            .client
            .post(format!("{}/oauth2/token", cluster.replicas[1]))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", cred["client_secret"].as_str().unwrap()),
            ])
            .send()
    };
    let resp = grant().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let token = tokens_of(&resp.json().await.unwrap()).access_token;

    let revoke = |redis_url: &str| {
        cluster
            .cli(&["credentials", "revoke", &client_id], redis_url)
            .env("TMI_AUTH__REDIS__CONNECTION_TIMEOUT_MS", "500")
            .output()
            .unwrap()
    };
    let failed = revoke("redis://127.0.0.1:1");
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("redis"));
    assert_eq!(
        grant().await.unwrap().status(),
        StatusCode::OK,
        "still there"
    );
    assert_eq!(cluster.me(1, &token).await, StatusCode::OK);

    let done = revoke(&cluster.redis_url);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(grant().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    for i in 0..2 {
        assert_eq!(cluster.me(i, &token).await, StatusCode::UNAUTHORIZED);
    }
    cluster.cleanup().await;
}

/// A refresh whose reads fail (here the users table is briefly gone) does not spend the
/// presented token: once the database answers again, the same token rotates. Before the
/// reads moved ahead of the rotation, the failed request had already committed it, and the
/// retry, past the grace window, was taken for reuse: the family revoked, the user logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_reads_fail_does_not_spend_the_token() {
    let Some(cluster) = cluster_with(1, |_, config| config.tokens.refresh_grace_secs = 0).await
    else {
        return;
    };
    let dana = cluster.login("dana", 0, 0, 0).await;
    let refresh = || {
        cluster
            .client
            .post(format!("{}/oauth2/refresh", cluster.replicas[0]))
            .json(&json!({ "refresh_token": dana.refresh_token }))
            .send()
    };
    let rename = |from: &str, to: &str| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE \"{}\".{from} RENAME TO {to}",
            cluster.schema
        )))
        .execute(&cluster.admin)
    };
    rename("users", "users_away").await.unwrap();
    let failed = refresh().await.unwrap();
    assert!(failed.status().is_server_error(), "{}", failed.status());
    rename("users_away", "users").await.unwrap();
    let retried = refresh().await.unwrap();
    assert_eq!(retried.status(), StatusCode::OK, "the token was not spent");
    let (seq, revoked): (i64, bool) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT current_seq, revoked FROM \"{}\".refresh_families",
        cluster.schema
    )))
    .fetch_one(&cluster.admin)
    .await
    .unwrap();
    assert_eq!((seq, revoked), (1, false), "one rotation, no reuse alarm");
    cluster.cleanup().await;
}
