//! Everything the web view sees, in one place: the events it listens to, the payloads they
//! carry and what commands answer with (ui/ipc.js names the same things). No token ever
//! appears in any of them.

use crate::error::DesktopError;
use kinvex_auth::SessionState;
use serde::Serialize;

pub use kinvex_convex::data::{FilePage, Profile};

/// Emitted with a [`SessionView`] whenever the session changes.
pub const SESSION_EVENT: &str = "session";
/// Emitted with a [`SignInWaiting`] once the browser has been sent to the sign-in page.
pub const SIGN_IN_WAITING_EVENT: &str = "sign-in-waiting";

/// The only error shape the web view sees: a stable code to switch on and a message to show.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl From<DesktopError> for CommandError {
    fn from(e: DesktopError) -> Self {
        CommandError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// The session as the window shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionView {
    pub state: &'static str,
    pub name: Option<String>,
    pub email: Option<String>,
    pub detail: Option<String>,
}

impl From<&SessionState> for SessionView {
    fn from(state: &SessionState) -> Self {
        let view = |state, name: Option<String>, email: Option<String>, detail: Option<String>| {
            SessionView {
                state,
                name,
                email,
                detail,
            }
        };
        match state {
            SessionState::Unknown => view("unknown", None, None, None),
            SessionState::SignedOut => view("signed_out", None, None, None),
            SessionState::SignedIn { name, email, .. } => {
                view("signed_in", name.clone(), email.clone(), None)
            }
            SessionState::Offline { detail, .. } => {
                view("offline", None, None, Some(detail.clone()))
            }
        }
    }
}

/// Where the app points, for the signed-out screen's badges.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub name: String,
    pub version: String,
    pub issuer: Option<String>,
    pub backend: Option<String>,
    /// Both services on this machine: the local stack.
    pub local: bool,
    /// What is wrong with the settings, to show instead of the sign-in buttons.
    pub config_error: Option<String>,
}

/// The sign-in page's address, to show (and copy) while the browser has it, and how long the
/// sign-in will wait.
#[derive(Clone, Debug, Serialize)]
pub struct SignInWaiting {
    pub url: String,
    pub seconds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_views_have_the_shape_the_window_reads() {
        let signed_in = SessionState::SignedIn {
            subject: "kp_1".into(),
            email: Some("dana@example.com".into()),
            name: Some("Dana Demo".into()),
        };
        assert_eq!(
            serde_json::to_value(SessionView::from(&signed_in)).expect("serializes"),
            json!({ "state": "signed_in", "name": "Dana Demo", "email": "dana@example.com", "detail": null })
        );
        let offline = SessionState::Offline {
            subject: "kp_1".into(),
            detail: "no route".into(),
        };
        assert_eq!(
            serde_json::to_value(SessionView::from(&offline)).expect("serializes"),
            json!({ "state": "offline", "name": null, "email": null, "detail": "no route" })
        );
        for (state, name) in [
            (SessionState::SignedOut, "signed_out"),
            (SessionState::Unknown, "unknown"),
        ] {
            assert_eq!(SessionView::from(&state).state, name);
        }
    }

    #[test]
    fn the_waiting_payload_carries_the_url_and_the_seconds() {
        let waiting = SignInWaiting {
            url: "http://127.0.0.1:1/oauth2/auth?x=1".into(),
            seconds: 300,
        };
        assert_eq!(
            serde_json::to_value(waiting).expect("serializes"),
            json!({ "url": "http://127.0.0.1:1/oauth2/auth?x=1", "seconds": 300 })
        );
    }
}
