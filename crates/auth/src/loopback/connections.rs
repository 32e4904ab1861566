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
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// Where a connection is: [`WAITING`] for its first request, [`BUSY`] with one, or [`IDLE`]
/// after answering.
type Phase = Arc<AtomicU8>;
const WAITING: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// One connection held: its task, when it was accepted, and its [`Phase`].
struct Held {
    task: AbortHandle,
    accepted: Instant,
    phase: Phase,
}

/// How long a connection may take to send its request head. A browser writes the whole head at
/// once as soon as it connects, and over loopback it arrives in well under a millisecond; five
/// seconds is a wide margin for a machine that is paused or swapping, while a client that sends
/// nothing, or a byte at a time, holds a connection for no longer than that.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request already taken may finish its answer (the browser's page) after the
/// sign-in has its answer. Writing a small page over loopback takes microseconds.
const GRACE: Duration = Duration::from_secs(2);

/// The most connections held at once. A browser opens one or two (the callback, perhaps a
/// favicon). Past this, room is made by closing a connection that is idle after its answer, or
/// one that has sent no request for [`FIRST_REQUEST_UNDER_PRESSURE`]; if there is none yet, the
/// next accept waits for one. Another program on this machine can then make the app spend
/// neither its file descriptors nor more than moments of the person's time on a sign-in.
pub(super) const MAX_CONNECTIONS: usize = 32;

/// While the listener is full, how long a connection may take to send its first request. A
/// browser's arrives within a millisecond of connecting over loopback; a quarter of a second
/// spares a burst of genuine requests still waiting for their task to run.
const FIRST_REQUEST_UNDER_PRESSURE: Duration = Duration::from_millis(250);

/// How long to wait after a failed accept (say, out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connections accepted so far, each served in its own task.
pub(super) struct Connections {
    tasks: JoinSet<()>,
    /// Each connection, in the order accepted.
    held: VecDeque<Held>,
    stop: watch::Sender<bool>,
    header_timeout: Duration,
}

impl Connections {
    pub(super) fn new(header_timeout: Duration) -> Connections {
        Connections {
            tasks: JoinSet::new(),
            held: VecDeque::new(),
            stop: watch::Sender::new(false),
            header_timeout,
        }
    }

    /// Accepts and serves connections with `app`; it never finishes, the caller drops it.
    pub(super) async fn serve(&mut self, listener: &TcpListener, app: Router) -> Infallible {
        loop {
            while self.tasks.try_join_next().is_some() {}
            self.held.retain(|held| !held.task.is_finished());
            self.make_room().await;
            match listener.accept().await {
                Ok((stream, _)) => {
                    let phase = Phase::default();
                    let served = serve_one(
                        stream,
                        app.clone(),
                        self.stop.subscribe(),
                        self.header_timeout,
                        phase.clone(),
                    );
                    let task = self.tasks.spawn(served);
                    self.held.push_back(Held {
                        task,
                        accepted: Instant::now(),
                        phase,
                    });
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

    /// Brings the connections held below [`MAX_CONNECTIONS`]: closes (aborts the task of, so
    /// drops the socket of) the oldest that is idle after its answer or has waited too long for
    /// its first request; when none qualifies yet, waits for a connection to end or for the
    /// oldest waiting one to run out of time.
    async fn make_room(&mut self) {
        while self.held.len() >= MAX_CONNECTIONS {
            let now = Instant::now();
            let spare =
                self.held
                    .iter()
                    .position(|held| match held.phase.load(Ordering::Relaxed) {
                        IDLE => true,
                        WAITING => now >= held.accepted + FIRST_REQUEST_UNDER_PRESSURE,
                        _ => false,
                    });
            if let Some(spare) = spare {
                if let Some(held) = self.held.remove(spare) {
                    held.task.abort();
                }
                continue;
            }
            let next_due = self
                .held
                .iter()
                .filter(|held| held.phase.load(Ordering::Relaxed) == WAITING)
                .map(|held| held.accepted + FIRST_REQUEST_UNDER_PRESSURE)
                .min();
            // A connection ending and a deadline passing are the two events that make room;
            // nothing else changes the count.
            match next_due {
                Some(due) => {
                    tokio::select! {
                        _ = self.tasks.join_next() => {}
                        () = tokio::time::sleep_until(due) => {}
                    }
                }
                None => {
                    self.tasks.join_next().await;
                }
            }
            self.held.retain(|held| !held.task.is_finished());
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
    phase: Phase,
) {
    let service = {
        let phase = phase.clone();
        let app = TowerToHyperService::new(app);
        service_fn(move |request: hyper::Request<Incoming>| {
            phase.store(BUSY, Ordering::Relaxed);
            let answer = app.call(request.map(Body::new));
            let phase = phase.clone();
            async move {
                let answered = answer.await;
                phase.store(IDLE, Ordering::Relaxed);
                answered
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // One request per connection: a callback is one request, and a connection kept alive
        // after its answer would only hold a descriptor, or be closed under a client about to
        // reuse it.
        .keep_alive(false);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    if phase.load(Ordering::Relaxed) != WAITING {
        // Ends once the answer in progress is written, or at once if there is none.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}
