//! The local stack: a Kinde-compatible identity provider and a Convex-compatible backend on
//! loopback. It is the app's default for development and the ground every test stands on, so it
//! reproduces the real services' wire formats and checks wherever a client could tell.
//!
//! [`start`] binds three origins, like the real services: the provider (issuer), the backend's
//! API (`CONVEX_URL`) and the backend's HTTP actions (`CONVEX_SITE_URL`).

pub mod backend;
pub mod idp;
pub mod keys;
mod pages;
pub mod pictures;
pub mod random;
mod seed;
pub mod store;
pub mod user_agent;
mod validity;
pub mod webhooks;

use keys::KeySet;
use kinvex_clock::SharedClock;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The redirect URI a desktop app registers with Kinde by default (Kinde's own Electron guide
/// pins this port so one URL can be allow-listed).
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:53180/callback";
/// The desktop app's private-use scheme callback (RFC 8252 §7.1), the alternative Kinde accepts
/// for native apps; allow-listed by default next to the loopback one.
pub const SCHEME_REDIRECT_URI: &str = "dev.kinvex.desktop:/callback";
pub const DEFAULT_CLIENT_ID: &str = "kinvex_local_desktop";
/// The API audience of the access-token setup (`applicationID: "convex"`).
pub const CONVEX_AUDIENCE: &str = "convex";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on 127.0.0.1:{port} for the {service}: {source}. Choose another port or 0 for any free one"
    )]
    Bind {
        service: &'static str,
        port: u16,
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("cannot set up the stack's HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Token lifetimes. Kinde's defaults; tests shorten them to seconds.
#[derive(Clone, Debug)]
pub struct Lifetimes {
    pub access: Duration,
    pub id: Duration,
    pub refresh: Duration,
    pub code: Duration,
    /// How long a rotated refresh token keeps working, so a lost response can be retried.
    pub rotation_overlap: Duration,
    /// The `max-age` discovery and the key set are served with: how long a verifier that obeys
    /// `Cache-Control` (Convex does) keeps a key set that no longer has the signing key.
    pub key_cache: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            access: Duration::from_secs(24 * 3600),
            id: Duration::from_secs(3600),
            refresh: Duration::from_secs(15 * 24 * 3600),
            code: Duration::from_secs(60),
            rotation_overlap: Duration::from_secs(10),
            // Kinde does not document its value; an hour, the usual for a key set behind a CDN,
            // makes the window after a rotation as long as it may be on a real tenant.
            key_cache: Duration::from_secs(3600),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Where keys and the database live; `None` runs ephemeral (memory only).
    pub data_dir: Option<PathBuf>,
    pub idp_port: u16,
    pub api_port: u16,
    pub site_port: u16,
    pub client_id: String,
    /// Allowed callback URLs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// RFC 8252 §7.3: accept a registered loopback redirect on any port.
    pub any_loopback_port: bool,
    pub logout_redirects: Vec<String>,
    /// API audiences the client is authorised for.
    pub audiences: Vec<String>,
    pub lifetimes: Lifetimes,
    /// Seed the demo accounts and their files into an empty store.
    pub seed_demo: bool,
    /// Extra files for the demo user, for measuring long lists.
    pub extra_demo_files: usize,
    /// Delays between webhook delivery attempts (the first attempt is immediate).
    pub webhook_retries: Vec<Duration>,
    /// The time both services read: tokens' `iat`, `exp` and `auth_time`, codes' and refresh
    /// tokens' expiry, sessions, webhook timestamps, `_creationTime`, and the backend's checks of
    /// all of them. A test shares a [`kinvex_clock::ManualClock`] to move time instead of waiting.
    pub clock: SharedClock,
    /// A refresh answer carries an `id_token`. Kinde's documented refresh answer has none, and
    /// its own JS treats it as optional; turning this off reproduces that.
    pub refresh_id_token: bool,
    /// A refresh while the access token is still valid answers with that same access token, as
    /// Kinde documents it may.
    pub refresh_reuses_access_token: bool,
    /// Access tokens carry `email`. Off by default, as on Kinde.
    pub access_token_email: bool,
    /// ID tokens carry `organizations` (`[{id, name}]`), Kinde's "Organizations" ID-token
    /// customization; on by default, so names can be shown. Off, only `org_codes` says which.
    pub id_token_organizations: bool,
    /// The backend runs as a production deployment: function errors are redacted to
    /// `[Request ID: …] Server Error`.
    pub production: bool,
    /// The providers the backend trusts, replacing what `convex/auth.config.ts` declares; for
    /// misconfiguring the deployment on purpose (say, another application id).
    pub auth_providers: Option<Vec<backend::auth::Provider>>,
    /// The live-query socket's heartbeat intervals; tests shorten them.
    pub sync_heartbeats: backend::sync::Heartbeats,
    /// The most bytes one upload URL POST may carry; `None` (the default) is no limit, as on
    /// Convex, whose upload URLs have none. Tests set a small one to see a file over it refused.
    pub storage_upload_limit: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: None,
            idp_port: 0,
            api_port: 0,
            site_port: 0,
            client_id: DEFAULT_CLIENT_ID.into(),
            redirect_uris: vec![DEFAULT_REDIRECT_URI.into(), SCHEME_REDIRECT_URI.into()],
            any_loopback_port: false,
            logout_redirects: Vec::new(),
            audiences: vec![CONVEX_AUDIENCE.into()],
            lifetimes: Lifetimes::default(),
            seed_demo: true,
            extra_demo_files: 0,
            // Kinde retries after 5 s, 30 s, 2 min, 10 min, 1 h, ...; a local stack gives up sooner.
            webhook_retries: [5, 30, 120, 600].map(Duration::from_secs).to_vec(),
            clock: kinvex_clock::system(),
            refresh_id_token: true,
            refresh_reuses_access_token: false,
            access_token_email: false,
            id_token_organizations: true,
            production: false,
            auth_providers: None,
            sync_heartbeats: backend::sync::Heartbeats::default(),
            storage_upload_limit: None,
        }
    }
}

