//! Renewing a session with its refresh token, under the lock every process of this person
//! shares, so a rotated refresh token is never spent twice; and writing the renewal to the
//! keychain while callers already use it.

use super::grant::Grant;
use super::lock::{Held, Marker};
use super::{Auth, lock_std};
use crate::error::AuthError;
use crate::http::Resend;
use crate::id_token;
use crate::secret::Secret;
use crate::token_store::TokenSet;

/// What a refresh under the cross-process lock ended with.
enum Renewal {
    /// Another process had already renewed the session; nothing to write.
    Adopted(TokenSet),
    /// Renewed here: still to be written to the keychain.
    Renewed(TokenSet),
}

impl Auth {
    /// Refreshes under the lock shared with every other process of this user, re-reading the
    /// keychain first: if another process already rotated the refresh token, its result is
    /// used instead of spending the old token a second time.
    pub(super) async fn refresh_across_processes(
        &self,
        seen: &TokenSet,
    ) -> Result<TokenSet, AuthError> {
        let lock = self.lock.acquire().await?;

        let ours = lock_std(&self.written)
            .as_ref()
            .is_some_and(|marker| marker.is(lock.marker().as_deref()));
        let result = async {
            // Unless the marker says the keychain still holds what this process wrote, another
            // process may have rotated the refresh token: read the keychain again first.
            let stored = if ours {
                seen.clone()
            } else {
                self.load().await?.ok_or(AuthError::SessionEnded)?
            };
            // Any change means another process renewed (a renewal without an ID token leaves
            // the bearer of the ID-token setup as it was, but not the rest).
            let moved_on = stored != *seen;
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
                    let _ = lock.set_marker(&Marker::new(&*self.clock));
                }
                Err(error)
            }
        }
    }

    /// Writes a renewed session to the keychain while callers already use it. The cross-process
    /// lock is released only after the write, so no other process can read the old session
    /// (whose refresh token is spent), and this process's own keychain calls wait for it too.
    /// A failed write is logged: the session keeps working until the app exits, then asks for
    /// a new sign-in, exactly as a failed write before the callers were released would have.
    async fn persist_in_background(&self, tokens: TokenSet, lock: Held) {
        let writing = self.persisting.clone().write_owned().await;
        let store = self.store.clone();
        let written = self.written.clone();
        let marker = Marker::new(&*self.clock);
        tokio::task::spawn_blocking(move || {
            let outcome = store.save(&tokens).and_then(|()| {
                lock.set_marker(&marker).map_err(|e| AuthError::Keychain {
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

    /// One refresh at the token endpoint, retried under the client's policy while the provider
    /// is unreachable or unavailable (then `Offline`); a new ID token is validated and must
    /// name the same person.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, AuthError> {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Err(AuthError::SignInAgain(
                "this session has no refresh token (KINDE_SCOPES needs `offline`)".into(),
            ));
        };
        let provider = self.provider().await.map_err(offline_if_provider_down)?;
        let endpoint = provider
            .token_endpoint()
            .map(|t| t.url().clone())
            .ok_or_else(|| AuthError::Discovery {
                url: provider.issuer.clone(),
                detail: "no token_endpoint".into(),
            })?;
        let answer = self
            .http
            .send(Resend::Always, |http| {
                http.post(endpoint.clone()).form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", self.config.client_id.as_str()),
                    ("refresh_token", refresh_token.expose().as_str()),
                ])
            })
            .await
            .map_err(|failure| AuthError::Offline {
                detail: failure.to_string(),
            })?;
        let body: serde_json::Value = if answer.status.is_success() {
            serde_json::from_slice(&answer.body).map_err(|e| {
                AuthError::TokenExchange(format!("unreadable refresh response: {e}"))
            })?
        } else if answer.status.is_client_error() {
            let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            return Err(match error["error"].as_str() {
                Some("invalid_grant") => AuthError::SessionEnded,
                other => AuthError::TokenExchange(other.unwrap_or("refresh refused").to_string()),
            });
        } else {
            return Err(AuthError::Offline {
                detail: format!("the token endpoint answered HTTP {}", answer.status),
            });
        };

        let text = |key: &str| body[key].as_str().map(str::to_string);
        let access_token = text("access_token").ok_or_else(|| {
            AuthError::TokenExchange("no access_token in the refresh response".into())
        })?;
        let now = self.clock.now();
        let id_token = match text("id_token") {
            Some(id_token) => {
                let identity = id_token::validate(
                    &provider,
                    &self.http,
                    &self.config.client_id,
                    &id_token,
                    None,
                    now,
                )
                .await
                .map_err(offline_if_provider_down)?;
                if identity.subject != tokens.subject {
                    return Err(AuthError::IdToken(
                        "the refreshed ID token is for another person".into(),
                    ));
                }
                Some((Secret::new(id_token), identity))
            }
            // Kinde's documented refresh answer has none. The session is renewed all the same
            // (its refresh token has rotated) and keeps the last ID token's claims; in the
            // ID-token setup, Convex's token then runs out, which `bearer` says when it does.
            None => {
                if self.config.audience.is_none() && tokens.id_token_on_refresh != Some(false) {
                    tracing::warn!("{}", AuthError::IdTokenNotRenewed);
                }
                None
            }
        };
        let grant = Grant {
            access_token: Secret::new(access_token),
            id_token,
            refresh_token: text("refresh_token").map(Secret::new),
            expires_in: body["expires_in"].as_i64(),
        };
        let renewed = grant.into_renewal_of(tokens, kinvex_clock::unix(now));
        *lock_std(&self.repeated) =
            (renewed.access_token == tokens.access_token).then(|| renewed.access_token.clone());
        Ok(renewed)
    }
}

/// A provider that cannot be reached or is unavailable leaves the session as it is: `Offline`.
fn offline_if_provider_down(error: AuthError) -> AuthError {
    match error {
        AuthError::ProviderUnreachable { detail, .. }
        | AuthError::ProviderUnavailable { detail, .. } => AuthError::Offline { detail },
        other => other,
    }
}
