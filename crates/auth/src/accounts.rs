//! Several accounts, like `gh auth`: an account is one person's session on one tenant (issuer,
//! client id and the person's `sub`). Each account's tokens have keychain entries of their own
//! (see [`crate::token_store`]); this module keeps the index of them.
//!
//! The index is one more entry of the same store, chunked like a session, under
//! [`INDEX_KEY`]: it holds no secret (issuer, client id, sub, email, name, and which account is
//! active on each tenant), but it lives beside the sessions it lists, so the two can never
//! disagree, whichever store is in use (the keychain, or the opted-in plaintext file), and the
//! person has one place to clear.

use crate::error::AuthError;
use crate::token_store::{TokenSet, TokenStore, session_key};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The index's key in the store.
pub const INDEX_KEY: &str = "accounts";

/// One account: who, and on which tenant. Never any token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub issuer: String,
    pub client_id: String,
    /// The person's Kinde user id (`sub`).
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Whether it is the active account of its tenant (filled in when listed, not stored).
    #[serde(skip)]
    pub active: bool,
}

impl Account {
    /// Whether this account is on `issuer` with `client_id`.
    pub fn is_on(&self, issuer: &str, client_id: &str) -> bool {
        self.issuer == issuer && self.client_id == client_id
    }

    fn same(&self, other: &Account) -> bool {
        self.is_on(&other.issuer, &other.client_id) && self.subject == other.subject
    }
}

/// The stored index.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Index {
    version: u32,
    accounts: Vec<Account>,
    /// `"ISSUER CLIENT"` → the active account's subject there.
    active: BTreeMap<String, String>,
}

fn tenant(issuer: &str, client_id: &str) -> String {
    format!("{issuer} {client_id}")
}

impl Index {
    pub(crate) fn active_on(&self, issuer: &str, client_id: &str) -> Option<&str> {
        self.active
            .get(&tenant(issuer, client_id))
            .map(String::as_str)
    }
}

impl TokenStore {
    /// The index; an unreadable one reads as empty, with a warning (the sessions stay).
    pub(crate) fn index(&self) -> Result<Index, AuthError> {
        let Some(text) = self.read_chunked(INDEX_KEY)? else {
            return Ok(Index::default());
        };
        match serde_json::from_str::<Index>(&text) {
            Ok(index) if index.version == 1 => Ok(index),
            _ => {
                tracing::warn!("the accounts index is unreadable; treating it as empty");
                Ok(Index::default())
            }
        }
    }

    /// Writes the index, or removes it once it lists nobody (so a last sign-out leaves nothing).
    fn write_index(&self, index: &Index) -> Result<(), AuthError> {
        if index.accounts.is_empty() {
            return self.remove_chunked(INDEX_KEY);
        }
        let text = serde_json::to_string(&Index {
            version: 1,
            accounts: index.accounts.clone(),
            active: index.active.clone(),
        })
        .map_err(|e| AuthError::Keychain {
            detail: e.to_string(),
        })?;
        self.write_chunked(INDEX_KEY, &text)
    }

    /// Every account of every tenant, oldest first, each marked if active on its tenant.
    pub fn accounts(&self) -> Result<Vec<Account>, AuthError> {
        let (issuer, client_id) = self.tenant();
        let mut index = self.index()?;
        // A session from before the index is listed too: moving it is the only change a listing
        // makes, and only then is the index read again (each read is a keychain round trip).
        if index.active_on(issuer, client_id).is_none() && self.migrate()?.is_some() {
            index = self.index()?;
        }
        Ok(index
            .accounts
            .iter()
            .map(|account| Account {
                active: index.active_on(&account.issuer, &account.client_id)
                    == Some(account.subject.as_str()),
                ..account.clone()
            })
            .collect())
    }

    /// The subject of the active account on this store's tenant, as the index says (no
    /// migration: for choosing which locks to take).
    pub(crate) fn active_subject(&self) -> Result<Option<String>, AuthError> {
        let (issuer, client_id) = self.tenant();
        Ok(self
            .index()?
            .active_on(issuer, client_id)
            .map(str::to_string))
    }

