//! The signed-in session: the [`Auth`] type that owns it, what it tells a UI, and how fresh
//! its tokens are. Signing in, renewing, the lock the processes share, accounts and signing out
//! each have a module of their own; what stays here is the state they all read and write (the
//! cached session, its watchers, the store and the clock), which is one file because every
//! method on it keeps the same invariant: the cache, the keychain and the watchers agree.

mod accounts;
mod grant;
mod lock;
pub use lock::{IndexHeld, hold_accounts_index};
mod refresh;
mod sign_in;
mod sign_out;

use crate::access::Access;
use crate::browser::Browser;
use crate::config::Config;
use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::HttpClient;
use crate::id_token::Identity;
use crate::redirect::SchemeHandoff;
use crate::secret::Secret;
use crate::token_store::{Location, TokenSet, TokenStore};
use kinvex_clock::SharedClock;
use lock::{Held, Marker, SessionLock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use url::Url;

/// How long one keychain call may take before it fails with
/// [`AuthError::KeychainUnavailable`]. Longer than gh's 3 s on purpose: a locked keychain
/// answers only once the person has typed a password into its unlock prompt, which takes more
/// than 3 s. A keychain that is absent fails at once; one that never answers (a D-Bus that
/// accepts and stays silent, a prompt nobody sees) costs no more than this, and the call it
/// leaves behind holds neither the lock nor the process.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// After this long without an answer the person is told that the keychain may be waiting for
/// them: gh's bound, by which a keychain that needs nobody has long answered.
pub const KEYCHAIN_NOTICE: Duration = Duration::from_secs(3);
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How early a token is renewed before it expires.
pub const REFRESH_MARGIN: i64 = 60;

#[derive(Clone, Debug, Default)]
pub struct SignInOptions {
    /// Show Kinde's registration screen (`prompt=create`).
    pub register: bool,
    pub org_code: Option<String>,
    pub login_hint: Option<String>,
    /// Force the sign-in page even with a browser session (`prompt=login`).
    pub force_login: bool,
    /// Ask without a page first (`prompt=none`): a browser that still has the provider's
    /// session comes straight back. When the provider answers that the person must interact
    /// (`login_required`, `interaction_required`, `consent_required`), the same sign-in opens
    /// the page once, through a new loopback listener. Ignored with `register` or `force_login`,
    /// which always show a page.
    pub silent: bool,
    /// Create an organisation with this name and sign in to it (`is_create_org=true`,
    /// `org_name`); the person becomes its admin. Takes the place of `org_code`.
    pub create_org: Option<String>,
}

impl SignInOptions {
    /// The `prompt` of the first authorization request, if any.
    pub(crate) fn first_prompt(&self) -> Option<&'static str> {
        if self.register {
            Some("create")
        } else if self.force_login {
            Some("login")
        } else if self.silent {
            Some("none")
        } else {
            None
        }
    }
}

/// What `status` reports.
#[derive(Clone, Debug)]
pub enum Status {
    SignedOut {
        location: Location,
    },
    SignedIn {
        subject: String,
        email: Option<String>,
        name: Option<String>,
        expires_at: i64,
        location: Location,
    },
}

/// What the app shows about the session; changes are announced on [`Auth::watch`].
#[derive(Clone, Debug, PartialEq)]
pub enum SessionState {
    /// Not looked at yet (nothing is read at start-up until someone asks).
    Unknown,
    SignedOut,
    SignedIn {
        subject: String,
        email: Option<String>,
        name: Option<String>,
    },
    /// Signed in, but the session could not be renewed because the provider is unreachable.
    Offline {
        subject: String,
        detail: String,
    },
}

impl SessionState {
    fn of(tokens: &TokenSet) -> SessionState {
        SessionState::SignedIn {
            subject: tokens.subject.clone(),
            email: tokens.email.clone(),
            name: tokens.name.clone(),
        }
    }
}

/// A token for a socket that keeps one for a long time (Convex's live queries), with when to
/// replace it: Convex checks `exp` on a live socket with no leeway, and a client that sends
/// the renewed token from `renew_at` on never has it seen expired.
#[derive(Clone, Debug)]
pub struct LiveBearer {
    pub token: Secret<String>,
    /// Unix seconds from which [`Auth::bearer`] renews this token.
    pub renew_at: i64,
    /// Unix seconds at which this token expires.
    pub expires_at: i64,
}

/// This process's copy of the session.
#[derive(Clone, Debug)]
enum Cached {
    /// The keychain has not been read yet.
    NotRead,
    SignedOut,
    SignedIn(TokenSet),
}

