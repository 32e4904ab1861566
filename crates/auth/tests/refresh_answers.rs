//! The session survives whatever Kinde's refresh answer looks like: with no `id_token` (Kinde's
//! documented answer), with the access token it issued before (while that one is valid), and
//! with an `expires_in` that disagrees with the token's own `exp`. And the organisation shown
//! is the current one, not the first of all the person's organisations.
//!
//! The stack and the library read one clock, which a test moves instead of waiting; the stack's
//! refresh counter proves how often the library asked.

#![allow(clippy::unwrap_used)]

use kinvex_auth::token_store::PlaintextFile;
use kinvex_auth::{Auth, AuthError, SessionState, SignInOptions};
use kinvex_clock::{Clock, ManualClock};
use kinvex_devstack::Running;
use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
use kinvex_test_kit::env::Settings;
use kinvex_test_kit::stack::{self, TokenFile};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const HOUR: u64 = 3600;

async fn stack_with(
    clock: &ManualClock,
    adjust: impl FnOnce(&mut kinvex_devstack::Config),
) -> Running {
    let mut config = stack::config(Some(clock));
    adjust(&mut config);
    stack::start_with(config).await
}

/// The app on `file` (a second one on the same file is the app restarted), in the access-token
/// setup with `audience`, the ID-token setup without.
fn app(stack: &Running, clock: &ManualClock, file: &Path, audience: bool) -> Auth {
    let mut settings = Settings::for_stack(stack);
    if audience {
        settings = settings.with("KINDE_AUDIENCE", "convex");
    }
    stack::auth(
        settings.config(),
        Box::new(PlaintextFile::new(file.to_path_buf())),
        Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
    )
    .with_clock(clock.shared())
}

async fn sign_in(auth: &Auth, options: SignInOptions) {
    stack::sign_in(auth, &options).await;
}

fn refreshes(stack: &Running) -> u64 {
    stack.state.stats.refreshes.load(Ordering::SeqCst)
}

fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(jwt).unwrap()
}

#[tokio::test]
async fn in_the_access_token_setup_a_refresh_without_an_id_token_changes_nothing_for_the_person() {
    let clock = ManualClock::new();
    let stack = stack_with(&clock, |c| c.refresh_id_token = false).await;
    let file = TokenFile::new("no-id-access");
    let auth = app(&stack, &clock, &file, true);
    sign_in(&auth, SignInOptions::default()).await;
    let before = auth.identity().await.unwrap();
    let first = auth.bearer().await.unwrap();

    clock.advance(Duration::from_secs(25 * HOUR));
    let renewed = auth.bearer().await.unwrap();
    assert_ne!(renewed, first, "a new access token");
    assert_eq!(refreshes(&stack), 1);
    let tokens = auth.fresh_tokens().await.unwrap();
    assert_eq!(
        tokens.id_token_on_refresh,
        Some(false),
        "recorded for doctor"
    );
    let after = auth.identity().await.unwrap();
    assert_eq!(
        (&after.subject, &after.email, &after.name),
        (&before.subject, &before.email, &before.name),
        "the profile keeps the last ID token's claims"
    );
    assert!(matches!(
        *auth.watch().borrow(),
        SessionState::SignedIn { .. }
    ));

    let restarted = app(&stack, &clock, &file, true);
    assert_eq!(
        restarted
            .restore()
            .await
            .unwrap()
            .unwrap()
            .id_token_on_refresh,
        Some(false),
        "stored with the session"
    );
}

