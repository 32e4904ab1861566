//! The local identity provider's pages in a real browser (Debian's headless Chromium): a person
//! can sign in, cancel and register, and the browser carries them back to the app's callback.

use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::{Callback, Session, pkce};
use serde_json::Value;
use url::Url;

fn authorize_url(stack: &Running, redirect: &str, challenge: &str, prompt: Option<&str>) -> String {
    let mut url = Url::parse(&format!("{}/oauth2/auth", stack.issuer())).expect("issuer is a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &stack.state.config.client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile email offline")
        .append_pair("state", "chromium-state")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(prompt) = prompt {
        url.query_pairs_mut().append_pair("prompt", prompt);
    }
    url.to_string()
}

async fn exchange(stack: &Running, redirect: &str, code: &str, verifier: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", stack.issuer()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", stack.state.config.client_id.as_str()),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token endpoint reachable");
    assert_eq!(response.status(), 200);
    response.json().await.expect("token JSON")
}

#[tokio::test]
async fn a_person_signs_in_cancels_and_registers_in_chromium() {
    let mut callback = Callback::listen().await;
    let stack = start(Config {
        redirect_uris: vec![callback.url.clone()],
        ..Config::default()
    })
    .await
    .expect("stack starts");
    let profile = std::env::temp_dir().join(format!("kinvex-chromium-{}", std::process::id()));
    let browser = Session::chromium(&profile).await;

    // Sign in with the demo account.
    let (verifier, challenge) = pkce();
    browser
        .client()
        .goto(&authorize_url(&stack, &callback.url, &challenge, None))
        .await
        .expect("open authorize URL");
    assert_eq!(browser.text_of("h1").await, "Sign in");
    browser.screenshot("provider-sign-in").await;
    let demo = &stack.accounts[0];
    browser.fill("input[name=email]", &demo.email).await;
    // Enter in the password field must sign in, not press the form's other button.
    browser
        .fill(
            "input[name=password]",
            &format!("{}\u{E007}", demo.password),
        )
        .await;
    let query = callback.next().await;
    assert_eq!(
        query.get("state").map(String::as_str),
        Some("chromium-state")
    );
    let tokens = exchange(&stack, &callback.url, &query["code"], &verifier).await;
    assert!(tokens["id_token"].is_string());

    // The browser now has a session; prompt=login shows the page again, and Cancel denies.
    let (_, challenge) = pkce();
    browser
        .client()
        .goto(&authorize_url(
            &stack,
            &callback.url,
            &challenge,
            Some("login"),
        ))
        .await
        .expect("open");
    browser.click("button[value=cancel]").await;
    let query = callback.next().await;
    assert_eq!(
        query.get("error").map(String::as_str),
        Some("access_denied")
    );

    // Registration through prompt=create.
    let (verifier, challenge) = pkce();
    browser
        .client()
        .goto(&authorize_url(
            &stack,
            &callback.url,
            &challenge,
            Some("create"),
        ))
        .await
        .expect("open");
    assert_eq!(browser.text_of("h1").await, "Create your account");
    browser.screenshot("provider-register").await;
    browser.fill("input[name=given_name]", "Chris").await;
    browser.fill("input[name=family_name]", "Chromium").await;
    browser.fill("input[name=email]", "chris@example.com").await;
    browser
        .fill("input[name=password]", "correct horse battery")
        .await;
    browser.click("button[value=register]").await;
    let query = callback.next().await;
    let tokens = exchange(&stack, &callback.url, &query["code"], &verifier).await;
    let id_token = tokens["id_token"].as_str().expect("id token");
    assert!(id_token.split('.').count() == 3);

    browser.close().await;
    stack.stop().await;
    let _ = std::fs::remove_dir_all(profile);
}
