//! File storage's HTTP routes on the deployment's origin, as a Convex deployment serves them
//! (get-convex/convex-backend crates/local_backend/src/storage.rs, routed by
//! crates/local_backend/src/router.rs `storage_api_routes` under `/api/storage`):
//!
//! - `POST /api/storage/upload?token=…`: the raw bytes of one file, typed by `Content-Type`
//!   (optional; kept as the blob's `contentType`) and optionally checked against
//!   `Digest: sha-256=<base64>`. Answers `200 {"storageId": "<_storage id>"}`. An empty body is a
//!   0-byte blob, as on a deployment. A missing `token` is `400 BadQueryArgs`; a token that does
//!   not verify `401 StorageTokenInvalid`; one issued an hour or more ago `401
//!   StorageTokenExpired`; a bad `Content-Type`, `Content-Length` or `Digest` header `400
//!   BadHeader`; a body whose digest differs `400 Sha256Mismatch`.
//! - `GET /api/storage/{uuid}`: the blob, streamed, with `Content-Type` (when it has one),
//!   `Content-Length`, `Cache-Control: private, max-age=2592000` and `Accept-Ranges: bytes`; the
//!   whole blob also carries `Digest: sha-256=<base64>`. One byte range (`Range: bytes=a-b`)
//!   answers `206` with `Content-Range`; several, or none satisfiable, `416` with an empty body;
//!   a `Range` header that does not parse is ignored (`200`). A path that is not a UUID is `400
//!   InvalidStoragePath`; a blob that is not there (never was, or deleted) `404 FileNotFound`.
//! - Any other method on these paths: axum's `405` with `Allow`, as on a deployment (the same
//!   router crate). `GET /api/storage/upload` is such a `405`.
//!
//! Upload URLs carry no size limit on Convex (only HTTP actions have one, 20 MiB; the docs give
//! upload URLs none). [`crate::Config::storage_upload_limit`] sets one for tests; a body over it
//! is refused `413 PayloadTooLarge` and leaves nothing behind.
//!
//! Differences a client cannot rely on either way: a deployment reads `Range` against an
//! unbounded length (so a suffix range misbehaves there); this one reads it against the blob's
//! size. Upload URLs are signed with a key kept in the storage directory (an in-memory stack's
//! die with it).
//!
//! Unsaved uploads: Convex never deletes a blob by itself; the project's cron
//! (`convex/functions/crons.ts`) runs `files:cleanUnsaved` every hour, deleting blobs older than
//! [`UNSAVED_TTL`] that no file refers to. The stack runs the same sweep on its own clock
//! ([`crate::Config::clock`]): whenever a storage route or a function is called and an hour has
//! passed since the last run, so a test moves a `ManualClock` instead of waiting.
//!
//! For tests of Cancel, [`crate::Running::hold_uploads`] holds uploads part-way: while a
//! [`HeldUploads`] is alive, each upload stops reading its body after a chunk until it is
//! dropped. No hold is taken unless a test takes one.

use super::{Refusal, admit};
use crate::State;
use crate::store::storage::NewBlob;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use headers::HeaderMapExt;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use super::upload_token::{self, TokenError};

/// Storage GETs are immutable, so browsers may keep them for 30 days (Convex's `MAX_CACHE_AGE`).
const CACHE_CONTROL: &str = "private, max-age=2592000";
/// How often the unsaved-upload sweep runs (the project's cron interval).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
/// How old an unsaved upload must be before the sweep deletes it: twice the upload URL's hour,
/// so an upload finished at the URL's last moment still has an hour to be saved.
pub const UNSAVED_TTL: Duration = Duration::from_secs(2 * 3600);
/// The size of the reads a GET streams the blob in.
const READ_CHUNK: usize = 64 * 1024;

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/api/storage/upload", post(upload))
        .route("/api/storage/{storage_id}", get(serve))
}

/// The upload URL `ctx.storage.generateUploadUrl()` returns now.
pub fn upload_url(state: &State) -> String {
    let key = state.store.storage().blobs().url_key();
    let token = upload_token::issue(key, state.clock.unix().max(0) as u64);
    format!("{}/api/storage/upload?token={token}", state.api_url)
}

/// `ctx.storage.getUrl()`'s URL of the blob `uuid`.
pub fn blob_url(state: &State, uuid: &str) -> String {
    format!("{}/api/storage/{uuid}", state.api_url)
}

