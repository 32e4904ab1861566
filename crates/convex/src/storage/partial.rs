//! A download's bytes on their way to the destination: a file of their own in the destination's
//! folder (so the final rename is atomic, on one filesystem), created exclusively and readable by
//! the person alone (0600), so that neither an existing file nor a symbolic link planted under
//! its name is ever written through. Once complete it is flushed to disk and renamed onto the
//! destination; until then the destination is untouched, and dropped before that (a failure, a
//! cancel) it is removed.
//!
//! The writes are made by one blocking thread of the runtime's pool, fed the received chunks as
//! they are (no copy) through a channel: the download's task goes straight back to the network
//! instead of waiting on a thread-pool hop for each buffer, and the thread writes what has
//! queued meanwhile. At most [`IN_FLIGHT`] bytes wait in the channel, so memory stays bounded
//! however far the network runs ahead of the disk.

use super::Random;
use crate::ConvexError;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Bytes received and not yet written that a download holds at most.
const IN_FLIGHT: usize = 8 * 1024 * 1024;
/// Bytes written after which what is written so far starts going to disk, in the background.
const FLUSH_EVERY: usize = 16 * 1024 * 1024;
/// Bytes of the destination's name kept in the partial file's, so that it stays under the 255
/// bytes a name may have on common filesystems.
const NAME_KEPT: usize = 200;
/// Names tried before giving up (each is new unless something is guessing them).
const ATTEMPTS: usize = 8;

/// Whether the download may replace a file already at the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// Refuse, even for a file that appears there while the download runs.
    Never,
    Allowed,
}

/// A partial file written with chunks of type `B` (a response's `Bytes`).
pub(crate) struct Partial<B> {
    path: PathBuf,
    destination: PathBuf,
    writer: Option<Writer<B>>,
    done: bool,
}

/// A chunk to write, and its share of [`IN_FLIGHT`], given back once it is written.
type Queued<B> = (B, OwnedSemaphorePermit);

/// The thread writing a partial file, and what feeds it.
struct Writer<B> {
    chunks: mpsc::UnboundedSender<Queued<B>>,
    room: Arc<Semaphore>,
    /// Set when the partial file is dropped unfinished: the thread writes no more of it.
    stop: Arc<AtomicBool>,
    thread: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl<B: AsRef<[u8]> + Send + 'static> Writer<B> {
    fn start(file: std::fs::File) -> Writer<B> {
        let (chunks, queue) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(IN_FLIGHT));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (room, stop) = (room.clone(), stop.clone());
            tokio::task::spawn_blocking(move || {
                let written = write_queued(file, queue, &stop);
                // A write waiting for room learns at once that there will be none.
                room.close();
                written
            })
        };
        Writer {
            chunks,
            room,
            stop,
            thread,
        }
    }

    /// Queues `chunk`, once there is room for it; `false` if the thread has stopped.
    async fn queue(&self, chunk: B) -> bool {
        let share = chunk.as_ref().len().clamp(1, IN_FLIGHT);
        let share = u32::try_from(share).unwrap_or(u32::MAX);
        match self.room.clone().acquire_many_owned(share).await {
            Ok(room) => self.chunks.send((chunk, room)).is_ok(),
            Err(_) => false,
        }
    }

    /// Ends the queue and waits for the thread: every chunk written and synced to disk, or the
    /// write's failure.
    async fn close(self) -> std::io::Result<()> {
        drop(self.chunks);
        match self.thread.await {
            Ok(written) => written,
            Err(e) => Err(std::io::Error::other(format!(
                "the writing thread failed ({e})"
            ))),
        }
    }
}

/// The writing thread: each chunk as it comes, then the file synced to disk (its data and its
/// size), unless the download was dropped meanwhile. Every [`FLUSH_EVERY`] bytes a [`Flusher`]
/// is asked to start the disk on what is written, so the final sync waits for the tail only.
fn write_queued<B: AsRef<[u8]>>(
    mut file: std::fs::File,
    mut queue: mpsc::UnboundedReceiver<Queued<B>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let flusher = Flusher::start(&file);
    let mut unflushed = 0;
    while let Some((chunk, _room)) = queue.blocking_recv() {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        file.write_all(chunk.as_ref())?;
        unflushed += chunk.as_ref().len();
        if unflushed >= FLUSH_EVERY {
            unflushed = 0;
            if let Some(flusher) = &flusher {
                flusher.request();
            }
        }
    }
    drop(flusher);
    if stop.load(Ordering::Relaxed) {
        return Ok(());
    }
    file.sync_all()
}

