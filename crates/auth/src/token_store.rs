//! Where a session's tokens live: the OS keychain (macOS Keychain, Windows Credential Manager,
//! the Secret Service on Linux; see [`crate::keychain`]), or a plaintext file only when the
//! person has explicitly opted in.
//!
//! One file because the chunked format, its back ends and the tests that tear a write in
//! half all describe one on-disk contract; split, each piece would only make sense with the others.
//!
//! A session is stored as chunks of at most [`SecretStore::largest_value`] bytes ([`CHUNK`] on
//! Windows, which refuses blobs over 2,560 bytes; one chunk elsewhere, as every keychain call
//! costs a round trip) under a fresh generation id, and only then does the manifest entry switch
//! to the new generation: a crash mid-write leaves the old session whole. Unreadable or partial entries read
//! as signed out, with a warning, never as a crash.

use crate::error::AuthError;
pub use crate::keychain::Keychain;
use crate::private_dir::{PrivateDir, PrivateError};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Largest piece of a secret written to one entry of Windows' Credential Manager, and of the
/// in-memory store, so unit tests split values as Windows must.
pub const CHUNK: usize = 2000;

/// Largest value written to one entry of a store with no small limit (the Secret Service, the
/// macOS Keychain, the plaintext file): a session or the accounts index is one chunk there.
pub(crate) const LARGE_VALUE: usize = 256 * 1024;
pub const SERVICE: &str = "dev.kinvex.desktop";

/// A signed-in session. Secrets are wrapped, so `Debug` never shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSet {
    pub access_token: Secret<String>,
    pub id_token: Secret<String>,
    pub refresh_token: Option<Secret<String>>,
    pub access_expires_at: i64,
    pub id_expires_at: i64,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub organization: Option<String>,
    /// Whether the last refresh answer carried an ID token: `None` before any refresh, and
    /// `Some(false)` once a provider renewed without one (Kinde may), which `doctor` reports.
    pub id_token_on_refresh: Option<bool>,
}

/// The stored form. Private to this module: it is the only place secrets are plain strings.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    access_token: String,
    id_token: String,
    refresh_token: Option<String>,
    access_expires_at: i64,
    id_expires_at: i64,
    subject: String,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    /// Absent in sessions stored before it was recorded: they read as "no refresh seen".
    #[serde(default)]
    id_token_on_refresh: Option<bool>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    generation: String,
    chunks: usize,
}

/// A failure of the underlying store.
#[derive(Debug)]
pub enum Fault {
    /// No store to talk to (no Secret Service, no D-Bus session).
    Unavailable(String),
    /// The store refused (locked, access denied).
    Refused(String),
    /// The plaintext file or its directory cannot be trusted or used.
    Private(PrivateError),
}

/// One flat namespace of small secrets: the keychain, a file, or memory in unit tests.
pub trait SecretStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<String>, Fault>;
    fn set(&self, key: &str, value: &str) -> Result<(), Fault>;
    fn delete(&self, key: &str) -> Result<(), Fault>;
    /// The largest value one entry takes, in bytes: longer values are split into chunks.
    fn largest_value(&self) -> usize {
        CHUNK
    }
    /// Where the secrets are, for `status`.
    fn location(&self) -> Location;
}

#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    Keychain,
    PlaintextFile(PathBuf),
    Memory,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Keychain => f.write_str("the OS keychain"),
            Location::PlaintextFile(path) => {
                write!(
                    f,
                    "a PLAINTEXT file, {} (opted in with KINVEX_PLAINTEXT_TOKENS)",
                    path.display()
                )
            }
            Location::Memory => f.write_str("memory only"),
        }
    }
}

/// A JSON file readable by its owner only, in a directory only its owner can enter (created
/// 0700, checked when it exists). Used only when the person opts in.
///
/// Every write replaces the whole file through a new temporary file created 0600 beside it, so
/// it is never readable by others, never half-written, and never reached through a link.
pub struct PlaintextFile {
    path: PathBuf,
}

