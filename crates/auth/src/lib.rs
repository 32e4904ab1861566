//! Sign-in core for Kinvex, with no Tauri dependency: Kinde through the system browser and a
//! loopback redirect (RFC 8252) with PKCE, OIDC discovery and full ID-token validation, tokens
//! kept in the OS keychain. The desktop app and the `kinvex` CLI are thin front ends over it.

pub mod browser;
pub mod config;
pub mod discovery;
pub mod error;
pub mod http;
pub mod id_token;
pub mod loopback;
pub mod redirect;
pub mod secret;
pub mod session;
pub mod token_store;

pub use config::Config;
pub use error::AuthError;
pub use secret::Secret;
pub use session::{Auth, SessionState, SignInOptions, Status};
pub use token_store::{TokenSet, TokenStore};

use std::path::PathBuf;

/// The store a real build uses: the OS keychain, or a plaintext file when the person has set
/// `KINVEX_PLAINTEXT_TOKENS=1` (never silently).
pub fn default_store(config: &Config) -> TokenStore {
    let backend: Box<dyn token_store::SecretStore> =
        if std::env::var("KINVEX_PLAINTEXT_TOKENS").is_ok_and(|v| v == "1") {
            Box::new(token_store::PlaintextFile::new(plaintext_path()))
        } else {
            Box::new(token_store::Keychain::new(token_store::SERVICE))
        };
    TokenStore::new(backend, config.issuer_str(), &config.client_id)
}

fn plaintext_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("kinvex").join("tokens.json")
}