/// A thread syncing the file's data written so far, when asked, while the writes go on: the
/// page cache reaches the disk while the rest still arrives instead of all at the end. Its
/// failures are left to the final sync, which reports any.
struct Flusher {
    requests: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// `None` when the file cannot be opened a second time or no thread can start: the final
    /// sync then does all the work.
    fn start(file: &std::fs::File) -> Option<Flusher> {
        let file = file.try_clone().ok()?;
        let (requests, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("kinvex-flush".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    let _ = file.sync_data();
                }
            })
            .ok()?;
        Some(Flusher {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Asks for a sync, unless one is already waiting to start.
    fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.try_send(());
        }
    }
}

impl Drop for Flusher {
    /// Waits for a sync under way, so the final one does not race it.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A write's failure, in the words of a download.
pub(crate) fn write_error(destination: &Path, error: &std::io::Error) -> ConvexError {
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => ConvexError::DiskFull {
            destination: destination.to_path_buf(),
        },
        _ => ConvexError::WriteFailed {
            destination: destination.to_path_buf(),
            detail: error.to_string(),
        },
    }
}

/// The folder a path is in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.<name>.<random>.part`, with at most [`NAME_KEPT`] bytes of the name.
fn partial_name(destination: &Path, random: u64) -> String {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut end = name.len().min(NAME_KEPT);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.{random:016x}.part", &name[..end])
}

