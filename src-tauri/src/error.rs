//! Why a command could not run. Each cause has a stable [`DesktopError::code`] the window
//! switches on (ui/errors.js) and a message it shows; [`crate::view::CommandError`] carries both.

use kinvex_auth::AuthError;
use kinvex_auth::config::ConfigError;
use kinvex_auth::http::HttpError;
use kinvex_convex::ConvexError;
use std::fmt;
use std::path::{Path, PathBuf};
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
    /// The window let go of the page (it started its list over) before the page arrived.
    Released,
    /// The private folder opened files are downloaded into could not be made or kept private.
    Cache {
        path: PathBuf,
        detail: String,
    },
    /// The downloaded file could not be handed to the default application.
    Open {
        path: PathBuf,
        detail: String,
    },
    /// The provider refused a switch to an organisation the person is not in; the session is
    /// as it was, in `current` (its name, else its code).
    NotAMember {
        code: String,
        current: Option<String>,
    },
    /// A switch or a creation signed in, but to no organisation.
    NoOrganization,
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
            DesktopError::Released => "released",
            DesktopError::Cache { .. } => "cache_failed",
            DesktopError::Open { .. } => "open_failed",
            // The CLI's code for the same refusal (`kinvex org switch`).
            DesktopError::NotAMember { .. } => "not_a_member",
            DesktopError::NoOrganization => "no_organization",
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
            DesktopError::Convex(ConvexError::NotAFile { path, kind }) => not_a_file(f, path, kind),
            DesktopError::Convex(e) => e.fmt(f),
            DesktopError::Released => f.write_str(
                "The list was started over before this page arrived; the new list loads instead.",
            ),
            DesktopError::Cache { path, detail } => write!(
                f,
                "Could not prepare the folder opened files are kept in ({}: {detail}). Check that your cache folder is writable, or use Save as… instead.",
                path.display()
            ),
            DesktopError::Open { path, detail } => write!(
                f,
                "The file is at {} but could not be opened ({detail}). Check that an application is set to open files of this type, or use Save as… instead.",
                path.display()
            ),
            DesktopError::NotAMember { code, current } => write!(
                f,
                "You are not a member of the organization {code}, so you cannot switch to it. You are still signed in{}.",
                current
                    .as_ref()
                    .map(|c| format!(" to {c}"))
                    .unwrap_or_default()
            ),
            DesktopError::NoOrganization => f.write_str(
                "The sign-in service signed you in to no organization. Choose one from the menu, or sign out and in again.",
            ),
        }
    }
}

/// A folder (or pipe, socket, device) picked or dropped to upload, in the window's words: it
/// names what was chosen and what to choose instead, not a path to type.
fn not_a_file(f: &mut fmt::Formatter<'_>, path: &Path, kind: &str) -> fmt::Result {
    let name = path
        .file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
    if kind == "a folder" {
        write!(
            f,
            "{name} is a folder, not a file; nothing was uploaded. To upload what is in it, open it and choose its files."
        )
    } else {
        write!(
            f,
            "{name} is {kind}, not a file; nothing was uploaded. Choose a file instead."
        )
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
            DesktopError::Released
            | DesktopError::Cache { .. }
            | DesktopError::Open { .. }
            | DesktopError::NotAMember { .. }
            | DesktopError::NoOrganization => None,
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
            (
                ConvexError::NotAFile {
                    path: "/home/dana/Pictures/Photos".into(),
                    kind: "a folder",
                }
                .into(),
                "not_a_file",
                "Photos is a folder, not a file; nothing was uploaded. To upload what is in it, open it and choose its files.",
            ),
            (
                ConvexError::NotAFile {
                    path: "/tmp/queue".into(),
                    kind: "a pipe",
                }
                .into(),
                "not_a_file",
                "queue is a pipe, not a file; nothing was uploaded. Choose a file instead.",
            ),
            (
                DesktopError::NotAMember {
                    code: "org_other".into(),
                    current: Some("Northwind Studio".into()),
                },
                "not_a_member",
                "You are not a member of the organization org_other, so you cannot switch to it. You are still signed in to Northwind Studio.",
            ),
        ];
        for (error, code, message) in cases {
            let shown = CommandError::from(error);
            assert_eq!((shown.code, shown.message.as_str()), (code, message));
        }
    }
}
