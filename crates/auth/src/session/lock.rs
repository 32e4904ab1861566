//! The lock every process of one person shares for one tenant and client (the CLI and the app),
//! held while a session is renewed or replaced so a refresh token is never spent twice.
//!
//! The file also carries a marker: the last writer's. A process that finds its own marker under
//! the lock knows no other process has renewed since, and need not read the keychain again.

use kinvex_clock::Clock;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where one tenant's and client's lock file lives.
#[derive(Clone, Debug)]
pub(crate) struct SessionLock {
    path: PathBuf,
}

/// The lock, held until dropped.
pub(crate) struct Held(File);

impl SessionLock {
    pub(crate) fn new(dir: &Path, issuer: &str, client_id: &str) -> SessionLock {
        SessionLock {
            path: dir.join(format!(
                "{:016x}.lock",
                fnv(&format!("{issuer} {client_id}"))
            )),
        }
    }

    /// The default directory: the per-user runtime directory when there is one.
    pub(crate) fn default_dir() -> PathBuf {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("kinvex"))
            .unwrap_or_else(|| std::env::temp_dir().join("kinvex-locks"))
    }

    /// Blocks until the lock is ours; call from a blocking thread.
    pub(crate) fn acquire_blocking(&self) -> std::io::Result<Held> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.path)?;
        file.lock()?;
        Ok(Held(file))
    }

    /// Takes the lock without blocking the async threads.
    pub(crate) async fn acquire(&self) -> std::io::Result<Held> {
        let lock = self.clone();
        tokio::task::spawn_blocking(move || lock.acquire_blocking())
            .await
            .map_err(std::io::Error::other)?
    }
}

impl Held {
    /// The marker the last writer left, if any.
    pub(crate) fn marker(&self) -> Option<String> {
        let mut text = String::new();
        let mut file = &self.0;
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_to_string(&mut text).ok()?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }

    pub(crate) fn set_marker(&self, marker: &Marker) -> std::io::Result<()> {
        let mut file = &self.0;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(marker.0.as_bytes())
    }
}

/// A marker unique to one write: this process, this moment and a counter. Not a secret.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Marker(String);

impl Marker {
    pub(crate) fn new(clock: &dyn Clock) -> Marker {
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Marker(format!("{} {nanos} {count}", std::process::id()))
    }

    pub(crate) fn is(&self, found: Option<&str>) -> bool {
        found == Some(self.0.as_str())
    }
}

/// A stable, non-cryptographic name for a lock file.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tenant_and_client_share_one_file_and_markers_are_unique() {
        let dir = std::env::temp_dir().join(format!("kinvex-lock-test-{}", std::process::id()));
        let a = SessionLock::new(&dir, "https://a.kinde.com", "app");
        let same = SessionLock::new(&dir, "https://a.kinde.com", "app");
        let other = SessionLock::new(&dir, "https://a.kinde.com", "cli");
        assert_eq!(a.path, same.path);
        assert_ne!(a.path, other.path);

        let clock = kinvex_clock::SystemClock;
        let held = a.acquire_blocking().expect("lock");
        assert_eq!(held.marker(), None);
        let first = Marker::new(&clock);
        held.set_marker(&first).expect("write");
        assert!(first.is(held.marker().as_deref()));
        let second = Marker::new(&clock);
        assert_ne!(first, second);
        assert!(!second.is(held.marker().as_deref()));
        drop(held);
        let _ = std::fs::remove_dir_all(dir);
    }
}
