//! Sign-in core for Kinvex, with no Tauri dependency: Kinde through the system browser and a
//! loopback redirect (RFC 8252) with PKCE, OIDC discovery and full ID-token validation, tokens
//! kept in the OS keychain. The desktop app and the `kinvex` CLI are thin front ends over it.

pub mod access;
pub mod accounts;
pub mod browser;
pub mod config;
pub mod discovery;
pub mod error;
pub mod http;
pub mod id_token;
pub mod keychain;
pub mod loopback;
pub mod organizations;
pub mod private_dir;
pub mod redirect;
pub mod secret;
pub mod session;
pub mod token_store;

pub use access::{Access, FlagValue, Role};
pub use accounts::Account;
pub use config::Config;
pub use error::AuthError;
pub use organizations::Organization;
pub use secret::Secret;
pub use session::{Auth, LiveBearer, SessionState, SignInOptions, Status};
pub use token_store::{TokenSet, TokenStore};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

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
    plaintext_path_in(
        std::env::var_os("XDG_DATA_HOME").as_deref(),
        std::env::var_os("HOME").as_deref(),
        &std::env::temp_dir(),
        &private_dir::current_user(),
    )
}

/// Where the opted-in token file goes, from the values of `XDG_DATA_HOME`, `HOME` and the
/// temporary directory: a pure function, so the choice is tested without touching the
/// environment. Relative or empty values are ignored, as the XDG rules say; with neither, the
/// file goes to this user's own directory under the temporary one, never to a shared one.
pub fn plaintext_path_in(
    data_home: Option<&OsStr>,
    home: Option<&OsStr>,
    temp: &Path,
    user: &str,
) -> PathBuf {
    fn absolute(value: Option<&OsStr>) -> Option<&Path> {
        value.map(Path::new).filter(|p| p.is_absolute())
    }
    let dir = absolute(data_home)
        .map(|d| d.join("kinvex"))
        .or_else(|| absolute(home).map(|h| h.join(".local/share/kinvex")))
        .unwrap_or_else(|| private_dir::per_user(temp, user));
    dir.join("tokens.json")
}