impl PlaintextFile {
    /// The file at `path`, whose directory is kinvex's own: it is created 0700, and kept so.
    pub fn new(path: PathBuf) -> PlaintextFile {
        PlaintextFile { path }
    }

    /// The checked directory and the file's name in it.
    fn place(&self) -> Result<(PrivateDir, &str), Fault> {
        let unusable = |problem: &str| {
            Fault::Private(PrivateError::Unsafe {
                path: self.path.clone(),
                problem: problem.into(),
            })
        };
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| unusable("it does not end in a file name kinvex can use"))?;
        let dir = self
            .path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .ok_or_else(|| unusable("it names no directory of kinvex's own to keep it in"))?;
        Ok((PrivateDir::open(dir).map_err(Fault::Private)?, name))
    }

    fn read(&self) -> Result<HashMap<String, String>, Fault> {
        let (dir, name) = self.place()?;
        Ok(dir
            .read(name)
            .map_err(Fault::Private)?
            .map(|text| serde_json::from_str(&text).unwrap_or_default())
            .unwrap_or_default())
    }

    fn write(&self, map: &HashMap<String, String>) -> Result<(), Fault> {
        let (dir, name) = self.place()?;
        let text = serde_json::to_string(map).map_err(|e| Fault::Refused(e.to_string()))?;
        dir.replace(name, text.as_bytes()).map_err(Fault::Private)
    }
}

impl SecretStore for PlaintextFile {
    fn get(&self, key: &str) -> Result<Option<String>, Fault> {
        Ok(self.read()?.get(key).cloned())
    }

    fn set(&self, key: &str, value: &str) -> Result<(), Fault> {
        let mut map = self.read()?;
        map.insert(key.into(), value.into());
        self.write(&map)
    }

    fn delete(&self, key: &str) -> Result<(), Fault> {
        let mut map = self.read()?;
        if map.remove(key).is_some() {
            self.write(&map)?;
        }
        Ok(())
    }

    fn largest_value(&self) -> usize {
        LARGE_VALUE
    }

    fn location(&self) -> Location {
        Location::PlaintextFile(self.path.clone())
    }
}

/// For unit tests only; real builds always use [`Keychain`] or an opted-in [`PlaintextFile`].
#[derive(Default)]
pub struct Memory {
    map: Mutex<HashMap<String, String>>,
}

impl Memory {
    pub fn keys(&self) -> Vec<String> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

impl SecretStore for Memory {
    fn get(&self, key: &str) -> Result<Option<String>, Fault> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    fn set(&self, key: &str, value: &str) -> Result<(), Fault> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.into(), value.into());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), Fault> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    fn location(&self) -> Location {
        Location::Memory
    }
}

/// The tokens of every account of one tenant and client in a [`SecretStore`]: each account's
/// session under a name of its own (`session ISSUER CLIENT SUB`), and the small index of
/// accounts (see [`crate::accounts`]) that says which one is active.
pub struct TokenStore {
    backend: Box<dyn SecretStore>,
    issuer: String,
    client_id: String,
}

fn to_error(fault: Fault) -> AuthError {
    match fault {
        Fault::Unavailable(detail) => AuthError::KeychainUnavailable { detail },
        Fault::Refused(detail) => AuthError::Keychain { detail },
        Fault::Private(error) => AuthError::PrivateFile(error),
    }
}

/// The manifest key of one account's session.
pub(crate) fn session_key(issuer: &str, client_id: &str, subject: &str) -> String {
    format!("session {issuer} {client_id} {subject}")
}

impl TokenStore {
    pub fn new(backend: Box<dyn SecretStore>, issuer: &str, client_id: &str) -> TokenStore {
        TokenStore {
            backend,
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
        }
    }

    pub fn location(&self) -> Location {
        self.backend.location()
    }

    /// The tenant (issuer) and client this store is for.
    pub fn tenant(&self) -> (&str, &str) {
        (&self.issuer, &self.client_id)
    }

