//! What the window and the CLI show about the live connection, derived from what the `convex`
//! crate lets us observe: its socket's `Connected`/`Connecting` announcements
//! (`ConvexClientBuilder::with_on_state_change`) and each Transition it applies (`watch_all`).
//! A socket that is open but has not yet delivered a Transition is not live: the server has not
//! confirmed the token nor run the queries.

use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Connection {
    /// Opening the first socket (or again after a pause).
    Connecting,
    /// A Transition arrived on the current socket: queries are current.
    Live,
    /// The socket dropped at `since_ms` (ms since the epoch); the crate is reconnecting.
    Reconnecting { since_ms: i64 },
    /// No working socket since `since_ms` for longer than `Options::offline_after`; the crate
    /// still reconnects, and the state goes back to `Live` when it succeeds.
    Offline { since_ms: i64 },
    /// No socket on purpose: there is no token to send (`code` is the sign-in error's), so no
    /// query runs anonymously.
    Paused { code: String, message: String },
}

impl Connection {
    /// Paused until the person signs in again (or closed): nothing resumes by itself.
    pub fn waits_for_sign_in(&self) -> bool {
        matches!(self, Connection::Paused { code, .. } if WAITS_FOR_SIGN_IN.contains(&code.as_str()))
    }
}

/// Pause codes that only a new sign-in ends (the sign-in errors' codes, and `close`'s).
pub(super) const WAITS_FOR_SIGN_IN: [&str; 5] = [
    "not_signed_in",
    "session_ended",
    "sign_in_again",
    "id_token_not_renewed",
    "live_closed",
];

/// Sockets in a row that dropped this soon after opening before the crate's client is taken to
/// be stuck (see [`Tracker::stalled`]).
const SHORT_LIVED: Duration = Duration::from_secs(10);
const STALLED_AFTER: u32 = 3;
/// The wait before a stalled client is replaced, doubled with each replacement until a socket
/// lives longer than [`SHORT_LIVED`].
const FIRST_REPLACE: Duration = Duration::from_secs(1);
const MAX_REPLACE: Duration = Duration::from_secs(60);

/// The state machine over those events; the worker owns one.
#[derive(Debug)]
pub(super) struct Tracker {
    state: Connection,
    /// When the socket stopped working (or the first one started to open).
    down_since: Option<i64>,
    /// When the crate's current socket opened.
    opened_at: Option<Instant>,
    /// Sockets in a row that dropped within [`SHORT_LIVED`] of opening.
    short_lived: u32,
    /// Clients replaced since a socket last lived longer than that.
    replacements: u32,
}

impl Tracker {
    pub(super) fn new(now_ms: i64) -> Tracker {
        Tracker {
            state: Connection::Connecting,
            down_since: Some(now_ms),
            opened_at: None,
            short_lived: 0,
            replacements: 0,
        }
    }

    pub(super) fn state(&self) -> &Connection {
        &self.state
    }

    /// A new socket is being opened (first start, or after a pause).
    pub(super) fn opening(&mut self, now_ms: i64) {
        self.state = Connection::Connecting;
        self.down_since = Some(now_ms);
    }

    /// A new client of the crate replaces a stuck one: the outage under way goes on.
    pub(super) fn replaced(&mut self) {
        self.opened_at = None;
        self.short_lived = 0;
        self.replacements += 1;
    }

    /// The crate announced its socket open.
    pub(super) fn opened(&mut self, at: Instant) {
        self.opened_at = Some(at);
    }

    /// A Transition arrived.
    pub(super) fn transition(&mut self) {
        self.state = Connection::Live;
        self.down_since = None;
    }

    /// Whether the crate's client keeps dropping its sockets soon after opening them. The crate
    /// (0.10) gets there by itself when its worker fails on a message (an `AuthError`, a
    /// response it does not expect) just as the socket drops: both then restart the session,
    /// one restart is always left over, and each new socket is dropped again within a second or
    /// two, often after a Transition. A server that is down never gets here (its sockets do not
    /// open); a network that keeps dropping does, and a new client costs it nothing more than
    /// the reconnects it has anyway.
    /// When stalled: how long to wait before replacing the client.
    pub(super) fn stalled(&self) -> Option<Duration> {
        (self.short_lived >= STALLED_AFTER).then(|| {
            FIRST_REPLACE
                .saturating_mul(1 << self.replacements.min(16))
                .min(MAX_REPLACE)
        })
    }