/// The signed-in session and everything that renews, stores and ends it. Time, HTTP, the
/// keychain and the browser are all passed in.
pub struct Auth {
    pub config: Config,
    http: HttpClient,
    clock: SharedClock,
    provider: OnceCell<Arc<Provider>>,
    store: Arc<TokenStore>,
    browser: Arc<dyn Browser>,
    /// Holding this lock is what makes a refresh single-flight inside the process: concurrent
    /// callers wait, then see the new tokens.
    current: tokio::sync::Mutex<Cached>,
    state: tokio::sync::watch::Sender<SessionState>,
    /// Where the lock files are: one per account, and one for the index of accounts.
    locks: PathBuf,
    handoff: SchemeHandoff,
    /// Held for writing while a refreshed session is being written to the keychain in the
    /// background; every other keychain operation of this process waits on it.
    persisting: Arc<tokio::sync::RwLock<()>>,
    /// The marker this process last wrote into the shared lock file with a refreshed session.
    /// Finding it still there under the lock means no other process has refreshed since, so the
    /// keychain need not be read again before the next refresh.
    written: Arc<std::sync::Mutex<Option<Marker>>>,
    /// [`KEYCHAIN_TIMEOUT`] unless [`Auth::with_keychain_timeout`] replaces it.
    keychain_timeout: Duration,
    /// Set when a keychain call was given up on and its thread has not come back yet: the next
    /// call fails at once instead of waiting the whole bound again behind it (a command that
    /// reads the keychain twice still ends within one bound). Cleared when that call returns.
    keychain_stuck: Arc<std::sync::atomic::AtomicBool>,
    /// The access token the provider last answered a refresh with again (Kinde may, while it
    /// is valid): renewing it within [`REFRESH_MARGIN`] would only bring it back once more, so
    /// it is renewed once it has expired, or when Convex rejects it.
    repeated: std::sync::Mutex<Option<Secret<String>>>,
}

impl Auth {
    /// Nothing is fetched here: discovery waits until a sign-in or refresh needs it. The
    /// system clock is used unless [`Auth::with_clock`] replaces it.
    pub fn new(
        config: Config,
        http: HttpClient,
        store: TokenStore,
        browser: Arc<dyn Browser>,
    ) -> Auth {
        Auth {
            config,
            http,
            clock: kinvex_clock::system(),
            provider: OnceCell::new(),
            store: Arc::new(store),
            browser,
            current: tokio::sync::Mutex::new(Cached::NotRead),
            state: tokio::sync::watch::channel(SessionState::Unknown).0,
            locks: SessionLock::default_dir(),
            handoff: SchemeHandoff::default(),
            persisting: Arc::new(tokio::sync::RwLock::new(())),
            written: Arc::new(std::sync::Mutex::new(None)),
            keychain_timeout: KEYCHAIN_TIMEOUT,
            keychain_stuck: Arc::default(),
            repeated: std::sync::Mutex::new(None),
        }
    }

    /// Reads time from `clock`: token freshness, validation and expiry all follow it.
    pub fn with_clock(mut self, clock: SharedClock) -> Auth {
        self.clock = clock;
        self
    }

    /// Bounds every keychain call by `limit` instead of [`KEYCHAIN_TIMEOUT`] (a test's keychain
    /// that never answers need not cost 20 seconds).
    pub fn with_keychain_timeout(mut self, limit: Duration) -> Auth {
        self.keychain_timeout = limit;
        self
    }

    /// Opens `url` in the browser; a failure is only a warning, since the URL is also shown.
    fn open_in_browser(&self, url: &Url) {
        if let Err(detail) = self.browser.open(url.as_str()) {
            tracing::warn!(
                "{}",
                AuthError::Browser {
                    url: url.to_string(),
                    detail
                }
            );
        }
    }

