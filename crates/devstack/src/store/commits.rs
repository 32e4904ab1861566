//! The store's commit clock: every write to the backend's documents gets a timestamp, and
//! whoever watches (the live-query sockets) hears of it at once, with no polling. Timestamps are
//! the stack's wall clock in nanoseconds, strictly increasing, as a Convex deployment's commit
//! timestamps are; being wall-clock time, they keep rising across a restart of the stack, so a
//! client that reconnects with the newest timestamp it saw is never ahead of the server
//! (get-convex/convex-backend crates/sync/src/worker.rs refuses one that is).

use kinvex_clock::SharedClock;
use std::time::UNIX_EPOCH;
use tokio::sync::watch;

pub struct Commits {
    clock: SharedClock,
    latest: watch::Sender<u64>,
}

impl Commits {
    pub fn new(clock: SharedClock) -> Commits {
        let (latest, _) = watch::channel(nanos(&clock));
        Commits { clock, latest }
    }

    /// Stamps a write that has just committed and tells every watcher; the timestamp is now on
    /// the stack's clock, or one past the last if the clock has not moved (or went back).
    pub(super) fn commit(&self) -> u64 {
        let now = nanos(&self.clock);
        self.latest.send_modify(|ts| *ts = (*ts + 1).max(now));
        *self.latest.borrow()
    }

    /// The timestamp of the newest write (the stack's start time before any).
    pub fn latest(&self) -> u64 {
        *self.latest.borrow()
    }

    /// Follows the newest write's timestamp.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// How many follow the clock: one per open sync socket, so tests can count them.
    pub fn followers(&self) -> usize {
        self.latest.receiver_count()
    }
}

/// Nanoseconds since the Unix epoch on `clock`, at most `i64::MAX` as Convex's timestamps are.
fn nanos(clock: &SharedClock) -> u64 {
    clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_clock::ManualClock;
    use std::time::Duration;

    #[test]
    fn commit_timestamps_are_wall_clock_nanoseconds_and_strictly_increase() {
        let clock = ManualClock::new();
        let commits = Commits::new(clock.shared());
        let start = commits.latest();
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        assert!(now.abs_diff(start) < 60_000_000_000, "{start} vs {now}");
        let first = commits.commit();
        let second = commits.commit();
        assert!(start < first && first < second, "{start} {first} {second}");
        clock.advance(Duration::from_secs(3600));
        let later = commits.commit();
        assert!(later - second >= 3_600_000_000_000, "{second} -> {later}");
    }

    #[test]
    fn watchers_hear_of_every_commit() {
        let commits = Commits::new(kinvex_clock::system());
        let mut watcher = commits.subscribe();
        assert!(!watcher.has_changed().unwrap_or(true));
        let ts = commits.commit();
        assert!(watcher.has_changed().unwrap_or(false));
        assert_eq!(*watcher.borrow_and_update(), ts);
    }
}
