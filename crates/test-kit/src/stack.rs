//! A local stack in the test's own process, and the library's `Auth` pointed at it with a token
//! store no other test shares.

use kinvex_auth::browser::Browser;
use kinvex_auth::http::HttpClient;
use kinvex_auth::token_store::SecretStore;
use kinvex_auth::{Auth, Config, SignInOptions, TokenSet, TokenStore};
use kinvex_clock::ManualClock;
use kinvex_devstack::Running;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The stack settings tests start from: ephemeral (nothing on disk), on free ports, and taking
/// the app's loopback redirect on any port (RFC 8252 §7.3), since tests run side by side. With
/// `clock`, the stack reads its time from it, so a test moves both sides' time at once.
pub fn config(clock: Option<&ManualClock>) -> kinvex_devstack::Config {
    let mut config = kinvex_devstack::Config {
        data_dir: None,
        idp_port: 0,
        api_port: 0,
        site_port: 0,
        any_loopback_port: true,
        ..kinvex_devstack::Config::default()
    };
    if let Some(clock) = clock {
        config.clock = clock.shared();
    }
    config
}

/// Starts a stack with the test settings of [`config`].
pub async fn start(clock: Option<&ManualClock>) -> Running {
    start_with(config(clock)).await
}

/// Starts a stack with `config`: [`config`] with what the test changes.
pub async fn start_with(config: kinvex_devstack::Config) -> Running {
    kinvex_devstack::start(config)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"))
}

/// The library's `Auth` for `config`, opening sign-ins in `browser` and keeping its session in
/// `secrets` (say a `Memory` or a [`TokenFile`] store) under the key the app would use.
pub fn auth(config: Config, secrets: Box<dyn SecretStore>, browser: Arc<dyn Browser>) -> Auth {
    let store = TokenStore::new(secrets, config.issuer_str(), &config.client_id);
    let http = HttpClient::new().unwrap_or_else(|e| panic!("no HTTP client: {e}"));
    Auth::new(config, http, store, browser)
}

/// Signs `auth` in with `options` through its browser (a headless one in tests), with a bound on
/// the whole sign-in; a failure fails the test.
pub async fn sign_in(auth: &Auth, options: &SignInOptions) -> TokenSet {
    auth.sign_in(
        options,
        true,
        std::time::Duration::from_secs(30),
        |_| {},
        std::future::pending(),
    )
    .await
    .unwrap_or_else(|e| panic!("sign-in failed: {e}"))
}

/// A token file of the test's own, alone in a directory of its own (the plaintext store keeps
/// its file only in a private directory), both removed when dropped. A second `Auth` on the same
/// file is the app restarted.
#[derive(Debug)]
pub struct TokenFile(PathBuf);

impl TokenFile {
    /// A new file path in a new directory under the temporary one; `tag` names the directory
    /// for whoever finds it there.
    pub fn new(tag: &str) -> TokenFile {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("kinvex-tokens-{}-{n}-{tag}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TokenFile(dir.join("tokens.json"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TokenFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TokenFile {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
