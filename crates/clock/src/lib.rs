//! The time every part of Kinvex reads, passed in rather than taken from the system, so tests
//! move time instead of waiting for it (AppAuth's `Clock`, oauth2-rs's injected `now`).
//!
//! The sign-in core and the local stack share one [`ManualClock`] in a test: a token the stack
//! issued "an hour ago" is expired for the app at the same instant.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time, as tokens' `iat`/`exp` and cookies' expiry are written in.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;

    /// Whole seconds since the Unix epoch (0 before it, which no real clock reports).
    fn unix(&self) -> i64 {
        unix(self.now())
    }

    /// Milliseconds since the Unix epoch, as Convex writes `_creationTime`.
    fn unix_ms(&self) -> f64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Seconds since the Unix epoch of `time`.
pub fn unix(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A shared handle to whichever clock is in use.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that follows the system's but can be moved forward by a test: reading it
/// gives the real time plus everything [`ManualClock::advance`] added. Following real time
/// (rather than standing still) keeps timestamps ordered the way a running service's are.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    offset: Arc<Mutex<Duration>>,
}

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// Moves this clock, and every copy of it, forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }

    /// How far this clock is ahead of the system's.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_every_copy_and_never_goes_back() {
        let clock = ManualClock::new();
        let copy = clock.shared();
        let before = copy.unix();
        clock.advance(Duration::from_secs(3600));
        let after = copy.unix();
        assert!(after - before >= 3600, "{before} -> {after}");
        assert!(after - before < 3600 + 60, "{before} -> {after}");
        assert_eq!(clock.offset(), Duration::from_secs(3600));
    }

    #[test]
    fn unix_seconds_and_milliseconds_agree() {
        let clock = SystemClock;
        let seconds = clock.unix();
        let ms = clock.unix_ms();
        assert!((ms / 1000.0 - seconds as f64).abs() < 2.0);
        assert_eq!(unix(UNIX_EPOCH - Duration::from_secs(5)), 0);
    }
}
