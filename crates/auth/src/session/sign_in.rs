//! Signing in: the authorization request, the answer through the loopback listener or the
//! app's scheme, the code exchange and ID-token validation, in that order. Nothing is stored
//! until every check has passed.

use super::grant::Grant;
use super::{Auth, Cached, SessionState, SignInOptions};
use crate::discovery::Provider;
use crate::error::AuthError;
use crate::id_token;
use crate::loopback::Listener;
use crate::redirect::{self, Rejection};
use crate::secret::Secret;
use crate::token_store::TokenSet;
use openidconnect::core::{CoreClient, CoreErrorResponseType, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, TokenResponse,
};
use std::future::Future;
use std::time::Duration;
use url::Url;

impl Auth {
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

        let response = client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .map_err(|e| AuthError::TokenExchange(e.to_string()))?
            .set_pkce_verifier(verifier)
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

    /// Hands a URL the operating system delivered for the app's scheme to the sign-in waiting
    /// for it. Anything but that sign-in's genuine answer is rejected and changes nothing.
    pub fn deliver_redirect(&self, url: &Url) -> Result<(), Rejection> {
        self.handoff.deliver(url)
    }
}

fn exchange_error<E: std::error::Error + 'static>(
    provider: &Provider,
    error: RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
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
