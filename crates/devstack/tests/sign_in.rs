//! The sign-in flow a desktop client performs against the local provider, from the browser's
//! pages to tokens the backend accepts, and signing out.

#![allow(clippy::unwrap_used)]

use kinvex_devstack::DEFAULT_REDIRECT_URI;
use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::backend::{call, webhooks_until};
use kinvex_test_kit::oauth::{authorize_url, browse, claims, demo, param, pkce, sign_in};
use kinvex_test_kit::shipped::{stack, stack_with};
use serde_json::{Value, json};

#[tokio::test]
async fn full_pkce_flow_yields_valid_tokens_the_backend_accepts() {
    let stack = stack().await;
    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let user_id = &stack.accounts[0].user_id;

    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], stack.issuer());
    assert_eq!(id["aud"], json!([stack.state.config.client_id]));
    assert_eq!(id["azp"], stack.state.config.client_id);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["sub"], *user_id);
    assert_eq!(id["email"], "demo@kinvex.dev");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], json!(["convex"]));
    assert_eq!(
        access["scp"],
        json!(["openid", "profile", "email", "offline"])
    );
    assert!(
        tokens["refresh_token"].is_string(),
        "scope offline yields a refresh token"
    );

    // Both Kinde setups authenticate at the backend: the ID token and the `convex` access token.
    for token in [&tokens["id_token"], &tokens["access_token"]] {
        let (status, body) =
            call(&stack, "query", "users:current", json!({}), token.as_str()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success");
        assert_eq!(body["value"]["kindeId"], *user_id);
    }

    let profile: Value = reqwest::Client::new()
        .get(format!("{}/oauth2/v2/user_profile", stack.issuer()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["id"], *user_id);
    assert_eq!(profile["given_name"], "Dana");
}

#[tokio::test]
async fn a_second_sign_in_is_silent_unless_prompt_login() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let pkce = pkce();
    let none = authorize_url(&stack, &pkce, &[("prompt", "none")]);
    let redirect = browse(&ua, &none, &Action::Cancel).await;
    assert_eq!(param(&redirect, "error").as_deref(), Some("login_required"));

    browse(&ua, &authorize_url(&stack, &pkce, &[]), &demo(&stack)).await;
    // Now the browser has a session: no page is shown, so the Cancel action is never used.
    let silent = browse(&ua, &none, &Action::Cancel).await;
    assert!(param(&silent, "code").is_some(), "silent sign-in: {silent}");
    let forced = browse(
        &ua,
        &authorize_url(&stack, &pkce, &[("prompt", "login")]),
        &Action::Cancel,
    )
    .await;
    assert_eq!(
        param(&forced, "error").as_deref(),
        Some("access_denied"),
        "prompt=login shows the page again"
    );
}

#[tokio::test]
async fn cancel_returns_access_denied_with_the_state() {
    let stack = stack().await;
    let redirect = browse(
        &UserAgent::new(),
        &authorize_url(&stack, &pkce(), &[]),
        &Action::Cancel,
    )
    .await;
    assert!(redirect.as_str().starts_with(DEFAULT_REDIRECT_URI));
    assert_eq!(param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&redirect, "state").as_deref(), Some("state-123"));
}

#[tokio::test]
async fn wrong_password_is_shown_on_the_page_and_ends_nothing() {
    let stack = stack().await;
    let wrong = Action::SignIn {
        email: "demo@kinvex.dev".into(),
        password: "not-the-password".into(),
    };
    let error = UserAgent::new()
        .authorize(&authorize_url(&stack, &pkce(), &[]), &wrong, false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("incorrect"), "{error}");
}

#[tokio::test]
async fn registration_creates_the_user_and_the_webhook_reaches_the_backend() {
    let stack = stack().await;
    let action = Action::Register {
        given_name: "Robin".into(),
        family_name: "New".into(),
        email: "robin@example.com".into(),
        password: "a-long-password".into(),
    };
    let tokens = sign_in(&stack, &action, &[("prompt", "create")]).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(claims(id_token)["given_name"], "Robin");

    webhooks_until(&stack, |p| p.delivered >= 1).await;
    let (_, body) = call(&stack, "query", "users:current", json!({}), Some(id_token)).await;
    assert_eq!(body["value"]["email"], "robin@example.com", "{body}");
    assert_eq!(body["value"]["firstName"], "Robin");
}

#[tokio::test]
async fn logout_ends_the_browser_session_and_checks_the_redirect() {
    let stack =
        stack_with(|c| c.logout_redirects = vec!["http://127.0.0.1:53180/signed-out".into()]).await;
    let ua = UserAgent::new();
    let p = pkce();
    browse(&ua, &authorize_url(&stack, &p, &[]), &demo(&stack)).await;
    let logout = format!(
        "{}/logout?redirect=http://127.0.0.1:53180/signed-out",
        stack.issuer()
    );
    let redirect = ua
        .authorize(&logout, &Action::Cancel, false)
        .await
        .unwrap()
        .redirect;
    assert_eq!(redirect.as_str(), "http://127.0.0.1:53180/signed-out");
    let after = browse(
        &ua,
        &authorize_url(&stack, &p, &[("prompt", "none")]),
        &Action::Cancel,
    )
    .await;
    assert_eq!(param(&after, "error").as_deref(), Some("login_required"));

    let refused = reqwest::get(format!(
        "{}/logout?redirect=https://attacker.example/",
        stack.issuer()
    ))
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
}