/// Runs the unsaved-upload sweep now: deletes blobs older than [`UNSAVED_TTL`] that no file
/// refers to; returns how many.
pub fn sweep(state: &State) -> crate::store::Result<usize> {
    let before = state.clock.unix_ms() - UNSAVED_TTL.as_millis() as f64;
    state.store.storage().sweep_unsaved(before)
}

/// The cron: [`sweep`] when an hour of the stack's clock has passed since it last ran.
pub fn sweep_if_due(state: &State) -> crate::store::Result<()> {
    let due = state
        .store
        .storage()
        .blobs()
        .sweep_due(state.clock.unix_ms(), SWEEP_INTERVAL.as_millis() as f64);
    if due {
        sweep(state)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct UploadQuery {
    token: String,
}

fn bad_header(name: &str) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "BadHeader",
        &format!("Bad header for {name}: invalid HTTP header ({name})"),
    )
}

fn internal() -> Refusal {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "Your request couldn't be completed. Try again later.",
    )
}

fn too_large(limit: u64) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        &format!(
            "The file is larger than this deployment accepts ({limit} bytes). Upload a smaller file."
        ),
    )
}

/// The request's `Content-Type`, as the blob keeps it; a value that is not a media type is
/// refused.
fn content_type(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| Some(m.to_string()))
        .ok_or_else(|| bad_header("content-type"))
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Refusal> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| bad_header("content-length"))
}

/// `Digest: sha-256=<base64>`, the digest the body must have.
fn expected_digest(headers: &HeaderMap) -> Result<Option<[u8; 32]>, Refusal> {
    let Some(value) = headers.get("digest") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("sha-256="))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| bad_header("digest"))
}

