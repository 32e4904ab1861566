//! An upload: `files:generateUploadUrl`, a POST of the file's bytes (streamed, with its
//! `Content-Type` and `Content-Length`) to the URL it returns, which answers `{"storageId"}`,
//! then `files:save({storageId, name})`, which answers the new file's id.
//!
//! An upload URL is good for an hour from when it was made (get-convex/convex-backend
//! crates/local_backend/src/storage.rs). One refused as expired, which only a clock far off or a
//! very long wait can cause, is replaced by a fresh one and the file sent again, once; a second
//! refusal is [`ConvexError::UploadUrlExpired`].
//!
//! A name `files:save` would refuse is refused before any request ([`super::name`]), so no bytes
//! are sent for a file that could never be saved.
//!
//! Nothing half-done is recorded: a file is saved only after its bytes were stored whole. Bytes
//! stored but never saved (the connection dropped after the POST, a name the backend refused
//! after all) are deleted by the backend's hourly sweep of unsaved uploads.

use super::progress::{Meter, Report};
use super::source::{self, Source};
use super::{Storage, bad_response, error_body, function_code, function_message, kept_name};
use crate::{ConvexError, Kind};
use futures_util::Stream;
use kinvex_auth::Auth;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio::time::Instant;
use tokio_util::io::ReaderStream;

/// The size of the reads the body is made of.
const CHUNK: usize = 256 * 1024;
/// How often an upload's progress is reported and its stall checked.
const TICK: Duration = Duration::from_millis(100);

/// A file the backend now holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Uploaded {
    /// The `files` document's id.
    pub id: String,
    pub storage_id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

/// Why the body stopped before the server answered, when it was this side's doing.
#[derive(Debug)]
enum BodyFailure {
    Read(std::io::Error),
    /// More or fewer bytes than the size announced.
    Changed,
}

/// A reader as a body stream, counting what it hands over and failing on a size that changed.
struct Counted<R> {
    inner: ReaderStream<R>,
    size: u64,
    sent: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<BodyFailure>>>,
}

impl<R> Counted<R> {
    fn fail(&self, failure: BodyFailure) -> std::io::Error {
        let error = std::io::Error::other(match &failure {
            BodyFailure::Read(e) => e.to_string(),
            BodyFailure::Changed => "the file changed size while it was read".into(),
        });
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
        error
    }
}

impl<R: AsyncRead + Unpin> Stream for Counted<R> {
    type Item = std::io::Result<tokio_util::bytes::Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let sent =
                    self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                if sent > self.size {
                    return Poll::Ready(Some(Err(self.fail(BodyFailure::Changed))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(self.fail(BodyFailure::Read(e))))),
            Poll::Ready(None) if self.sent.load(Ordering::Relaxed) < self.size => {
                Poll::Ready(Some(Err(self.fail(BodyFailure::Changed))))
            }
            other => other,
        }
    }
}

/// How one POST ended, when it did not store the bytes.
enum Refused {
    Expired,
    Failed(ConvexError),
}

impl From<ConvexError> for Refused {
    fn from(e: ConvexError) -> Refused {
        Refused::Failed(e)
    }
}

impl Storage {
    /// Uploads the file at `path` and saves it under its own name. The path is checked first
    /// (a regular file, readable, not empty, within [`super::Limits::upload`], a name the
    /// backend keeps); nothing is sent for one that fails.
    pub async fn upload(
        &self,
        auth: &Auth,
        path: &Path,
        progress: Report<'_>,
    ) -> Result<Uploaded, ConvexError> {
        let source = source::check(path, self.limits.upload)?;
        let Source {
            name,
            size,
            content_type,
            ..
        } = &source;
        self.upload_from(
            auth,
            name,
            content_type,
            *size,
            || source.reader(),
            progress,
        )
        .await
    }

