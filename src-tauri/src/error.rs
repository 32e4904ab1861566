//! Why a command could not run. Each cause has a stable [`DesktopError::code`] the window
//! switches on (ui/errors.js) and a message it shows; [`crate::view::CommandError`] carries both.

use kinvex_auth::AuthError;
use kinvex_auth::config::ConfigError;
use kinvex_auth::http::HttpError;
use kinvex_convex::ConvexError;
use std::fmt;
use std::sync::Arc;

/// Why the session and the Convex client could not be set up. Kept for the app's lifetime and
/// handed to every command that needs them, hence cloneable.
#[derive(Clone, Debug)]
pub enum SetupError {
    /// The tenant settings are missing or malformed.
    NotConfigured(Arc<ConfigError>),
    /// The HTTP client could not be built: the proxy settings or the TLS backend are unusable.
    Http(Arc<HttpError>),
    /// The set-up task ended before it finished (it panicked).
    Interrupted,
}

#[derive(Debug)]
pub enum DesktopError {
    Setup(SetupError),
    Auth(AuthError),
    Convex(ConvexError),
}

impl DesktopError {
    /// A stable identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            // Both are fixed in the environment's settings.
            DesktopError::Setup(SetupError::NotConfigured(_) | SetupError::Http(_)) => "config",
            DesktopError::Setup(SetupError::Interrupted) => "setup_interrupted",
            DesktopError::Auth(e) => e.code(),
            DesktopError::Convex(e) => e.code(),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NotConfigured(e) => e.fmt(f),
            SetupError::Http(e) => e.fmt(f),
            SetupError::Interrupted => {
                f.write_str("Setting up the sign-in stopped unexpectedly. Restart Kinvex.")
            }
        }
    }
}

impl fmt::Display for DesktopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DesktopError::Setup(e) => e.fmt(f),
            DesktopError::Auth(e) => e.fmt(f),
            DesktopError::Convex(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::NotConfigured(e) => Some(&**e),
            SetupError::Http(e) => Some(&**e),
            SetupError::Interrupted => None,
        }
    }
}

impl std::error::Error for DesktopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DesktopError::Setup(e) => Some(e),
            DesktopError::Auth(e) => Some(e),
            DesktopError::Convex(e) => Some(e),
        }
    }
}

impl From<SetupError> for DesktopError {
    fn from(e: SetupError) -> Self {
        DesktopError::Setup(e)
    }
}

impl From<AuthError> for DesktopError {
    fn from(e: AuthError) -> Self {
        DesktopError::Auth(e)
    }
}

impl From<ConvexError> for DesktopError {
    fn from(e: ConvexError) -> Self {
        DesktopError::Convex(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::CommandError;

    #[test]
    fn each_cause_reaches_the_window_with_its_code_and_message() {
        let missing = ConfigError::Missing {
            var: "KINDE_ISSUER_URL",
            example: "https://yourbusiness.kinde.com",
        };
        let message = missing.to_string();
        let cases = [
            (
                DesktopError::from(SetupError::NotConfigured(Arc::new(missing))),
                "config",
                message.as_str(),
            ),
            (
                SetupError::Interrupted.into(),
                "setup_interrupted",
                "Setting up the sign-in stopped unexpectedly. Restart Kinvex.",
            ),
            (
                AuthError::SessionEnded.into(),
                "session_ended",
                "Your session has ended (the refresh token was revoked or has expired). Sign in again.",
            ),
            (
                ConvexError::Auth(AuthError::NotSignedIn).into(),
                "not_signed_in",
                "You are not signed in. Sign in first.",
            ),
        ];
        for (error, code, message) in cases {
            let shown = CommandError::from(error);
            assert_eq!((shown.code, shown.message.as_str()), (code, message));
        }
    }
}
