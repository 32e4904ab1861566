//! Signing in: a look at the keychain, the authorization request, the answer through the
//! loopback listener or the app's scheme, the code exchange and ID-token validation, in that
//! order. Nothing is stored until every check has passed, and then only under the session lock.

use super::grant::Grant;
use super::{Auth, Cached, SessionState, SignInOptions};
use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::Failure;
use crate::id_token;
use crate::loopback::Listener;
use crate::redirect::{self, Rejection};
use crate::secret::Secret;
use crate::token_store::TokenSet;
use openidconnect::core::{CoreClient, CoreErrorResponseType, CoreResponseType, CoreTokenResponse};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, TokenResponse,
};
use std::future::Future;
use std::time::Duration;
use url::Url;

/// The answers to `prompt=none` that mean the person has to see a page (OIDC Core §3.1.2.6).
const NEEDS_A_PAGE: [&str; 3] = ["login_required", "interaction_required", "consent_required"];

impl Auth {
    /// Signs in through the browser. `show_url` receives each sign-in URL (always, so it can be
    /// copied when no browser opens): one, or two when a silent attempt
    /// ([`SignInOptions::silent`]) is answered with "the person must interact" and the page is
    /// opened after it. `open_browser` false skips opening one. `cancel` ends the wait early;
    /// `timeout` bounds the whole sign-in, both attempts together. The session is stored only
    /// after every check passed, under the session lock (see [`Auth::save`]).
    ///
    /// The keychain is asked first: when it is absent or does not answer, nothing is shown,
    /// opened or asked of the provider, so no authorization code is spent on a session that
    /// could not be kept.
    pub async fn sign_in(
        &self,
        options: &SignInOptions,
        open_browser: bool,
        timeout: Duration,
        mut show_url: impl FnMut(&Url),
        cancel: impl Future<Output = ()>,
    ) -> Result<TokenSet, AuthError> {
        self.check_keychain().await?;
        let provider = self.provider().await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut cancel = std::pin::pin!(cancel);
        let first = options.first_prompt();
        let answered = self
            .authorize(
                &provider,
                options,
                first,
                open_browser,
                deadline,
                &mut show_url,
                cancel.as_mut(),
            )
            .await;
        let answered = match answered {
            // At most one page after a silent attempt: the page's own answer is final.
            Err(AuthError::Provider { error, .. })
                if first == Some("none") && NEEDS_A_PAGE.contains(&error.as_str()) =>
            {
                tracing::info!(
                    "the browser has no session to sign in with silently ({error}); opening the sign-in page"
                );
                self.authorize(
                    &provider,
                    options,
                    None,
                    open_browser,
                    deadline,
                    &mut show_url,
                    cancel.as_mut(),
                )
                .await
            }
            other => other,
        };
        let (response, nonce) = answered.map_err(|e| match e {
            AuthError::Timeout { .. } => AuthError::Timeout {
                seconds: timeout.as_secs(),
            },
            other => other,
        })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| {
                AuthError::TokenExchange(
                    "no ID token came back; KINDE_SCOPES must include openid".into(),
                )
            })?
            .to_string();
        let now = self.clock.now();
        let identity = id_token::validate(
            &provider,
            &self.http,
            &self.config.client_id,
            &id_token,
            Some(&nonce),
            now,
        )
        .await?;
        let grant = Grant {
            access_token: Secret::new(response.access_token().secret().clone()),
            id_token: Some((Secret::new(id_token), identity)),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone())),
            expires_in: response
                .expires_in()
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        };
        let tokens = grant.into_new_session(kinvex_clock::unix(now))?;
        self.save(tokens.clone()).await?;
        *self.current.lock().await = Cached::SignedIn(tokens.clone());
        self.announce(SessionState::of(&tokens));
        Ok(tokens)
    }

    /// One authorization request with `prompt`, its answer through a listener of its own (or
    /// the app's scheme) before `deadline`, and the code exchanged: the token response and the
    /// nonce its ID token must carry.
    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        provider: &Provider,
        options: &SignInOptions,
        prompt: Option<&str>,
        open_browser: bool,
        deadline: tokio::time::Instant,
        show_url: &mut impl FnMut(&Url),
        cancel: impl Future<Output = ()>,
    ) -> Result<(CoreTokenResponse, Nonce), AuthError> {
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
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
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
        if let Some(prompt) = prompt {
            request = request.add_extra_param("prompt", prompt.to_string());
        }
        if let Some(name) = &options.create_org {
            request = request
                .add_extra_param("is_create_org", "true")
                .add_extra_param("org_name", name.clone());
        } else if let Some(org) = &options.org_code {
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

        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
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

        let response = client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .map_err(|e| AuthError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| exchange_error(provider, e))?;
        Ok((response, nonce))
    }

    /// Hands a URL the operating system delivered for the app's scheme to the sign-in waiting
    /// for it. Anything but that sign-in's genuine answer is rejected and changes nothing.
    pub fn deliver_redirect(&self, url: &Url) -> Result<(), Rejection> {
        self.handoff.deliver(url)
    }
}

