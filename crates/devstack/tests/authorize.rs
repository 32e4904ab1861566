//! The authorization endpoint's rejections: which problems get an error page and which go back
//! to the client's redirect URI (RFC 6749 §4.1.2.1).

#![allow(clippy::unwrap_used)]

use kinvex_devstack::user_agent::{Action, UserAgent};
use kinvex_test_kit::oauth::{authorize_url, browse, demo, param, pkce, with_param};
use kinvex_test_kit::shipped::{stack, stack_with};

#[tokio::test]
async fn pkce_is_required_and_must_be_s256() {
    let stack = stack().await;
    let ua = UserAgent::new();
    let url = authorize_url(&stack, &pkce(), &[]);
    for bad in [
        with_param(&url, "code_challenge", None),
        with_param(&url, "code_challenge_method", None),
        with_param(&url, "code_challenge_method", Some("plain")),
    ] {
        let redirect = browse(&ua, &bad, &demo(&stack)).await;
        assert_eq!(
            param(&redirect, "error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        assert_eq!(param(&redirect, "state").as_deref(), Some("state-123"));
    }
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect() {
    let stack = stack().await;
    let url = authorize_url(&stack, &pkce(), &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for bad in [
        with_param(&url, "client_id", Some("someone-else")),
        with_param(
            &url,
            "redirect_uri",
            Some("http://127.0.0.1:53180/elsewhere"),
        ),
        with_param(&url, "redirect_uri", Some("http://127.0.0.1:9999/callback")),
        with_param(
            &url,
            "redirect_uri",
            Some("https://attacker.example/callback"),
        ),
    ] {
        let response = http.get(&bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn any_loopback_port_is_accepted_only_when_enabled() {
    let stack = stack_with(|c| c.any_loopback_port = true).await;
    let url = with_param(
        &authorize_url(&stack, &pkce(), &[]),
        "redirect_uri",
        Some("http://127.0.0.1:41234/callback"),
    );
    let redirect = browse(&UserAgent::new(), &url, &Action::Cancel).await;
    assert!(
        redirect
            .as_str()
            .starts_with("http://127.0.0.1:41234/callback?"),
        "{redirect}"
    );
}

/// The first page the authorization request shows: which form it holds.
async fn first_form(url: &str) -> &'static str {
    let html = reqwest::get(url).await.unwrap().text().await.unwrap();
    if html.contains("action=\"/oauth2/auth/register\"") {
        "register"
    } else if html.contains("action=\"/oauth2/auth/sign-in\"") {
        "sign-in"
    } else {
        panic!("neither form: {html}")
    }
}

#[tokio::test]
async fn start_page_registration_opens_the_registration_page_like_prompt_create() {
    let stack = stack().await;
    let url = |extra: &[(&str, &str)]| authorize_url(&stack, &pkce(), extra);
    assert_eq!(first_form(&url(&[])).await, "sign-in");
    assert_eq!(first_form(&url(&[("prompt", "create")])).await, "register");
    assert_eq!(
        first_form(&url(&[("start_page", "registration")])).await,
        "register"
    );
    assert_eq!(
        first_form(&url(&[("start_page", "registration"), ("prompt", "login")])).await,
        "sign-in",
        "an explicit prompt wins"
    );

    // And the registration it opens completes.
    let action = Action::Register {
        given_name: "Robin".into(),
        family_name: "New".into(),
        email: "robin@example.com".into(),
        password: "a-long-password".into(),
    };
    let redirect = browse(
        &UserAgent::new(),
        &url(&[("start_page", "registration")]),
        &action,
    )
    .await;
    assert!(param(&redirect, "code").is_some(), "{redirect}");
}

async fn audience(stack: &kinvex_devstack::Running, extra: &[(&str, &str)]) -> serde_json::Value {
    let tokens = kinvex_test_kit::oauth::sign_in(stack, &demo(stack), extra).await;
    kinvex_test_kit::oauth::claims(tokens["access_token"].as_str().unwrap())["aud"].clone()
}

#[tokio::test]
async fn audiences_come_repeated_or_space_separated() {
    let stack =
        stack_with(|c| c.audiences = vec!["convex".into(), "files".into(), "mail".into()]).await;
    // Kinde's SDKs repeat the parameter; its docs separate with spaces.
    assert_eq!(
        audience(&stack, &[("audience", "convex"), ("audience", "files")]).await,
        serde_json::json!(["convex", "files"])
    );
    assert_eq!(
        audience(
            &stack,
            &[("audience", "convex files"), ("audience", "mail")]
        )
        .await,
        serde_json::json!(["convex", "files", "mail"])
    );
    assert_eq!(
        audience(
            &stack,
            &[("audience", "convex"), ("audience", "convex unknown")]
        )
        .await,
        serde_json::json!(["convex"]),
        "duplicates once, unknown ones left out"
    );
}
