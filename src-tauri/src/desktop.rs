//! What the window's commands share: the sign-in session and the Convex client, or the reason
//! the app is not configured. Everything here delegates to the library crates.

use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::http::HttpClient;
use kinvex_auth::{Auth, AuthError, Config, SessionState, default_store};
use kinvex_convex::data::{self, Profile};
use kinvex_convex::{Client, ConvexError};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The only error shape the web view sees: a stable code to switch on and a message to show.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl From<AuthError> for CommandError {
    fn from(e: AuthError) -> Self {
        CommandError {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl From<ConvexError> for CommandError {
    fn from(e: ConvexError) -> Self {
        CommandError {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

/// The session as the window shows it. No token ever appears here.
#[derive(Clone, Debug, Serialize)]
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
    pub config_error: Option<String>,
}

/// The session and the Convex client, once built; or why the app cannot sign in.
type Setup = Result<(Arc<Auth>, Option<Client>), String>;

pub struct Desktop {
    config: Result<Config, String>,
    /// Built off the main thread on first need: the HTTP client loads the system's
    /// certificates, which the window should not wait for.
    setup: tokio::sync::OnceCell<Setup>,
    cancel: Mutex<Option<oneshot::Sender<()>>>,
    /// The profile fetched while the window loads (see [`Desktop::prefetch_profile`]).
    early_profile: Mutex<Option<EarlyProfile>>,
}

type EarlyProfile = tauri::async_runtime::JoinHandle<Option<Result<Profile, ConvexError>>>;

impl Desktop {
    /// Reads the configuration; nothing is fetched or read from the keychain yet.
    pub fn from_system() -> Desktop {
        Desktop::from_config(Config::from_system().map_err(|e| e.to_string()))
    }

    pub fn from_config(config: Result<Config, String>) -> Desktop {
        Desktop {
            config,
            setup: tokio::sync::OnceCell::new(),
            cancel: Mutex::new(None),
            early_profile: Mutex::new(None),
        }
    }

    async fn setup(&self) -> &Setup {
        self.setup
            .get_or_init(|| async {
                let config = self.config.clone()?;
                tauri::async_runtime::spawn_blocking(move || build(config))
                    .await
                    .map_err(|e| e.to_string())?
            })
            .await
    }

    /// The session, if it has been set up already (for the exit handler, which cannot wait).
    pub fn auth_if_ready(&self) -> Option<&Arc<Auth>> {
        self.setup.get()?.as_ref().ok().map(|(auth, _)| auth)
    }

    pub async fn auth(&self) -> Result<&Arc<Auth>, CommandError> {
        self.setup()
            .await
            .as_ref()
            .map(|(auth, _)| auth)
            .map_err(|message| CommandError {
                code: "config".into(),
                message: message.clone(),
            })
    }

    pub async fn client(&self) -> Result<(&Arc<Auth>, &Client), CommandError> {
        let auth = self.auth().await?;
        let client = self
            .setup()
            .await
            .as_ref()
            .ok()
            .and_then(|(_, c)| c.as_ref());
        Ok((auth, client.ok_or(ConvexError::NotConfigured)?))
    }

    pub fn info(&self, name: String, version: String) -> AppInfo {
        match &self.config {
            Ok(config) => {
                let issuer = config.issuer_str().to_string();
                let backend = config
                    .convex_url
                    .as_ref()
                    .map(|u| u.as_str().trim_end_matches('/').to_string());
                let loopback =
                    |u: &str| u.starts_with("http://127.0.0.1") || u.starts_with("http://[::1]");
                let local = loopback(&issuer) && backend.as_deref().is_some_and(loopback);
                AppInfo {
                    name,
                    version,
                    issuer: Some(issuer),
                    backend,
                    local,
                    config_error: None,
                }
            }
            Err(message) => AppInfo {
                name,
                version,
                issuer: None,
                backend: None,
                local: false,
                config_error: Some(message.clone()),
            },
        }
    }

    /// Starts restoring the session and, when someone is signed in, fetching their profile, so
    /// the keychain read and the first Convex round trip overlap WebKit's start-up instead of
    /// following it. The window's first `profile` call takes the result.
    pub fn prefetch_profile<R: tauri::Runtime>(&self, app: tauri::AppHandle<R>) {
        if self.config.is_err() {
            return;
        }
        let task = tauri::async_runtime::spawn(async move {
            let desktop = tauri::Manager::state::<Desktop>(&app);
            let (auth, client) = desktop.client().await.ok()?;
            match auth.restore().await {
                Ok(Some(_)) => Some(data::profile(client, auth).await),
                _ => None,
            }
        });
        *lock(&self.early_profile) = Some(task);
    }

    /// The signed-in person's profile: the prefetched one the first time (if it is still this
    /// person's and it succeeded), otherwise fetched now.
    pub async fn profile(&self) -> Result<Profile, CommandError> {
        let (auth, client) = self.client().await?;
        let early = lock(&self.early_profile).take();
        if let Some(task) = early
            && let Ok(Some(Ok(profile))) = task.await
        {
            let current = match &*auth.watch().borrow() {
                kinvex_auth::SessionState::SignedIn { subject, .. } => Some(subject.clone()),
                _ => None,
            };
            if current.as_deref() == Some(profile.kinde_id.as_str()) {
                return Ok(profile);
            }
        }
        data::profile(client, auth).await.map_err(Into::into)
    }

    /// Arms the cancel switch for a sign-in about to start.
    pub fn arm_cancel(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        *lock(&self.cancel) = Some(sender);
        receiver
    }

    pub fn cancel_sign_in(&self) {
        if let Some(sender) = lock(&self.cancel).take() {
            let _ = sender.send(());
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sign-in core over the OS keychain, and the Convex client sharing its HTTP client.
fn build(config: Config) -> Setup {
    let http = HttpClient::new().map_err(|e| e.to_string())?;
    let store = default_store(&config);
    let auth = Arc::new(Auth::new(config, http, store, Arc::new(SystemBrowser)));
    let client = Client::for_auth(&auth).ok();
    Ok((auth, client))
}