    /// The active account on this store's tenant, if any.
    pub fn active_account(&self) -> Result<Option<Account>, AuthError> {
        let (issuer, client_id) = self.tenant();
        Ok(self
            .accounts()?
            .into_iter()
            .find(|a| a.active && a.is_on(issuer, client_id)))
    }

    /// Adds (or updates) `tokens`' account in the index; it becomes active when `activate`, or
    /// when its tenant has no active account. Written only if something changed.
    pub(crate) fn record(&self, tokens: &TokenSet, activate: bool) -> Result<(), AuthError> {
        let (issuer, client_id) = self.tenant();
        let account = Account {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            subject: tokens.subject.clone(),
            email: tokens.email.clone(),
            name: tokens.name.clone(),
            active: false,
        };
        let mut index = self.index()?;
        let mut changed = false;
        match index.accounts.iter_mut().find(|a| a.same(&account)) {
            Some(known) if *known == account => {}
            Some(known) => {
                *known = account;
                changed = true;
            }
            None => {
                index.accounts.push(account);
                changed = true;
            }
        }
        let key = tenant(issuer, client_id);
        if activate || !index.active.contains_key(&key) {
            changed |= index.active.insert(key, tokens.subject.clone()).as_deref()
                != Some(tokens.subject.as_str());
        }
        if changed {
            self.write_index(&index)?;
        }
        Ok(())
    }

    /// Makes this tenant's account `subject` the active one and returns its session; `None`
    /// when it has no session any more (it is then no longer listed).
    pub fn activate(&self, subject: &str) -> Result<Option<TokenSet>, AuthError> {
        let (issuer, client_id) = self.tenant();
        let index = self.index()?;
        if !index
            .accounts
            .iter()
            .any(|a| a.is_on(issuer, client_id) && a.subject == subject)
        {
            return Err(AuthError::NoSuchAccount {
                account: subject.to_string(),
            });
        }
        let Some(tokens) = self.load_account(subject)? else {
            // Listed, but its entries are gone (removed by hand): it is not kept listed.
            let (issuer, client_id) = (issuer.to_string(), client_id.to_string());
            self.remove(&Account {
                issuer,
                client_id,
                subject: subject.to_string(),
                email: None,
                name: None,
                active: false,
            })?;
            return Ok(None);
        };
        self.record(&tokens, true)?;
        Ok(Some(tokens))
    }

    /// The session of `account`, on whichever tenant it is.
    pub fn load_of(&self, account: &Account) -> Result<Option<TokenSet>, AuthError> {
        self.load_key(&session_key(
            &account.issuer,
            &account.client_id,
            &account.subject,
        ))
    }

    /// Removes `account`'s session entries and its place in the index. Its tenant is then left
    /// with no active account if it was the active one: the next account is chosen by the
    /// person (`switch`), never silently.
    pub fn remove(&self, account: &Account) -> Result<(), AuthError> {
        self.remove_chunked(&session_key(
            &account.issuer,
            &account.client_id,
            &account.subject,
        ))?;
        let mut index = self.index()?;
        let before = index.accounts.len();
        index.accounts.retain(|a| !a.same(account));
        let key = tenant(&account.issuer, &account.client_id);
        let was_active = index.active.get(&key) == Some(&account.subject);
        if was_active {
            index.active.remove(&key);
        }
        if was_active || index.accounts.len() != before {
            self.write_index(&index)?;
        }
        Ok(())
    }

    /// Moves a session stored by an earlier version (one entry per tenant and client) to its
    /// account's entries, active, then removes the old entries: written before removed, so a
    /// crash in between loses nothing. Two processes doing it at once write the same thing.
    pub(crate) fn migrate(&self) -> Result<Option<TokenSet>, AuthError> {
        let legacy = self.legacy_key();
        let Some(tokens) = self.load_key(&legacy)? else {
            return Ok(None);
        };
        self.save_session(&tokens)?;
        self.record(&tokens, true)?;
        self.remove_chunked(&legacy)?;
        tracing::info!("moved the stored session to its account's own keychain entries");
        Ok(Some(tokens))
    }
}
