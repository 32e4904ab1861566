//! Harness for end-to-end tests: the real debug app driven through tauri-driver and
//! WebKitWebDriver, Debian's Chromium driven through chromedriver, and the local stack.
//!
//! `cargo xtask test` provides what this needs: a display (Xvfb), a D-Bus session with
//! gnome-keyring, the drivers on the PATH and the app binary in `KINVEX_E2E_APP`. Run outside
//! that, a test fails with a message saying so rather than passing without having run.

mod callback;
pub mod desktop;
mod driver;
mod env;
pub mod hostile;
mod keychain;
pub mod keys;
mod paths;
mod session;

pub use callback::Callback;
pub use driver::Driver;
pub use env::required_env;
pub use keychain::keychain_items;
pub use kinvex_test_kit::port::free as free_port;
pub use paths::repo_root;
pub use session::Session;

use std::time::Duration;

/// How long a window or page may take to appear on a slow CI runner.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// A PKCE verifier and its S256 challenge, for tests that play the client.
pub fn pkce() -> (String, String) {
    let pkce = kinvex_test_kit::oauth::pkce();
    (pkce.verifier, pkce.challenge)
}
