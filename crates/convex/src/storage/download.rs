//! A download: `files:url` for the file's URL, then a GET of it streamed into a partial file
//! next to the destination ([`super::partial`]), renamed onto the destination once whole.
//!
//! A file deleted elsewhere shows as `files:url` not finding it (the `files` document is gone),
//! answering `null` (its bytes are gone), or the GET answering 404; each is
//! [`ConvexError::FileGone`]. On Linux a blob deleted while its GET is under way is still served
//! whole from the open file, and the download completes.

pub use super::partial::Replace;
use super::partial::{Partial, write_error};
use super::progress::{Meter, Report};
use super::{Storage, bad_response, error_body, function_code};
use crate::{ConvexError, Kind};
use futures_util::StreamExt;
use kinvex_auth::Auth;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A file now on disk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Downloaded {
    pub destination: PathBuf,
    pub size: u64,
}

impl Storage {
    /// The URL of one of the person's files. Another person's, or one deleted, is
    /// [`ConvexError::FileGone`]: the backend tells the two apart to no one.
    pub async fn url(&self, auth: &Auth, id: &str) -> Result<String, ConvexError> {
        let value = self
            .client
            .call_as(auth, Kind::Query, "files:url", &json!({ "id": id }))
            .await
            .map_err(|e| match function_code(&e) {
                Some("NOT_FOUND") => ConvexError::FileGone,
                _ => e,
            })?;
        match value {
            Value::String(url) => Ok(url),
            Value::Null => Err(ConvexError::FileGone),
            _ => Err(bad_response("files:url did not return a URL")),
        }
    }

    /// Downloads the file `id` to `destination`.
    pub async fn download(
        &self,
        auth: &Auth,
        id: &str,
        destination: &Path,
        replace: Replace,
        progress: Report<'_>,
    ) -> Result<Downloaded, ConvexError> {
        refuse_existing(destination, replace)?;
        let url = self.url(auth, id).await?;
        self.download_from(&url, destination, replace, progress)
            .await
    }

    /// Downloads what `url` (a file's URL, from [`Storage::url`]) serves to `destination`.
    pub async fn download_from(
        &self,
        url: &str,
        destination: &Path,
        replace: Replace,
        progress: Report<'_>,
    ) -> Result<Downloaded, ConvexError> {
        refuse_existing(destination, replace)?;
        let interrupted = |e: &reqwest::Error| ConvexError::DownloadInterrupted {
            destination: destination.to_path_buf(),
            detail: kinvex_auth::http::describe(e),
        };
        let stalled = || ConvexError::Stalled {
            name: destination.display().to_string(),
            doing: "downloading",
            seconds: self.limits.stall.as_secs(),
        };
        let request = self.http.get(url).send();
        let response = tokio::time::timeout(self.limits.stall, request)
            .await
            .map_err(|_| stalled())?
            .map_err(|e| {
                if e.is_connect() {
                    ConvexError::Transport {
                        url: e
                            .url()
                            .map(|u| u.origin().ascii_serialization())
                            .unwrap_or_default(),
                        detail: kinvex_auth::http::describe(&e),
                    }
                } else {
                    interrupted(&e)
                }
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ConvexError::FileGone);
        }
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let (code, message) = error_body(&body);
            return Err(ConvexError::Http {
                status: status.as_u16(),
                code,
                message,
            });
        }
        let mut meter = Meter::new(self.clock.clone(), response.content_length());
        let mut partial = Partial::create(destination, &self.random).await?;
        meter.start(progress);
        let mut body = response.bytes_stream();
        let mut done = 0u64;
        loop {
            let next = tokio::time::timeout(self.limits.stall, body.next())
                .await
                .map_err(|_| stalled())?;
            match next {
                None => break,
                Some(Err(e)) => return Err(interrupted(&e)),
                Some(Ok(chunk)) => {
                    done += chunk.len() as u64;
                    partial.write(chunk).await?;
                    meter.report(done, progress);
                }
            }
        }
        partial.finish(replace).await?;
        meter.finish(done, progress);
        Ok(Downloaded {
            destination: destination.to_path_buf(),
            size: done,
        })
    }
}

/// A destination that must not be replaced and is already there, refused before any request.
fn refuse_existing(destination: &Path, replace: Replace) -> Result<(), ConvexError> {
    match (replace, std::fs::symlink_metadata(destination)) {
        (Replace::Never, Ok(_)) => Err(ConvexError::DestinationExists {
            destination: destination.to_path_buf(),
        }),
        (Replace::Allowed, Ok(metadata)) if metadata.is_dir() => Err(write_error(
            destination,
            &std::io::Error::other("it is a folder"),
        )),
        _ => Ok(()),
    }
}
