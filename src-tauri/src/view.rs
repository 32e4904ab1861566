//! Everything the web view sees, in one place: the events it listens to, the payloads they
//! carry and what commands answer with (ui/ipc.js names the same things). No token ever
//! appears in any of them.

use crate::error::DesktopError;
use kinvex_auth::SessionState;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use serde::Serialize;

pub use kinvex_convex::data::{FilePage, Profile};
pub use kinvex_convex::live::Connection;
use kinvex_doctor::Report;

/// Emitted with a [`SessionView`] whenever the session changes.
pub const SESSION_EVENT: &str = "session";
/// Emitted with a [`SignInWaiting`] once the browser has been sent to the sign-in page.
pub const SIGN_IN_WAITING_EVENT: &str = "sign-in-waiting";
/// Emitted with a [`Connection`] whenever the live socket's state changes.
pub const CONNECTION_EVENT: &str = "connection";
/// Emitted with a [`LiveUpdate`]`<`[`ProfileView`]`>` whenever the signed-in person's profile
/// changes, and again with its `picture` once that has been fetched (see [`crate::picture`]).
pub const PROFILE_EVENT: &str = "profile";
/// Emitted with a [`FilePageUpdate`] whenever a page the window watches changes.
pub const FILE_PAGE_EVENT: &str = "file-page";
/// Emitted with a [`crate::transfers::TransferUpdate`] as an upload or download starts, moves
/// on and ends.
pub use crate::transfers::TRANSFER_EVENT;

/// The only error shape the web view sees: a stable code to switch on and a message to show.
#[derive(Clone, Debug, Serialize)]
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

/// The profile as the window gets it: [`Profile`] with its picture as a `data:` URL (or null,
/// for initials) in place of the picture's remote URL, which the web view never sees.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileView {
    pub kinde_id: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub organization: Option<String>,
    pub member_since: Option<f64>,
    /// `data:image/…;base64,…`, fetched and checked in Rust.
    pub picture: Option<String>,
}

impl ProfileView {
    pub fn new(profile: Profile, picture: Option<String>) -> ProfileView {
        let Profile {
            kinde_id,
            name,
            given_name,
            family_name,
            email,
            phone,
            picture_url: _,
            organization,
            member_since,
        } = profile;
        ProfileView {
            kinde_id,
            name,
            given_name,
            family_name,
            email,
            phone,
            organization,
            member_since,
            picture,
        }
    }
}

/// A new value of a live query, or why it failed (the query stays subscribed and may recover).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum LiveUpdate<T> {
    Value(T),
    Failed { error: CommandError },
}

impl<T> LiveUpdate<T> {
    pub fn of<E: Into<DesktopError>>(result: Result<T, E>) -> LiveUpdate<T> {
        match result {
            Ok(value) => LiveUpdate::Value(value),
            Err(e) => LiveUpdate::Failed {
                error: e.into().into(),
            },
        }
    }
}

/// A watched page of files, by the number the window gave it, as it is now.
#[derive(Clone, Debug, Serialize)]
pub struct FilePageUpdate {
    pub page: u64,
    /// When the subscription handed this value over (milliseconds since the epoch, wall clock):
    /// the page marks it so `cargo xtask bench` can tell receiving a change from painting it.
    pub received_ms: f64,
    #[serde(flatten)]
    pub update: LiveUpdate<FilePage>,
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

/// What the Diagnostics view shows: the report, and its plain text to copy. The text is made
/// here, by the doctor, so the copied report reads exactly as `kinvex doctor` prints it.
#[derive(Debug, Serialize)]
pub struct Diagnosis {
    pub report: Report,
    pub text: String,
}

impl From<Report> for Diagnosis {
    fn from(report: Report) -> Self {
        Diagnosis {
            text: report.to_text(),
            report,
        }
    }
}

/// The sign-in page's address, to show (and copy) while the browser has it, and how long the
/// sign-in will wait.
#[derive(Clone, Debug, Serialize)]
pub struct SignInWaiting {
    pub url: String,
    pub seconds: u64,
    /// Asked without a page (`prompt=none`): the browser should come straight back, so the
    /// window need not ask the person to do anything yet. A page follows if it does not.
    pub silent: bool,
}

impl SignInWaiting {
    pub fn new(url: &url::Url) -> SignInWaiting {
        SignInWaiting {
            url: url.as_str().to_string(),
            seconds: SIGN_IN_TIMEOUT.as_secs(),
            silent: url.query_pairs().any(|(k, v)| k == "prompt" && v == "none"),
        }
    }
}

/// One of the person's organisations, for the header's menu.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organization {
    /// What a switch names it by.
    pub code: String,
    /// `None` when the provider names it nowhere the app can read: the window shows the code.
    pub name: Option<String>,
    /// The one the session is signed in to.
    pub current: bool,
}

impl From<kinvex_auth::Organization> for Organization {
    fn from(o: kinvex_auth::Organization) -> Self {
        Organization {
            code: o.code,
            name: o.name,
            current: o.current,
        }
    }
}

/// One account of the configured tenant, for the header's account menu: who, never a token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Account {
    /// The person's Kinde user id (`sub`): what a switch or a sign-out names it by.
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The one signed in now.
    pub active: bool,
}