    /// Session state changes, for a UI that reacts instead of polling.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<SessionState> {
        self.state.subscribe()
    }

    fn announce(&self, state: SessionState) {
        self.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    pub async fn provider(&self) -> Result<Arc<Provider>, AuthError> {
        self.provider
            .get_or_try_init(|| async {
                Provider::discover(&self.http, &self.config.issuer)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Runs a keychain operation off the async threads, bounded in time. A call that does not
    /// answer is left behind on its thread: nothing waits for it, not even the runtime's
    /// shutdown when the front end shuts down in the background (as the CLI does).
    pub async fn with_store<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&TokenStore) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let limit = self.keychain_timeout;
        let unavailable = || AuthError::KeychainUnavailable {
            detail: format!(
                "it did not answer within {} seconds (if it asked to be unlocked, unlock it and try again)",
                limit.as_secs_f32()
            ),
        };
        if self.keychain_stuck.load(Ordering::SeqCst) {
            return Err(unavailable());
        }
        let store = self.store.clone();
        let persisting = self.persisting.clone();
        let (stuck, done) = (
            self.keychain_stuck.clone(),
            Arc::new(AtomicBool::new(false)),
        );
        let finished = done.clone();
        let task = async move {
            // After a refresh's background write, never before it: no stale read, and a
            // sign-out's clear cannot be overtaken by the write.
            let _written = persisting.read().await;
            tokio::task::spawn_blocking(move || {
                let result = operation(&store);
                finished.store(true, Ordering::SeqCst);
                stuck.store(false, Ordering::SeqCst);
                result
            })
            .await
        };
        let mut task = std::pin::pin!(task);
        let answered = match tokio::time::timeout(KEYCHAIN_NOTICE.min(limit), task.as_mut()).await {
            Ok(answered) => Ok(answered),
            Err(_) if limit <= KEYCHAIN_NOTICE => Err(()),
            Err(_) => {
                tracing::warn!(
                    "the keychain has not answered for {} seconds; if it asks to be unlocked, unlock it (giving up after {} seconds)",
                    KEYCHAIN_NOTICE.as_secs(),
                    limit.as_secs()
                );
                tokio::time::timeout(limit - KEYCHAIN_NOTICE, task)
                    .await
                    .map_err(|_| ())
            }
        };
        match answered {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(AuthError::Keychain {
                detail: format!("the keychain call failed: {join}"),
            }),
            Err(()) => {
                self.keychain_stuck.store(true, Ordering::SeqCst);
                // It may have come back just now, before the flag was set: then it is not stuck.
                if done.load(Ordering::SeqCst) {
                    self.keychain_stuck.store(false, Ordering::SeqCst);
                }
                Err(unavailable())
            }
        }
    }

    /// Whether the keychain answers a read, within the keychain bound. A sign-in asks before it
    /// opens the browser, so its code is never spent on a session that could not be stored.
    pub async fn check_keychain(&self) -> Result<(), AuthError> {
        self.with_store(|store| store.check()).await
    }

    /// Waits until a refreshed session is in the keychain, at most the keychain bound. Call
    /// before the process exits.
    pub async fn flush(&self) {
        let limit = self.keychain_timeout;
        if tokio::time::timeout(limit, self.persisting.write())
            .await
            .is_err()
        {
            tracing::warn!(
                "the renewed session was still being written to the keychain after {} seconds; if it was not saved, the next start asks you to sign in again",
                limit.as_secs_f32()
            );
        }
    }

    pub fn location(&self) -> Location {
        self.store.location()
    }

    pub async fn load(&self) -> Result<Option<TokenSet>, AuthError> {
        self.with_store(|store| store.load()).await
    }

    /// Stores a session (a sign-in's) as its account's, and makes that account the active one,
    /// under the locks of that account and of the one active until now, so that the newest
    /// session is the one that stays: a renewal in another process either wrote before this
    /// (and is replaced) or reads this session afterwards instead of writing back the one it had.
    pub async fn save(&self, tokens: TokenSet) -> Result<(), AuthError> {
        let held = self.hold_for_change(&tokens.subject).await?;
        self.replace_under_lock(held, move |store| {
            store.save_session(&tokens)?;
            store.record(&tokens, true)
        })
        .await
    }

    /// The lock of this tenant's account `subject`.
    fn lock_of(&self, subject: &str) -> SessionLock {
        let (issuer, client_id) = self.store.tenant();
        SessionLock::for_account(&self.locks, issuer, client_id, subject)
    }

    /// The locks a change of the active account takes: `subject`'s, the active account's (whose
    /// renewal elsewhere must then read the keychain again), in the order of their names, then
    /// the index's.
    async fn hold_for_change(&self, subject: &str) -> Result<Vec<Held>, AuthError> {
        let active = self.with_store(|store| store.active_subject()).await?;
        let mut locks = vec![self.lock_of(subject)];
        if let Some(active) = active.filter(|a| a != subject) {
            locks.push(self.lock_of(&active));
        }
        locks.sort_by(|a, b| a.name().cmp(b.name()));
        locks.push(SessionLock::for_index(&self.locks));
        let mut held = Vec::with_capacity(locks.len());
        for lock in &locks {
            held.push(lock.acquire().await?);
        }
        Ok(held)
    }

    /// Changes what the keychain holds while `held`, with a new marker in the same hold: a
    /// process whose marker it replaces (one that renewed last, and so skips reading the
    /// keychain) reads the keychain again before it renews. The locks go with the blocking
    /// call and are released when that call returns, even if nobody waits for it any more, so
    /// a write that outlives its bound still never lands outside the locks.
    async fn replace_under_lock<T: Send + 'static>(
        &self,
        held: Vec<Held>,
        change: impl FnOnce(&TokenStore) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        *lock_std(&self.written) = None;
        let marker = Marker::new(&*self.clock);
        self.with_store(move |store| {
            for lock in &held {
                lock.set_marker(&marker).map_err(|e| AuthError::Keychain {
                    detail: format!("cannot update the session lock: {e}"),
                })?;
            }
            let changed = change(store);
            drop(held);
            changed
        })
        .await
    }

    pub async fn status(&self) -> Result<Status, AuthError> {
        let location = self.location();
        Ok(match self.load().await? {
            None => Status::SignedOut { location },
            Some(t) => Status::SignedIn {
                subject: t.subject,
                email: t.email,
                name: t.name,
                expires_at: t.id_expires_at.min(t.access_expires_at),
                location,
            },
        })
    }

    /// The token Convex gets, and when it expires: the access token when an API audience is
    /// configured (Convex's `applicationID` is the audience), the ID token otherwise.
    fn bearer_of<'t>(&self, tokens: &'t TokenSet) -> (&'t Secret<String>, i64) {
        if self.config.audience.is_some() {
            (&tokens.access_token, tokens.access_expires_at)
        } else {
            (&tokens.id_token, tokens.id_expires_at)
        }
    }

    /// The ID-token setup with a provider whose last refresh answer carried no ID token: the
    /// token Convex gets is no longer renewed by refreshing.
    fn id_token_not_renewed(&self, tokens: &TokenSet) -> bool {
        self.config.audience.is_none() && tokens.id_token_on_refresh == Some(false)
    }

    /// Whether the session is due for renewal: the token Convex gets expires within
    /// [`REFRESH_MARGIN`]. So that no answer of the provider's makes every call refresh: an ID
    /// token the provider no longer renews leaves only the access token's expiry (renewing it
    /// keeps the refresh token alive), and an access token the provider repeated is renewed
    /// once it has expired.
    fn needs_refresh(&self, tokens: &TokenSet) -> bool {
        self.renews_at(tokens) <= self.clock.unix()
    }

    /// From when (Unix seconds) [`Auth::needs_refresh`] holds for `tokens`.
    fn renews_at(&self, tokens: &TokenSet) -> i64 {
        let (token, expires_at) = if self.id_token_not_renewed(tokens) {
            (&tokens.access_token, tokens.access_expires_at)
        } else {
            self.bearer_of(tokens)
        };
        let repeated = lock_std(&self.repeated).as_ref() == Some(token);
        let margin = if repeated { 0 } else { REFRESH_MARGIN };
        expires_at - margin
    }

    /// The clock this session reads.
    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// The token for Convex from `tokens`, unless it is an expired ID token the provider does
    /// not renew: then the person is told what to configure, and the session stays.
    fn bearer_for_convex(&self, tokens: &TokenSet) -> Result<Secret<String>, AuthError> {
        let (token, expires_at) = self.bearer_of(tokens);
        if self.id_token_not_renewed(tokens) && expires_at <= self.clock.unix() {
            return Err(AuthError::IdTokenNotRenewed);
        }
        Ok(token.clone())
    }

    /// Fills the cache from the keychain on first use and announces what was found.
    async fn load_once(&self, current: &mut Cached) -> Result<(), AuthError> {
        if let Cached::NotRead = current {
            let loaded = self.load().await?;
            self.announce(
                loaded
                    .as_ref()
                    .map_or(SessionState::SignedOut, SessionState::of),
            );
            *current = loaded.map_or(Cached::SignedOut, Cached::SignedIn);
        }
        Ok(())
    }

    /// Reads the stored session once (silent restore) and announces what it found.
    pub async fn restore(&self) -> Result<Option<TokenSet>, AuthError> {
        let mut current = self.current.lock().await;
        self.load_once(&mut current).await?;
        Ok(match &*current {
            Cached::SignedIn(tokens) => Some(tokens.clone()),
            Cached::NotRead | Cached::SignedOut => None,
        })
    }

    /// Who is signed in, from the session as it stands (no renewal, no network).
    pub async fn identity(&self) -> Result<Identity, AuthError> {
        let tokens = self.restore().await?.ok_or(AuthError::NotSignedIn)?;
        Ok(Identity {
            subject: tokens.subject,
            email: tokens.email,
            name: tokens.name,
            organization: tokens.organization,
            expires_at: tokens.id_expires_at,
        })
    }

    /// What the person may do in the organisation signed in to (organisation, roles,
    /// permissions, feature flags), from the access token, renewed first when due, once its
    /// signature, issuer and expiry are checked against the provider.
    pub async fn access(&self) -> Result<Access, AuthError> {
        let tokens = self.fresh(None).await?;
        let provider = self.provider().await?;
        crate::access::validate(
            &provider,
            &self.http,
            &self.config.client_id,
            tokens.access_token.expose(),
            self.clock.now(),
        )
        .await
    }

    /// The bearer token for Convex, renewed first when it expires within [`REFRESH_MARGIN`].
    pub async fn bearer(&self) -> Result<Secret<String>, AuthError> {
        let tokens = self.fresh(None).await?;
        self.bearer_for_convex(&tokens)
    }

    /// The bearer token to retry with after Convex rejected `rejected`: renewed, unless another
    /// caller already renewed it meanwhile.
    pub async fn bearer_after_rejection(
        &self,
        rejected: &Secret<String>,
    ) -> Result<Secret<String>, AuthError> {
        let tokens = self.fresh(Some(rejected)).await?;
        self.bearer_for_convex(&tokens)
    }

    /// [`Auth::bearer`] with when to replace it, for a socket that keeps it (same renewal, same
    /// single flight and cross-process lock).
    pub async fn live_bearer(&self) -> Result<LiveBearer, AuthError> {
        let tokens = self.fresh(None).await?;
        self.live_bearer_of(&tokens)
    }

    /// [`Auth::bearer_after_rejection`] with when to replace it.
    pub async fn live_bearer_after_rejection(
        &self,
        rejected: &Secret<String>,
    ) -> Result<LiveBearer, AuthError> {
        let tokens = self.fresh(Some(rejected)).await?;
        self.live_bearer_of(&tokens)
    }

    fn live_bearer_of(&self, tokens: &TokenSet) -> Result<LiveBearer, AuthError> {
        Ok(LiveBearer {
            token: self.bearer_for_convex(tokens)?,
            renew_at: self.renews_at(tokens),
            expires_at: self.bearer_of(tokens).1,
        })
    }

    /// The session's tokens, renewed first when the one Convex needs expires within a minute.
    pub async fn fresh_tokens(&self) -> Result<TokenSet, AuthError> {
        self.fresh(None).await
    }

    /// After Convex rejected `rejected`: renews unless another caller already did.
    pub async fn tokens_after_rejection(
        &self,
        rejected: &Secret<String>,
    ) -> Result<TokenSet, AuthError> {
        self.fresh(Some(rejected)).await
    }

    async fn fresh(&self, rejected: Option<&Secret<String>>) -> Result<TokenSet, AuthError> {
        let mut current = self.current.lock().await;
        self.load_once(&mut current).await?;
        let Cached::SignedIn(tokens) = current.clone() else {
            return Err(AuthError::NotSignedIn);
        };
        let stale = match rejected {
            // An ID token the provider no longer renews: a refresh would not bring another.
            Some(rejected) if !self.id_token_not_renewed(&tokens) => {
                self.bearer_of(&tokens).0 == rejected
            }
            _ => self.needs_refresh(&tokens),
        };
        if !stale {
            return Ok(tokens);
        }
        match self.refresh_across_processes(&tokens).await {
            Ok(renewed) => {
                self.announce(SessionState::of(&renewed));
                *current = Cached::SignedIn(renewed.clone());
                Ok(renewed)
            }
            Err(AuthError::SessionEnded) => {
                *current = Cached::SignedOut;
                self.announce(SessionState::SignedOut);
                Err(AuthError::SessionEnded)
            }
            Err(AuthError::Offline { detail }) => {
                self.announce(SessionState::Offline {
                    subject: tokens.subject.clone(),
                    detail: detail.clone(),
                });
                Err(AuthError::Offline { detail })
            }
            Err(other) => Err(other),
        }
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock_std<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
