//! The app's state, shared by the window's commands: the sign-in session, the Convex client and
//! the signed-in person's live socket, or why the app could not set them up. What each command
//! does is a method here, over the library crates. One file because every method works on the
//! same private fields (the set-up, the cancel switch, the live socket), which stay private here.

use crate::error::{DesktopError, SetupError};
use crate::live::{FileQuery, LiveSession};
use crate::os;
use crate::picture::Pictures;
use crate::shown::Shown;
use crate::transfers::Transfers;
use crate::view::{
    AppInfo, Connection, Diagnosis, FilePage, LiveUpdate, Profile, ProfileView, SessionView,
    SignInWaiting,
};
use crate::{view, window};
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::config::ConfigError;
use kinvex_auth::http::HttpClient;
use kinvex_auth::session::SIGN_IN_TIMEOUT;
use kinvex_auth::{Auth, AuthError, Config, SessionState, SignInOptions, default_store};
use kinvex_convex::data::{self, FileEntry};
use kinvex_convex::storage::Storage;
use kinvex_convex::{Client, ConvexError};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager, PackageInfo, Runtime};
use tokio::sync::oneshot;

/// Pages larger than this are cut down: a page is one IPC message.
const MAX_PAGE_SIZE: u32 = 1000;

/// The session and the Convex client and file storage (absent without `CONVEX_URL`), once built.
struct Ready {
    auth: Arc<Auth>,
    client: Option<Client>,
    storage: Option<Storage>,
}

