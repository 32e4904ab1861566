//! Signing out: the refresh token revoked (best effort), the account's keychain entries
//! removed, every process told, and the provider's end-session URL so the browser's session
//! ends too.

use super::lock::SessionLock;
use super::{Auth, Cached, SessionState};
use crate::accounts::Account;
use crate::discovery::Provider;
use crate::error::AuthError;
use crate::http::describe;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long revoking may hold up a sign-out; the session is cleared here either way.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Auth {
    /// Signs the active account out (see [`Auth::sign_out_account`]) and returns the provider's
    /// end-session URL, opening it in the browser unless `open_browser` is false. The other
    /// accounts stay; none is made active in its place.
    pub async fn sign_out(&self, open_browser: bool) -> Result<Url, AuthError> {
        match self.with_store(|store| store.active_account()).await? {
            Some(active) => self.sign_out_account(&active).await?,
            None => {
                *self.current.lock().await = Cached::SignedOut;
                self.announce(SessionState::SignedOut);
            }
        }
        Ok(self.end_session(open_browser).await)
    }

    /// Revokes `account`'s refresh token (best effort, at its own tenant's provider) and removes
    /// its entries and its place in the index; the other accounts are untouched.
    ///
    /// The revocation and the removal happen under the account's lock: a renewal in another
    /// process can neither write the session back after it is removed nor rotate the refresh
    /// token between the read and the revocation.
    pub async fn sign_out_account(&self, account: &Account) -> Result<(), AuthError> {
        let here = self.is_here(account);
        let provider = if here {
            self.provider().await.ok()
        } else {
            match Url::parse(&account.issuer) {
                Ok(issuer) => Provider::discover(&self.http, &issuer)
                    .await
                    .ok()
                    .map(Arc::new),
                Err(_) => None,
            }
        };
        let held = vec![
            SessionLock::for_account(
                &self.locks,
                &account.issuer,
                &account.client_id,
                &account.subject,
            )
            .acquire()
            .await?,
            SessionLock::for_index(&self.locks).acquire().await?,
        ];
        let stored = {
            let account = account.clone();
            self.with_store(move |store| store.load_of(&account))
                .await
                .unwrap_or(None)
        };
        if let (Some(tokens), Some(provider)) = (&stored, &provider)
            && let (Some(refresh), Some(endpoint)) = (&tokens.refresh_token, &provider.revocation)
        {
            let revoked = self
                .http
                .reqwest()
                .post(endpoint.clone())
                .timeout(REVOKE_TIMEOUT)
                .form(&[
                    ("token", refresh.expose().as_str()),
                    ("client_id", account.client_id.as_str()),
                    ("token_type_hint", "refresh_token"),
                ])
                .send()
                .await;
            if let Err(e) = revoked {
                tracing::warn!("could not revoke the refresh token: {}", describe(&e));
            }
        }
        let removed = account.clone();
        self.replace_under_lock(held, move |store| store.remove(&removed))
            .await?;
        if here {
            let mut current = self.current.lock().await;
            let was_current =
                matches!(&*current, Cached::SignedIn(tokens) if tokens.subject == account.subject);
            if was_current || account.active {
                *current = Cached::SignedOut;
                self.announce(SessionState::SignedOut);
            }
        }
        Ok(())
    }

    /// The provider's end-session URL (with `KINDE_LOGOUT_REDIRECT_URL`), opened in the browser
    /// when `open_browser`: it ends the browser's session with the provider.
    pub async fn end_session(&self, open_browser: bool) -> Url {
        let mut url = self
            .provider()
            .await
            .ok()
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
        url
    }
}
