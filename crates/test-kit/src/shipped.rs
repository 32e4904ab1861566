//! The local stack as it ships (exact redirect matching, Kinde's lifetimes, the demo accounts),
//! for tests that hold the stack itself to Kinde's and Convex's behaviour. Only webhook retries
//! are quicker, so a test of a retry waits milliseconds rather than Kinde's seconds.

use kinvex_devstack::{Config, Running};
use std::time::Duration;

/// The shipped settings with webhook retries after 50 and 100 ms, changed by `adjust`.
pub async fn stack_with(adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config {
        webhook_retries: vec![Duration::from_millis(50), Duration::from_millis(100)],
        ..Config::default()
    };
    adjust(&mut config);
    crate::stack::start_with(config).await
}

/// The shipped settings, as [`stack_with`] gives them.
pub async fn stack() -> Running {
    stack_with(|_| {}).await
}