    /// Where sessions were kept before there were several accounts: one per tenant and client.
    pub(crate) fn legacy_key(&self) -> String {
        format!("session {} {}", self.issuer, self.client_id)
    }

    fn manifest(&self, key: &str) -> Result<Option<Manifest>, AuthError> {
        let Some(text) = self.backend.get(key).map_err(to_error)? else {
            return Ok(None);
        };
        match serde_json::from_str(&text) {
            Ok(manifest) => Ok(Some(manifest)),
            Err(_) => {
                tracing::warn!("a stored manifest is unreadable; treating it as absent");
                Ok(None)
            }
        }
    }

    /// Whether the store answers: one read of the accounts index's manifest entry, the cheapest
    /// call that goes all the way to the keychain (and shows its unlock prompt when locked).
    pub fn check(&self) -> Result<(), AuthError> {
        self.backend
            .get(crate::accounts::INDEX_KEY)
            .map(drop)
            .map_err(to_error)
    }

    /// The text stored in chunks under `key`, or `None` when there is none or a part is missing.
    pub(crate) fn read_chunked(&self, key: &str) -> Result<Option<String>, AuthError> {
        let Some(manifest) = self.manifest(key)? else {
            return Ok(None);
        };
        let mut text = String::new();
        for index in 0..manifest.chunks {
            match self
                .backend
                .get(&chunk_key(key, &manifest.generation, index))
                .map_err(to_error)?
            {
                Some(chunk) => text.push_str(&chunk),
                None => {
                    tracing::warn!("a stored entry is missing part {index}; treating it as absent");
                    return Ok(None);
                }
            }
        }
        Ok(Some(text))
    }

    /// Writes `text` completely under a new generation, then makes it current, then removes
    /// the previous generation.
    pub(crate) fn write_chunked(&self, key: &str, text: &str) -> Result<(), AuthError> {
        let previous = self.manifest(key)?;
        let generation = format!("{:016x}", rand_generation());
        let chunks = split(text, self.backend.largest_value());
        for (index, chunk) in chunks.iter().enumerate() {
            if let Err(fault) = self.backend.set(&chunk_key(key, &generation, index), chunk) {
                self.remove_generation(key, &generation, chunks.len());
                return Err(to_error(fault));
            }
        }
        let manifest = serde_json::to_string(&Manifest {
            generation: generation.clone(),
            chunks: chunks.len(),
        })
        .map_err(|e| AuthError::Keychain {
            detail: e.to_string(),
        })?;
        if let Err(fault) = self.backend.set(key, &manifest) {
            self.remove_generation(key, &generation, chunks.len());
            return Err(to_error(fault));
        }
        if let Some(previous) = previous.filter(|p| p.generation != generation) {
            self.remove_generation(key, &previous.generation, previous.chunks);
        }
        Ok(())
    }

    /// Removes what is stored under `key` and every part of it.
    pub(crate) fn remove_chunked(&self, key: &str) -> Result<(), AuthError> {
        let manifest = self.manifest(key)?;
        self.backend.delete(key).map_err(to_error)?;
        if let Some(manifest) = manifest {
            self.remove_generation(key, &manifest.generation, manifest.chunks);
        }
        Ok(())
    }

    /// The session stored under `key`, or `None` when there is none or it is damaged.
    pub(crate) fn load_key(&self, key: &str) -> Result<Option<TokenSet>, AuthError> {
        let Some(text) = self.read_chunked(key)? else {
            return Ok(None);
        };
        match serde_json::from_str::<Stored>(&text) {
            Ok(stored) if stored.version == 1 => Ok(Some(TokenSet {
                access_token: Secret::new(stored.access_token),
                id_token: Secret::new(stored.id_token),
                refresh_token: stored.refresh_token.map(Secret::new),
                access_expires_at: stored.access_expires_at,
                id_expires_at: stored.id_expires_at,
                subject: stored.subject,
                email: stored.email,
                name: stored.name,
                organization: stored.organization,
                id_token_on_refresh: stored.id_token_on_refresh,
            })),
            _ => {
                tracing::warn!("the stored session is unreadable; treating it as signed out");
                Ok(None)
            }
        }
    }

