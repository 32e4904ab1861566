//! Convex file storage as the app uses it: [`Storage::upload`] a file (`files:generateUploadUrl`,
//! a POST of its bytes to that URL, `files:save`), [`Storage::download`] one (`files:url`, a GET
//! of that URL into a file next to the destination, renamed onto it once complete) and
//! [`Storage::remove`] one. Bytes are streamed both ways, never held in memory, and reported as
//! [`Progress`].
//!
//! The upload URL and the file's URL are whatever the functions return, absolute, as a Convex
//! deployment gives them (`ctx.storage.generateUploadUrl()`, `ctx.storage.getUrl()`; served by
//! get-convex/convex-backend crates/local_backend/src/storage.rs). Neither carries the person's
//! token: each is its own authorisation.
//!
//! Time (the rate), the HTTP client of transfers and the randomness of temporary names are
//! passed in, so tests move time, cut connections and choose names.

mod download;
mod name;
mod partial;
mod progress;
mod source;
mod upload;

pub use download::{Downloaded, Replace};
pub use name::{MAX_NAME_CHARS, kept_name};
pub use progress::{Progress, Report};
pub use upload::Uploaded;

use crate::{Client, ConvexError, Kind};
use kinvex_auth::Auth;
use kinvex_clock::SharedClock;
use serde_json::{Value, json};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where temporary names come from: a new number each call.
pub type Random = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Numbers no other process will guess, from the standard library's per-process random keys
/// and a counter: enough for a temporary file's name, which is also created exclusively.
pub fn system_random() -> Random {
    let keys = std::collections::hash_map::RandomState::new();
    let counter = AtomicU64::new(0);
    Arc::new(move || {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(counter.fetch_add(1, Ordering::Relaxed));
        hasher.finish()
    })
}

/// How long a transfer may take, and how large a file may be.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// A transfer gives up when no byte has moved for this long. There is no bound on a whole
    /// transfer: a large file on a slow line takes as long as it takes.
    pub stall: Duration,
    /// The largest file the deployment accepts, when it is known: a larger one is refused before
    /// any request. Convex's upload URLs state none, so by default there is none.
    pub upload: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            stall: Duration::from_secs(30),
            upload: None,
        }
    }
}

/// How long making a connection for a transfer may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// File storage on one deployment.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    http: reqwest::Client,
    clock: SharedClock,
    random: Random,
    limits: Limits,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("client", &self.client)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Function calls go through `client`; the bytes through `http`, which should bound the
    /// time to connect and nothing else (see [`transfer_client`]).
    pub fn new(
        client: Client,
        http: reqwest::Client,
        clock: SharedClock,
        random: Random,
    ) -> Storage {
        Storage {
            client,
            http,
            clock,
            random,
            limits: Limits::default(),
        }
    }

    /// For the deployment and clock of the sign-in, with [`transfer_client`] and
    /// [`system_random`].
    pub fn for_auth(auth: &Auth) -> Result<Storage, ConvexError> {
        let client = Client::for_auth(auth)?;
        let http = transfer_client().map_err(|detail| ConvexError::Transport {
            url: auth
                .config
                .convex_url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            detail,
        })?;
        Ok(Storage::new(client, http, auth.clock(), system_random()))
    }

    pub fn with_limits(mut self, limits: Limits) -> Storage {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Deletes one of the person's files and its bytes. One that is not theirs, or is already
    /// gone, is [`ConvexError::NoSuchFile`].
    pub async fn remove(&self, auth: &Auth, id: &str) -> Result<(), ConvexError> {
        self.client
            .call_as(auth, Kind::Mutation, "files:remove", &json!({ "id": id }))
            .await
            .map(drop)
            .map_err(|e| match function_code(&e) {
                Some("NOT_FOUND") => ConvexError::NoSuchFile,
                _ => e,
            })
    }
}

/// The HTTP client for transfers: a bounded time to connect, then no bound but the stall one
/// ([`Limits::stall`]); no redirects, as for every other call.
pub fn transfer_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("kinvex/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up HTTPS ({e})"))
}

/// The `ConvexError` code a function threw, if it threw one.
fn function_code(error: &ConvexError) -> Option<&str> {
    match error {
        ConvexError::Function {
            data: Some(data), ..
        } => data["code"].as_str(),
        _ => None,
    }
}

/// The `message` of the `ConvexError` a function threw.
fn function_message(error: &ConvexError) -> Option<&str> {
    match error {
        ConvexError::Function {
            data: Some(data), ..
        } => data["message"].as_str(),
        _ => None,
    }
}

/// An answer that is not what a Convex deployment gives.
fn bad_response(what: &str) -> ConvexError {
    ConvexError::Http {
        status: 200,
        code: "BadResponse".into(),
        message: what.into(),
    }
}

/// The JSON error body of a storage route (`{"code", "message"}`), if it has one.
fn error_body(body: &Value) -> (String, String) {
    (
        body["code"].as_str().unwrap_or("").to_string(),
        body["message"].as_str().unwrap_or("").to_string(),
    )
}
