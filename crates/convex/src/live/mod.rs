//! Live queries: results that stay current over Convex's WebSocket sync protocol, on the
//! official `convex` crate (get-convex/convex-rs), with what it leaves to its caller covered:
//! - the token: sent before the socket's first query and renewed on the same socket before
//!   `exp` (the crate renews only when it reconnects); no token → no socket
//!   ([`Connection::Paused`]), never queries run anonymously; renewed once on a rejection
//!   (see `token`);
//! - the connection's state, which the crate does not expose as such ([`Connection`]);
//! - bounded calls: a mutation fails with [`ConvexError::Timeout`] instead of waiting forever;
//! - results as plain JSON, only when they change.
//!
//! One [`Live`] per signed-in session: a background worker owns the socket and everything
//! above; the handle only sends it requests.

mod connection;
mod socket;
mod token;
mod value;
mod worker;

pub use connection::Connection;

use crate::ConvexError;
use convex::FunctionResult;
use kinvex_auth::Auth;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use url::Url;

type Outcome = Result<serde_json::Value, ConvexError>;

/// How long things may take.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long a call waits for its answer: as long as an HTTP call may take.
    pub call_timeout: Duration,
    /// How long the socket may stay down before the connection counts as offline. The crate
    /// retries after 0.1, 0.2, 0.4 … s: a backend restart or a network blip is over in a few
    /// seconds and is only "reconnecting"; after 10 s the person should know they see data
    /// that may be stale.
    pub offline_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            call_timeout: Duration::from_secs(30),
            offline_after: Duration::from_secs(10),
        }
    }
}

/// A cheap handle on the session's live connection; copies share it.
#[derive(Clone)]
pub struct Live {
    commands: mpsc::UnboundedSender<Command>,
    connection: watch::Receiver<Connection>,
    options: Options,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("connection", &*self.connection.borrow())
            .finish()
    }
}

/// Every new result of one live query.
#[derive(Debug)]
pub struct Subscription {
    results: mpsc::UnboundedReceiver<Outcome>,
}

impl Subscription {
    /// The next result that differs from the last one; `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<Result<serde_json::Value, ConvexError>> {
        self.results.recv().await
    }
}

/// A subscription as the worker keeps it across sockets.
struct Registered {
    path: String,
    args: BTreeMap<String, convex::Value>,
    /// The same arguments as the app gave them, for the HTTP call that checks a token.
    json_args: serde_json::Value,
    sink: mpsc::UnboundedSender<Outcome>,
    /// The last result handed out: the crate repeats a query's result with every Transition,
    /// and a new socket sends them all again.
    last: Mutex<Option<FunctionResult>>,
}

impl Registered {
    fn deliver(&self, result: FunctionResult) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.as_ref() == Some(&result) {
            return;
        }
        *last = Some(result.clone());
        let _ = self.sink.send(value::outcome(&self.path, result));
    }
}

enum Command {
    Subscribe(Arc<Registered>),
    Mutation {
        path: String,
        args: BTreeMap<String, convex::Value>,
        reply: oneshot::Sender<Outcome>,
    },
    Close(oneshot::Sender<()>),
}

impl Live {
    /// Starts connecting in the background with tokens from `auth`; returns at once. Call it
    /// inside a Tokio runtime.
    pub fn connect(auth: Arc<Auth>, deployment: &Url) -> Live {
        Live::connect_with(auth, deployment, Options::default())
    }

    /// [`Live::connect`] with other bounds.
    pub fn connect_with(auth: Arc<Auth>, deployment: &Url, options: Options) -> Live {
        let (commands, requests) = mpsc::unbounded_channel();
        let now_ms = (auth.clock().unix_ms()) as i64;
        let (state, connection) = watch::channel(Connection::Connecting);
        tokio::spawn(worker::run(worker::Worker::new(
            auth,
            deployment.clone(),
            options.clone(),
            requests,
            state,
            now_ms,
        )));
        Live {
            commands,
            connection,
            options,
        }
    }

    pub fn connection(&self) -> watch::Receiver<Connection> {
        self.connection.clone()
    }

    /// A live query: every new result of `path(args)` as it changes (the first one as soon as
    /// it is known). It waits out reconnections and pauses; it ends when the connection closes.
    pub async fn subscribe(
        &self,
        path: &str,
        args: serde_json::Value,
    ) -> Result<Subscription, ConvexError> {
        let json_args = args.clone();
        let args = value::args(path, args)?;
        let (sink, results) = mpsc::unbounded_channel();
        let registered = Arc::new(Registered {
            path: path.to_string(),
            args,
            json_args,
            sink,
            last: Mutex::new(None),
        });
        self.commands
            .send(Command::Subscribe(registered))
            .map_err(|_| ConvexError::Closed)?;
        Ok(Subscription { results })
    }

    /// A mutation over the socket, as the signed-in person, answered within
    /// [`Options::call_timeout`]. While paused it fails at once with [`ConvexError::Paused`].
    ///
    /// Only for mutations that may run twice: when the socket drops before the Transition that
    /// confirms one, the `convex` crate sends it again on the next socket under a new session
    /// id, so the deployment cannot tell it is the same call and runs it again. Anything that
    /// inserts or deletes goes over HTTP ([`crate::Client`]), where a failure is reported.
    pub async fn mutation(
        &self,
        path: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, ConvexError> {
        let args = value::args(path, args)?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Mutation {
                path: path.to_string(),
                args,
                reply,
            })
            .map_err(|_| ConvexError::Closed)?;
        // The socket's task has the same bound; this one also covers a worker busy renewing.
        let limit = self.options.call_timeout + Duration::from_secs(1);
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ConvexError::Interrupted {
                function: path.to_string(),
            }),
            Err(_) => Err(ConvexError::Timeout {
                function: path.to_string(),
                seconds: self.options.call_timeout.as_secs(),
            }),
        }
    }

    /// Closes the socket (sign-out); subscriptions end.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.commands.send(Command::Close(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), closed).await;
        }
    }
}