    /// The session of this tenant's account `subject`, or `None`.
    pub fn load_account(&self, subject: &str) -> Result<Option<TokenSet>, AuthError> {
        self.load_key(&session_key(&self.issuer, &self.client_id, subject))
    }

    /// Writes one account's session, keyed by its subject, and nothing else.
    pub fn save_session(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        let stored = Stored {
            version: 1,
            access_token: tokens.access_token.expose().clone(),
            id_token: tokens.id_token.expose().clone(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().clone()),
            access_expires_at: tokens.access_expires_at,
            id_expires_at: tokens.id_expires_at,
            subject: tokens.subject.clone(),
            email: tokens.email.clone(),
            name: tokens.name.clone(),
            organization: tokens.organization.clone(),
            id_token_on_refresh: tokens.id_token_on_refresh,
        };
        let text = serde_json::to_string(&stored).map_err(|e| AuthError::Keychain {
            detail: e.to_string(),
        })?;
        self.write_chunked(
            &session_key(&self.issuer, &self.client_id, &tokens.subject),
            &text,
        )
    }

    /// Stores `tokens` as their account's session (replacing that account's earlier one) and
    /// records the account in the index; it becomes the active one when none is.
    pub fn save(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        self.save_session(tokens)?;
        self.record(tokens, false)
    }

    /// The active account's session on this tenant, or `None`. A session stored by an earlier
    /// version (one per tenant, no index) is moved to its account's entries on this first read.
    pub fn load(&self) -> Result<Option<TokenSet>, AuthError> {
        match self.index()?.active_on(&self.issuer, &self.client_id) {
            Some(subject) => self.load_account(subject),
            None => self.migrate(),
        }
    }

    /// Removes every account of this tenant and client, and every part of their sessions.
    pub fn clear(&self) -> Result<(), AuthError> {
        for account in self.accounts()? {
            if account.issuer == self.issuer && account.client_id == self.client_id {
                self.remove(&account)?;
            }
        }
        self.remove_chunked(&self.legacy_key())
    }

    fn remove_generation(&self, key: &str, generation: &str, chunks: usize) {
        for index in 0..chunks {
            if let Err(fault) = self.backend.delete(&chunk_key(key, generation, index)) {
                tracing::warn!("could not remove an old session part: {fault:?}");
            }
        }
    }
}

fn chunk_key(key: &str, generation: &str, index: usize) -> String {
    format!("{key} #{generation}.{index}")
}

/// Splits at character boundaries into pieces of at most `max` bytes.
fn split(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    if pieces.is_empty() {
        pieces.push("");
    }
    pieces
}

