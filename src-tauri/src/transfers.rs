//! The files moving between this machine and Convex storage: each upload or download a task of
//! its own with an id, its progress sent to the window as [`TransferUpdate`]s (at most every
//! [`EVERY`], plus the first and the last), and Cancel aborting it. The bytes go between the disk
//! and the network through [`kinvex_convex::storage`]; the window only ever sees names, counts
//! and outcomes.
//!
//! Nothing half-done is left by a cancel: an aborted download drops its partial file (the
//! library removes it), and an aborted upload never reaches `files:save`. Once every byte of an
//! upload is sent, the file is as good as saved and Cancel no longer applies to it.
//!
//! Open downloads into a private cache (a folder only this user may enter, files only they may
//! read) and hands the file to the OS's default application; a file already cached whole under
//! its id is opened again without a download, and its updates say so
//! ([`TransferUpdate::from_cache`]).

use crate::error::DesktopError;
use crate::view::CommandError;
use kinvex_auth::Auth;
use kinvex_clock::SharedClock;
use kinvex_convex::ConvexError;
use kinvex_convex::data::FileEntry;
use kinvex_convex::storage::{Progress, Replace, Storage};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tauri::async_runtime::JoinHandle;

/// Emitted with a [`TransferUpdate`] when a transfer starts, moves on and ends.
pub const TRANSFER_EVENT: &str = "transfer";

/// Progress reports of one transfer reach the window at most this often.
pub const EVERY: Duration = Duration::from_millis(100);

/// Where the updates go: the window's `transfer` event in the app, a recorder in tests.
pub type Sink = Arc<dyn Fn(TransferUpdate) + Send + Sync>;
/// Hands a file to the OS's default application; `Err` says why it could not.
pub type Opener = Arc<dyn Fn(&Path) -> Result<(), String> + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upload,
    Download,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// One transfer as the window shows it: a row of the transfers panel.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferUpdate {
    pub id: u64,
    pub kind: Direction,
    pub name: String,
    pub done: u64,
    pub total: Option<u64>,
    pub bytes_per_second: Option<f64>,
    pub seconds_left: Option<f64>,
    pub state: State,
    /// An Open served from the private cache: nothing is downloaded, so the window says
    /// "Opened", not "Downloaded". Known from the first update on.
    pub from_cache: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
}

/// What a download is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// Save as…: the file stays where the person chose.
    Keep,
    /// Open: into the cache, then to the default application.
    Open,
}

/// A running transfer: its task, and whether Cancel still applies.
struct Running {
    task: Option<JoinHandle<()>>,
    last: TransferUpdate,
    /// An upload whose bytes are all sent: it is being saved, and a cancel would leave a file
    /// the window was told was cancelled.
    committed: bool,
}

/// Every transfer still running, by id.
pub struct Transfers {
    sink: Sink,
    opener: Opener,
    clock: SharedClock,
    cache: PathBuf,
    next: AtomicU64,
    running: Arc<Mutex<HashMap<u64, Running>>>,
}

impl Transfers {
    /// Transfers reporting to `sink`, opening files with `opener`, caching opened files under
    /// `cache` (made private when first needed) and throttling reports on `clock`.
    pub fn new(sink: Sink, opener: Opener, clock: SharedClock, cache: PathBuf) -> Transfers {
        Transfers {
            sink,
            opener,
            clock,
            cache,
            next: AtomicU64::new(1),
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Uploads each path as its own transfer, all at once; returns their ids. A path that is not
    /// a file (a folder) fails on its own with the library's `not_a_file`, before any request.
    pub fn upload(&self, storage: &Storage, auth: &Arc<Auth>, paths: Vec<PathBuf>) -> Vec<u64> {
        paths
            .into_iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
                    .into_owned();
                let (storage, auth) = (storage.clone(), auth.clone());
                self.start(
                    Direction::Upload,
                    name,
                    None,
                    false,
                    move |mut report| async move {
                        storage
                            .upload(&auth, &path, &mut *report)
                            .await
                            .map(drop)
                            .map_err(DesktopError::from)
                    },
                )
            })
            .collect()
    }

