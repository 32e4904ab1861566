//! SQLite storage for both services, in one file. The provider's tables and the backend's
//! documents share the file but never a row: the backend learns about users only from webhooks
//! and the `users:store` mutation, as a real deployment does. Each service reaches its own tables
//! through its own view: [`Store::provider`] and [`Store::backend`].
//!
//! Secrets (passwords, codes, refresh tokens, browser sessions) are stored as SHA-256 hashes.

pub mod backend;
pub mod commits;
pub mod provider;
pub mod storage;

use commits::Commits;
use kinvex_clock::SharedClock;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub use backend::BackendStore;
pub use provider::ProviderStore;
pub use storage::StorageStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("cannot write the local stack's files: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The stack's database: one connection, reached through each service's view.
pub struct Store {
    conn: Mutex<Connection>,
    commits: Commits,
    blobs: storage::Blobs,
}

impl Store {
    /// Opens (and creates or migrates) the database at `path`; `None` keeps it in memory.
    /// `clock` stamps the backend's commits. File storage's blobs live in `storage/` next to the
    /// database, or in a temp dir of their own (removed with the store) for an in-memory one.
    pub fn open(path: Option<&Path>, clock: SharedClock) -> Result<Store> {
        let conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(provider::SCHEMA)?;
        conn.execute_batch(backend::SCHEMA)?;
        conn.execute_batch(storage::SCHEMA)?;
        let blobs_dir = path.map(|p| p.with_file_name("storage"));
        Ok(Store {
            conn: Mutex::new(conn),
            commits: Commits::new(clock),
            blobs: storage::Blobs::open(blobs_dir.as_deref())?,
        })
    }

    /// The identity provider's users, codes, refresh tokens and browser sessions.
    pub fn provider(&self) -> ProviderStore<'_> {
        ProviderStore::new(self)
    }

    /// The backend's documents: users, files and the webhook events already applied.
    pub fn backend(&self) -> BackendStore<'_> {
        BackendStore::new(self)
    }

    /// File storage: the `_storage` table, the blobs, and the file writes tied to a blob.
    pub fn storage(&self) -> StorageStore<'_> {
        StorageStore::new(self)
    }

    /// The backend's commit clock: each write to its documents ticks it.
    pub fn commits(&self) -> &Commits {
        &self.commits
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one statement or
        // one transaction), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