impl From<kinvex_auth::Account> for Account {
    fn from(a: kinvex_auth::Account) -> Self {
        Account {
            id: a.subject,
            email: a.email,
            name: a.name,
            active: a.active,
        }
    }
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
    fn the_profile_the_window_gets_has_its_picture_as_data_and_never_the_remote_url() {
        let profile = Profile {
            kinde_id: "kp_1".into(),
            name: Some("Dana Demo".into()),
            picture_url: Some("https://cdn.example.com/p.png?sig=secret".into()),
            ..Profile::default()
        };
        let shown = serde_json::to_value(ProfileView::new(
            profile.clone(),
            Some("data:image/png;base64,AAAA".into()),
        ))
        .expect("serializes");
        assert_eq!(shown["picture"], "data:image/png;base64,AAAA");
        assert_eq!(shown["name"], "Dana Demo");
        let text = shown.to_string();
        assert!(!text.contains("cdn.example.com"), "{text}");
        assert!(shown.get("picture_url").is_none(), "{text}");
        let none = serde_json::to_value(ProfileView::new(profile, None)).expect("serializes");
        assert_eq!(none["picture"], serde_json::Value::Null);
    }

    #[test]
    fn a_diagnosis_has_the_shape_the_diagnostics_view_reads_and_the_doctors_text() {
        let report = kinvex_doctor::Report::new(vec![kinvex_doctor::Check {
            id: "discovery",
            title: "Discovery".into(),
            status: kinvex_doctor::Status::Fail,
            summary: "The issuer differs.".into(),
            details: vec![("issuer".into(), "https://example.kinde.com".into())],
            fix: Some("Set KINDE_ISSUER_URL.".into()),
            millis: 12,
        }]);
        let text = report.to_text();
        assert_eq!(
            serde_json::to_value(Diagnosis::from(report)).expect("serializes"),
            json!({
                "report": {
                    "ok": false,
                    "checks": [{
                        "id": "discovery",
                        "title": "Discovery",
                        "status": "fail",
                        "summary": "The issuer differs.",
                        "details": [["issuer", "https://example.kinde.com"]],
                        "fix": "Set KINDE_ISSUER_URL.",
                        "millis": 12
                    }]
                },
                "text": text
            })
        );
    }

    #[test]
    fn a_file_page_update_is_the_page_or_its_error_with_the_pages_number_and_when_it_was_received()
    {
        let page = FilePage {
            files: Vec::new(),
            is_done: false,
            cursor: Some("c2".into()),
        };
        let update = FilePageUpdate {
            page: 3,
            received_ms: 1_700_000_000_123.5,
            update: LiveUpdate::Value(page),
        };
        assert_eq!(
            serde_json::to_value(update).expect("serializes"),
            json!({ "page": 3, "received_ms": 1_700_000_000_123.5, "files": [], "is_done": false, "cursor": "c2" })
        );
        let failed = FilePageUpdate {
            page: 4,
            received_ms: 1_700_000_000_456.0,
            update: LiveUpdate::of::<kinvex_convex::ConvexError>(Err(
                kinvex_convex::ConvexError::Auth(kinvex_auth::AuthError::NotSignedIn),
            )),
        };
        assert_eq!(
            serde_json::to_value(failed).expect("serializes"),
            json!({ "page": 4, "received_ms": 1_700_000_000_456.0, "error": { "code": "not_signed_in", "message": "You are not signed in. Sign in first." } })
        );
    }

    #[test]
    fn connection_states_carry_their_name_and_times_for_the_indicator() {
        let cases = [
            (Connection::Live, json!({ "state": "live" })),
            (
                Connection::Offline {
                    since_ms: 1_700_000_000_000,
                },
                json!({ "state": "offline", "since_ms": 1_700_000_000_000_i64 }),
            ),
            (
                Connection::Paused {
                    code: "session_ended".into(),
                    message: "Sign in again.".into(),
                },
                json!({ "state": "paused", "code": "session_ended", "message": "Sign in again." }),
            ),
        ];
        for (connection, shape) in cases {
            assert_eq!(serde_json::to_value(connection).expect("serializes"), shape);
        }
    }

    #[test]
    fn the_waiting_payload_carries_the_url_the_seconds_and_whether_a_page_shows() {
        let page = url::Url::parse("http://127.0.0.1:1/oauth2/auth?x=1").expect("url");
        assert_eq!(
            serde_json::to_value(SignInWaiting::new(&page)).expect("serializes"),
            json!({ "url": "http://127.0.0.1:1/oauth2/auth?x=1", "seconds": SIGN_IN_TIMEOUT.as_secs(), "silent": false })
        );
        let silent =
            url::Url::parse("http://127.0.0.1:1/oauth2/auth?prompt=none&x=1").expect("url");
        assert!(SignInWaiting::new(&silent).silent);
    }

    #[test]
    fn an_account_has_the_shape_the_menu_reads_and_no_tenant_or_token() {
        let account = Account::from(kinvex_auth::Account {
            issuer: "https://tenant.kinde.com".into(),
            client_id: "client".into(),
            subject: "kp_alex".into(),
            email: Some("alex@example.com".into()),
            name: None,
            active: true,
        });
        assert_eq!(
            serde_json::to_value(account).expect("serializes"),
            json!({ "id": "kp_alex", "email": "alex@example.com", "name": null, "active": true })
        );
    }

    #[test]
    fn an_organisation_has_the_shape_the_menu_reads() {
        let organization = Organization::from(kinvex_auth::Organization {
            code: "org_a".into(),
            name: None,
            current: true,
        });
        assert_eq!(
            serde_json::to_value(organization).expect("serializes"),
            json!({ "code": "org_a", "name": null, "current": true })
        );
    }
}
