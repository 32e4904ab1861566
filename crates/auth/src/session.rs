//! Signing in and out: discovery, the authorization request, the loopback callback, the code
//! exchange, ID-token validation and storage, in that order, with nothing stored until every
//! check has passed.

use crate::browser::Browser;
use crate::config::Config;
use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::{HttpClient, describe};
use crate::id_token::{self, unix};
use crate::loopback::Listener;
use crate::redirect::{self, Rejection, SchemeHandoff};
use crate::secret::Secret;
use crate::token_store::{Location, TokenSet, TokenStore};
use openidconnect::core::CoreClient;
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;
use url::Url;

/// How long a keychain call may take before the person is told (a locked Secret Service can
/// wait on a prompt forever).
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(20);
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Debug, Default)]
pub struct SignInOptions {
    /// Show Kinde's registration screen (`prompt=create`).
    pub register: bool,
    pub org_code: Option<String>,
    pub login_hint: Option<String>,
    /// Force the sign-in page even with a browser session (`prompt=login`).
    pub force_login: bool,
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

/// How early a token is renewed before it expires.
pub const REFRESH_MARGIN: i64 = 60;
/// Attempts at a refresh when the provider cannot be reached, and the first pause between them.
const REFRESH_ATTEMPTS: u32 = 3;
const REFRESH_BACKOFF: Duration = Duration::from_millis(250);

pub struct Auth {
    pub config: Config,
    http: HttpClient,
    provider: OnceCell<Arc<Provider>>,
    store: Arc<TokenStore>,
    browser: Arc<dyn Browser>,
    /// The session as last read or written. Holding this lock is what makes a refresh
    /// single-flight inside the process: concurrent callers wait, then see the new tokens.
    current: tokio::sync::Mutex<Option<Option<TokenSet>>>,
    state: tokio::sync::watch::Sender<SessionState>,
    lock_dir: std::path::PathBuf,
    handoff: SchemeHandoff,
    /// Held for writing while a refreshed session is being written to the keychain in the
    /// background; every other keychain operation of this process waits on it.
    persisting: Arc<tokio::sync::RwLock<()>>,
    /// The marker this process last wrote into the shared lock file with a refreshed session.
    /// Finding it still there under the lock means no other process has refreshed since, so the
    /// keychain need not be read again before the next refresh.
    written: Arc<std::sync::Mutex<Option<String>>>,
}

/// What a refresh under the cross-process lock ended with.
enum Renewal {
    /// Another process had already renewed the session; nothing to write.
    Adopted(TokenSet),
    /// Renewed here: still to be written to the keychain.
    Renewed(TokenSet),
}

impl Auth {
    /// Nothing is fetched here: discovery waits until a sign-in or refresh needs it.
    pub fn new(
        config: Config,
        http: HttpClient,
        store: TokenStore,
        browser: Arc<dyn Browser>,
    ) -> Auth {
        let lock_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| std::path::PathBuf::from(d).join("kinvex"))
            .unwrap_or_else(|| std::env::temp_dir().join("kinvex-locks"));
        Auth {
            config,
            http,
            provider: OnceCell::new(),
            store: Arc::new(store),
            browser,
            current: tokio::sync::Mutex::new(None),
            state: tokio::sync::watch::channel(SessionState::Unknown).0,
            lock_dir,
            handoff: SchemeHandoff::default(),
            persisting: Arc::new(tokio::sync::RwLock::new(())),
            written: Arc::new(std::sync::Mutex::new(None)),
        }
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

