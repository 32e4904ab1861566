//! The task behind a [`super::Live`]: it owns the socket, the subscriptions that outlive
//! sockets, the token's renewal and the connection's state. It wakes only on a request, an event
//! of the socket, a change of the session, or one of its own deadlines (renew the token, call an
//! outage offline, try again after a pause, replace a stalled client): nothing is polled, and an
//! idle connection sends only what the crate sends.

use super::connection::{Connection, Tracker, WAITS_FOR_SIGN_IN};
use super::socket::{Event, Socket};
use super::{Command, Options, Registered};
use crate::ConvexError;
use kinvex_auth::{Auth, AuthError, LiveBearer, SessionState};
use kinvex_clock::SharedClock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use url::Url;

/// Sign-in errors that pass by themselves (network, provider, keychain): while the token on the
/// socket is still valid, its renewal is tried again instead of pausing.
const PASSING: [&str; 6] = [
    "offline",
    "provider_unreachable",
    "provider_unavailable",
    "timeout",
    "keychain_unavailable",
    "session_locked",
];
/// After a failed renewal, the next try (bounded by the token's expiry).
const RENEW_RETRY: i64 = 15;
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);

pub(super) struct Worker {
    auth: Arc<Auth>,
    clock: SharedClock,
    url: Url,
    options: Options,
    requests: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<Connection>,
    tracker: Tracker,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    registered: Vec<Arc<Registered>>,
    socket: Option<Socket>,
    generation: u64,
    /// Unix seconds at which the socket's token is renewed.
    renew_due: Option<i64>,
    /// When the outage under way counts as offline.
    offline_at: Option<Instant>,
    /// While paused for a reason that may pass: when to try again, and the delay after that.
    retry_at: Option<Instant>,
    retry_delay: Duration,
    /// While the crate's client is stalled: when a new one replaces it.
    replace_at: Option<Instant>,
}