impl<B: AsRef<[u8]> + Send + 'static> Partial<B> {
    pub(crate) async fn create(
        destination: &Path,
        random: &Random,
    ) -> Result<Partial<B>, ConvexError> {
        if destination.file_name().is_none() {
            return Err(ConvexError::WriteFailed {
                destination: destination.to_path_buf(),
                detail: "that is a folder, not a file name".into(),
            });
        }
        for _ in 0..ATTEMPTS {
            let path = folder(destination).join(partial_name(destination, random()));
            // Opened without an await between the file's creation and its guard: a download
            // cancelled at an await in between would leave the file behind (tokio's open runs on
            // the blocking pool and completes even when the awaiting task is aborted).
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(file) => {
                    return Ok(Partial {
                        path,
                        destination: destination.to_path_buf(),
                        writer: Some(Writer::start(file)),
                        done: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_error(destination, &e)),
            }
        }
        Err(ConvexError::WriteFailed {
            destination: destination.to_path_buf(),
            detail: format!("{ATTEMPTS} temporary names in its folder were all taken"),
        })
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Hands `chunk` to the writing thread; waits only while [`IN_FLIGHT`] bytes are queued. A
    /// failed write is reported by the next call (or by [`Partial::finish`]).
    pub(crate) async fn write(&mut self, chunk: B) -> Result<(), ConvexError> {
        let Some(writer) = self.writer.as_ref() else {
            return Err(write_error(
                &self.destination,
                &std::io::Error::other("an earlier write failed"),
            ));
        };
        if writer.queue(chunk).await {
            return Ok(());
        }
        let failure = match self.writer.take() {
            Some(writer) => writer.close().await.err(),
            None => None,
        };
        let failure =
            failure.unwrap_or_else(|| std::io::Error::other("the writing thread stopped"));
        Err(write_error(&self.destination, &failure))
    }

    /// Puts the complete file in place: written and synced to disk first, so that a crash leaves
    /// either the old destination or the whole new file, never part of one.
    pub(crate) async fn finish(mut self, replace: Replace) -> Result<(), ConvexError> {
        let failed = |e: std::io::Error| write_error(&self.destination, &e);
        if let Some(writer) = self.writer.take() {
            writer.close().await.map_err(failed)?;
        }
        match replace {
            Replace::Allowed => tokio::fs::rename(&self.path, &self.destination)
                .await
                .map_err(failed)?,
            Replace::Never => self.link().await?,
        }
        self.done = true;
        // The rename itself, on disk. A folder that cannot be opened or synced (some network
        // filesystems) still has the file; only its durability across a crash is unknown.
        #[cfg(unix)]
        if let Ok(dir) = tokio::fs::File::open(folder(&self.destination)).await {
            let _ = dir.sync_all().await;
        }
        Ok(())
    }

    /// Moves the file onto a destination that must not exist: a hard link fails, atomically, if
    /// it does. Where hard links are not supported, a check and a rename.
    async fn link(&mut self) -> Result<(), ConvexError> {
        let exists = || ConvexError::DestinationExists {
            destination: self.destination.clone(),
        };
        match tokio::fs::hard_link(&self.path, &self.destination).await {
            Ok(()) => {
                let _ = tokio::fs::remove_file(&self.path).await;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(exists()),
            Err(_) => {
                if tokio::fs::symlink_metadata(&self.destination).await.is_ok() {
                    return Err(exists());
                }
                tokio::fs::rename(&self.path, &self.destination)
                    .await
                    .map_err(|e| write_error(&self.destination, &e))
            }
        }
    }
}

impl<B> Drop for Partial<B> {
    fn drop(&mut self) {
        if !self.done {
            if let Some(writer) = &self.writer {
                writer.stop.store(true, Ordering::Relaxed);
            }
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counting() -> Random {
        let next = Arc::new(AtomicU64::new(1));
        Arc::new(move || next.fetch_add(1, Ordering::Relaxed) / 2)
    }

    fn run<T>(work: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|r| r.block_on(work))
            .unwrap_or_else(|e| panic!("no runtime: {e}"))
    }

    #[test]
    fn a_name_taken_or_planted_as_a_link_is_skipped_never_written_through() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let destination = dir.path().join("report.pdf");
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep").unwrap_or_else(|e| panic!("{e}"));
        // The first name the randomness gives (0), planted as a link to another file.
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, dir.path().join(partial_name(&destination, 0)))
            .unwrap_or_else(|e| panic!("{e}"));
        let random = counting();
        run(async {
            let mut partial = Partial::create(&destination, &random)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                partial.path().file_name(),
                Some(std::ffi::OsStr::new(&partial_name(&destination, 1)))
            );
            partial
                .write(b"new")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            partial
                .finish(Replace::Never)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        });
        assert_eq!(std::fs::read(&target).ok().as_deref(), Some(&b"keep"[..]));
        assert_eq!(
            std::fs::read(&destination).ok().as_deref(),
            Some(&b"new"[..])
        );
    }

    #[test]
    fn never_replacing_keeps_a_file_that_appeared_meanwhile_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let destination = dir.path().join("a.txt");
        let random = counting();
        let finished = run(async {
            let mut partial = Partial::create(&destination, &random)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            partial
                .write(b"downloaded")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&destination, b"mine").unwrap_or_else(|e| panic!("{e}"));
            partial.finish(Replace::Never).await
        });
        assert_eq!(finished.err().map(|e| e.code()), Some("destination_exists"));
        assert_eq!(
            std::fs::read(&destination).ok().as_deref(),
            Some(&b"mine"[..])
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert_eq!(left.len(), 1, "only the destination: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_download_is_readable_by_the_person_alone_from_its_first_byte() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let destination = dir.path().join("payslip.pdf");
        let random = counting();
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        run(async {
            let mut partial = Partial::create(&destination, &random)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(mode(partial.path()), 0o600, "the partial file");
            partial
                .write(b"private")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            partial
                .finish(Replace::Allowed)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        });
        assert_eq!(mode(&destination), 0o600, "the download");
        assert_eq!(
            std::fs::read(&destination).ok().as_deref(),
            Some(&b"private"[..])
        );
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let destination = PathBuf::from("é".repeat(150));
        let name = partial_name(&destination, 0xab);
        assert!(name.len() < 255, "{}", name.len());
        assert!(name.ends_with(".00000000000000ab.part"), "{name}");
    }
}