    /// Runs a keychain operation off the async threads, bounded in time.
    pub async fn with_store<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&TokenStore) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let store = self.store.clone();
        let persisting = self.persisting.clone();
        let task = async move {
            // After a refresh's background write, never before it: no stale read, and a
            // sign-out's clear cannot be overtaken by the write.
            let _written = persisting.read().await;
            tokio::task::spawn_blocking(move || operation(&store)).await
        };
        match tokio::time::timeout(KEYCHAIN_TIMEOUT, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(AuthError::Keychain {
                detail: format!("the keychain call failed: {join}"),
            }),
            Err(_) => Err(AuthError::KeychainUnavailable {
                detail: format!(
                    "it did not answer within {} seconds (is it locked?)",
                    KEYCHAIN_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    /// Waits until a refreshed session is in the keychain. Call before the process exits.
    pub async fn flush(&self) {
        let _ = self.persisting.write().await;
    }

    pub fn location(&self) -> Location {
        self.store.location()
    }

    pub async fn load(&self) -> Result<Option<TokenSet>, AuthError> {
        self.with_store(|store| store.load()).await
    }

    /// Stores a session (a sign-in's) and tells every process to read the keychain again
    /// before its next refresh.
    pub async fn save(&self, tokens: TokenSet) -> Result<(), AuthError> {
        self.with_store(move |store| store.save(&tokens)).await?;
        self.forget_marker().await;
        Ok(())
    }

    /// Replaces the lock file's marker with one nobody remembers.
    async fn forget_marker(&self) {
        *lock_std(&self.written) = None;
        let path = self.lock_path();
        let _ = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let file = open_lock(&path)?;
            file.lock()?;
            write_marker(&file, &new_marker())
        })
        .await;
    }

    /// The lock file every process of this user shares for this tenant and client.
    fn lock_path(&self) -> std::path::PathBuf {
        self.lock_dir.join(format!(
            "{:016x}.lock",
            fnv(&format!(
                "{} {}",
                self.config.issuer_str(),
                self.config.client_id
            ))
        ))
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

    /// Signs in through the browser. `show_url` receives the sign-in URL (always, so it can be
    /// copied when no browser opens); `open_browser` false skips opening one. `cancel` ends the
    /// wait early. The session is stored only after every check passed.
    pub async fn sign_in(
        &self,
        options: &SignInOptions,
        open_browser: bool,
        timeout: Duration,
        show_url: impl FnOnce(&Url),
        cancel: impl Future<Output = ()>,
    ) -> Result<TokenSet, AuthError> {
        let provider = self.provider().await?;
        let listener = if self.config.redirect_is_loopback() {
            Some(Listener::bind(
                &self.config.redirect,
                &self.config.fallback_ports,
            )?)
        } else {
            None
        };
        let redirect_uri = listener
            .as_ref()
            .map_or(&self.config.redirect, Listener::redirect_uri);
        let redirect =
            RedirectUrl::new(redirect_uri.to_string()).map_err(|e| AuthError::Listener {
                address: redirect_uri.to_string(),
                detail: e.to_string(),
            })?;
        let client = CoreClient::from_provider_metadata(
            provider.metadata(),
            ClientId::new(self.config.client_id.clone()),
            None,
        )
        .set_redirect_uri(redirect);

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(audience) = &self.config.audience {
            request = request.add_extra_param("audience", audience.clone());
        }
        if options.register {
            request = request.add_extra_param("prompt", "create");
        } else if options.force_login {
            request = request.add_extra_param("prompt", "login");
        }
        if let Some(org) = &options.org_code {
            request = request.add_extra_param("org_code", org.clone());
        }
        if let Some(hint) = &options.login_hint {
            request = request.add_extra_param("login_hint", hint.clone());
        }
        let (url, state, nonce) = request.url();

        show_url(&url);
        if open_browser {
            self.open_in_browser(&url);
        }

        let state = Secret::new(state.secret().clone());
        let code = match listener {
            Some(listener) => {
                listener
                    .wait(&state, &provider.issuer, timeout, cancel)
                    .await?
            }
            None => {
                let answer =
                    self.handoff
                        .expect(self.config.redirect.clone(), state, &provider.issuer);
                let outcome = redirect::settle(answer, timeout, cancel).await;
                self.handoff.clear();
                outcome?
            }
        };

        let exchange = client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .map_err(|e| AuthError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(verifier);
        let response = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| exchange_error(&provider, e))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| {
                AuthError::TokenExchange(
                    "no ID token came back; KINDE_SCOPES must include openid".into(),
                )
            })?
            .to_string();
        let now = SystemTime::now();
        let identity = id_token::validate(
            &provider,
            &self.http,
            &self.config.client_id,
            &id_token,
            Some(&nonce),
            now,
        )
        .await?;
        let access_expires_at =
            unix(now) + response.expires_in().map_or(3600, |d| d.as_secs() as i64);
        let tokens = TokenSet {
            access_token: Secret::new(response.access_token().secret().clone()),
            id_token: Secret::new(id_token),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone())),
            access_expires_at,
            id_expires_at: identity.expires_at,
            subject: identity.subject,
            email: identity.email,
            name: identity.name,
            organization: identity.organization,
        };
        self.save(tokens.clone()).await?;
        *self.current.lock().await = Some(Some(tokens.clone()));
        self.announce(SessionState::of(&tokens));
        Ok(tokens)
    }

