//! The accounts of [`crate::accounts`] as a session sees them: listing them, and switching the
//! active one without a browser.

use super::{Auth, Cached, SessionState};
use crate::accounts::Account;
use crate::error::AuthError;
use crate::token_store::TokenSet;

impl Auth {
    /// Every account of every tenant in the index, each marked if active on its tenant.
    pub async fn accounts(&self) -> Result<Vec<Account>, AuthError> {
        self.with_store(|store| store.accounts()).await
    }

    /// Whether `account` is on the tenant and client this session is configured for.
    pub fn is_here(&self, account: &Account) -> bool {
        let (issuer, client_id) = self.store.tenant();
        account.is_on(issuer, client_id)
    }

    /// Makes this tenant's account `subject` the active one, with no browser: its stored
    /// session is used, renewed first when due. A session that cannot be renewed any more is
    /// [`AuthError::SessionEnded`] (sign in again); `subject` not signed in here is
    /// [`AuthError::NoSuchAccount`].
    pub async fn switch(&self, subject: &str) -> Result<TokenSet, AuthError> {
        let held = self.hold_for_change(subject).await?;
        let chosen = subject.to_string();
        let tokens = self
            .replace_under_lock(held, move |store| store.activate(&chosen))
            .await?
            .ok_or(AuthError::SessionEnded)?;
        *self.current.lock().await = Cached::SignedIn(tokens.clone());
        self.announce(SessionState::of(&tokens));
        self.fresh(None).await
    }
}
