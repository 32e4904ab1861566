//! What the window's tests share: a local stack on free ports and the settings that point the
//! app at it, with the headless user agent signing in as the demo person.

use crate::required_env;
use kinvex_devstack::{Config, Running, start};

/// A local stack on free loopback ports, with its seeded people.
pub async fn local_stack() -> Running {
    start(Config {
        any_loopback_port: true,
        ..Config::default()
    })
    .await
    .expect("stack starts")
}

/// The app's environment for `stack`, with `browser` as the system browser.
pub fn app_settings(stack: &Running, browser: &str) -> Vec<(String, String)> {
    [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        ("BROWSER", browser.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A system browser that signs in as the stack's demo person.
pub fn demo_browser(stack: &Running) -> String {
    let demo = &stack.accounts[0];
    format!(
        "{} browse --email {} --password {}",
        required_env("KINVEX_E2E_DEVSTACK"),
        demo.email,
        demo.password
    )
}
