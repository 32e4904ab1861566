//! After Kinde rotates its signing keys, a Convex deployment keeps the key set it cached until
//! the cache expires (per the provider's Cache-Control; it does not refetch for an unknown
//! `kid`), so a token signed with the new key gets 401 however often the session is renewed.
//! The app says so plainly, keeps the session, and the first call after the cache expires works.

#![allow(clippy::unwrap_used)]

use kinvex_auth::SessionState;
use kinvex_auth::SignInOptions;
use kinvex_auth::token_store::PlaintextFile;
use kinvex_clock::ManualClock;
use kinvex_convex::{Client, ConvexError, Kind};
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const ACCESS_LIFETIME: u64 = 600;

#[tokio::test]
async fn a_401_that_survives_a_renewal_after_a_key_rotation_keeps_the_session_and_passes() {
    let clock = ManualClock::new();
    let mut config = stack::config(Some(&clock));
    config.lifetimes.access = Duration::from_secs(ACCESS_LIFETIME);
    let stack = stack::start_with(config).await;
    let key_cache = stack.state.lifetimes().key_cache.as_secs();
    assert!(
        key_cache > 2 * ACCESS_LIFETIME,
        "the cache outlives a token"
    );
    let refreshes = || stack.state.stats.refreshes.load(Ordering::SeqCst);

    let file = TokenFile::new("key-rotation");
    let auth = stack::auth(
        Settings::for_stack(&stack)
            .with("KINDE_AUDIENCE", "convex")
            .config(),
        Box::new(PlaintextFile::new(file.to_path_buf())),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    )
    .with_clock(clock.shared());
    stack::sign_in(&auth, &SignInOptions::default()).await;
    let client = Client::for_auth(&auth).unwrap();
    let args = json!({});
    let call = || client.call_as(&auth, Kind::Query, "users:current", &args);
    call().await.unwrap();

    // The deployment now holds the key set without the key Kinde signs with next.
    let rotated = reqwest::Client::new()
        .post(format!("{}/_devstack/keys/rotate", stack.issuer()))
        .send()
        .await
        .unwrap();
    assert!(rotated.status().is_success(), "{}", rotated.status());

    clock.advance(Duration::from_secs(ACCESS_LIFETIME));
    let error = call().await.unwrap_err();
    assert!(
        matches!(error, ConvexError::RejectsToken { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), "convex_rejects_token");
    let words = error.to_string();
    for needed in ["still signed in", "try again in a few minutes"] {
        assert!(words.contains(needed), "{words}");
    }
    assert_eq!(
        refreshes(),
        2,
        "renewed once for expiry, once for the retry"
    );
    assert!(
        matches!(*auth.watch().borrow(), SessionState::SignedIn { .. }),
        "never signed out"
    );
    assert!(auth.restore().await.unwrap().is_some(), "still stored");

    // Once the deployment's cache has expired it fetches the keys again: the next call works.
    clock.advance(Duration::from_secs(key_cache));
    call().await.unwrap();
}
