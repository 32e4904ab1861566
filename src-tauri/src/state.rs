//! The app's state, shared by the window's commands: the sign-in session and the Convex client,
//! or why the app could not set them up. What each command does is a method here, over the
//! library crates.

use crate::error::{DesktopError, SetupError};
use crate::view::{AppInfo, FilePage, Profile, SessionView, SignInWaiting};
use crate::{view, window};
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::config::ConfigError;
use kinvex_auth::http::HttpClient;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_auth::{Auth, Config, SessionState, SignInOptions, default_store};
use kinvex_convex::data;
use kinvex_convex::{Client, ConvexError};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager, PackageInfo, Runtime};
use tokio::sync::oneshot;

/// Pages larger than this are cut down: a page is one IPC message.
const MAX_PAGE_SIZE: u32 = 1000;

/// The session and the Convex client (absent without `CONVEX_URL`), once built.
struct Ready {
    auth: Arc<Auth>,
    client: Option<Client>,
}

pub struct Desktop {
    config: Result<Config, SetupError>,
    /// Built off the main thread on first need: the HTTP client loads the system's
    /// certificates, which the window should not wait for.
    setup: tokio::sync::OnceCell<Result<Ready, SetupError>>,
    cancel: Mutex<Option<oneshot::Sender<()>>>,
    /// The profile fetched while the window loads (see [`Desktop::prefetch_profile`]).
    early_profile: Mutex<Option<EarlyProfile>>,
}

type EarlyProfile = tauri::async_runtime::JoinHandle<Option<Result<Profile, ConvexError>>>;

impl Desktop {
    /// Reads the configuration; nothing is fetched or read from the keychain yet.
    pub fn from_system() -> Desktop {
        Desktop::from_config(Config::from_system())
    }

    pub fn from_config(config: Result<Config, ConfigError>) -> Desktop {
        Desktop {
            config: config.map_err(|e| SetupError::NotConfigured(Arc::new(e))),
            setup: tokio::sync::OnceCell::new(),
            cancel: Mutex::new(None),
            early_profile: Mutex::new(None),
        }
    }

    async fn ready(&self) -> Result<&Ready, SetupError> {
        self.setup
            .get_or_init(|| async {
                let config = self.config.clone()?;
                tauri::async_runtime::spawn_blocking(move || build(config))
                    .await
                    .map_err(|_| SetupError::Interrupted)?
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The session, if it has been set up already (for the exit handler, which cannot wait).
    pub fn auth_if_ready(&self) -> Option<&Arc<Auth>> {
        Some(&self.setup.get()?.as_ref().ok()?.auth)
    }

    pub async fn auth(&self) -> Result<&Arc<Auth>, DesktopError> {
        Ok(&self.ready().await?.auth)
    }

    async fn client(&self) -> Result<(&Arc<Auth>, &Client), DesktopError> {
        let ready = self.ready().await?;
        let client = ready.client.as_ref().ok_or(ConvexError::NotConfigured)?;
        Ok((&ready.auth, client))
    }

    /// The app's name and version, and where it points (or what is wrong with the settings).
    pub fn info(&self, package: &PackageInfo) -> AppInfo {
        let (name, version) = (package.name.clone(), package.version.to_string());
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
            Err(e) => AppInfo {
                name,
                version,
                issuer: None,
                backend: None,
                local: false,
                config_error: Some(e.to_string()),
            },
        }
    }

    /// The session, restored from the keychain on the first call.
    pub async fn session(&self) -> Result<SessionView, DesktopError> {
        let auth = self.auth().await?;
        auth.restore().await?;
        Ok(SessionView::from(&*auth.watch().borrow()))
    }

    /// Signs in through the system browser; the window is told the sign-in page's address
    /// meanwhile, and brought back to the front when the browser hands back (or gives up).
    pub async fn sign_in<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        register: bool,
    ) -> Result<(), DesktopError> {
        let auth = self.auth().await?;
        let cancel = self.arm_cancel();
        let options = SignInOptions {
            register,
            ..Default::default()
        };
        let waiting = |url: &url::Url| {
            let payload = SignInWaiting {
                url: url.as_str().to_string(),
                seconds: SIGN_IN_TIMEOUT.as_secs(),
            };
            let _ = app.emit(view::SIGN_IN_WAITING_EVENT, payload);
        };
        let result = auth
            .sign_in(&options, true, SIGN_IN_TIMEOUT, waiting, async {
                let _ = cancel.await;
            })
            .await;
        window::bring_to_front(app);
        result?;
        Ok(())
    }

    /// Ends the sign-in in progress, if any, as cancelled.
    pub fn cancel_sign_in(&self) {
        if let Some(sender) = lock(&self.cancel).take() {
            let _ = sender.send(());
        }
    }

    pub async fn sign_out(&self) -> Result<(), DesktopError> {
        self.auth().await?.sign_out(true).await?;
        Ok(())
    }

    /// Starts restoring the session and, when someone is signed in, fetching their profile, so
    /// the keychain read and the first Convex round trip overlap WebKit's start-up instead of
    /// following it. The window's first `profile` call takes the result.
    pub fn prefetch_profile<R: Runtime>(&self, app: AppHandle<R>) {
        if self.config.is_err() {
            return;
        }
        let task = tauri::async_runtime::spawn(async move {
            let desktop = app.state::<Desktop>();
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
    pub async fn profile(&self) -> Result<Profile, DesktopError> {
        let (auth, client) = self.client().await?;
        let early = lock(&self.early_profile).take();
        if let Some(task) = early
            && let Ok(Some(Ok(profile))) = task.await
        {
            let current = match &*auth.watch().borrow() {
                SessionState::SignedIn { subject, .. } => Some(subject.clone()),
                _ => None,
            };
            if current.as_deref() == Some(profile.kinde_id.as_str()) {
                return Ok(profile);
            }
        }
        Ok(data::profile(client, auth).await?)
    }

    /// The page of the person's files after `cursor` (none: the first).
    pub async fn files(
        &self,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<FilePage, DesktopError> {
        let (auth, client) = self.client().await?;
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        Ok(data::files(client, auth, cursor, page_size).await?)
    }

    /// Arms the cancel switch for a sign-in about to start.
    fn arm_cancel(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        *lock(&self.cancel) = Some(sender);
        receiver
    }
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sign-in core over the OS keychain, and the Convex client sharing its HTTP client.
fn build(config: Config) -> Result<Ready, SetupError> {
    let http = HttpClient::new().map_err(|e| SetupError::Http(Arc::new(e)))?;
    let store = default_store(&config);
    let auth = Arc::new(Auth::new(config, http, store, Arc::new(SystemBrowser)));
    let client = Client::for_auth(&auth).ok();
    Ok(Ready { auth, client })
}
