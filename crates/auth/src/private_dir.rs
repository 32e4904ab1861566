//! Directories only the current user can enter, and the files kinvex keeps in them (the session
//! lock, an opted-in token file), opened so that another local user cannot redirect, read, hold
//! or plant them.
//!
//! A directory is created 0700; an existing one must be a real directory (not a link) owned by
//! this user that not everyone may write to, in a parent nobody else can rename it out of, and
//! is tightened to 0700 (an older kinvex left 0755 or 0775). A file is created 0600, never
//! through a symbolic link, and used only if it is a plain file of this user's with one name.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A private file or directory that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    /// It exists in a state another user could exploit; nothing was read or written.
    #[error(
        "{path} is not safe for kinvex's private files: {problem}. If it is yours, remove it and kinvex will create it again for you alone; otherwise point kinvex elsewhere (XDG_RUNTIME_DIR or TMPDIR for the session lock, XDG_DATA_HOME for the token file)."
    )]
    Unsafe { path: PathBuf, problem: String },
    #[error("Cannot use {path}: {source}. Check that it is yours and that the disk is writable.")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl PrivateError {
    pub fn code(&self) -> &'static str {
        match self {
            PrivateError::Unsafe { .. } => "unsafe_path",
            PrivateError::Io { .. } => "private_file",
        }
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> PrivateError + '_ {
        move |source| PrivateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn unsafe_path(path: &Path, problem: impl Into<String>) -> PrivateError {
        PrivateError::Unsafe {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Who this process runs as, to name a per-user directory: the effective uid on Unix.
pub fn current_user() -> String {
    #[cfg(unix)]
    {
        nix::unistd::geteuid().as_raw().to_string()
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME")
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect()
    }
}

/// This user's own directory under a shared temporary directory, for when the environment
/// names no better place. The name is predictable, so [`PrivateDir::open`] checks whoever made it.
pub fn per_user(temp: &Path, user: &str) -> PathBuf {
    temp.join(format!("kinvex-{user}"))
}

/// A directory checked to be this user's alone.
#[derive(Clone, Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `path` (and any missing parents) 0700, or checks the one that is there.
    pub fn open(path: &Path) -> Result<PrivateDir, PrivateError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path).map_err(PrivateError::io(path))?;
        check_dir(path)?;
        Ok(PrivateDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `name` for reading and writing, creating it 0600 if missing, keeping its contents:
    /// the session lock.
    pub fn open_shared(&self, name: &str) -> Result<File, PrivateError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        self.open_with(name, options)
    }

    /// The contents of `name`, or `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<String>, PrivateError> {
        let mut options = OpenOptions::new();
        options.read(true);
        let mut file = match self.open_with(name, options) {
            Ok(file) => file,
            Err(PrivateError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(other) => return Err(other),
        };
        let mut text = String::new();
        io::Read::read_to_string(&mut file, &mut text)
            .map_err(PrivateError::io(&self.file(name)))?;
        Ok(Some(text))
    }

    /// Creates `name`, which must not exist yet (not even as a link), 0600 from the first moment.
    pub fn create_new(&self, name: &str) -> Result<File, PrivateError> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        self.open_with(name, options)
    }

    /// Replaces `name` with `contents` all at once: written to a new temporary file beside it,
    /// then renamed over it. A reader sees the old contents or the new, never part; a link at
    /// `name` is replaced, not followed.
    pub fn replace(&self, name: &str, contents: &[u8]) -> Result<(), PrivateError> {
        let (temporary, mut file) = self.temporary(name)?;
        let path = self.file(&temporary);
        let written = file
            .write_all(contents)
            .and_then(|()| std::fs::rename(&path, self.file(name)));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&path);
            return Err(PrivateError::Io { path, source });
        }
        Ok(())
    }

    /// A new temporary file for `name`, under a name no other write is using.
    fn temporary(&self, name: &str) -> Result<(String, File), PrivateError> {
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut attempt = 0;
        loop {
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let temporary = format!(".{name}.{}-{n}.tmp", std::process::id());
            match self.create_new(&temporary) {
                Ok(file) => return Ok((temporary, file)),
                // Left by a process with this pid that crashed: take the next name.
                Err(PrivateError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists && attempt < 16 =>
                {
                    attempt += 1;
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens `name` without following a link, 0600 when created, and checks what was opened.
    fn open_with(&self, name: &str, mut options: OpenOptions) -> Result<File, PrivateError> {
        let path = self.file(name);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits());
        }
        let file = match options.open(&path) {
            Ok(file) => file,
            Err(source) => {
                let is_link = std::fs::symlink_metadata(&path)
                    .is_ok_and(|meta| meta.file_type().is_symlink());
                return Err(if is_link {
                    PrivateError::unsafe_path(
                        &path,
                        "it is a symbolic link, which kinvex does not follow",
                    )
                } else {
                    PrivateError::Io { path, source }
                });
            }
        };
        check_file(&path, &file)?;
        Ok(file)
    }
}

/// Refuses a directory another user could take over; tightens one of ours to 0700.
///
/// Only a directory anyone may write to is refused: one its group may write to is what a
/// umask of 002 (user private groups, as on Ubuntu) gave an older kinvex, and whatever a group
/// member may have put in it is refused file by file ([`check_file`]).
#[cfg(unix)]
fn check_dir(path: &Path) -> Result<(), PrivateError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(path).map_err(PrivateError::io(path))?;
    if meta.file_type().is_symlink() {
        return Err(PrivateError::unsafe_path(path, "it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(PrivateError::unsafe_path(path, "it is not a directory"));
    }
    check_owner(path, meta.uid())?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(PrivateError::unsafe_path(
            path,
            format!("any user can change what is in it (mode {mode:04o})"),
        ));
    }
    if mode & 0o777 != 0o700 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(PrivateError::io(path))?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let meta = std::fs::metadata(parent).map_err(PrivateError::io(parent))?;
        let mode = meta.mode() & 0o7777;
        let me = nix::unistd::geteuid().as_raw();
        // Whoever may write to the parent may rename this directory away and put one of their
        // own in its place: the sticky bit (as on /tmp) stops that for anyone else's entries.
        let replaceable =
            (meta.uid() != me && meta.uid() != 0) || (mode & 0o002 != 0 && mode & 0o1000 == 0);
        if replaceable {
            return Err(PrivateError::unsafe_path(
                path,
                format!(
                    "another user can replace it, through {} (user {}, mode {mode:04o})",
                    parent.display(),
                    meta.uid()
                ),
            ));
        }
    }
    Ok(())
}

/// Per-user profile directories carry their own access rules on other systems.
#[cfg(not(unix))]
fn check_dir(path: &Path) -> Result<(), PrivateError> {
    let meta = std::fs::symlink_metadata(path).map_err(PrivateError::io(path))?;
    if !meta.is_dir() {
        return Err(PrivateError::unsafe_path(path, "it is not a directory"));
    }
    Ok(())
}

/// Refuses a file that is not a plain file of ours with this one name: a hard link to a file
/// elsewhere would be written through. Takes back any access others have.
#[cfg(unix)]
fn check_file(path: &Path, file: &File) -> Result<(), PrivateError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = file.metadata().map_err(PrivateError::io(path))?;
    if !meta.is_file() {
        return Err(PrivateError::unsafe_path(path, "it is not a regular file"));
    }
    check_owner(path, meta.uid())?;
    if meta.nlink() > 1 {
        return Err(PrivateError::unsafe_path(
            path,
            "it is also linked from elsewhere (a hard link)",
        ));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(PrivateError::io(path))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_file(path: &Path, file: &File) -> Result<(), PrivateError> {
    let meta = file.metadata().map_err(PrivateError::io(path))?;
    if !meta.is_file() {
        return Err(PrivateError::unsafe_path(path, "it is not a regular file"));
    }
    Ok(())
}

#[cfg(unix)]
fn check_owner(path: &Path, owner: u32) -> Result<(), PrivateError> {
    let me = nix::unistd::geteuid().as_raw();
    if owner != me {
        return Err(PrivateError::unsafe_path(
            path,
            format!("it belongs to user {owner}, not to you (user {me})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_user_directory_is_named_for_the_user_not_shared() {
        let temp = Path::new("/tmp");
        assert_eq!(per_user(temp, "1000"), Path::new("/tmp/kinvex-1000"));
        assert_ne!(per_user(temp, "1000"), per_user(temp, "1001"));
    }
}