    /// Downloads `file` to `destination` (Save as…; the person chose it, so it may be replaced).
    pub fn save_as(
        &self,
        storage: &Storage,
        auth: &Arc<Auth>,
        file: &FileEntry,
        destination: PathBuf,
    ) -> u64 {
        self.download(storage, auth, file, destination, Purpose::Keep)
    }

    /// Opens `file` with the default application, downloading it into the private cache unless
    /// it is cached whole already.
    pub fn open(
        &self,
        storage: &Storage,
        auth: &Arc<Auth>,
        file: &FileEntry,
    ) -> Result<u64, DesktopError> {
        let destination = self.cached_path(file)?;
        Ok(self.download(storage, auth, file, destination, Purpose::Open))
    }

    /// Stops a running transfer and waits until it is gone: a download's partial file removed,
    /// an upload's request dropped before `files:save`. False when there is nothing to cancel
    /// (it ended, or it is an upload already being saved).
    pub async fn cancel(&self, id: u64) -> bool {
        let (task, mut last) = {
            let mut running = lock(&self.running);
            match running.get_mut(&id) {
                Some(transfer) if !transfer.committed => match transfer.task.take() {
                    Some(task) => {
                        task.abort();
                        (task, transfer.last.clone())
                    }
                    None => return false,
                },
                _ => return false,
            }
        };
        let _ = task.await;
        // Gone already: the task ended before the abort reached it, and said how.
        if lock(&self.running).remove(&id).is_none() {
            return false;
        }
        last.state = State::Cancelled;
        last.bytes_per_second = None;
        last.seconds_left = None;
        (self.sink)(last);
        true
    }

