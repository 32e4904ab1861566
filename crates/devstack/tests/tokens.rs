//! The token and revocation endpoints: single-use codes bound to their PKCE verifier, refresh
//! tokens that rotate, the overlap a rotated one keeps, and revocation.

#![allow(clippy::unwrap_used)]

use kinvex_clock::ManualClock;
use kinvex_devstack::user_agent::UserAgent;
use kinvex_test_kit::oauth::{
    authorize_url, browse, demo, exchange, oauth_error, param, pkce, refresh, sign_in, with_param,
};
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn wrong_verifier_and_reused_codes_are_rejected() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let p = pkce();
    let redirect = browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let code = param(&redirect, "code").unwrap();
    assert_eq!(
        oauth_error(exchange(&stack, &code, &pkce().verifier).await).await,
        (400, "invalid_grant".into())
    );

    let p = pkce();
    let redirect = browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let code = param(&redirect, "code").unwrap();
    let first: Value = exchange(&stack, &code, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        oauth_error(exchange(&stack, &code, &p.verifier).await).await,
        (400, "invalid_grant".into())
    );
    // Reuse of a code revokes what its first exchange issued.
    assert_eq!(
        oauth_error(refresh(&stack, refresh_token).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_after_the_overlap_revokes_the_family() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| {
        c.lifetimes.rotation_overlap = Duration::ZERO;
        c.clock = clock.shared();
    })
    .await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let rotated: Value = refresh(&stack, &first).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second, "rotation");
    assert!(
        rotated["id_token"].is_string(),
        "a refresh returns a new ID token"
    );

    // The overlap is zero and a second has passed: reusing the first token is theft.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        oauth_error(refresh(&stack, &first).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        oauth_error(refresh(&stack, &second).await).await,
        (400, "invalid_grant".into()),
        "family revoked"
    );
}

#[tokio::test]
async fn within_the_overlap_a_rotated_token_still_works() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&stack, first).await.status(), 200);
    assert_eq!(
        refresh(&stack, first).await.status(),
        200,
        "a lost response can be retried"
    );
}

#[tokio::test]
async fn offline_access_yields_no_refresh_token_as_at_kinde() {
    let stack = stack().await;
    let pkce = pkce();
    let url = with_param(
        &authorize_url(&stack, &pkce, &[]),
        "scope",
        Some("openid profile email offline_access"),
    );
    let redirect = browse(&UserAgent::new(), &url, &demo(&stack)).await;
    let tokens: Value = exchange(&stack, &param(&redirect, "code").unwrap(), &pkce.verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn revoked_refresh_tokens_fail_with_invalid_grant() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", stack.issuer()))
        .form(&[
            ("token", token),
            ("client_id", &stack.state.config.client_id),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        oauth_error(refresh(&stack, token).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn access_tokens_carry_email_only_when_the_tenant_adds_it() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let access = kinvex_test_kit::oauth::claims(tokens["access_token"].as_str().unwrap());
    assert!(access.get("email").is_none(), "Kinde's default: {access}");
    let id = kinvex_test_kit::oauth::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "demo@kinvex.dev", "the ID token keeps it");

    let stack = stack_with(|c| c.access_token_email = true).await;
    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let access = kinvex_test_kit::oauth::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["email"], "demo@kinvex.dev");
}

async fn introspect(stack: &kinvex_devstack::Running, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/introspect", stack.issuer()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn introspection_answers_for_access_and_refresh_tokens_as_rfc_7662_says() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| c.clock = clock.shared()).await;
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        stack.issuer()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let endpoint = format!("{}/oauth2/introspect", stack.issuer());
    assert_eq!(discovery["introspection_endpoint"], endpoint.as_str());

    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let client_id = stack.state.config.client_id.clone();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    let (status, answer) =
        introspect(&stack, &[("token", access), ("client_id", &client_id)]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], stack.accounts[0].user_id.as_str());
    assert_eq!(answer["client_id"], client_id.as_str());
    assert_eq!(answer["scope"], "openid profile email offline");
    assert_eq!(answer["aud"], serde_json::json!(["convex"]));
    assert!(answer["exp"].is_i64());

    let (_, answer) = introspect(
        &stack,
        &[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], stack.accounts[0].user_id.as_str());

    for inactive in [id_token, "not-a-token"] {
        let (status, answer) =
            introspect(&stack, &[("token", inactive), ("client_id", &client_id)]).await;
        assert_eq!(status, 200);
        assert_eq!(answer, serde_json::json!({ "active": false }));
    }
    let (status, answer) = introspect(&stack, &[("token", access)]).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Revoked refresh tokens and expired access tokens are no longer active.
    reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", stack.issuer()))
        .form(&[("token", refresh_token), ("client_id", &client_id)])
        .send()
        .await
        .unwrap();
    let (_, answer) = introspect(
        &stack,
        &[("token", refresh_token), ("client_id", &client_id)],
    )
    .await;
    assert_eq!(answer["active"], false);
    clock.advance(stack.state.lifetimes().access + Duration::from_secs(1));
    let (_, answer) = introspect(&stack, &[("token", access), ("client_id", &client_id)]).await;
    assert_eq!(answer["active"], false);
}

#[tokio::test]
async fn the_user_profile_takes_an_access_token_not_an_id_token() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let profile = |token: String| {
        let url = format!("{}/oauth2/v2/user_profile", stack.issuer());
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        profile(tokens["access_token"].as_str().unwrap().into()).await,
        200
    );
    assert_eq!(
        profile(tokens["id_token"].as_str().unwrap().into()).await,
        401
    );
}