/// `POST /api/storage/upload?token=…`.
async fn upload(
    Shared(state): Shared<Arc<State>>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let Query(UploadQuery { token }) = query.map_err(|rejection| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "BadQueryArgs",
                &rejection.body_text(),
            )
        })?;
        sweep_if_due(&state).map_err(|_| internal())?;
        let storage = state.store.storage();
        let now_s = state.clock.unix().max(0) as u64;
        upload_token::check(storage.blobs().url_key(), &token, now_s).map_err(|e| match e {
            TokenError::Invalid => Refusal::new(
                StatusCode::UNAUTHORIZED,
                "StorageTokenInvalid",
                "Couldn't decode the StoreFileAuthorization token",
            ),
            TokenError::Expired => Refusal::new(
                StatusCode::UNAUTHORIZED,
                "StorageTokenExpired",
                "Store File Authorization expired",
            ),
        })?;
        let length = content_length(&headers)?;
        let content_type = content_type(&headers)?;
        let expected = expected_digest(&headers)?;
        let limit = state.config.storage_upload_limit;
        if let (Some(limit), Some(length)) = (limit, length)
            && length > limit
        {
            return Err(too_large(limit));
        }
        // Dropped on any early return (a refusal, or the client going away and the request
        // being cancelled), which removes the temp file.
        let mut blob = storage.begin_upload().map_err(|_| internal())?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| internal())?;
            size += chunk.len() as u64;
            if let Some(limit) = limit
                && size > limit
            {
                return Err(too_large(limit));
            }
            hasher.update(&chunk);
            blob.write(&chunk).await.map_err(|_| internal())?;
            state.upload_hold.pass().await;
        }
        blob.finish().await.map_err(|_| internal())?;
        let digest: [u8; 32] = hasher.finalize().into();
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "Sha256Mismatch",
                &format!(
                    "Sha256 mismatch. Expected: {} Actual: {}",
                    STANDARD.encode(expected),
                    STANDARD.encode(digest)
                ),
            ));
        }
        let new = NewBlob {
            content_type,
            sha256: STANDARD.encode(digest),
            size,
        };
        let doc = storage
            .commit_upload(blob, &new, state.clock.unix_ms())
            .map_err(|_| internal())?;
        Ok::<_, Refusal>(Json(json!({ "storageId": doc.id })).into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// The test control behind [`crate::Running::hold_uploads`]: how many holds are taken, and how
/// many uploads wait at them. Uploads pass straight through while no hold is taken.
pub struct UploadHold {
    holds: watch::Sender<usize>,
    waiting: watch::Sender<usize>,
}

impl Default for UploadHold {
    fn default() -> UploadHold {
        UploadHold {
            holds: watch::Sender::new(0),
            waiting: watch::Sender::new(0),
        }
    }
}

impl UploadHold {
    /// Returns at once unless a hold is taken; then waits, counted as waiting, until every hold
    /// is released (or the request is dropped).
    async fn pass(&self) {
        let mut holds = self.holds.subscribe();
        if *holds.borrow_and_update() == 0 {
            return;
        }
        self.waiting.send_modify(|n| *n += 1);
        let _waiting = Waiting(&self.waiting);
        let _ = holds.wait_for(|n| *n == 0).await;
    }
}

/// One upload waiting at the hold; it stops counting when it moves on or is dropped.
struct Waiting<'a>(&'a watch::Sender<usize>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A hold on the stack's uploads (see [`crate::Running::hold_uploads`]); dropping it releases
/// them.
pub struct HeldUploads {
    state: Arc<State>,
}

impl HeldUploads {
    pub(crate) fn new(state: Arc<State>) -> HeldUploads {
        state.upload_hold.holds.send_modify(|n| *n += 1);
        HeldUploads { state }
    }

    /// Waits until `count` uploads have stopped at the hold.
    pub async fn until_waiting(&self, count: usize) {
        let mut waiting = self.state.upload_hold.waiting.subscribe();
        let _ = waiting.wait_for(|n| *n >= count).await;
    }
}

impl Drop for HeldUploads {
    fn drop(&mut self) {
        self.state
            .upload_hold
            .holds
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// `GET /api/storage/{uuid}`.
async fn serve(
    Shared(state): Shared<Arc<State>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        admit(&state, &headers).await?;
        let Ok(parsed) = uuid::Uuid::parse_str(&uuid) else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidStoragePath",
                &format!(
                    "Invalid storage path: \"{uuid}\". Please use `storage.getUrl(storageId: Id<\"_storage\">)` to generate a valid URL to retrieve files. See https://docs.convex.dev/file-storage/serve-files for more details"
                ),
            ));
        };
        sweep_if_due(&state).map_err(|_| internal())?;
        let key = parsed.hyphenated().to_string();
        let not_found = || {
            Refusal::new(
                StatusCode::NOT_FOUND,
                "FileNotFound",
                &format!("File {key} not found"),
            )
        };
        let storage = state.store.storage();
        let doc = storage
            .by_uuid(&key)
            .map_err(|_| internal())?
            .ok_or_else(not_found)?;
        let mut file = tokio::fs::File::open(storage.blobs().path(&key))
            .await
            .map_err(|_| not_found())?;
        let size = doc.size as u64;
        let mut response = Response::builder();
        if let Some(content_type) = doc
            .content_type
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            response = response.header(header::CONTENT_TYPE, content_type);
        }
        response = response
            .header(header::CACHE_CONTROL, CACHE_CONTROL)
            .header(header::ACCEPT_RANGES, "bytes");
        let (status, start, length) = match headers.typed_get::<headers::Range>() {
            Some(range) if size > 0 => {
                let ranges: Vec<_> = range.satisfiable_ranges(size).collect();
                let [(from, to)] = ranges.as_slice() else {
                    return Ok(StatusCode::RANGE_NOT_SATISFIABLE.into_response());
                };
                let Some((start, end)) = bounds(*from, *to, size) else {
                    return Ok(StatusCode::RANGE_NOT_SATISFIABLE.into_response());
                };
                response =
                    response.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            Some(_) => (StatusCode::OK, 0, 0),
            None => {
                response = response.header("digest", format!("sha-256={}", doc.sha256));
                (StatusCode::OK, 0, size)
            }
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|_| internal())?;
        }
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_CHUNK);
        response
            .status(status)
            .header(header::CONTENT_LENGTH, length)
            .body(Body::from_stream(stream))
            .map_err(|_| internal())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A satisfiable range's first and last byte.
fn bounds(from: Bound<u64>, to: Bound<u64>, size: u64) -> Option<(u64, u64)> {
    let start = match from {
        Bound::Included(n) => n,
        Bound::Excluded(n) => n.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match to {
        Bound::Included(n) => n.min(size - 1),
        Bound::Excluded(n) => n.checked_sub(1)?.min(size - 1),
        Bound::Unbounded => size - 1,
    };
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_to_the_blob() {
        assert_eq!(
            bounds(Bound::Included(0), Bound::Included(9), 100),
            Some((0, 9))
        );
        assert_eq!(
            bounds(Bound::Included(90), Bound::Included(500), 100),
            Some((90, 99))
        );
        assert_eq!(
            bounds(Bound::Included(10), Bound::Unbounded, 100),
            Some((10, 99))
        );
        assert_eq!(bounds(Bound::Included(5), Bound::Included(4), 100), None);
    }
}
