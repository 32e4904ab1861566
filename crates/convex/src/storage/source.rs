//! What an upload reads: a path checked, before any request, to be a regular file this process
//! may read, not empty and within the size limit; with the name and type the backend keeps.
//!
//! The checks are a `stat` and an `open` on the calling thread: quick, and the file they
//! opened is the one uploaded, so it cannot be swapped for another between check and upload.

use crate::ConvexError;
use std::fs::File;
use std::io::{ErrorKind, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A file ready to upload.
#[derive(Debug)]
pub(crate) struct Source {
    pub path: PathBuf,
    /// The file's own name, as `files:save` is given it.
    pub name: String,
    pub size: u64,
    pub content_type: String,
    file: File,
}

/// What a path that is not a regular file is, in words.
fn kind(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}

fn unreadable(path: &Path, error: &std::io::Error) -> ConvexError {
    let detail = match error.kind() {
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    };
    ConvexError::Unreadable {
        path: path.to_path_buf(),
        detail,
    }
}

/// The type a file of this name is served with: by its extension, as browsers and web servers
/// guess it, or `application/octet-stream`.
pub(crate) fn content_type(name: &str) -> String {
    mime_guess::from_path(name)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// Checks `path` (following a symbolic link to its file) and opens it.
pub(crate) fn check(path: &Path, limit: Option<u64>) -> Result<Source, ConvexError> {
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => ConvexError::NoSuchPath {
            path: path.to_path_buf(),
        },
        _ => unreadable(path, &e),
    })?;
    if !metadata.is_file() {
        return Err(ConvexError::NotAFile {
            path: path.to_path_buf(),
            kind: kind(&metadata),
        });
    }
    let file = File::open(path).map_err(|e| unreadable(path, &e))?;
    // The opened file's own size and type: the path may have changed since the `stat`.
    let metadata = file.metadata().map_err(|e| unreadable(path, &e))?;
    if !metadata.is_file() {
        return Err(ConvexError::NotAFile {
            path: path.to_path_buf(),
            kind: kind(&metadata),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned());
    let size = metadata.len();
    if size == 0 {
        return Err(ConvexError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    if let Some(limit) = limit
        && size > limit
    {
        return Err(ConvexError::TooLarge {
            name,
            size,
            limit: Some(limit),
        });
    }
    Ok(Source {
        path: path.to_path_buf(),
        content_type: content_type(&name),
        name,
        size,
        file,
    })
}

impl Source {
    /// The file from its start, for one attempt at the upload.
    pub(crate) fn reader(&self) -> Result<tokio::fs::File, ConvexError> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| unreadable(&self.path, &e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| unreadable(&self.path, &e))?;
        Ok(tokio::fs::File::from_std(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_follows_the_extension_or_is_bytes() {
        assert_eq!(content_type("report.pdf"), "application/pdf");
        assert_eq!(content_type("notes.TXT"), "text/plain");
        assert_eq!(content_type("photo.jpeg"), "image/jpeg");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
        assert_eq!(
            content_type("archive.unknown-ext"),
            "application/octet-stream"
        );
    }
}
