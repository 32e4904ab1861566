//! The lock every process of one person shares for one account (one tenant, client and person:
//! the CLI and the app), held while that account's session is renewed or replaced so a refresh
//! token is never spent twice; and one more for the index of accounts, held while it changes.
//!
//! The file also carries a marker: the last writer's. A process that finds its own marker under
//! the lock knows no other process has renewed since, and need not read the keychain again.

use crate::error::AuthError;
use crate::private_dir::{self, PrivateDir, PrivateError};
use kinvex_clock::Clock;
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for another process to release the lock. Healthy holders keep it for one
/// renewal and one keychain write, well under a second; one provider request is cut off at 30 s.
/// Past that the person is told another process holds it, rather than left waiting on one
/// that may never let go.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(30);
/// The first and the longest pause between attempts: flock has nothing to wait on but time.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// Where one tenant's and client's lock file lives.
#[derive(Clone, Debug)]
pub(crate) struct SessionLock {
    dir: PathBuf,
    name: String,
}

/// The lock, held until dropped.
pub(crate) struct Held(File);

/// The lock of the accounts index, as every kinvex process takes it to change the index;
/// released when dropped.
pub struct IndexHeld {
    _held: Held,
}

/// Waits (at most [`LOCK_WAIT`]) for the accounts index's lock in the default place, for a
/// tool that changes the store directly ([`crate::TokenStore::save`], `clear`) while kinvex
/// processes may be changing it too: without it, one read-modify-write of the index can undo
/// another's.
pub async fn hold_accounts_index() -> Result<IndexHeld, AuthError> {
    let lock = SessionLock::for_index(&SessionLock::default_dir());
    Ok(IndexHeld {
        _held: lock.acquire().await?,
    })
}

impl SessionLock {
    pub(crate) fn new(dir: &Path, issuer: &str, client_id: &str) -> SessionLock {
        SessionLock {
            dir: dir.to_path_buf(),
            name: format!("{:016x}.lock", fnv(&format!("{issuer} {client_id}"))),
        }
    }

    /// The lock of one account: `subject`'s session on `issuer` with `client_id`.
    pub(crate) fn for_account(
        dir: &Path,
        issuer: &str,
        client_id: &str,
        subject: &str,
    ) -> SessionLock {
        SessionLock::new(dir, issuer, &format!("{client_id} {subject}"))
    }

    /// The lock of the index of accounts, held while it is read and written back.
    pub(crate) fn for_index(dir: &Path) -> SessionLock {
        SessionLock {
            dir: dir.to_path_buf(),
            name: "accounts.lock".into(),
        }
    }

    /// The lock file's name, by which locks taken together are ordered (no two processes then
    /// wait on each other).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The default directory: `kinvex` in the runtime directory when there is one of this
    /// user's alone, else this user's own directory under the temporary directory.
    pub(crate) fn default_dir() -> PathBuf {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
        let usable = runtime.as_deref().filter(|dir| is_runtime_dir(dir));
        if let (Some(dir), None) = (&runtime, usable) {
            tracing::warn!(
                "XDG_RUNTIME_DIR ({}) is not a directory of yours alone; the session lock goes to the temporary directory",
                dir.display()
            );
        }
        lock_dir(usable, &std::env::temp_dir(), &private_dir::current_user())
    }

    fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Takes the lock, waiting at most [`LOCK_WAIT`] for another process to release it.
    pub(crate) async fn acquire(&self) -> Result<Held, AuthError> {
        // A few calls on a local directory: not worth a thread, and nothing here can block.
        let file = PrivateDir::open(&self.dir)?.open_shared(&self.name)?;
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        let mut pause = FIRST_PAUSE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Held(file)),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => {
                    return Err(PrivateError::Io {
                        path: self.path(),
                        source,
                    }
                    .into());
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(AuthError::SessionLocked {
                    path: self.path(),
                    seconds: LOCK_WAIT.as_secs(),
                });
            }
            if pause == FIRST_PAUSE {
                tracing::info!(
                    "another kinvex process holds the session lock at {}; waiting up to {} s",
                    self.path().display(),
                    LOCK_WAIT.as_secs()
                );
            }
            // flock has no readiness event to wait on; a short, doubling pause on tokio's timer
            // keeps the wait cancellable and bounded by the deadline.
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// Where the lock files go, from what the environment offers: a pure function of its inputs.
fn lock_dir(runtime: Option<&Path>, temp: &Path, user: &str) -> PathBuf {
    match runtime {
        Some(runtime) => runtime.join("kinvex"),
        None => private_dir::per_user(temp, user),
    }
}

/// The XDG rule for a runtime directory: absolute, and this user's alone (0700, theirs).
fn is_runtime_dir(dir: &Path) -> bool {
    if !dir.is_absolute() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir).is_ok_and(|meta| {
            meta.is_dir()
                && meta.uid() == nix::unistd::geteuid().as_raw()
                && meta.mode() & 0o077 == 0
        })
    }
    #[cfg(not(unix))]
    {
        dir.is_dir()
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
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    /// A directory of the test's own, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("kinvex-lock-test-{}-{n}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir(&path).expect("scratch directory");
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn one_tenant_and_client_share_one_file_and_markers_are_unique() {
        let scratch = Scratch::new("share");
        let dir = scratch.0.join("locks");
        let a = SessionLock::new(&dir, "https://a.kinde.com", "app");
        let same = SessionLock::new(&dir, "https://a.kinde.com", "app");
        let other = SessionLock::new(&dir, "https://a.kinde.com", "cli");
        assert_eq!(a.path(), same.path());
        assert_ne!(a.path(), other.path());

        let clock = kinvex_clock::SystemClock;
        let held = a.acquire().await.expect("lock");
        assert_eq!(held.marker(), None);
        let first = Marker::new(&clock);
        held.set_marker(&first).expect("write");
        assert!(first.is(held.marker().as_deref()));
        let second = Marker::new(&clock);
        assert_ne!(first, second);
        assert!(!second.is(held.marker().as_deref()));
    }

    #[test]
    fn without_a_runtime_dir_locks_go_to_a_per_user_dir_not_a_shared_one() {
        let temp = Path::new("/tmp");
        assert_eq!(
            lock_dir(None, temp, "1000"),
            Path::new("/tmp/kinvex-1000"),
            "not /tmp/kinvex-locks, which every user shares"
        );
        assert_eq!(
            lock_dir(Some(Path::new("/run/user/1000")), temp, "1000"),
            Path::new("/run/user/1000/kinvex")
        );
        assert!(!is_runtime_dir(Path::new("relative/run")));
    }

    /// The wait is bounded by the real [`LOCK_WAIT`]; the paused clock lets it pass at once.
    #[tokio::test(start_paused = true)]
    async fn a_lock_held_by_another_open_file_times_out_with_a_message_instead_of_hanging() {
        let scratch = Scratch::new("held");
        let lock = SessionLock::new(&scratch.0.join("locks"), "https://a.kinde.com", "cli");
        // Another open file description, read-only, as the audit's other user held it.
        drop(
            PrivateDir::open(&lock.dir)
                .expect("dir")
                .open_shared(&lock.name)
                .expect("file"),
        );
        let other = std::fs::File::open(lock.path()).expect("the other file");
        other.lock_shared().expect("the other holder's lock");

        let started = tokio::time::Instant::now();
        let wall = std::time::Instant::now();
        let waited = tokio::time::timeout(LOCK_WAIT * 2, lock.acquire()).await;
        let error = match waited {
            Ok(Err(error)) => error,
            Ok(Ok(_)) => panic!("the lock was taken while another holds it"),
            Err(_) => panic!("still waiting after {:?}", LOCK_WAIT * 2),
        };
        let elapsed = started.elapsed();
        assert!(
            elapsed >= LOCK_WAIT && elapsed < LOCK_WAIT + Duration::from_secs(1),
            "gave up after {elapsed:?}"
        );
        assert!(
            wall.elapsed() < Duration::from_secs(10),
            "the test itself took real time"
        );
        assert_eq!(error.code(), "session_locked");
        let message = error.to_string();
        assert!(message.contains("Another kinvex process"), "{message}");
        assert!(
            message.contains(&lock.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("try again"), "{message}");

        drop(other);
        lock.acquire().await.expect("free once the other lets go");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gets_the_lock_as_soon_as_the_holder_lets_go() {
        let scratch = Scratch::new("release");
        let lock = SessionLock::new(&scratch.0.join("locks"), "https://a.kinde.com", "cli");
        let held = lock.acquire().await.expect("first");
        let waiter = tokio::spawn({
            let lock = lock.clone();
            async move { lock.acquire().await.map(|_| tokio::time::Instant::now()) }
        });
        // The clock is paused: this moves tokio's time, it does not wait.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let released = tokio::time::Instant::now();
        drop(held);
        let taken = waiter.await.expect("joined").expect("taken after release");
        assert!(
            taken - released <= LONGEST_PAUSE,
            "took {:?}",
            taken - released
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_lock_dir_is_0700_and_the_lock_file_0600() {
        let scratch = Scratch::new("modes");
        let lock = SessionLock::new(&scratch.0.join("locks"), "https://a.kinde.com", "cli");
        drop(lock.acquire().await.expect("lock"));
        let mode = |path: &Path| {
            std::fs::symlink_metadata(path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&lock.dir), 0o700);
        assert_eq!(mode(&lock.path()), 0o600);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlink_planted_at_the_lock_path_is_not_followed() {
        let scratch = Scratch::new("symlink");
        let victim = scratch.0.join("victim.txt");
        std::fs::write(&victim, "the victim's file").expect("victim");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let lock = SessionLock::new(&scratch.0.join("locks"), "https://a.kinde.com", "cli");
        PrivateDir::open(&lock.dir).expect("dir");
        std::os::unix::fs::symlink(&victim, lock.path()).expect("plant");

        let error = match lock.acquire().await {
            Err(error) => error,
            Ok(held) => {
                let _ = held.set_marker(&Marker::new(&kinvex_clock::SystemClock));
                panic!("the lock was taken through a symbolic link")
            }
        };
        assert_eq!(error.code(), "unsafe_path");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "the victim's file"
        );
        assert_eq!(
            std::fs::metadata(&victim)
                .expect("victim")
                .permissions()
                .mode()
                & 0o777,
            0o644,
            "the victim's mode is untouched"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_hard_link_planted_at_the_lock_path_is_not_written_through() {
        let scratch = Scratch::new("hard-link");
        let victim = scratch.0.join("victim.txt");
        std::fs::write(&victim, "the victim's file").expect("victim");
        let lock = SessionLock::new(&scratch.0.join("locks"), "https://a.kinde.com", "cli");
        PrivateDir::open(&lock.dir).expect("dir");
        std::fs::hard_link(&victim, lock.path()).expect("plant");

        let error = match lock.acquire().await {
            Err(error) => error,
            Ok(held) => {
                let _ = held.set_marker(&Marker::new(&kinvex_clock::SystemClock));
                panic!("the lock was taken through a hard link")
            }
        };
        assert!(error.to_string().contains("hard link"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "the victim's file"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_lock_dir_others_can_write_to_is_refused_with_its_path() {
        let scratch = Scratch::new("open-dir");
        let dir = scratch.0.join("locks");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let lock = SessionLock::new(&dir, "https://a.kinde.com", "cli");
        let error = lock.acquire().await.err().expect("refused");
        assert_eq!(error.code(), "unsafe_path");
        let message = error.to_string();
        assert!(message.contains(&dir.display().to_string()), "{message}");
        assert!(message.contains("remove it"), "{message}");
        assert!(!lock.path().exists(), "nothing created in it");
    }
}