fn exchange_error(
    provider: &Provider,
    error: RequestTokenError<Failure, StandardErrorResponse<CoreErrorResponseType>>,
) -> AuthError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            AuthError::TokenExchange(match response.error_description() {
                Some(description) => format!("{} ({description})", response.error()),
                None => response.error().to_string(),
            })
        }
        RequestTokenError::Request(failure) => {
            let endpoint = provider.token_endpoint().map(|t| t.to_string());
            failure.at(&endpoint.unwrap_or_default())
        }
        RequestTokenError::Parse(e, _) => {
            AuthError::TokenExchange(format!("unreadable response: {e}"))
        }
        RequestTokenError::Other(e) => AuthError::TokenExchange(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::Browser;
    use crate::config::{Config, Sources};
    use crate::http::HttpClient;
    use crate::token_store::{Fault, Location, SecretStore, TokenStore};
    use std::sync::{Arc, Mutex};

    /// A keychain that is not there, or that never answers (until the test ends).
    enum Keychain {
        Absent,
        Silent(Mutex<std::sync::mpsc::Receiver<()>>),
    }

    impl SecretStore for Keychain {
        fn get(&self, _: &str) -> Result<Option<String>, Fault> {
            match self {
                Keychain::Absent => Err(Fault::Unavailable("no D-Bus session".into())),
                Keychain::Silent(end) => {
                    let end = end.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = end.recv_timeout(Duration::from_secs(30));
                    Ok(None)
                }
            }
        }
        fn set(&self, _: &str, _: &str) -> Result<(), Fault> {
            Err(Fault::Unavailable("no D-Bus session".into()))
        }
        fn delete(&self, _: &str) -> Result<(), Fault> {
            Err(Fault::Unavailable("no D-Bus session".into()))
        }
        fn location(&self) -> Location {
            Location::Keychain
        }
    }

    #[derive(Default)]
    struct Opened(Mutex<Vec<String>>);

    impl Browser for Arc<Opened> {
        fn open(&self, url: &str) -> Result<(), String> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(url.into());
            Ok(())
        }
    }

    /// An `Auth` over `keychain`, with a provider on a closed port and a 200 ms keychain bound.
    fn auth_over(keychain: Keychain) -> (Auth, Arc<Opened>) {
        let sources = Sources::from_pairs([
            ("KINDE_ISSUER_URL", "http://127.0.0.1:9"),
            ("KINDE_CLIENT_ID", "cli"),
            ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback"),
        ]);
        let config = Config::from_sources(&sources).expect("config");
        let store = TokenStore::new(Box::new(keychain), config.issuer_str(), "cli");
        let opened = Arc::new(Opened::default());
        let auth = Auth::new(
            config,
            HttpClient::new().expect("http client"),
            store,
            Arc::new(opened.clone()),
        )
        .with_keychain_timeout(Duration::from_millis(200));
        (auth, opened)
    }

    /// Signs in over `keychain` with a provider on a closed port: anything asked of it fails.
    async fn sign_in_over(keychain: Keychain) -> (AuthError, Vec<String>, Vec<String>) {
        let (auth, opened) = auth_over(keychain);
        let mut shown = Vec::new();
        let outcome = auth
            .sign_in(
                &SignInOptions::default(),
                true,
                Duration::from_secs(5),
                |url| shown.push(url.to_string()),
                std::future::pending(),
            )
            .await;
        let opened = opened.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match outcome {
            Err(error) => (error, shown, opened),
            Ok(_) => panic!("signed in without a keychain"),
        }
    }

    #[tokio::test]
    async fn without_a_keychain_the_sign_in_stops_before_showing_or_opening_anything() {
        let (error, shown, opened) = sign_in_over(Keychain::Absent).await;
        assert_eq!(error.code(), "keychain_unavailable", "{error}");
        assert!(
            error.to_string().contains("KINVEX_PLAINTEXT_TOKENS=1"),
            "{error}"
        );
        assert!(
            shown.is_empty() && opened.is_empty(),
            "{shown:?} {opened:?}"
        );
    }

    #[tokio::test]
    async fn a_keychain_that_never_answers_stops_the_sign_in_within_its_bound() {
        let (_end, silent) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        let (error, shown, opened) = sign_in_over(Keychain::Silent(Mutex::new(silent))).await;
        assert_eq!(error.code(), "keychain_unavailable", "{error}");
        assert!(error.to_string().contains("did not answer"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            shown.is_empty() && opened.is_empty(),
            "{shown:?} {opened:?}"
        );
    }

    #[tokio::test]
    async fn after_a_call_is_given_up_on_the_next_fails_at_once_until_that_call_returns() {
        let (end, silent) = std::sync::mpsc::channel::<()>();
        let (auth, _) = auth_over(Keychain::Silent(Mutex::new(silent)));
        let first = auth.load().await.expect_err("no answer");
        assert_eq!(first.code(), "keychain_unavailable", "{first}");
        // A command reading the keychain twice ends within one bound, not two.
        let started = std::time::Instant::now();
        let second = auth.load().await.expect_err("still stuck");
        assert_eq!(second.code(), "keychain_unavailable", "{second}");
        assert!(
            started.elapsed() < Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        // The keychain answers the stuck call: later calls reach it again.
        drop(end);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(loaded) = auth.load().await {
                assert!(loaded.is_none());
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never reached the keychain again"
            );
            // The abandoned call has no handle to wait on: look again shortly, bounded above.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