fn rand_generation() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // Uniqueness, not secrecy: the std hasher's random seed and the clock are enough.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(size: usize) -> TokenSet {
        TokenSet {
            access_token: Secret::new("a".repeat(size)),
            id_token: Secret::new("é".repeat(size / 2)),
            refresh_token: Some(Secret::new("refresh".into())),
            access_expires_at: 10,
            id_expires_at: 20,
            subject: "kp_1".into(),
            email: Some("a@b.c".into()),
            name: None,
            organization: Some("org_1".into()),
            id_token_on_refresh: Some(false),
        }
    }

    fn store() -> (TokenStore, &'static Memory) {
        store_taking(CHUNK)
    }

    /// A store over shared memory whose entries take `largest` bytes, counting its reads.
    fn store_taking(largest: usize) -> (TokenStore, &'static Memory) {
        let memory: &'static Memory = Box::leak(Box::default());
        struct Shared(&'static Memory, usize);
        impl SecretStore for Shared {
            fn get(&self, k: &str) -> Result<Option<String>, Fault> {
                READS.with(|r| r.set(r.get() + 1));
                self.0.get(k)
            }
            fn largest_value(&self) -> usize {
                self.1
            }
            fn set(&self, k: &str, v: &str) -> Result<(), Fault> {
                self.0.set(k, v)
            }
            fn delete(&self, k: &str) -> Result<(), Fault> {
                self.0.delete(k)
            }
            fn location(&self) -> Location {
                Location::Memory
            }
        }
        (
            TokenStore::new(
                Box::new(Shared(memory, largest)),
                "https://t.kinde.com",
                "client",
            ),
            memory,
        )
    }

    #[test]
    fn large_sessions_are_chunked_and_round_trip() {
        let (store, memory) = store();
        let tokens = sample(9000);
        store.save(&tokens).unwrap();
        assert_eq!(store.load().unwrap(), Some(tokens));
        for key in memory.keys() {
            assert!(
                memory.get(&key).unwrap().unwrap().len() <= CHUNK,
                "{key} is over {CHUNK} bytes"
            );
        }
        assert!(memory.keys().len() > 5);
    }

    thread_local! {
        static READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn reads_of(call: impl FnOnce()) -> usize {
        READS.with(|r| r.set(0));
        call();
        READS.with(|r| r.get())
    }

    #[test]
    fn where_entries_are_large_a_session_is_one_chunk_and_a_listing_reads_the_index_once() {
        let (store, memory) = store_taking(LARGE_VALUE);
        let tokens = sample(9000);
        store.save(&tokens).unwrap();
        assert_eq!(
            memory.keys().len(),
            4,
            "the session's manifest and one chunk, the index's too: {:?}",
            memory.keys()
        );
        assert_eq!(
            reads_of(|| assert_eq!(store.load().unwrap(), Some(tokens.clone()))),
            4,
            "the index, then the session: a manifest and a chunk each"
        );
        assert_eq!(
            reads_of(|| assert_eq!(store.accounts().unwrap().len(), 1)),
            2,
            "the index alone"
        );
    }

    #[test]
    fn saving_replaces_the_old_session_and_clearing_leaves_nothing() {
        let (store, memory) = store();
        store.save(&sample(5000)).unwrap();
        let before = memory.keys().len();
        store.save(&sample(100)).unwrap();
        assert_eq!(
            memory.keys().len(),
            4,
            "manifest + one chunk, and the index's, the {before} old keys gone"
        );
        store.clear().unwrap();
        assert!(memory.keys().is_empty());
        assert_eq!(store.load().unwrap(), None);
    }

    #[test]
    fn damaged_or_partial_sessions_read_as_signed_out() {
        let (store, memory) = store();
        store.save(&sample(5000)).unwrap();
        let chunk = memory
            .keys()
            .into_iter()
            .find(|k| k.starts_with("session ") && k.ends_with(".1"))
            .unwrap();
        memory.delete(&chunk).unwrap();
        assert_eq!(store.load().unwrap(), None, "a missing part");
        store.save(&sample(10)).unwrap();
        memory
            .set("session https://t.kinde.com client kp_1", "{not json")
            .unwrap();
        assert_eq!(store.load().unwrap(), None, "a corrupt manifest");
    }

    #[test]
    fn a_session_stored_before_refresh_answers_were_recorded_still_loads() {
        let (store, memory) = store();
        store.save(&sample(10)).unwrap();
        let chunk = memory
            .keys()
            .into_iter()
            .find(|k| k.starts_with("session ") && k.contains('#'))
            .unwrap();
        let mut old: serde_json::Value =
            serde_json::from_str(&memory.get(&chunk).unwrap().unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("id_token_on_refresh");
        memory.set(&chunk, &old.to_string()).unwrap();
        let loaded = store.load().unwrap().expect("still signed in");
        assert_eq!(loaded.id_token_on_refresh, None, "no refresh seen yet");
        assert_eq!(loaded.subject, "kp_1");
    }

    #[test]
    fn splits_on_character_boundaries() {
        let text = "é".repeat(1500);
        let pieces = split(&text, CHUNK);
        assert!(pieces.iter().all(|p| p.len() <= CHUNK));
        assert_eq!(pieces.concat(), text);
    }
}
