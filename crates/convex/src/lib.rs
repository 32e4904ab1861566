//! A Convex client over plain HTTP: `query`, `mutation` and `action` in Convex's wire format,
//! with errors that keep a function's own failure, a rejected sign-in and a transport failure
//! apart. Calls made as the signed-in person renew the session once and retry once when Convex
//! answers 401.
//!
//! What a person reads is the app's own words, chosen from a `ConvexError`'s `errorData.code`
//! and Convex's error codes: a deployment's `errorMessage` is `[Request ID: …] Server Error`
//! and more (get-convex/convex-backend, crates/application/src/redaction.rs), text meant for
//! its logs, not for the person.
//!
//! [`live`] keeps queries current over Convex's sync protocol instead.

pub mod data;
pub mod live;
pub mod storage;

use kinvex_auth::{Auth, AuthError, Secret};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Sent as `Convex-Client`, which Convex wants as `<name>-<semver>`.
const CLIENT_NAME: &str = concat!("kinvex-", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Query,
    Mutation,
    Action,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Query => "api/query",
            Kind::Mutation => "api/mutation",
            Kind::Action => "api/action",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvexError {
    /// The function ran and threw; `data` is the `ConvexError` payload, if any. `message` is
    /// the deployment's `errorMessage`, kept for a developer's debugging and never shown.
    #[error("{}", function_words(function, data.as_ref()))]
    Function {
        function: String,
        message: String,
        data: Option<Value>,
    },
    /// Convex answered 401 to a call made with `call`, which does not renew the session.
    #[error("The backend did not accept your sign-in ({code}). Sign in again.")]
    Unauthenticated { code: String, message: String },
    /// Convex still answered 401 after the session was renewed for the retry. After Kinde
    /// rotates its keys a real deployment keeps the old ones it cached until they expire, and
    /// renewing cannot help; the session is kept, and a later call works once it accepts again.
    #[error("{}", rejection_words(code))]
    RejectsToken { code: String, message: String },
    #[error("{}", http_words(*status, code))]
    Http {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Cannot reach the backend at {url}: {detail}. Check your connection and try again.")]
    Transport { url: String, detail: String },
    #[error(
        "CONVEX_URL is not set. Set it to your deployment, for example: CONVEX_URL=https://happy-animal-123.convex.cloud"
    )]
    NotConfigured,
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A call on the live connection got no answer in time. A mutation may still have run.
    #[error(
        "The backend did not answer `{function}` within {seconds} seconds; it may or may not have run. Check your connection, look at the result, and try again."
    )]
    Timeout { function: String, seconds: u64 },
    /// The live connection is paused: it has no token to send (`code` is the sign-in error's).
    #[error("Live updates are paused: {message}")]
    Paused { code: String, message: String },
    /// The live connection was closed (signed out) before or while the call ran.
    #[error("The live connection to the backend is closed (signed out). Sign in again.")]
    Closed,
    /// The live connection was replaced (renewed sign-in, paused) while `function` ran.
    #[error(
        "The connection to the backend was interrupted while `{function}` ran; it may or may not have run. Look at the result and try again."
    )]
    Interrupted { function: String },
    /// A function name or arguments that Convex's wire format cannot carry.
    #[error("Cannot call `{function}`: {detail}. This is a bug in Kinvex; report it.")]
    InvalidCall { function: String, detail: String },
    // File storage ([`storage`]). Refusals of a path come before any request is made.
    #[error("{} does not exist. Check the path and try again.", path.display())]
    NoSuchPath { path: PathBuf },
    #[error("{} is {kind}, not a file; nothing was uploaded. Give the path of a file (to upload a folder's files, name them).", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("Cannot read {}: {detail}. Check that you may read it, then try again.", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error("{} is empty (0 bytes), so there is nothing to upload; Kinvex does not store empty files. Add something to it, or leave it out.", path.display())]
    EmptyFile { path: PathBuf },
    /// Over the limit the client was told of (`limit`), or refused by the backend as too large.
    #[error("{}", too_large_words(name, *size, *limit))]
    TooLarge {
        name: String,
        size: u64,
        limit: Option<u64>,
    },
    #[error(
        "{name} changed while it was being uploaded; nothing was saved. Upload it again once it has stopped changing."
    )]
    FileChanged { name: String },
    #[error(
        "The connection dropped while {name} was being uploaded ({detail}); nothing was saved, and the backend cleans up the partial upload by itself. Check your connection and upload it again."
    )]
    UploadInterrupted { name: String, detail: String },
    /// The upload URL was refused as expired twice: once, and again with a fresh one.
    #[error(
        "The backend refused two upload URLs in a row as expired (an upload URL is valid for an hour); nothing was saved. Check that this computer's clock is right, then try again."
    )]
    UploadUrlExpired,
    /// A name `files:save` would refuse, found before anything was sent
    /// ([`storage::kept_name`]); `message` says why and what to do.
    #[error("{message}")]
    InvalidName { name: String, message: String },
    /// `files:save` refused the name; `message` is the backend's own words for why.
    #[error(
        "The backend refused the file's name: {message} Nothing was saved; the backend cleans up the upload by itself."
    )]
    NameRefused { name: String, message: String },
    #[error(
        "No data moved for {seconds} seconds while {doing} {name}, so Kinvex gave up; nothing was saved or overwritten. Check your connection and try again."
    )]
    Stalled {
        name: String,
        doing: &'static str,
        seconds: u64,
    },
    /// The file (or its bytes) was deleted, elsewhere, before or while it was downloaded.
    #[error("That file was deleted on another device; nothing was written. Refresh your files.")]
    FileGone,
    /// Not one of the person's files: never was, or already deleted.
    #[error(
        "You have no such file (it may have been deleted on another device). Refresh your files."
    )]
    NoSuchFile,
    #[error("The connection dropped while downloading to {} ({detail}); the partial download was removed and {} was left as it was. Check your connection and try again.", destination.display(), destination.display())]
    DownloadInterrupted {
        destination: PathBuf,
        detail: String,
    },
    #[error("The disk filled up while downloading to {}; the partial download was removed. Free some space (or choose another place) and try again.", destination.display())]
    DiskFull { destination: PathBuf },
    #[error("Cannot write {}: {detail}; nothing was left behind. Check that its folder exists and that you may write there.", destination.display())]
    WriteFailed {
        destination: PathBuf,
        detail: String,
    },
    /// A download asked not to replace an existing file found one there when it finished.
    #[error("{} already exists and was left as it was; the download was discarded. Choose another destination, or ask to replace it.", destination.display())]
    DestinationExists { destination: PathBuf },
}