    /// The crate announced it is (re)connecting. Only a live socket dropping starts a new
    /// outage; a failed attempt during one keeps its start.
    pub(super) fn dropped(&mut self, now_ms: i64, at: Instant) {
        if let Some(opened) = self.opened_at.take() {
            if at.duration_since(opened) < SHORT_LIVED {
                self.short_lived += 1;
            } else {
                self.short_lived = 0;
                self.replacements = 0;
            }
        }
        if self.state == Connection::Live {
            self.down_since = Some(now_ms);
            self.state = Connection::Reconnecting { since_ms: now_ms };
        }
    }

    /// The outage lasted `Options::offline_after`.
    pub(super) fn long_outage(&mut self) {
        if let (Connection::Connecting | Connection::Reconnecting { .. }, Some(since_ms)) =
            (&self.state, self.down_since)
        {
            self.state = Connection::Offline { since_ms };
        }
    }

    pub(super) fn pause(&mut self, code: &str, message: &str) {
        self.state = Connection::Paused {
            code: code.to_string(),
            message: message.to_string(),
        };
        self.down_since = None;
    }

    /// Whether an outage is under way (the offline timer should run).
    pub(super) fn outage(&self) -> bool {
        matches!(
            self.state,
            Connection::Connecting | Connection::Reconnecting { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_live_socket_is_reconnecting_then_offline_since_the_drop_then_live_again() {
        let mut tracker = Tracker::new(1_000);
        assert_eq!(tracker.state(), &Connection::Connecting);
        tracker.transition();
        assert_eq!(tracker.state(), &Connection::Live);
        tracker.dropped(5_000, Instant::now());
        assert_eq!(
            tracker.state(),
            &Connection::Reconnecting { since_ms: 5_000 }
        );
        tracker.dropped(6_000, Instant::now());
        assert_eq!(
            tracker.state(),
            &Connection::Reconnecting { since_ms: 5_000 },
            "a failed attempt keeps the outage's start"
        );
        tracker.long_outage();
        assert_eq!(tracker.state(), &Connection::Offline { since_ms: 5_000 });
        tracker.transition();
        assert_eq!(tracker.state(), &Connection::Live);
    }

    #[test]
    fn three_sockets_in_a_row_that_drop_soon_after_opening_are_a_stalled_client() {
        let start = Instant::now();
        let after = |ms: u64| start + Duration::from_millis(ms);
        let mut tracker = Tracker::new(1_000);
        tracker.opened(after(0));
        tracker.transition();
        tracker.dropped(2_000, after(100));
        tracker.opened(after(200));
        tracker.dropped(2_100, after(300));
        tracker.dropped(2_200, after(400));
        tracker.dropped(2_300, after(500));
        assert_eq!(
            tracker.stalled(),
            None,
            "attempts that never opened are a server that is down"
        );
        tracker.opened(after(600));
        tracker.transition();
        tracker.dropped(2_400, after(700));
        assert_eq!(
            tracker.stalled(),
            Some(FIRST_REPLACE),
            "a Transition on the way does not count"
        );
        tracker.replaced();
        assert_eq!(tracker.stalled(), None);
        assert_eq!(
            tracker.state(),
            &Connection::Reconnecting { since_ms: 2_400 },
            "a new client keeps the outage's start"
        );
        for at in [800, 900, 1_000] {
            tracker.opened(after(at));
            tracker.dropped(2_500, after(at + 50));
        }
        assert_eq!(
            tracker.stalled(),
            Some(FIRST_REPLACE * 2),
            "each replacement waits longer"
        );
        tracker.replaced();
        tracker.opened(after(2_000));
        tracker.dropped(2_600, after(2_000) + SHORT_LIVED);
        for at in [20_000, 20_200, 20_400] {
            tracker.opened(after(at));
            tracker.dropped(2_700, after(at + 100));
        }
        assert_eq!(
            tracker.stalled(),
            Some(FIRST_REPLACE),
            "a socket that lived its while starts both counts again"
        );
    }

    #[test]
    fn a_backend_down_at_start_is_offline_since_the_start() {
        let mut tracker = Tracker::new(1_000);
        tracker.dropped(2_000, Instant::now());
        assert_eq!(tracker.state(), &Connection::Connecting);
        tracker.long_outage();
        assert_eq!(tracker.state(), &Connection::Offline { since_ms: 1_000 });
    }

    #[test]
    fn the_connection_serializes_with_its_state_tag() {
        let json = serde_json::to_value(Connection::Offline { since_ms: 7 }).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({ "state": "offline", "since_ms": 7 })
        );
        let json = serde_json::to_value(Connection::Live).unwrap_or_default();
        assert_eq!(json, serde_json::json!({ "state": "live" }));
    }
}
