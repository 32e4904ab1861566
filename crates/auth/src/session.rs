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

pub struct Auth {
    pub config: Config,
    http: HttpClient,
    provider: OnceCell<Arc<Provider>>,
    store: Arc<TokenStore>,
    browser: Arc<dyn Browser>,
}

impl Auth {
    /// Nothing is fetched here: discovery waits until a sign-in or refresh needs it.
    pub fn new(
        config: Config,
        http: HttpClient,
        store: TokenStore,
        browser: Arc<dyn Browser>,
    ) -> Auth {
        Auth {
            config,
            http,
            provider: OnceCell::new(),
            store: Arc::new(store),
            browser,
        }
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
        let task = tokio::task::spawn_blocking(move || operation(&store));
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

    pub fn location(&self) -> Location {
        self.store.location()
    }

    pub async fn load(&self) -> Result<Option<TokenSet>, AuthError> {
        self.with_store(|store| store.load()).await
    }

    pub async fn save(&self, tokens: TokenSet) -> Result<(), AuthError> {
        self.with_store(move |store| store.save(&tokens)).await
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
        let listener = Listener::bind(&self.config.redirect, &self.config.fallback_ports)?;
        let redirect = RedirectUrl::new(listener.redirect_uri().to_string()).map_err(|e| {
            AuthError::Listener {
                address: listener.redirect_uri().to_string(),
                detail: e.to_string(),
            }
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
        if open_browser && let Err(detail) = self.browser.open(url.as_str()) {
            tracing::warn!(
                "{}",
                AuthError::Browser {
                    url: url.to_string(),
                    detail
                }
            );
        }

        let state = Secret::new(state.secret().clone());
        let code = listener
            .wait(&state, &provider.issuer, timeout, cancel)
            .await?;

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
        };
        self.save(tokens.clone()).await?;
        Ok(tokens)
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
        if open_browser && let Err(detail) = self.browser.open(url.as_str()) {
            tracing::warn!(
                "{}",
                AuthError::Browser {
                    url: url.to_string(),
                    detail
                }
            );
        }
        Ok(url)
    }
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
