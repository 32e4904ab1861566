//! Test controls for the live-query sockets, next to the stack's other faults
//! (`/_devstack/faults`, [`crate::Faults`]): what a network, a slow deployment or a server error
//! does to a connected client, and what each socket has received, so tests can prove a client
//! reconnects, stays truthful, and does not poll.
//!
//! - `GET /_devstack/sync/sockets`: every socket since the start, with the frames it received by
//!   kind (a protocol message's `type`, or `(ping)`, `(pong)`);
//! - `POST /_devstack/sync/cut`: every open socket dropped now, with no close frame, as a
//!   network drop looks to the client;
//! - `POST /_devstack/sync/fatal` `{"error": "…"}`: every open socket sent a `FatalError`, then
//!   closed with no code, as a deployment ends a socket whose client broke the protocol;
//! - `POST /_devstack/faults` `{"sync": {"transition_delay_ms", "cut_transitions",
//!   "fatal_connects"}}`: see [`SyncFault`].

use crate::{State, lock};
use axum::Router;
use axum::extract::State as Shared;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Faults applied to every socket while set.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SyncFault {
    /// Each Transition goes out this much later than it was computed: a slow deployment.
    #[serde(default)]
    pub transition_delay_ms: u64,
    /// The next this-many Transitions are not sent: the socket is dropped instead, with no close
    /// frame, as when the network fails in the middle of an update.
    #[serde(default)]
    pub cut_transitions: u32,
    /// The next this-many Connects are answered with a `FatalError` and a close with no code.
    #[serde(default)]
    pub fatal_connects: u32,
}

/// What every open socket is made to do at once.
#[derive(Clone, Debug)]
pub enum Disruption {
    /// Dropped with no close frame.
    Cut,
    /// A `FatalError` with this text, then a close with no code.
    Fatal(String),
}

/// What one socket has received, for tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Activity {
    pub id: u64,
    pub open: bool,
    /// Frames by kind: a protocol message's `type`, `(ping)` or `(pong)`.
    pub received: BTreeMap<String, u64>,
    /// Once closed: why, as `code: message` (see [`super::failure::Failure`]).
    pub ended: Option<String>,
    /// The Connect's `connectionCount`: 0 on a client's first socket.
    pub connection_count: Option<u32>,
    /// The Connect's `sessionId`, which keys the record of this socket's mutations.
    pub session_id: Option<String>,
    /// Mutations re-sent under a session that already ran them, answered from the record.
    pub replayed: u64,
}

impl Activity {
    /// Protocol messages, heartbeat answers left out.
    pub fn messages(&self) -> u64 {
        self.received
            .iter()
            .filter(|(kind, _)| !kind.starts_with('('))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn count(&self, kind: &str) -> u64 {
        self.received.get(kind).copied().unwrap_or(0)
    }
}

/// What [`super::socket`] asks before sending a Transition.
pub(super) struct BeforeTransition {
    pub delay: Duration,
    pub cut: bool,
}

pub(super) fn before_transition(state: &State) -> BeforeTransition {
    let mut faults = lock(&state.faults);
    let fault = &mut faults.sync;
    let cut = fault.cut_transitions > 0;
    if cut {
        fault.cut_transitions -= 1;
    }
    BeforeTransition {
        delay: Duration::from_millis(fault.transition_delay_ms),
        cut,
    }
}

/// Whether this Connect is to be answered with a `FatalError`.
pub(super) fn fatal_connect(state: &State) -> bool {
    let mut faults = lock(&state.faults);
    let fault = &mut faults.sync;
    let fatal = fault.fatal_connects > 0;
    if fatal {
        fault.fatal_connects -= 1;
    }
    fatal
}

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/_devstack/sync/sockets", get(sockets))
        .route("/_devstack/sync/cut", post(cut))
        .route("/_devstack/sync/fatal", post(fatal))
}

async fn sockets(Shared(state): Shared<Arc<State>>) -> Response {
    Json(json!({ "sockets": state.sync.activity() })).into_response()
}

async fn cut(Shared(state): Shared<Arc<State>>) -> Response {
    let sockets = state.sync.disrupt(Disruption::Cut);
    Json(json!({ "sockets": sockets })).into_response()
}

#[derive(Deserialize)]
struct FatalBody {
    #[serde(default = "injected")]
    error: String,
}

fn injected() -> String {
    "a FatalError injected by a test (/_devstack/sync/fatal)".into()
}

async fn fatal(Shared(state): Shared<Arc<State>>, body: Option<Json<FatalBody>>) -> Response {
    let error = body.map_or_else(injected, |Json(b)| b.error);
    let sockets = state.sync.disrupt(Disruption::Fatal(error));
    Json(json!({ "sockets": sockets })).into_response()
}