#[tokio::test]
async fn in_the_id_token_setup_a_refresh_without_an_id_token_keeps_the_session_and_says_what_to_configure()
 {
    let clock = ManualClock::new();
    let stack = stack_with(&clock, |c| c.refresh_id_token = false).await;
    let file = TokenFile::new("no-id-id");
    let auth = app(&stack, &clock, &file, false);
    sign_in(&auth, SignInOptions::default()).await;
    let first = auth.bearer().await.unwrap();
    let id_exp = claims(first.expose())["exp"].as_i64().unwrap();

    // Within a minute of the ID token's expiry: renewed, but no ID token comes back. The one
    // there is still good for a few seconds, so it is still handed out.
    clock.advance(Duration::from_secs(HOUR - 30));
    assert_eq!(auth.bearer().await.unwrap(), first);
    assert_eq!(refreshes(&stack), 1);
    let tokens = auth.fresh_tokens().await.unwrap();
    assert_eq!(tokens.id_token_on_refresh, Some(false));
    assert!(
        tokens.refresh_token.is_some(),
        "the rotated refresh token is kept"
    );

    // Once it has expired: a plain error naming the setup that works, no sign-out, and no
    // refresh on every call (another refresh would bring no ID token either).
    clock.advance(Duration::from_secs(60));
    assert!(clock.unix() > id_exp);
    for _ in 0..5 {
        let error = auth.bearer().await.unwrap_err();
        assert!(matches!(error, AuthError::IdTokenNotRenewed), "{error}");
        assert_eq!(error.code(), "id_token_not_renewed");
        let words = error.to_string();
        for needed in [
            "KINDE_AUDIENCE=convex",
            "audience `convex`",
            "still signed in",
        ] {
            assert!(words.contains(needed), "{words}");
        }
    }
    assert_eq!(refreshes(&stack), 1, "no refresh storm");
    assert!(matches!(
        *auth.watch().borrow(),
        SessionState::SignedIn { .. }
    ));
    assert_eq!(
        auth.identity().await.unwrap().subject,
        stack.accounts[0].user_id
    );

    // A restarted app knows it too, and does not refresh just to find out again.
    let restarted = app(&stack, &clock, &file, false);
    assert!(matches!(
        restarted.bearer().await.unwrap_err(),
        AuthError::IdTokenNotRenewed
    ));
    assert_eq!(refreshes(&stack), 1);

    // When the access token nears its expiry the session is still renewed, so the refresh
    // token never lapses.
    clock.advance(Duration::from_secs(24 * HOUR));
    assert!(matches!(
        restarted.bearer().await.unwrap_err(),
        AuthError::IdTokenNotRenewed
    ));
    assert_eq!(refreshes(&stack), 2);
    assert!(restarted.fresh_tokens().await.unwrap().access_expires_at > clock.unix());
}

#[tokio::test]
async fn a_repeated_access_token_is_accepted_with_its_own_expiry_and_not_refreshed_on_every_call() {
    let clock = ManualClock::new();
    let stack = stack_with(&clock, |c| c.refresh_reuses_access_token = true).await;
    let file = TokenFile::new("repeated");
    let auth = app(&stack, &clock, &file, true);
    sign_in(&auth, SignInOptions::default()).await;
    let first = auth.bearer().await.unwrap();
    let exp = claims(first.expose())["exp"].as_i64().unwrap();
    assert_eq!(auth.fresh_tokens().await.unwrap().access_expires_at, exp);

    // Within the renewal margin: the provider answers with the same token and the full
    // `expires_in`, a day more than the token has left.
    clock.advance(Duration::from_secs(24 * HOUR - 30));
    assert_eq!(auth.bearer().await.unwrap(), first);
    assert_eq!(refreshes(&stack), 1);
    assert_eq!(
        auth.fresh_tokens().await.unwrap().access_expires_at,
        exp,
        "the expiry is the token's own `exp`, not now + expires_in"
    );
    for _ in 0..10 {
        assert_eq!(auth.bearer().await.unwrap(), first);
    }
    assert_eq!(refreshes(&stack), 1, "no refresh storm");

    // Once it has expired, a refresh brings a new one.
    clock.advance(Duration::from_secs(31));
    let renewed = auth.bearer().await.unwrap();
    assert_ne!(renewed, first);
    assert_eq!(refreshes(&stack), 2);
}

#[tokio::test]
async fn the_organisation_shown_is_the_current_one_of_several() {
    let clock = ManualClock::new();
    let stack = stack_with(&clock, |_| {}).await;
    let user = &stack.accounts[0].user_id;
    let response = reqwest::Client::new()
        .patch(format!("{}/_devstack/users/{user}", stack.issuer()))
        .json(&json!({ "organizations": ["org_first", "org_second"] }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let file = TokenFile::new("orgs");
    let auth = app(&stack, &clock, &file, false);
    sign_in(
        &auth,
        SignInOptions {
            org_code: Some("org_second".into()),
            ..SignInOptions::default()
        },
    )
    .await;
    let tokens = auth.fresh_tokens().await.unwrap();
    assert_eq!(
        claims(tokens.id_token.expose())["org_codes"],
        json!(["org_first", "org_second"]),
        "the ID token lists them all"
    );
    assert_eq!(
        auth.identity().await.unwrap().organization.as_deref(),
        Some("org_second")
    );

    clock.advance(Duration::from_secs(2 * HOUR));
    auth.bearer().await.unwrap();
    assert_eq!(refreshes(&stack), 1);
    assert_eq!(
        auth.identity().await.unwrap().organization.as_deref(),
        Some("org_second"),
        "still the current one after a renewal"
    );
}