    /// Uploads `size` bytes read from what `open` gives (called again, for a fresh reader from
    /// the start, if the upload URL has to be replaced) and saves them as `name`, trimmed as the
    /// backend keeps it. A name it would refuse is [`ConvexError::InvalidName`], before any
    /// request.
    pub async fn upload_from<R>(
        &self,
        auth: &Auth,
        name: &str,
        content_type: &str,
        size: u64,
        mut open: impl FnMut() -> Result<R, ConvexError> + Send,
        progress: Report<'_>,
    ) -> Result<Uploaded, ConvexError>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let name = kept_name(name)?;
        if size == 0 {
            return Err(ConvexError::EmptyFile { path: name.into() });
        }
        let mut meter = Meter::new(self.clock.clone(), Some(size));
        let mut expired = false;
        let storage_id = loop {
            let url = self.upload_url(auth).await?;
            // Reported before any byte moves: a restart after an expired URL starts from 0.
            meter.start(progress);
            let reader = open()?;
            match self
                .post(&url, name, content_type, size, reader, &mut meter, progress)
                .await
            {
                Ok(id) => break id,
                Err(Refused::Expired) if !expired => expired = true,
                Err(Refused::Expired) => return Err(ConvexError::UploadUrlExpired),
                Err(Refused::Failed(e)) => return Err(e),
            }
        };
        meter.finish(size, progress);
        let args = json!({ "storageId": storage_id, "name": name });
        let id = self
            .client
            .call_as(auth, Kind::Mutation, "files:save", &args)
            .await
            .map_err(|e| match (function_code(&e), function_message(&e)) {
                (Some("INVALID_NAME"), Some(message)) => ConvexError::NameRefused {
                    name: name.to_string(),
                    message: message.to_string(),
                },
                _ => e,
            })?;
        let id = id
            .as_str()
            .ok_or_else(|| bad_response("files:save did not return an id"))?;
        Ok(Uploaded {
            id: id.to_string(),
            storage_id,
            name: name.to_string(),
            size,
            content_type: content_type.to_string(),
        })
    }

    /// A fresh upload URL from `files:generateUploadUrl`.
    async fn upload_url(&self, auth: &Auth) -> Result<url::Url, ConvexError> {
        let value = self
            .client
            .call_as(auth, Kind::Mutation, "files:generateUploadUrl", &json!({}))
            .await?;
        value
            .as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .ok_or_else(|| bad_response("files:generateUploadUrl did not return a URL"))
    }

    /// One POST of the bytes; the storage id it answers.
    #[allow(clippy::too_many_arguments)]
    async fn post<R>(
        &self,
        url: &url::Url,
        name: &str,
        content_type: &str,
        size: u64,
        reader: R,
        meter: &mut Meter,
        progress: Report<'_>,
    ) -> Result<String, Refused>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let sent = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let body = Counted {
            inner: ReaderStream::with_capacity(reader, CHUNK),
            size,
            sent: sent.clone(),
            failure: failure.clone(),
        };
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body))
            .send();
        tokio::pin!(request);
        let mut ticker = tokio::time::interval(TICK);
        let (mut moved, mut moved_at) = (0, Instant::now());
        let answer = loop {
            tokio::select! {
                answer = &mut request => break answer,
                _ = ticker.tick() => {
                    let now = sent.load(Ordering::Relaxed).min(size);
                    meter.report(now, progress);
                    if now != moved {
                        (moved, moved_at) = (now, Instant::now());
                    } else if moved_at.elapsed() >= self.limits.stall {
                        return Err(Refused::Failed(ConvexError::Stalled {
                            name: name.to_string(),
                            doing: "uploading",
                            seconds: self.limits.stall.as_secs(),
                        }));
                    }
                }
            }
        };
        let failed = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        let response = match (answer, failed) {
            (Ok(response), _) => response,
            (Err(_), Some(BodyFailure::Read(e))) => {
                return Err(Refused::Failed(ConvexError::Unreadable {
                    path: name.into(),
                    detail: format!("{e}; nothing was saved"),
                }));
            }
            (Err(_), Some(BodyFailure::Changed)) => {
                return Err(Refused::Failed(ConvexError::FileChanged {
                    name: name.to_string(),
                }));
            }
            (Err(e), None) if e.is_connect() => {
                return Err(Refused::Failed(ConvexError::Transport {
                    url: origin(url),
                    detail: kinvex_auth::http::describe(&e),
                }));
            }
            (Err(e), None) => {
                return Err(Refused::Failed(ConvexError::UploadInterrupted {
                    name: name.to_string(),
                    detail: kinvex_auth::http::describe(&e),
                }));
            }
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return body["storageId"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| Refused::Failed(bad_response("the upload answered no storageId")));
        }
        let (code, message) = error_body(&body);
        Err(match (status.as_u16(), code.as_str()) {
            (401, "StorageTokenExpired") => Refused::Expired,
            (413, _) => Refused::Failed(ConvexError::TooLarge {
                name: name.to_string(),
                size,
                limit: None,
            }),
            (status, _) => Refused::Failed(ConvexError::Http {
                status,
                code,
                message,
            }),
        })
    }
}

/// The scheme, host and port of `url`: an upload URL's token is never repeated in an error.
fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}
