//! The stack's time is its clock's: a test that shares a [`ManualClock`] with the stack moves
//! time forward and what the stack issued expires at once, with no waiting.

#![allow(clippy::unwrap_used)]

use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use kinvex_devstack::user_agent::UserAgent;
use kinvex_test_kit::backend::call;
use kinvex_test_kit::oauth::{
    Pkce, authorize_url, browse, claims, demo, exchange, param, pkce, refresh, sign_in,
};
use kinvex_test_kit::shipped::stack_with;
use serde_json::{Value, json};
use std::time::Duration;

async fn stack_on(clock: &ManualClock) -> Running {
    stack_with(|c| c.clock = clock.shared()).await
}

/// A code for the demo user, bound to `pkce`.
async fn code(stack: &Running, ua: &UserAgent, pkce: &Pkce) -> String {
    let redirect = browse(ua, &authorize_url(stack, pkce, &[]), &demo(stack)).await;
    param(&redirect, "code").unwrap()
}

/// The status and `error_description` of an OAuth error response.
async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error_description"].as_str().unwrap().into())
}

#[tokio::test]
async fn an_access_token_is_expired_once_the_clock_passes_its_exp() {
    let clock = ManualClock::new();
    let stack = stack_on(&clock).await;
    let tokens = sign_in(&stack, &demo(&stack), &[("audience", "convex")]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let profile = || {
        reqwest::Client::new()
            .get(format!("{}/oauth2/v2/user_profile", stack.issuer()))
            .bearer_auth(access)
            .send()
    };
    let (status, body) = call(&stack, "query", "users:current", json!({}), Some(access)).await;
    assert_eq!(status, 200, "fresh: {body}");
    assert_eq!(profile().await.unwrap().status(), 200);

    clock.advance(stack.state.lifetimes().access + Duration::from_secs(1));
    let (status, body) = call(&stack, "query", "users:current", json!({}), Some(access)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "Unauthenticated", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Could not verify OIDC token claim")),
        "{body}"
    );
    assert_eq!(
        profile().await.unwrap().status(),
        401,
        "the provider judges by the same clock"
    );
}

#[tokio::test]
async fn an_authorization_code_expires_with_the_clock() {
    let clock = ManualClock::new();
    let stack = stack_on(&clock).await;
    let lifetime = stack.state.lifetimes().code;
    let ua = UserAgent::new();

    let early = pkce();
    let first = code(&stack, &ua, &early).await;
    clock.advance(lifetime - Duration::from_secs(5));
    assert_eq!(
        exchange(&stack, &first, &early.verifier).await.status(),
        200,
        "still within its lifetime"
    );

    let late = pkce();
    let second = code(&stack, &ua, &late).await;
    clock.advance(lifetime + Duration::from_secs(1));
    assert_eq!(
        refusal(exchange(&stack, &second, &late.verifier).await).await,
        (400, "The authorization code has expired".into())
    );
}

#[tokio::test]
async fn a_refresh_token_past_its_lifetime_is_refused() {
    let clock = ManualClock::new();
    let stack = stack_on(&clock).await;
    let lifetime = stack.state.lifetimes().refresh;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;

    clock.advance(lifetime - Duration::from_secs(60));
    let rotated: Value = refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"]
        .as_str()
        .expect("still valid, it rotates");

    clock.advance(lifetime + Duration::from_secs(1));
    assert_eq!(
        refusal(refresh(&stack, second).await).await,
        (400, "The refresh token has expired".into())
    );
}

#[tokio::test]
async fn documents_and_sign_ins_are_stamped_with_the_clocks_time() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    let stack = stack_on(&clock).await;
    let before_ms = stack.state.clock.unix_ms();
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let id = claims(id_token);
    let now = stack.state.clock.unix();
    for claim in ["iat", "auth_time"] {
        let at = id[claim].as_i64().unwrap();
        assert!((now - 60..=now).contains(&at), "{claim} {at} is not {now}");
    }

    let (_, body) = call(&stack, "mutation", "users:store", json!({}), Some(id_token)).await;
    assert!(body["value"].is_string(), "{body}");
    let (_, body) = call(&stack, "query", "users:current", json!({}), Some(id_token)).await;
    let updated = body["value"]["updatedAt"].as_f64().unwrap();
    assert!(
        updated >= before_ms && updated <= stack.state.clock.unix_ms(),
        "updatedAt {updated} is the clock's time, a month ahead of the system's"
    );
}
