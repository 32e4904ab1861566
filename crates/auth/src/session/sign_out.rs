//! Signing out: the refresh token revoked (best effort), the keychain cleared, every process
//! told, and the provider's end-session URL so the browser's session ends too.

use super::{Auth, Cached, SessionState};
use crate::error::AuthError;
use crate::http::describe;
use std::time::Duration;
use url::Url;

/// How long revoking may hold up a sign-out; the session is cleared here either way.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Auth {
    /// Revokes the refresh token (best effort), clears the keychain and returns the provider's
    /// end-session URL, opening it in the browser unless `open_browser` is false.
    ///
    /// The revocation and the clear happen under the session lock: a renewal in another
    /// process can neither write the session back after it is cleared nor rotate the refresh
    /// token between the read and the revocation.
    pub async fn sign_out(&self, open_browser: bool) -> Result<Url, AuthError> {
        let provider = self.provider().await.ok();
        let held = self.lock.acquire().await?;
        let stored = self.load().await.unwrap_or(None);
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
                    ("client_id", self.config.client_id.as_str()),
                    ("token_type_hint", "refresh_token"),
                ])
                .send()
                .await;
            if let Err(e) = revoked {
                tracing::warn!("could not revoke the refresh token: {}", describe(&e));
            }
        }
        self.replace_under_lock(held, |store| store.clear()).await?;
        *self.current.lock().await = Cached::SignedOut;
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
