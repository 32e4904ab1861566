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
