//! The two ways Kinde may answer a refresh that the stack reproduces on request: with no
//! `id_token` (Kinde's documented refresh answer has none), and with the access token it issued
//! before while that one is still valid.

#![allow(clippy::unwrap_used)]

use kinvex_clock::{Clock, ManualClock};
use kinvex_test_kit::oauth::{claims, demo, refresh, sign_in};
use kinvex_test_kit::shipped::stack_with;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn without_refresh_id_tokens_a_refresh_answers_with_none_but_a_sign_in_still_has_one() {
    let stack = stack_with(|c| c.refresh_id_token = false).await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    assert!(tokens["id_token"].is_string(), "the code exchange has one");

    let renewed: Value = refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(renewed.get("id_token").is_none(), "{renewed}");
    assert!(renewed["access_token"].is_string());
    assert!(renewed["refresh_token"].is_string(), "still rotated");
    assert_ne!(renewed["access_token"], tokens["access_token"]);
}

#[tokio::test]
async fn reusing_access_tokens_a_refresh_while_it_is_valid_repeats_it_with_its_own_exp() {
    let clock = ManualClock::new();
    let stack = stack_with(|c| {
        c.refresh_reuses_access_token = true;
        c.clock = clock.shared();
    })
    .await;
    let lifetime = stack.state.lifetimes().access.as_secs() as i64;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let first = tokens["access_token"].as_str().unwrap().to_string();
    let exp = claims(&first)["exp"].as_i64().unwrap();

    clock.advance(Duration::from_secs(3600));
    let renewed: Value = refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renewed["access_token"].as_str(), Some(first.as_str()));
    assert_eq!(claims(&first)["exp"].as_i64(), Some(exp));
    // The answer's `expires_in` is the configured lifetime, an hour more than the token has
    // left: only the token's own `exp` tells the truth.
    assert_eq!(renewed["expires_in"].as_i64(), Some(lifetime));
    assert!(exp - clock.unix() < lifetime);
    assert!(
        renewed["id_token"].is_string(),
        "ID tokens are still renewed"
    );

    clock.advance(Duration::from_secs(lifetime as u64));
    let before = clock.unix();
    let later: Value = refresh(&stack, renewed["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let next = later["access_token"].as_str().unwrap();
    assert_ne!(next, first, "an expired access token is never repeated");
    // The clock follows real time too: the new token's exp is now's, give or take the call.
    let issued = claims(next)["exp"].as_i64().unwrap() - lifetime;
    assert!((before..=clock.unix()).contains(&issued), "{issued}");
}

#[tokio::test]
async fn by_default_every_refresh_mints_a_new_access_token_and_id_token() {
    let stack = stack_with(|_| {}).await;
    let tokens = sign_in(&stack, &demo(&stack), &[]).await;
    let renewed: Value = refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(renewed["access_token"], tokens["access_token"]);
    assert!(renewed["id_token"].is_string());
    assert_eq!(renewed["token_type"], "Bearer", "as in Kinde's examples");
}
