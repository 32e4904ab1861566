//! The sign-in core for a command that needs it: settings from the environment and `.env`, the
//! keychain (or the opted-in plaintext file) and an HTTP client. Built only by such commands,
//! so help, version and completion work with nothing configured.

use crate::error::CliError;
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::http::HttpClient;
use kinvex_auth::{Auth, Config, default_store};
use std::sync::Arc;

pub fn auth() -> Result<Auth, CliError> {
    let config = Config::from_system()?;
    let http = HttpClient::new().map_err(CliError::HttpClient)?;
    let store = default_store(&config);
    Ok(Auth::new(config, http, store, Arc::new(SystemBrowser)))
}