    /// Hands a URL the operating system delivered for the app's scheme to the sign-in waiting
    /// for it. Anything but that sign-in's genuine answer is rejected and changes nothing.
    pub fn deliver_redirect(&self, url: &Url) -> Result<(), Rejection> {
        self.handoff.deliver(url)
    }

    /// Revokes the refresh token (best effort), clears the keychain and returns the provider's
    /// end-session URL, opening it in the browser unless `open_browser` is false.
    pub async fn sign_out(&self, open_browser: bool) -> Result<Url, AuthError> {
        let stored = self.load().await.unwrap_or(None);
        let provider = self.provider().await.ok();
        if let (Some(tokens), Some(provider)) = (&stored, &provider)
            && let (Some(refresh), Some(endpoint)) = (&tokens.refresh_token, &provider.revocation)
        {
            let revoked = self
                .http
                .reqwest()
                .post(endpoint.clone())
                .timeout(Duration::from_secs(5))
                .form(&[
                    ("token", refresh.expose().as_str()),
                    ("client_id", self.config.client_id.as_str()),
                    ("token_type_hint", "refresh_token"),
                ])
                .send()
                .await;
            if let Err(e) = revoked {
                tracing::warn!("could not revoke the refresh token: {}", describe(&e));
            }
        }
        self.with_store(|store| store.clear()).await?;
        self.forget_marker().await;
        *self.current.lock().await = Some(None);
        self.announce(SessionState::SignedOut);

        let mut url = provider
            .and_then(|p| p.end_session.clone())
            .unwrap_or_else(|| {
                let mut url = self.config.issuer.clone();
                url.set_path("/logout");
                url
            });
        if let Some(redirect) = &self.config.logout_redirect {
            url.query_pairs_mut()
                .append_pair("redirect", redirect.as_str());
        }
        if open_browser {
            self.open_in_browser(&url);
        }
        Ok(url)
    }
}

/// The token Convex gets (the access token with an API audience, the ID token otherwise) and
/// when it expires.
pub fn convex_token(tokens: &TokenSet, audience: bool) -> (&Secret<String>, i64) {
    if audience {
        (&tokens.access_token, tokens.access_expires_at)
    } else {
        (&tokens.id_token, tokens.id_expires_at)
    }
}

impl Auth {
    fn needs_refresh(&self, tokens: &TokenSet) -> bool {
        let (_, expires_at) = convex_token(tokens, self.config.audience.is_some());
        expires_at - REFRESH_MARGIN <= unix(SystemTime::now())
    }

    /// Fills the cache from the keychain on first use and announces what was found.
    async fn load_once(&self, current: &mut Option<Option<TokenSet>>) -> Result<(), AuthError> {
        if current.is_none() {
            let loaded = self.load().await?;
            self.announce(
                loaded
                    .as_ref()
                    .map_or(SessionState::SignedOut, SessionState::of),
            );
            *current = Some(loaded);
        }
        Ok(())
    }