impl Worker {
    pub(super) fn new(
        auth: Arc<Auth>,
        url: Url,
        options: Options,
        requests: mpsc::UnboundedReceiver<Command>,
        state: watch::Sender<Connection>,
        now_ms: i64,
    ) -> Worker {
        let (events_tx, events) = mpsc::unbounded_channel();
        Worker {
            clock: auth.clock(),
            auth,
            url,
            options,
            requests,
            state,
            tracker: Tracker::new(now_ms),
            events_tx,
            events,
            registered: Vec::new(),
            socket: None,
            generation: 0,
            renew_due: None,
            offline_at: None,
            retry_at: None,
            retry_delay: FIRST_RETRY,
            replace_at: None,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.unix_ms() as i64
    }

    fn publish(&self) {
        let state = self.tracker.state().clone();
        self.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    /// Opens a new socket with the session's token, or pauses without one.
    async fn open(&mut self) {
        self.tracker.opening(self.now_ms());
        self.offline_at = Some(Instant::now() + self.options.offline_after);
        self.publish();
        self.connect().await;
    }

    /// Replaces a stalled client of the crate with a new one, within the outage under way.
    async fn replace(&mut self) {
        self.replace_at = None;
        self.tracker.replaced();
        self.connect().await;
    }

    async fn connect(&mut self) {
        self.socket = None;
        self.renew_due = None;
        self.retry_at = None;
        let bearer = match self.auth.live_bearer().await {
            Ok(bearer) => bearer,
            Err(e) => return self.pause(e.code(), &e.to_string()),
        };
        self.generation += 1;
        let due = next_renewal(&bearer, self.clock.unix());
        let opened = Socket::open(
            &self.url,
            bearer,
            self.auth.clone(),
            self.events_tx.clone(),
            self.generation,
        )
        .await;
        match opened {
            Ok(mut socket) => {
                self.registered.retain(|r| !r.sink.is_closed());
                for registered in &self.registered {
                    socket.attach(registered.clone());
                }
                self.socket = Some(socket);
                self.renew_due = Some(due);
            }
            Err(e) => self.pause(e.code(), &e.to_string()),
        }
    }

    /// Drops the socket: no token means no queries at all, rather than anonymous ones.
    fn pause(&mut self, code: &str, message: &str) {
        self.socket = None;
        self.renew_due = None;
        self.offline_at = None;
        self.replace_at = None;
        self.tracker.pause(code, message);
        self.publish();
        // Only the person can end these (by signing in): no retry.
        self.retry_at = if WAITS_FOR_SIGN_IN.contains(&code) {
            None
        } else {
            let at = Instant::now() + self.retry_delay;
            self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY);
            Some(at)
        };
    }

    fn close(&mut self) {
        self.socket = None;
        self.registered.clear();
        self.renew_due = None;
        self.offline_at = None;
        self.retry_at = None;
        self.replace_at = None;
        let closed = ConvexError::Closed;
        self.tracker.pause(closed.code(), &closed.to_string());
        self.publish();
    }

    fn request(&mut self, request: Command) {
        match request {
            Command::Subscribe(registered) => {
                self.registered.retain(|r| !r.sink.is_closed());
                if let Some(socket) = &mut self.socket {
                    socket.attach(registered.clone());
                }
                self.registered.push(registered);
            }
            Command::Mutation { path, args, reply } => match &mut self.socket {
                Some(socket) => socket.mutation(path, args, self.options.call_timeout, reply),
                None => {
                    let paused = match self.tracker.state() {
                        Connection::Paused { code, message } => ConvexError::Paused {
                            code: code.clone(),
                            message: message.clone(),
                        },
                        _ => ConvexError::Interrupted { function: path },
                    };
                    let _ = reply.send(Err(paused));
                }
            },
            Command::Close(_) => self.close(),
        }
    }

    fn event(&mut self, event: Event) {
        let current = self.socket.as_ref().map(|s| s.generation);
        let generation = match &event {
            Event::Opened { generation }
            | Event::Dropped { generation }
            | Event::Transition { generation }
            | Event::Renewed { generation }
            | Event::NoToken { generation, .. } => *generation,
        };
        if current != Some(generation) {
            return;
        }
        match event {
            Event::Opened { .. } => self.tracker.opened(Instant::now()),
            Event::Transition { .. } => {
                self.tracker.transition();
                self.offline_at = None;
                self.retry_delay = FIRST_RETRY;
            }
            Event::Dropped { .. } => {
                self.tracker.dropped(self.now_ms(), Instant::now());
                if self.tracker.outage() && self.offline_at.is_none() {
                    self.offline_at = Some(Instant::now() + self.options.offline_after);
                }
                if let Some(wait) = self.tracker.stalled()
                    && self.replace_at.is_none()
                {
                    self.replace_at = Some(Instant::now() + wait);
                }
            }
            Event::Renewed { .. } => {
                if let Some(socket) = &self.socket {
                    self.renew_due = Some(next_renewal(&socket.slot.bearer(), self.clock.unix()));
                }
            }
            Event::NoToken { code, message, .. } => self.pause(&code, &message),
        }
        self.publish();
    }

    async fn session(&mut self, state: SessionState) {
        match state {
            // Already paused: keep the reason given then (a renewal's `session_ended`).
            SessionState::SignedOut if self.socket.is_some() => {
                let signed_out = AuthError::NotSignedIn;
                self.pause(signed_out.code(), &signed_out.to_string());
            }
            SessionState::SignedIn { .. } if self.socket.is_none() => self.open().await,
            _ => {}
        }
    }

    /// Sends the renewed token on the live socket before the old one expires.
    async fn renew(&mut self) {
        let now = self.clock.unix();
        let Some(current) = self.socket.as_ref().map(|s| s.slot.bearer()) else {
            self.renew_due = None;
            return;
        };
        match self.auth.live_bearer().await {
            Ok(bearer) => {
                self.renew_due = Some(next_renewal(&bearer, now));
                if let Some(socket) = &mut self.socket {
                    if bearer.token == current.token {
                        socket.slot.set(bearer);
                    } else {
                        socket.reauthenticate(bearer).await;
                    }
                }
            }
            Err(e) if PASSING.contains(&e.code()) && current.expires_at > now => {
                self.renew_due = Some((now + RENEW_RETRY).min(current.expires_at));
            }
            Err(e) => self.pause(e.code(), &e.to_string()),
        }
    }

    fn long_outage(&mut self) {
        self.offline_at = None;
        self.tracker.long_outage();
        self.publish();
    }
}

/// When to renew `bearer` (Unix seconds): when the session would, or, for a token that is due
/// already (one that lives less than the renewal margin), halfway to its expiry.
fn next_renewal(bearer: &LiveBearer, now: i64) -> i64 {
    if bearer.renew_at > now {
        bearer.renew_at
    } else {
        now + ((bearer.expires_at - now) / 2).max(1)
    }
}

async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

pub(super) async fn run(mut worker: Worker) {
    let mut session = worker.auth.watch();
    session.borrow_and_update();
    worker.open().await;
    loop {
        // From the session's clock each time round, so a clock moved forward (or a machine
        // that slept) renews at the next wake-up.
        let renew = worker.renew_due.map(|due| {
            let wait = (due - worker.clock.unix()).max(0);
            Instant::now() + Duration::from_secs(wait.unsigned_abs())
        });
        let (offline_at, retry_at, replace_at) =
            (worker.offline_at, worker.retry_at, worker.replace_at);
        tokio::select! {
            request = worker.requests.recv() => match request {
                Some(Command::Close(done)) => {
                    worker.close();
                    let _ = done.send(());
                    return;
                }
                Some(request) => worker.request(request),
                None => return worker.close(),
            },
            Some(event) = worker.events.recv() => worker.event(event),
            Ok(()) = session.changed() => {
                let state = session.borrow_and_update().clone();
                worker.session(state).await;
            }
            () = at(renew) => worker.renew().await,
            () = at(offline_at) => worker.long_outage(),
            () = at(retry_at) => worker.open().await,
            () = at(replace_at) => worker.replace().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_auth::Secret;

    fn bearer(renew_at: i64, expires_at: i64) -> LiveBearer {
        LiveBearer {
            token: Secret::new(String::new()),
            renew_at,
            expires_at,
        }
    }

    #[test]
    fn a_token_is_renewed_when_the_session_would_or_halfway_when_it_lives_less_than_the_margin() {
        assert_eq!(next_renewal(&bearer(3_540, 3_600), 0), 3_540);
        assert_eq!(next_renewal(&bearer(-20, 40), 0), 20);
        assert_eq!(next_renewal(&bearer(-60, 0), 0), 1, "never a busy loop");
    }
}
