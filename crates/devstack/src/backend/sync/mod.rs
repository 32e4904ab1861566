//! Convex's live-query socket: `GET /api/sync` and `/api/{client_version}/sync` upgrade to a
//! WebSocket that speaks the sync protocol of get-convex/convex-backend crates/sync and
//! crates/convex/sync_types, so the official clients (npm `ConvexClient`, the Rust `convex`
//! crate) subscribe, call functions and authenticate over it as they do against a deployment.
//!
//! Queries run through the same [`super::functions::run`] and tokens through the same
//! [`super::auth::Verifier`] as the HTTP API, so both answer alike. Every write to the backend's
//! documents ticks the store's commit clock ([`crate::store::commits`]); each socket follows it
//! and re-runs its queries, sending only results that changed.

pub mod control;
mod failure;
pub mod protocol;
mod session;
mod socket;

use super::{Refusal, admit};
use crate::{State, lock};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use control::{Activity, Disruption};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The server's heartbeats, as a deployment sends them (crates/local_backend/src/subs/mod.rs,
/// crates/sync/src/worker.rs); tests shorten them instead of waiting minutes.
#[derive(Clone, Debug)]
pub struct Heartbeats {
    /// A WebSocket Ping frame this often.
    pub ping: Duration,
    /// The socket is closed (1000 `ClientDisconnected`) after this long with no frame from the
    /// client, pongs included.
    pub client_timeout: Duration,
    /// A protocol `{"type":"Ping"}` after this long without sending any message: npm counts
    /// only protocol messages and reconnects after 60 s without one.
    pub protocol_ping: Duration,
}

impl Default for Heartbeats {
    fn default() -> Self {
        Heartbeats {
            ping: Duration::from_secs(5),
            client_timeout: Duration::from_secs(120),
            protocol_ping: Duration::from_secs(15),
        }
    }
}

/// Sockets opened and closed, and mutations answered from the record, since the stack started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub opened: u64,
    pub closed: u64,
    pub replayed: u64,
}

/// What the sockets share: the record of successful mutations, the stack's stop signal, and
/// the test controls ([`control`]).
pub struct Hub {
    /// `(sessionId, requestId)` → the result and commit timestamp of a mutation that succeeded,
    /// returned again when a client re-sends it after a reconnect.
    records: Mutex<HashMap<(String, u32), (Value, u64)>>,
    stopped: watch::Receiver<bool>,
    /// What each socket received, by socket id in opening order.
    activity: Mutex<BTreeMap<u64, Activity>>,
    /// How many sockets have opened and closed, for tests to wait on.
    tally: watch::Sender<Tally>,
    disruptions: broadcast::Sender<Disruption>,
}

impl Hub {
    pub fn new(stopped: watch::Receiver<bool>) -> Hub {
        Hub {
            records: Mutex::new(HashMap::new()),
            stopped,
            activity: Mutex::new(BTreeMap::new()),
            tally: watch::Sender::new(Tally::default()),
            disruptions: broadcast::channel(16).0,
        }
    }

    /// Every socket since the start, in opening order.
    pub fn activity(&self) -> Vec<Activity> {
        lock(&self.activity).values().cloned().collect()
    }

    /// How many sockets opened and closed since the start, changing as each one does.
    pub fn tally(&self) -> watch::Receiver<Tally> {
        self.tally.subscribe()
    }

    /// Makes every open socket fail now; returns how many there were.
    pub fn disrupt(&self, disruption: Disruption) -> usize {
        self.disruptions.send(disruption).unwrap_or(0)
    }

    fn opened(&self) -> (u64, broadcast::Receiver<Disruption>) {
        let mut activity = lock(&self.activity);
        let id = activity.len() as u64;
        activity.insert(
            id,
            Activity {
                id,
                open: true,
                received: BTreeMap::new(),
                ended: None,
                connection_count: None,
                session_id: None,
                replayed: 0,
            },
        );
        self.tally.send_modify(|tally| tally.opened += 1);
        (id, self.disruptions.subscribe())
    }

    fn connected(&self, socket: u64, connection_count: Option<u32>, session_id: &str) {
        if let Some(activity) = lock(&self.activity).get_mut(&socket) {
            activity.connection_count = connection_count;
            activity.session_id = Some(session_id.to_string());
        }
    }

    fn received(&self, socket: u64, kind: &str) {
        if let Some(activity) = lock(&self.activity).get_mut(&socket) {
            *activity.received.entry(kind.to_string()).or_default() += 1;
        }
    }

    fn closed(&self, socket: u64, failure: &failure::Failure) {
        if let Some(activity) = lock(&self.activity).get_mut(&socket) {
            activity.open = false;
            activity.ended = Some(format!("{}: {failure}", failure.code()));
        }
        self.tally.send_modify(|tally| tally.closed += 1);
    }

    /// The record of a mutation `socket` received again, counted as a replay.
    fn recorded(&self, socket: u64, key: &(String, u32)) -> Option<(Value, u64)> {
        let recorded = lock(&self.records).get(key).cloned();
        if recorded.is_some() {
            if let Some(activity) = lock(&self.activity).get_mut(&socket) {
                activity.replayed += 1;
            }
            self.tally.send_modify(|tally| tally.replayed += 1);
        }
        recorded
    }

    fn record(&self, key: (String, u32), result: Value, ts: u64) {
        lock(&self.records).insert(key, (result, ts));
    }
}

/// `GET /api/sync`: the Rust client's path.
pub async fn sync(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    connect(state, None, headers, upgrade).await
}

/// `GET /api/{client_version}/sync`: npm's path, its own version in it.
pub async fn sync_versioned(
    Shared(state): Shared<Arc<State>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    connect(state, Some(version), headers, upgrade).await
}

async fn connect(
    state: Arc<State>,
    version: Option<String>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(refusal) = admit(&state, &headers).await {
        return refusal.into_response();
    }
    // A version in the path must be semver when no `Convex-Client` header names one.
    if let Some(version) = version
        && headers.get("convex-client").is_none()
        && semver::Version::parse(&version).is_err()
    {
        return Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidClientVersion",
            &format!(
                "Failed to parse client version string: '{version}'. Connect to /api/sync or /api/<semver>/sync, e.g. /api/1.48.0/sync"
            ),
        )
        .into_response();
    }
    match upgrade {
        Ok(upgrade) => upgrade.on_upgrade(move |socket| socket::serve(socket, state)),
        Err(rejection) => rejection.into_response(),
    }
}