impl ConvexError {
    /// A stable identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            ConvexError::Function { .. } => "function_error",
            ConvexError::Unauthenticated { .. } => "unauthenticated",
            ConvexError::RejectsToken { .. } => "convex_rejects_token",
            ConvexError::Http { .. } => "backend_error",
            ConvexError::Transport { .. } => "backend_unreachable",
            ConvexError::NotConfigured => "config",
            ConvexError::Auth(e) => e.code(),
            ConvexError::Timeout { .. } => "backend_timeout",
            ConvexError::Paused { .. } => "live_paused",
            ConvexError::Closed => "live_closed",
            ConvexError::Interrupted { .. } => "live_interrupted",
            ConvexError::InvalidCall { .. } => "invalid_call",
            ConvexError::NoSuchPath { .. } => "no_such_path",
            ConvexError::NotAFile { .. } => "not_a_file",
            ConvexError::Unreadable { .. } => "unreadable_file",
            ConvexError::EmptyFile { .. } => "empty_file",
            ConvexError::TooLarge { .. } => "file_too_large",
            ConvexError::FileChanged { .. } => "file_changed",
            ConvexError::UploadInterrupted { .. } => "upload_interrupted",
            ConvexError::UploadUrlExpired => "upload_url_expired",
            ConvexError::InvalidName { .. } | ConvexError::NameRefused { .. } => "invalid_name",
            ConvexError::Stalled { .. } => "transfer_stalled",
            ConvexError::FileGone => "file_gone",
            ConvexError::NoSuchFile => "no_such_file",
            ConvexError::DownloadInterrupted { .. } => "download_interrupted",
            ConvexError::DiskFull { .. } => "disk_full",
            ConvexError::WriteFailed { .. } => "write_failed",
            ConvexError::DestinationExists { .. } => "destination_exists",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: Url,
}

