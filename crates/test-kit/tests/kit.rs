//! The kit against a real local stack: what tests rely on it for, checked once here.

use kinvex_clock::ManualClock;
use kinvex_devstack::user_agent::Action;
use kinvex_test_kit::browser::HeadlessBrowser;
use kinvex_test_kit::env::{ANY_PORT_REDIRECT, Settings};
use kinvex_test_kit::port;
use kinvex_test_kit::stack::{self, TokenFile};
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn the_settings_point_the_library_at_the_stack() {
    let stack = stack::start(None).await;
    let settings = Settings::for_stack(&stack);
    let config = settings.config();
    assert_eq!(config.issuer_str(), stack.issuer());
    assert_eq!(config.client_id, stack.state.config.client_id);
    assert_eq!(config.redirect.as_str(), ANY_PORT_REDIRECT);
    assert_eq!(
        config
            .convex_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/')),
        Some(stack.api_url())
    );
    assert_eq!(config.audience, None, "the ID-token setup unless asked");
    let with_audience = settings.with("KINDE_AUDIENCE", "convex").config();
    assert_eq!(with_audience.audience.as_deref(), Some("convex"));
}

#[tokio::test]
async fn a_stack_given_a_manual_clock_reads_its_time_from_it() {
    let clock = ManualClock::new();
    let stack = stack::start(Some(&clock)).await;
    clock.advance(Duration::from_secs(3600));
    let ahead = stack
        .state
        .clock
        .now()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    assert!(ahead > Duration::from_secs(3590), "{ahead:?} ahead");
}

#[tokio::test]
async fn a_hand_over_that_cannot_happen_closes_the_receiver() {
    let (browser, mut handed) = HeadlessBrowser::handing_over(Action::Cancel);
    let nowhere = format!("http://127.0.0.1:{}/oauth2/auth", port::free());
    kinvex_auth::browser::Browser::open(&browser, &nowhere).expect("opened");
    assert_eq!(browser.opened(), [nowhere]);
    let heard = tokio::time::timeout(Duration::from_secs(20), handed.recv()).await;
    assert_eq!(
        heard,
        Ok(None),
        "the waiting test hears of it, not of a redirect"
    );
}

#[test]
fn a_token_file_is_removed_with_its_test() {
    let file = TokenFile::new("kit");
    std::fs::write(&file, "{}").expect("write");
    let path = file.path().to_path_buf();
    assert!(path.exists());
    assert_ne!(path, TokenFile::new("kit").path(), "each file is its own");
    drop(file);
    assert!(!path.exists());
}