    /// Reads the stored session once (silent restore) and announces what it found.
    pub async fn restore(&self) -> Result<Option<TokenSet>, AuthError> {
        let mut current = self.current.lock().await;
        self.load_once(&mut current).await?;
        Ok(current.clone().flatten())
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
        let Some(Some(tokens)) = current.clone() else {
            return Err(AuthError::NotSignedIn);
        };
        let audience = self.config.audience.is_some();
        let stale = match rejected {
            Some(rejected) => convex_token(&tokens, audience).0 == rejected,
            None => self.needs_refresh(&tokens),
        };
        if !stale {
            return Ok(tokens);
        }
        match self.refresh_across_processes(&tokens).await {
            Ok(renewed) => {
                self.announce(SessionState::of(&renewed));
                *current = Some(Some(renewed.clone()));
                Ok(renewed)
            }
            Err(AuthError::SessionEnded) => {
                *current = Some(None);
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

    /// Refreshes under a lock shared with every other process of this user (the CLI and the
    /// app), re-reading the keychain first: if another process already rotated the refresh
    /// token, its result is used instead of spending the old token a second time.
    async fn refresh_across_processes(&self, seen: &TokenSet) -> Result<TokenSet, AuthError> {
        let path = self.lock_path();
        let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let file = open_lock(&path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|e| AuthError::Keychain {
            detail: e.to_string(),
        })?
        .map_err(|e| AuthError::Keychain {
            detail: format!("cannot take the session lock: {e}"),
        })?;

        let marker = read_marker(&lock);
        let ours = marker.is_some() && *lock_std(&self.written) == marker;
        let result = async {
            // Unless the marker says the keychain still holds what this process wrote, another
            // process may have rotated the refresh token: read the keychain again first.
            let stored = if ours {
                seen.clone()
            } else {
                self.load().await?.ok_or(AuthError::SessionEnded)?
            };
            let audience = self.config.audience.is_some();
            let moved_on = convex_token(&stored, audience).0 != convex_token(seen, audience).0;
            if moved_on && !self.needs_refresh(&stored) {
                return Ok(Renewal::Adopted(stored));
            }
            Ok(Renewal::Renewed(self.refresh(&stored).await?))
        }
        .await;
        match result {
            Ok(Renewal::Renewed(renewed)) => {
                self.persist_in_background(renewed.clone(), lock).await;
                Ok(renewed)
            }
            Ok(Renewal::Adopted(stored)) => Ok(stored),
            Err(error) => {
                if matches!(error, AuthError::SessionEnded) {
                    let _ = self.with_store(|store| store.clear()).await;
                    *lock_std(&self.written) = None;
                    let _ = write_marker(&lock, &new_marker());
                }
                drop(lock);
                Err(error)
            }
        }
    }

    /// Writes a renewed session to the keychain while callers already use it. The cross-process
    /// lock is released only after the write, so no other process can read the old session
    /// (whose refresh token is spent), and this process's own keychain calls wait for it too.
    /// A failed write is logged: the session keeps working until the app exits, then asks for
    /// a new sign-in, exactly as a failed write before the callers were released would have.
    async fn persist_in_background(&self, tokens: TokenSet, lock: std::fs::File) {
        let writing = self.persisting.clone().write_owned().await;
        let store = self.store.clone();
        let written = self.written.clone();
        tokio::task::spawn_blocking(move || {
            let marker = new_marker();
            let outcome = store.save(&tokens).and_then(|()| {
                write_marker(&lock, &marker).map_err(|e| AuthError::Keychain {
                    detail: format!("cannot update the session lock: {e}"),
                })
            });
            match outcome {
                Ok(()) => *lock_std(&written) = Some(marker),
                Err(e) => {
                    *lock_std(&written) = None;
                    tracing::warn!("the renewed session could not be saved: {e}");
                }
            }
            drop(lock);
            drop(writing);
        });
    }

    /// One refresh at the token endpoint, retried with backoff while the provider is unreachable.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, AuthError> {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Err(AuthError::SignInAgain(
                "this session has no refresh token (KINDE_SCOPES needs `offline`)".into(),
            ));
        };
        let provider = match self.provider().await {
            Ok(provider) => provider,
            Err(AuthError::ProviderUnreachable { detail, .. }) => {
                return Err(AuthError::Offline { detail });
            }
            Err(other) => return Err(other),
        };
        let endpoint = provider
            .token_endpoint()
            .map(|t| t.url().clone())
            .ok_or_else(|| AuthError::Discovery {
                url: provider.issuer.clone(),
                detail: "no token_endpoint".into(),
            })?;
        let mut pause = REFRESH_BACKOFF;
        let mut attempt = 1;
        let body: serde_json::Value = loop {
            let sent = self
                .http
                .reqwest()
                .post(endpoint.clone())
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", self.config.client_id.as_str()),
                    ("refresh_token", refresh_token.expose().as_str()),
                ])
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    break response.json().await.map_err(|e| {
                        AuthError::TokenExchange(format!(
                            "unreadable refresh response: {}",
                            describe(&e)
                        ))
                    })?;
                }
                Ok(response) if response.status().is_client_error() => {
                    let error: serde_json::Value = response.json().await.unwrap_or_default();
                    return Err(match error["error"].as_str() {
                        Some("invalid_grant") => AuthError::SessionEnded,
                        other => {
                            AuthError::TokenExchange(other.unwrap_or("refresh refused").to_string())
                        }
                    });
                }
                Ok(response) => format!("the token endpoint answered HTTP {}", response.status()),
                Err(e) => describe(&e),
            };
            if attempt >= REFRESH_ATTEMPTS {
                return Err(AuthError::Offline { detail: failure });
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        };

        let text = |key: &str| body[key].as_str().map(str::to_string);
        let access_token = text("access_token").ok_or_else(|| {
            AuthError::TokenExchange("no access_token in the refresh response".into())
        })?;
        let now = SystemTime::now();
        let (id_token, identity) = match text("id_token") {
            Some(id_token) => {
                let identity = id_token::validate(
                    &provider,
                    &self.http,
                    &self.config.client_id,
                    &id_token,
                    None,
                    now,
                )
                .await?;
                if identity.subject != tokens.subject {
                    return Err(AuthError::IdToken(
                        "the refreshed ID token is for another person".into(),
                    ));
                }
                (Secret::new(id_token), Some(identity))
            }
            None if self.config.audience.is_none() => {
                return Err(AuthError::SignInAgain(
                    "the sign-in service renewed the session without a new ID token".into(),
                ));
            }
            None => (tokens.id_token.clone(), None),
        };
        Ok(TokenSet {
            access_token: Secret::new(access_token),
            id_token,
            refresh_token: text("refresh_token")
                .map(Secret::new)
                .or_else(|| tokens.refresh_token.clone()),
            access_expires_at: unix(now) + body["expires_in"].as_i64().unwrap_or(3600),
            id_expires_at: identity
                .as_ref()
                .map_or(tokens.id_expires_at, |i| i.expires_at),
            subject: tokens.subject.clone(),
            email: identity
                .as_ref()
                .and_then(|i| i.email.clone())
                .or_else(|| tokens.email.clone()),
            name: identity
                .as_ref()
                .and_then(|i| i.name.clone())
                .or_else(|| tokens.name.clone()),
            organization: identity
                .as_ref()
                .and_then(|i| i.organization.clone())
                .or_else(|| tokens.organization.clone()),
        })
    }
}

/// A stable, non-cryptographic name for a lock file.
fn lock_std<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A marker unique to one write: this process, this moment, and a counter. Not a secret.
fn new_marker() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{} {nanos} {count}", std::process::id())
}

fn open_lock(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

fn read_marker(mut file: &std::fs::File) -> Option<String> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.seek(std::io::SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn write_marker(mut file: &std::fs::File, marker: &str) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    file.set_len(0)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(marker.as_bytes())
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    })
}

fn exchange_error<E: std::error::Error + 'static>(
    provider: &Provider,
    error: RequestTokenError<
        E,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> AuthError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            AuthError::TokenExchange(match response.error_description() {
                Some(description) => format!("{} ({description})", response.error()),
                None => response.error().to_string(),
            })
        }
        RequestTokenError::Request(e) => AuthError::ProviderUnreachable {
            url: provider
                .token_endpoint()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            detail: e.to_string(),
        },
        RequestTokenError::Parse(e, _) => {
            AuthError::TokenExchange(format!("unreadable response: {e}"))
        }
        RequestTokenError::Other(e) => AuthError::TokenExchange(e),
    }
}