pub struct Desktop {
    config: Result<Config, SetupError>,
    /// Built off the main thread on first need: the HTTP client loads the system's
    /// certificates, which the window should not wait for.
    setup: tokio::sync::OnceCell<Result<Ready, SetupError>>,
    cancel: Mutex<Option<oneshot::Sender<()>>>,
    /// The profile fetched while the window loads (see [`Desktop::prefetch_profile`]).
    early_profile: Mutex<Option<EarlyProfile>>,
    /// The signed-in person's live socket: started when a session is restored or signed in,
    /// closed when it ends.
    live: tokio::sync::Mutex<Option<Arc<LiveSession>>>,
    /// The files the window was shown, which Open, Save as… and Delete name by id.
    shown: Arc<Shown>,
    /// The profile pictures fetched this session (see [`crate::picture`]).
    pictures: Arc<Pictures>,
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
            live: tokio::sync::Mutex::new(None),
            shown: Arc::new(Shown::default()),
            pictures: Arc::new(Pictures::default()),
        }
    }

    /// A desktop over a session set up elsewhere: a test's, signed in to the local stack
    /// through a browser of its own.
    #[cfg(test)]
    pub fn with_auth(auth: Arc<Auth>) -> Desktop {
        let desktop = Desktop::from_config(Ok(auth.config.clone()));
        let ready = Ready {
            client: Client::for_auth(&auth).ok(),
            storage: Storage::for_auth(&auth).ok(),
            auth,
        };
        let _ = desktop.setup.set(Ok(ready));
        desktop
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

    async fn storage(&self) -> Result<(&Arc<Auth>, &Storage), DesktopError> {
        let ready = self.ready().await?;
        let storage = ready.storage.as_ref().ok_or(ConvexError::NotConfigured)?;
        Ok((&ready.auth, storage))
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
        let options = SignInOptions {
            register,
            ..Default::default()
        };
        self.sign_in_with(app, &options).await
    }

    /// The person's organisations, the current one marked.
    pub async fn organizations(&self) -> Result<Vec<view::Organization>, DesktopError> {
        let auth = self.auth().await?;
        let organizations = auth.organizations().await?;
        Ok(organizations.into_iter().map(Into::into).collect())
    }

    /// Signs in to the organisation `code`, silently first (a browser that still has the
    /// provider's session shows no page), and answers with the organisation now current. A
    /// refusal for one the person is not in says so; the session stays as it was.
    pub async fn switch_organization<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        code: String,
    ) -> Result<view::Organization, DesktopError> {
        let auth = self.auth().await?;
        let options = SignInOptions {
            org_code: Some(code.clone()),
            login_hint: auth.identity().await?.email,
            silent: true,
            ..Default::default()
        };
        match self.sign_in_with(app, &options).await {
            Err(DesktopError::Auth(AuthError::Denied)) => {
                let organizations = auth.organizations().await?;
                if organizations.iter().any(|o| o.code == code) {
                    return Err(AuthError::Denied.into());
                }
                let current = organizations.into_iter().find(|o| o.current);
                Err(DesktopError::NotAMember {
                    code,
                    current: current.map(|o| o.name.unwrap_or(o.code)),
                })
            }
            Err(e) => Err(e),
            Ok(()) => self.current_organization().await,
        }
    }

    /// Creates the organisation `name` and signs in to it (the person becomes its admin),
    /// silently first like a switch; answers with the new organisation.
    pub async fn create_organization<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: String,
    ) -> Result<view::Organization, DesktopError> {
        let auth = self.auth().await?;
        let options = SignInOptions {
            create_org: Some(name),
            login_hint: auth.identity().await?.email,
            silent: true,
            ..Default::default()
        };
        self.sign_in_with(app, &options).await?;
        self.current_organization().await
    }

    /// The organisation the session is signed in to, after a switch or a creation.
    async fn current_organization(&self) -> Result<view::Organization, DesktopError> {
        let auth = self.auth().await?;
        let organizations = auth.organizations().await?;
        let current = organizations.into_iter().find(|o| o.current);
        Ok(current.ok_or(DesktopError::NoOrganization)?.into())
    }

    /// The accounts signed in on the configured tenant (others' tenants are the CLI's to
    /// show: the app can use only its own), the active one marked.
    pub async fn accounts(&self) -> Result<Vec<view::Account>, DesktopError> {
        let auth = self.auth().await?;
        let accounts = auth.accounts().await?;
        Ok(accounts
            .into_iter()
            .filter(|a| auth.is_here(a))
            .map(Into::into)
            .collect())
    }

    /// Makes the account `id` the active one from its stored session, with no browser; the
    /// session event that follows carries the new person, whose socket replaces the old one's
    /// (see [`Desktop::follow_session`]). Answers with the account now active.
    pub async fn switch_account(&self, id: String) -> Result<view::Account, DesktopError> {
        let auth = self.auth().await?;
        // Told from the session it switched to: listing the accounts again would be one more
        // round of keychain reads while the menu still says "Switching…".
        let tokens = auth.switch(&id).await?;
        Ok(view::Account {
            id: tokens.subject.clone(),
            email: tokens.email.clone(),
            name: tokens.name.clone(),
            active: true,
        })
    }

    /// Signs in one more person: the provider's sign-in page even when the browser still has a
    /// session (`prompt=login`; otherwise it would sign the same person in again), through the
    /// same waiting screen and Cancel as Sign in. The new account becomes the active one.
    pub async fn add_account<R: Runtime>(&self, app: &AppHandle<R>) -> Result<(), DesktopError> {
        let options = SignInOptions {
            force_login: true,
            ..Default::default()
        };
        self.sign_in_with(app, &options).await
    }

    /// Signs the account `id` out, and only it: its refresh token revoked and its entries
    /// removed, then the provider's session in the browser ended (as `kinvex logout --account`
    /// does), so the next Add account or Sign in does not bring it straight back. When it was
    /// the active one the window is signed out; no other is made active behind the person's back.
    pub async fn sign_out_account(&self, id: String) -> Result<(), DesktopError> {
        let auth = self.auth().await?;
        let accounts = auth.accounts().await?;
        let account = accounts
            .into_iter()
            .find(|a| auth.is_here(a) && a.subject == id)
            .ok_or(AuthError::NoSuchAccount { account: id })?;
        if account.active {
            self.end_live().await;
            self.pictures.clear();
        }
        auth.sign_out_account(&account).await?;
        auth.end_session(true).await;
        Ok(())
    }

    /// Every sign-in the window starts: it can be cancelled ([`Desktop::cancel_sign_in`]), the
    /// window is told each address the browser is sent to, and it comes back to the front
    /// when the browser hands back (or gives up).
    async fn sign_in_with<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        options: &SignInOptions,
    ) -> Result<(), DesktopError> {
        let auth = self.auth().await?;
        let cancel = self.arm_cancel();
        let waiting = |url: &url::Url| {
            let _ = app.emit(view::SIGN_IN_WAITING_EVENT, SignInWaiting::new(url));
        };
        let result = auth
            .sign_in(options, true, SIGN_IN_TIMEOUT, waiting, async {
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

    /// Closes the live socket first, so nothing more arrives for this person, then signs out.
    pub async fn sign_out(&self) -> Result<(), DesktopError> {
        let auth = self.auth().await?;
        self.end_live().await;
        self.pictures.clear();
        auth.sign_out(true).await?;
        Ok(())
    }

    /// Starts the live socket when someone is signed in (again, for someone else) and closes it
    /// when no one is: called with every session change.
    pub async fn follow_session<R: Runtime>(&self, app: &AppHandle<R>, state: &SessionState) {
        match state {
            SessionState::SignedIn { .. } | SessionState::Offline { .. } => {
                let _ = self.live_session(app).await;
            }
            SessionState::SignedOut => {
                self.end_live().await;
                // The session ended: its pictures, and what failed, are fetched anew next time.
                self.pictures.clear();
            }
            SessionState::Unknown => {}
        }
    }

    /// The live socket of the person signed in now, started if need be.
    async fn live_session<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<Arc<LiveSession>, DesktopError> {
        let auth = self.auth().await?;
        let deployment = auth
            .config
            .convex_url
            .clone()
            .ok_or(ConvexError::NotConfigured)?;
        let subject = match &*auth.watch().borrow() {
            SessionState::SignedIn { subject, .. } | SessionState::Offline { subject, .. } => {
                subject.clone()
            }
            _ => return Err(AuthError::NotSignedIn.into()),
        };
        let mut live = self.live.lock().await;
        if let Some(session) = &*live {
            if session.subject == subject {
                return Ok(session.clone());
            }
            // Someone else now (a switch of account): nothing of the last person's may stay,
            // neither their socket nor the files Open and Delete would find nor their pictures.
            session.close().await;
            self.shown.clear();
            self.pictures.clear();
        }
        let http = self.ready().await?.client.clone();
        let shown = self.shown.clone();
        let session = Arc::new(LiveSession::start(
            app,
            auth,
            http,
            &deployment,
            subject,
            shown,
            self.pictures.clone(),
        ));
        *live = Some(session.clone());
        Ok(session)
    }

    /// Closes the live socket, if one is open.
    async fn end_live(&self) {
        self.shown.clear();
        if let Some(session) = self.live.lock().await.take() {
            session.close().await;
        }
    }

    /// The live socket's state; `None` when no one is signed in.
    pub async fn connection(&self) -> Option<Connection> {
        Some(self.live.lock().await.as_ref()?.connection())
    }

    /// Opens a new live socket now instead of waiting for the next retry; the window then
    /// watches its pages again.
    pub async fn reconnect<R: Runtime>(&self, app: &AppHandle<R>) -> Result<(), DesktopError> {
        self.end_live().await;
        self.live_session(app).await?;
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

    /// The signed-in person's profile, at once with the picture this session already has
    /// (else initials; a `profile` event brings the picture when it arrives).
    pub async fn profile<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<ProfileView, DesktopError> {
        let auth = self.auth().await?;
        let profile = self.profile_data().await?;
        Ok(show_profile(app, &self.pictures, auth, profile))
    }

    /// The profile's data: the prefetched one the first time (if it is still this person's and
    /// it succeeded), otherwise fetched now.
    async fn profile_data(&self) -> Result<Profile, DesktopError> {
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

    /// Page `page` of the person's files from `cursor` (none: the first), live: it answers with
    /// the page as it is and sends each change as an event (see [`crate::live`]).
    pub async fn watch_files<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        page: u64,
        cursor: Option<String>,
        page_size: u32,
        query: FileQuery,
    ) -> Result<FilePage, DesktopError> {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        let session = self.live_session(app).await?;
        session
            .watch_page(app, page, cursor, page_size, query)
            .await
    }

    /// Lets go of the watched pages numbered below `before`.
    pub async fn unwatch_files(&self, before: u64) {
        if let Some(session) = &*self.live.lock().await {
            session.unwatch_pages(before);
        }
    }

    /// Uploads the files the person picks; each is a transfer of its own (see [`Transfers`]).
    pub async fn upload<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        transfers: &Transfers,
    ) -> Result<Vec<u64>, DesktopError> {
        let (auth, storage) = self.storage().await?;
        let Some(paths) = os::pick_files(app).await else {
            return Ok(Vec::new());
        };
        Ok(transfers.upload(storage, auth, paths))
    }

    /// Uploads the files dropped onto the window.
    pub async fn upload_dropped(
        &self,
        transfers: &Transfers,
        paths: Vec<std::path::PathBuf>,
    ) -> Result<Vec<u64>, DesktopError> {
        let (auth, storage) = self.storage().await?;
        Ok(transfers.upload(storage, auth, paths))
    }

    /// Opens one of the files shown with the default application, from the private cache.
    pub async fn open_file(&self, transfers: &Transfers, id: &str) -> Result<u64, DesktopError> {
        let (auth, storage) = self.storage().await?;
        transfers.open(storage, auth, &self.shown_file(id)?)
    }

    /// Downloads one of the files shown to where the person chooses; `None` when they do not.
    pub async fn save_file_as<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        transfers: &Transfers,
        id: &str,
    ) -> Result<Option<u64>, DesktopError> {
        let (auth, storage) = self.storage().await?;
        let file = self.shown_file(id)?;
        let Some(destination) = os::save_as(app, &file.name).await else {
            return Ok(None);
        };
        Ok(Some(transfers.save_as(storage, auth, &file, destination)))
    }

    /// Deletes one of the person's files and its bytes; the live list then drops its row.
    pub async fn delete_file(&self, id: &str) -> Result<(), DesktopError> {
        let (auth, storage) = self.storage().await?;
        Ok(storage.remove(auth, id).await?)
    }

    /// A file the window was shown; one it was not is as good as gone.
    fn shown_file(&self, id: &str) -> Result<FileEntry, DesktopError> {
        Ok(self.shown.get(id).ok_or(ConvexError::FileGone)?)
    }

    /// Every check `kinvex doctor` runs, over this app's own session and settings. Signed out,
    /// the session's checks are skipped; only settings the app cannot start from stop it (the
    /// error says what to fix).
    pub async fn diagnose(&self) -> Result<Diagnosis, DesktopError> {
        let auth = self.auth().await?;
        Ok(kinvex_doctor::run(kinvex_doctor::Inputs::new(auth))
            .await
            .into())
    }

    /// Arms the cancel switch for a sign-in about to start.
    fn arm_cancel(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        *lock(&self.cancel) = Some(sender);
        receiver
    }
}

/// `profile` as the window gets it now; its picture, if fetched later, follows as a `profile`
/// event (shared by the `profile` command and the live socket's forwarder).
pub fn show_profile<R: Runtime>(
    app: &AppHandle<R>,
    pictures: &Arc<Pictures>,
    auth: &Auth,
    profile: Profile,
) -> ProfileView {
    let app = app.clone();
    pictures.show(auth.http().reqwest(), profile, move |shown| {
        let _ = app.emit(view::PROFILE_EVENT, LiveUpdate::Value(shown));
    })
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
    let storage = Storage::for_auth(&auth).ok();
    Ok(Ready {
        auth,
        client,
        storage,
    })
}

#[cfg(test)]
mod tests;
