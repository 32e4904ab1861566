//! The provider's `Date` header tells the stack's time, so a client that measures its clock
//! against the provider's sees a skew the test put there.

#![allow(clippy::unwrap_used)]

use kinvex_clock::ManualClock;
use kinvex_test_kit::shipped::stack_with;
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn the_provider_dates_its_answers_by_the_stack_clock_not_the_machines() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(600));
    let stack = stack_with(|c| c.clock = clock.shared()).await;
    let response = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        stack.issuer()
    ))
    .await
    .unwrap();
    let date = response.headers()[reqwest::header::DATE].to_str().unwrap();
    let said = httpdate::parse_http_date(date).unwrap();
    let ahead = said.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        (Duration::from_secs(590)..=Duration::from_secs(610)).contains(&ahead),
        "Date {date} is {ahead:?} ahead of this machine, not the stack's 600 s"
    );
}
