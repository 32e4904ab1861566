//! The sign-in boundary's errors. Each has a stable [`AuthError::code`] that front ends switch
//! on, and a message that says what happened and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(
        "Cannot reach the sign-in service at {url}: {detail}. Check your connection and KINDE_ISSUER_URL."
    )]
    ProviderUnreachable { url: String, detail: String },
    /// The provider itself is the problem (5xx, no answer in time), not the configuration.
    #[error("The sign-in service at {url} is unavailable ({detail}); try again in a moment.")]
    ProviderUnavailable { url: String, detail: String },
    #[error(
        "The sign-in service at {url} answered unexpectedly: {detail}. Check KINDE_ISSUER_URL."
    )]
    Discovery { url: String, detail: String },
    #[error(
        "Port {port} on {host} is in use, so the sign-in callback cannot listen there. Close the program using it, or register another callback URL with Kinde and set KINDE_REDIRECT_URL (or KINDE_REDIRECT_FALLBACK_PORTS)."
    )]
    PortInUse { host: String, port: u16 },
    #[error("Cannot listen for the sign-in callback on {address}: {detail}")]
    Listener { address: String, detail: String },
    #[error("Could not open a browser ({detail}). Open this address yourself to continue: {url}")]
    Browser { url: String, detail: String },
    #[error("Sign-in was cancelled in the browser.")]
    Denied,
    #[error("The sign-in service refused: {error}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
    },
    #[error(
        "Sign-in timed out after {seconds} seconds without an answer from the browser. Try again."
    )]
    Timeout { seconds: u64 },
    #[error("Sign-in was cancelled.")]
    Cancelled,
    #[error("Exchanging the sign-in code failed: {0}")]
    TokenExchange(String),
    #[error("The sign-in service returned an ID token that failed validation: {0}")]
    IdToken(String),
    #[error("The sign-in service returned an access token that failed validation: {0}")]
    AccessToken(String),
    #[error(
        "Your session has ended (the refresh token was revoked or has expired). Sign in again."
    )]
    SessionEnded,
    #[error(
        "No keychain is available: {detail}. On Linux, start a Secret Service (gnome-keyring or KeePassXC) in your desktop session, or opt in to plaintext storage with KINVEX_PLAINTEXT_TOKENS=1."
    )]
    KeychainUnavailable { detail: String },
    #[error("The keychain refused access: {detail}. Unlock your keychain and try again.")]
    Keychain { detail: String },
    #[error("Cannot use the token file {path}: {detail}")]
    TokenFile { path: PathBuf, detail: String },
    #[error("You are not signed in. Sign in first.")]
    NotSignedIn,
    #[error(
        "Cannot reach the sign-in service to renew your session ({detail}). You are still signed in; it will be renewed when the connection returns."
    )]
    Offline { detail: String },
    #[error("Please sign in again: {0}")]
    SignInAgain(String),
    /// The ID-token setup on a provider that renews sessions without ID tokens (Kinde may):
    /// the session lives on, but the token Convex gets cannot be renewed.
    #[error(
        "You are still signed in, but Kinde renewed the session without a new ID token, and the app sends Convex the ID token, which lasts an hour. Switch to the access-token setup, which works whatever Kinde returns: in Kinde add an API with audience `convex` and authorise this application for it; set KINDE_AUDIENCE=convex for the app; set the deployment's KINDE_CONVEX_APPLICATION_ID to `convex` (npx convex env set KINDE_CONVEX_APPLICATION_ID convex); then sign in again."
    )]
    IdTokenNotRenewed,
    #[error(
        "Another kinvex process (the app or a CLI command) has held the session lock at {path} for over {seconds} seconds. Let it finish or close it, then try again."
    )]
    SessionLocked { path: PathBuf, seconds: u64 },
    /// No account with this subject is signed in on the configured tenant.
    #[error(
        "No account {account:?} is signed in here. See your accounts with `kinvex accounts`, or sign in with `kinvex login`."
    )]
    NoSuchAccount { account: String },
    /// The session lock's or the token file's directory or file cannot be trusted or used.
    #[error(transparent)]
    PrivateFile(#[from] crate::private_dir::PrivateError),
}

impl AuthError {
    /// A stable identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Config(_) => "config",
            AuthError::ProviderUnreachable { .. } => "provider_unreachable",
            AuthError::ProviderUnavailable { .. } => "provider_unavailable",
            AuthError::Discovery { .. } => "discovery",
            AuthError::PortInUse { .. } => "port_in_use",
            AuthError::Listener { .. } => "listener",
            AuthError::Browser { .. } => "browser",
            AuthError::Denied => "access_denied",
            AuthError::Provider { .. } => "provider_error",
            AuthError::Timeout { .. } => "timeout",
            AuthError::Cancelled => "cancelled",
            AuthError::TokenExchange(_) => "token_exchange",
            AuthError::IdToken(_) => "id_token_invalid",
            AuthError::AccessToken(_) => "access_token_invalid",
            AuthError::SessionEnded => "session_ended",
            AuthError::KeychainUnavailable { .. } => "keychain_unavailable",
            AuthError::Keychain { .. } => "keychain",
            AuthError::TokenFile { .. } => "token_file",
            AuthError::NotSignedIn => "not_signed_in",
            AuthError::Offline { .. } => "offline",
            AuthError::SignInAgain(_) => "sign_in_again",
            AuthError::IdTokenNotRenewed => "id_token_not_renewed",
            AuthError::SessionLocked { .. } => "session_locked",
            AuthError::NoSuchAccount { .. } => "no_such_account",
            AuthError::PrivateFile(e) => e.code(),
        }
    }
}