/// Failures injected for tests, per service.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Fault {
    /// Added before every response.
    #[serde(default)]
    pub latency_ms: u64,
    /// Answer requests with this status instead of serving them.
    #[serde(default)]
    pub status: Option<u16>,
    /// Fail only this many requests with `status`, then serve normally; unset means all.
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Default)]
pub struct Faults {
    pub idp: Fault,
    pub backend: Fault,
    /// The live-query sockets'.
    pub sync: backend::sync::control::SyncFault,
}

/// Counters tests read to prove how many requests a client made.
#[derive(Default)]
pub struct Stats {
    pub code_exchanges: AtomicU64,
    pub refreshes: AtomicU64,
    pub backend_calls: AtomicU64,
    pub webhook_deliveries: AtomicU64,
}

impl Stats {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "code_exchanges": self.code_exchanges.load(Ordering::SeqCst),
            "refreshes": self.refreshes.load(Ordering::SeqCst),
            "backend_calls": self.backend_calls.load(Ordering::SeqCst),
            "webhook_deliveries": self.webhook_deliveries.load(Ordering::SeqCst),
        })
    }
}

/// A seeded account a person (or a test) can sign in with.
#[derive(Clone, Debug)]
pub struct Account {
    pub email: String,
    pub password: String,
    pub user_id: String,
}

/// Everything the handlers of both services share.
pub struct State {
    pub config: Config,
    pub issuer: String,
    pub api_url: String,
    pub site_url: String,
    /// The stack's time ([`Config::clock`]); nothing in the stack reads the system's directly.
    pub clock: SharedClock,
    pub store: Store,
    pub keys: RwLock<KeySet>,
    pub lifetimes: Mutex<Lifetimes>,
    pub faults: Mutex<Faults>,
    pub stats: Stats,
    pub pending: Mutex<HashMap<String, idp::authorize::Pending>>,
    pub outbox: webhooks::Outbox,
    /// For discovery, JWKS and webhook delivery: no redirects, bounded time.
    pub http: reqwest::Client,
    pub verifier: backend::auth::Verifier,
    /// What the live-query sockets share.
    pub sync: backend::sync::Hub,
    /// Holds storage uploads part-way while a test asks ([`Running::hold_uploads`]).
    pub upload_hold: backend::storage::UploadHold,
}

impl State {
    pub fn lifetimes(&self) -> Lifetimes {
        lock(&self.lifetimes).clone()
    }

    /// The fault to apply to one request now, counting it against a limited fault.
    pub fn fault(&self, pick: impl Fn(&mut Faults) -> &mut Fault) -> Fault {
        let mut faults = lock(&self.faults);
        let fault = pick(&mut faults);
        let applied = fault.clone();
        if let (Some(_), Some(count)) = (fault.status, fault.count.as_mut()) {
            if *count == 0 {
                return Fault {
                    status: None,
                    ..applied
                };
            }
            *count -= 1;
        }
        applied
    }

    pub fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn keys_mut(&self) -> std::sync::RwLockWriteGuard<'_, KeySet> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running stack. Dropping it without [`Running::stop`] stops the servers too.
pub struct Running {
    pub state: Arc<State>,
    /// The seeded accounts; the first is the demo user.
    pub accounts: Vec<Account>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    pub fn api_url(&self) -> &str {
        &self.state.api_url
    }

