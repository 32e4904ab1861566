//! The HTTP connections of one sign-in's callback listener. Each is served by hyper with a
//! deadline for its request head, and each lives in a task this sign-in owns, so every one of
//! them is closed once the answer is taken (or the wait is dropped): neither a slow client nor a
//! flood of idle connections outlives the sign-in, and none is served after it.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a connection may take to send its request head. A browser writes the whole head at
/// once as soon as it connects, and over loopback it arrives in well under a millisecond; five
/// seconds is a wide margin for a machine that is paused or swapping, while a client that sends
/// nothing, or a byte at a time, holds a connection for no longer than that.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request already taken may finish its answer (the browser's page) after the
/// sign-in has its answer. Writing a small page over loopback takes microseconds.
const GRACE: Duration = Duration::from_secs(2);

/// How long to wait after a failed accept (say, out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connections accepted so far, each served in its own task.
pub(super) struct Connections {
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
    header_timeout: Duration,
}

impl Connections {
    pub(super) fn new(header_timeout: Duration) -> Connections {
        Connections {
            tasks: JoinSet::new(),
            stop: watch::Sender::new(false),
            header_timeout,
        }
    }

    /// Accepts and serves connections with `app`; it never finishes, the caller drops it.
    pub(super) async fn serve(&mut self, listener: &TcpListener, app: Router) -> Infallible {
        loop {
            while self.tasks.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, _)) => {
                    let served = serve_one(
                        stream,
                        app.clone(),
                        self.stop.subscribe(),
                        self.header_timeout,
                    );
                    self.tasks.spawn(served);
                }
                Err(error) => {
                    tracing::debug!(%error, "the callback listener could not accept a connection");
                    // A failed accept (out of descriptors) fails again at once: pause instead of
                    // spinning a core; nothing announces descriptors coming free.
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// Closes every connection. One that never delivered a request is closed at once; one that
    /// did may finish its answer within [`GRACE`], and is cut after that.
    pub(super) async fn close(mut self) {
        self.stop.send_replace(true);
        let finished = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(GRACE, finished).await.is_err() {
            self.tasks.shutdown().await;
        }
    }
}

async fn serve_one(
    stream: TcpStream,
    app: Router,
    mut stop: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let asked = Arc::new(AtomicBool::new(false));
    let service = {
        let asked = asked.clone();
        let app = TowerToHyperService::new(app);
        service_fn(move |request: hyper::Request<Incoming>| {
            asked.store(true, Ordering::Relaxed);
            app.call(request.map(Body::new))
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    if asked.load(Ordering::Relaxed) {
        // Ends once the answer in progress is written, or at once if there is none.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}