    /// The ids of the transfers still running.
    #[cfg(test)]
    pub fn running(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = lock(&self.running).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn download(
        &self,
        storage: &Storage,
        auth: &Arc<Auth>,
        file: &FileEntry,
        destination: PathBuf,
        purpose: Purpose,
    ) -> u64 {
        let (storage, auth, opener) = (storage.clone(), auth.clone(), self.opener.clone());
        let (id, size) = (file.id.clone(), file.size);
        // A stat, decided before the first update so that one already says which it is.
        let cached = purpose == Purpose::Open
            && std::fs::metadata(&destination).is_ok_and(|m| m.is_file() && m.len() == size);
        self.start(
            Direction::Download,
            file.name.clone(),
            Some(size),
            cached,
            move |mut report| async move {
                if cached {
                    report(Progress {
                        done: size,
                        total: Some(size),
                        bytes_per_second: None,
                    });
                } else {
                    storage
                        .download(&auth, &id, &destination, Replace::Allowed, &mut *report)
                        .await?;
                }
                if purpose == Purpose::Open {
                    private_file(&destination)?;
                    opener(&destination).map_err(|detail| DesktopError::Open {
                        path: destination.clone(),
                        detail,
                    })?;
                }
                Ok(())
            },
        )
    }

    /// Starts `work` as a task reporting as transfer `id`; its first update goes out now.
    fn start<W, F>(
        &self,
        kind: Direction,
        name: String,
        total: Option<u64>,
        from_cache: bool,
        work: W,
    ) -> u64
    where
        W: FnOnce(Box<dyn FnMut(Progress) + Send>) -> F,
        F: Future<Output = Result<(), DesktopError>> + Send + 'static,
    {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let first = TransferUpdate {
            id,
            kind,
            name,
            done: 0,
            total,
            bytes_per_second: None,
            seconds_left: None,
            state: State::Running,
            from_cache,
            error: None,
        };
        lock(&self.running).insert(
            id,
            Running {
                task: None,
                last: first.clone(),
                committed: false,
            },
        );
        (self.sink)(first.clone());
        let report = self.reporter(first.clone());
        let work = work(report);
        let (sink, running) = (self.sink.clone(), self.running.clone());
        let task = tauri::async_runtime::spawn(async move {
            let outcome = work.await;
            // Taken out first: a cancel arriving now finds nothing to stop.
            let Some(entry) = lock(&running).remove(&id) else {
                return;
            };
            let mut last = entry.last;
            last.bytes_per_second = None;
            last.seconds_left = None;
            match outcome {
                Ok(()) => {
                    last.state = State::Done;
                    last.total = Some(last.total.unwrap_or(last.done).max(last.done));
                    last.done = last.total.unwrap_or(last.done);
                }
                Err(e) => {
                    last.state = State::Failed;
                    last.error = Some(e.into());
                }
            }
            sink(last);
        });
        if let Some(entry) = lock(&self.running).get_mut(&id) {
            entry.task = Some(task);
        }
        id
    }

    /// The library's progress reports as updates of transfer `first.id`, throttled.
    fn reporter(&self, first: TransferUpdate) -> Box<dyn FnMut(Progress) + Send> {
        let (sink, running) = (self.sink.clone(), self.running.clone());
        let mut throttle = Throttle::new(self.clock.clone());
        Box::new(move |progress: Progress| {
            let whole = progress.total == Some(progress.done) && progress.done > 0;
            let mut update = first.clone();
            update.done = progress.done;
            update.total = progress.total.or(first.total);
            update.bytes_per_second = progress.bytes_per_second;
            update.seconds_left = progress.time_left().map(|d| d.as_secs_f64());
            {
                let mut running = lock(&running);
                let Some(entry) = running.get_mut(&first.id) else {
                    return;
                };
                if whole && first.kind == Direction::Upload {
                    entry.committed = true;
                }
                entry.last = update.clone();
            }
            if throttle.due(whole) {
                sink(update);
            }
        })
    }

    /// `<cache>/<id>/<name>`: the id keeps two files of one name apart, the name (made safe as
    /// a file name) lets the default application know the file's type.
    fn cached_path(&self, file: &FileEntry) -> Result<PathBuf, DesktopError> {
        if file.id.is_empty() || !file.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConvexError::FileGone.into());
        }
        let folder = self.cache.join(&file.id);
        private_folder(&self.cache)?;
        private_folder(&folder)?;
        Ok(folder.join(file_name(&file.name)))
    }
}

/// Lets a report through when [`EVERY`] has passed since the last one let through, and always
/// the first and the last (`last`).
struct Throttle {
    clock: SharedClock,
    sent: Option<SystemTime>,
}

impl Throttle {
    fn new(clock: SharedClock) -> Throttle {
        Throttle { clock, sent: None }
    }

    fn due(&mut self, last: bool) -> bool {
        let now = self.clock.now();
        let due = last
            || self
                .sent
                .is_none_or(|at| now.duration_since(at).unwrap_or_default() >= EVERY);
        if due {
            self.sent = Some(now);
        }
        due
    }
}

/// A name the backend accepted (no control characters), made one this filesystem takes as a
/// single file name: no separators, not `.` or `..`, at most 200 bytes.
fn file_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':' | '\0') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut end = safe.len().min(200);
    while !safe.is_char_boundary(end) {
        end -= 1;
    }
    safe.truncate(end);
    match safe.trim() {
        "" | "." | ".." => "file".into(),
        _ => safe,
    }
}

/// Makes `folder` (and nothing above it) and lets only this user into it.
fn private_folder(folder: &Path) -> Result<(), DesktopError> {
    let failed = |e: std::io::Error| DesktopError::Cache {
        path: folder.to_path_buf(),
        detail: e.to_string(),
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
    }
    Ok(())
}

/// Lets only this user read or write the cached file.
fn private_file(path: &Path) -> Result<(), DesktopError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            DesktopError::Cache {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