    pub fn site_url(&self) -> &str {
        &self.state.site_url
    }

    /// The settings an app or script needs to use this stack, as environment pairs: the one
    /// place they are made, for the `--env-file` and for tests alike.
    pub fn settings(&self, access_token_setup: bool) -> Vec<(&'static str, String)> {
        let state = &self.state;
        let mut pairs = vec![
            ("KINDE_ISSUER_URL", state.issuer.clone()),
            ("KINDE_CLIENT_ID", state.config.client_id.clone()),
        ];
        if access_token_setup {
            pairs.push(("KINDE_AUDIENCE", CONVEX_AUDIENCE.into()));
        }
        let redirect = state
            .config
            .redirect_uris
            .first()
            .map_or(DEFAULT_REDIRECT_URI, |s| s);
        pairs.push(("KINDE_REDIRECT_URL", redirect.into()));
        pairs.push(("CONVEX_URL", state.api_url.clone()));
        pairs.push(("CONVEX_SITE_URL", state.site_url.clone()));
        pairs
    }

    /// [`Running::settings`] as `KEY=value` lines.
    pub fn env_file(&self, access_token_setup: bool) -> String {
        self.settings(access_token_setup)
            .iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect()
    }

    /// Holds storage uploads part-way, for a test of Cancel: until the returned hold is dropped,
    /// each upload stops reading its body after a chunk, so its client sees it running and not
    /// done. Uploads are never held otherwise.
    pub fn hold_uploads(&self) -> backend::storage::HeldUploads {
        backend::storage::HeldUploads::new(self.state.clone())
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the servers.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn bind(service: &'static str, port: u16) -> Result<TcpListener, StartError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|source| StartError::Bind {
            service,
            port,
            source,
        })
}

/// Starts both services on loopback and returns once they accept connections.
pub async fn start(config: Config) -> Result<Running, StartError> {
    if let Some(dir) = &config.data_dir {
        let failed = |source| StartError::DataDir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        // Keys, password files and session hashes: the owner's eyes only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(failed)?;
        }
    }
    let idp = bind("identity provider", config.idp_port).await?;
    let api = bind("backend API", config.api_port).await?;
    let site = bind("backend HTTP actions", config.site_port).await?;
    let url = |l: &TcpListener| {
        l.local_addr()
            .map(|a| format!("http://127.0.0.1:{}", a.port()))
    };
    let io = |source, service| StartError::Bind {
        service,
        port: 0,
        source,
    };
    let issuer = url(&idp).map_err(|e| io(e, "identity provider"))?;
    let api_url = url(&api).map_err(|e| io(e, "backend API"))?;
    let site_url = url(&site).map_err(|e| io(e, "backend HTTP actions"))?;

    let keys = KeySet::open(config.data_dir.as_deref())?;
    let store = Store::open(
        config
            .data_dir
            .as_ref()
            .map(|d| d.join("devstack.sqlite3"))
            .as_deref(),
        config.clock.clone(),
    )?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| StartError::Http(e.to_string()))?;
    let (outbox, deliveries) = webhooks::Outbox::new();
    let (shutdown, stopped) = watch::channel(false);
    let state = Arc::new(State {
        lifetimes: Mutex::new(config.lifetimes.clone()),
        verifier: backend::auth::Verifier::new(
            config
                .auth_providers
                .clone()
                .unwrap_or_else(|| backend::auth::providers(&issuer, &config.client_id)),
            config.clock.clone(),
        ),
        clock: config.clock.clone(),
        config,
        issuer,
        api_url,
        site_url,
        store,
        keys: RwLock::new(keys),
        faults: Mutex::new(Faults::default()),
        stats: Stats::default(),
        pending: Mutex::new(HashMap::new()),
        outbox,
        http,
        sync: backend::sync::Hub::new(stopped.clone()),
        upload_hold: backend::storage::UploadHold::default(),
    });
    let accounts = seed::run(&state)?;

    let serve = |listener: TcpListener, router: axum::Router| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.wait_for(|&s| s).await;
            };
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await;
        })
    };
    let tasks = vec![
        serve(idp, idp::router(state.clone())),
        serve(api, backend::api_router(state.clone())),
        serve(site, backend::site_router(state.clone())),
        tokio::spawn(webhooks::deliver(
            state.clone(),
            deliveries,
            stopped.clone(),
        )),
    ];
    Ok(Running {
        state,
        accounts,
        shutdown,
        tasks,
    })
}
