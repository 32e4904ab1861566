//! Renewing a session with its refresh token, under the lock every process of this person
//! shares, so a rotated refresh token is never spent twice; and writing the renewal to the
//! keychain while callers already use it.

use super::grant::Grant;
use super::lock::{Held, Marker, SessionLock};
use super::{Auth, lock_std};
use crate::accounts::Account;
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
    /// Another account is active now (another process signed in or switched): its session.
    Elsewhere(TokenSet),
    /// No account is active on this tenant any more (another process signed out).
    NoneActive,
}

/// How many times a renewal follows the active account to another one before it gives up:
/// each time means another process changed the active account during this renewal.
const FOLLOWS: usize = 3;

impl Auth {
    /// Refreshes under the lock of the account, shared with every other process of this user,
    /// re-reading the keychain first: if another process already rotated the refresh token,
    /// its result is used instead of spending the old token a second time; if another process
    /// made another account active, that account's session is followed (renewed under its
    /// own lock when due).
    pub(super) async fn refresh_across_processes(
        &self,
        seen: &TokenSet,
    ) -> Result<TokenSet, AuthError> {
        let mut seen = seen.clone();
        for _ in 0..FOLLOWS {
            let lock = self.lock_of(&seen.subject).acquire().await?;
            let ours = lock_std(&self.written)
                .as_ref()
                .is_some_and(|marker| marker.is(lock.marker().as_deref()));
            let result = async {
                // Unless the marker says the keychain still holds what this process wrote,
                // another process may have rotated the refresh token or changed the active
                // account: read the keychain again first.
                let stored = if ours {
                    seen.clone()
                } else {
                    match self.load().await? {
                        Some(stored) => stored,
                        None => return Ok(Renewal::NoneActive),
                    }
                };
                if stored.subject != seen.subject {
                    return Ok(Renewal::Elsewhere(stored));
                }
                // Any change means another process renewed (a renewal without an ID token
                // leaves the bearer of the ID-token setup as it was, but not the rest).
                let moved_on = stored != seen;
                if moved_on && !self.needs_refresh(&stored) {
                    return Ok(Renewal::Adopted(stored));
                }
                Ok(Renewal::Renewed(self.refresh(&stored).await?))
            }
            .await;
            match result {
                Ok(Renewal::Renewed(renewed)) => {
                    self.persist_in_background(renewed.clone(), lock).await;
                    return Ok(renewed);
                }
                Ok(Renewal::Adopted(stored)) => return Ok(stored),
                Ok(Renewal::Elsewhere(active)) => {
                    drop(lock);
                    if !self.needs_refresh(&active) {
                        return Ok(active);
                    }
                    seen = active;
                }
                Ok(Renewal::NoneActive) => {
                    *lock_std(&self.written) = None;
                    return Err(AuthError::SessionEnded);
                }
                Err(error) => {
                    if matches!(error, AuthError::SessionEnded) {
                        // The provider ended this account's session: it is removed, the
                        // others stay.
                        let index = SessionLock::for_index(&self.locks).acquire().await;
                        let (issuer, client_id) = self.store.tenant();
                        let ended = Account {
                            issuer: issuer.to_string(),
                            client_id: client_id.to_string(),
                            subject: seen.subject.clone(),
                            email: None,
                            name: None,
                            active: false,
                        };
                        let _ = self.with_store(move |store| store.remove(&ended)).await;
                        drop(index);
                        *lock_std(&self.written) = None;
                        let _ = lock.set_marker(&Marker::new(&*self.clock));
                    }
                    return Err(error);
                }
            }
        }
        Err(AuthError::Keychain {
            detail:
                "the active account kept changing while this session was being renewed; try again"
                    .into(),
        })
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
            let outcome = store.save_session(&tokens).and_then(|()| {
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