impl Client {
    /// Fails only if the environment's proxy settings or the TLS backend are unusable.
    pub fn new(url: Url) -> Result<Client, ConvexError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConvexError::Transport {
                url: url.to_string(),
                detail: format!("cannot set up HTTPS ({e})"),
            })?;
        Ok(Client { http, url })
    }

    /// The client for the deployment in the sign-in configuration. It shares the sign-in
    /// core's HTTP client (same rules: no redirects, bounded time): one connection pool, and
    /// the TLS set-up (loading the system's certificates) is paid once.
    pub fn for_auth(auth: &Auth) -> Result<Client, ConvexError> {
        Ok(Client {
            http: auth.http().reqwest().clone(),
            url: auth
                .config
                .convex_url
                .clone()
                .ok_or(ConvexError::NotConfigured)?,
        })
    }

    /// One call, as `token`'s owner or anonymously.
    pub async fn call(
        &self,
        kind: Kind,
        path: &str,
        args: &Value,
        token: Option<&Secret<String>>,
    ) -> Result<Value, ConvexError> {
        let url = self
            .url
            .join(kind.endpoint())
            .map_err(|e| ConvexError::Transport {
                url: self.url.to_string(),
                detail: e.to_string(),
            })?;
        let mut request = self
            .http
            .post(url.clone())
            .header("Convex-Client", CLIENT_NAME)
            .json(&json!({ "path": path, "args": args, "format": "json" }));
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        let transport = |e: reqwest::Error| ConvexError::Transport {
            url: self.url.to_string(),
            detail: kinvex_auth::http::describe(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return match body["status"].as_str() {
                Some("success") => Ok(body["value"].clone()),
                Some("error") => Err(ConvexError::Function {
                    function: path.to_string(),
                    message: body["errorMessage"]
                        .as_str()
                        .unwrap_or("the function failed")
                        .to_string(),
                    data: body.get("errorData").cloned(),
                }),
                _ => Err(ConvexError::Http {
                    status: status.as_u16(),
                    code: "BadResponse".into(),
                    message: "not a Convex response".into(),
                }),
            };
        }
        let code = body["code"].as_str().unwrap_or("").to_string();
        let message = body["message"].as_str().unwrap_or("").to_string();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            Err(ConvexError::Unauthenticated { code, message })
        } else {
            Err(ConvexError::Http {
                status: status.as_u16(),
                code,
                message,
            })
        }
    }

    /// A call as the signed-in person. A 401 renews the session once and retries once.
    pub async fn call_as(
        &self,
        auth: &Auth,
        kind: Kind,
        path: &str,
        args: &Value,
    ) -> Result<Value, ConvexError> {
        let token = auth.bearer().await?;
        match self.call(kind, path, args, Some(&token)).await {
            Err(ConvexError::Unauthenticated { .. }) => {
                let renewed = auth.bearer_after_rejection(&token).await?;
                match self.call(kind, path, args, Some(&renewed)).await {
                    Err(ConvexError::Unauthenticated { code, message }) => {
                        Err(ConvexError::RejectsToken { code, message })
                    }
                    other => other,
                }
            }
            other => other,
        }
    }
}

/// What to tell the person about a function that threw, from its `ConvexError` code (those
/// `convex/functions` throw) or, for any other failure, from nothing the server wrote.
fn function_words(function: &str, data: Option<&Value>) -> String {
    let code = data.and_then(|d| d["code"].as_str());
    match code {
        Some("UNAUTHENTICATED") => {
            "The backend did not see you as signed in. Sign in again, then try again.".into()
        }
        Some("NOT_FOUND") => {
            "That no longer exists (it may have been deleted elsewhere). Refresh and try again."
                .into()
        }
        Some(code) => format!(
            "The backend refused `{function}` ({code}). Try again; if it keeps failing, report this code."
        ),
        None => format!(
            "The backend failed to run `{function}`. Try again in a moment; if it keeps failing, check that the deployment runs this version of convex/ (npx convex deploy) and read its logs (npx convex logs)."
        ),
    }
}

/// A file over a size limit: the one the client knew, or the backend's (`None`: unstated).
fn too_large_words(name: &str, size: u64, limit: Option<u64>) -> String {
    match limit {
        Some(limit) => format!(
            "{name} is {size} bytes, more than the {limit} bytes the backend accepts; nothing was uploaded. Upload a smaller file."
        ),
        None => format!(
            "The backend refused {name} ({size} bytes) as too large; nothing was saved. Upload a smaller file."
        ),
    }
}

/// Why Convex still refuses a renewed token, from its error code.
fn rejection_words(code: &str) -> String {
    match code {
        "NoAuthProvider" => "Convex has no auth provider matching your session's token, so it refuses it; you are still signed in. Check convex/auth.config.ts against the deployment's environment: KINDE_ISSUER_URL must be your Kinde issuer exactly, and KINDE_CONVEX_APPLICATION_ID the audience of the token the app sends (`convex` with KINDE_AUDIENCE=convex, the client id without it).".into(),
        _ => format!(
            "Convex does not accept your session's token yet ({}); you are still signed in. Right after Kinde rotates its signing keys, a deployment keeps the keys it cached for a while: try again in a few minutes. If it persists, check convex/auth.config.ts and the deployment's KINDE_ISSUER_URL and KINDE_CONVEX_APPLICATION_ID.",
            if code.is_empty() { "401" } else { code }
        ),
    }
}

/// An HTTP error's words, from its status and Convex's error code.
fn http_words(status: u16, code: &str) -> String {
    let code = if code.is_empty() { "no code" } else { code };
    match status {
        429 => format!("The backend is busy ({code}). Try again in a moment."),
        500..=599 => {
            format!("The backend is unavailable (HTTP {status}, {code}). Try again in a moment.")
        }
        _ => format!(
            "The backend refused the request (HTTP {status}, {code}). Check that CONVEX_URL is your deployment and that it runs this version of convex/; if it keeps failing, report this code."
        ),
    }
}
