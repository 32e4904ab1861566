//! How far a transfer has got, for a progress bar with its speed and the time left. The rate is
//! measured on the injected clock, over the last few seconds, so it follows a connection that
//! speeds up or slows down rather than averaging the whole transfer.

use kinvex_clock::SharedClock;
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

/// One report: bytes moved so far, of how many, and how fast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub done: u64,
    /// `None` when the server did not say how long a download is.
    pub total: Option<u64>,
    /// Bytes a second over the last few seconds; `None` until time has passed.
    pub bytes_per_second: Option<f64>,
}

impl Progress {
    /// The time left at the current rate, when both are known.
    pub fn time_left(&self) -> Option<Duration> {
        let left = self.total?.saturating_sub(self.done);
        let rate = self.bytes_per_second.filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64(left as f64 / rate))
    }
}

/// Where a transfer sends its reports; a test records them.
pub type Report<'a> = &'a mut (dyn FnMut(Progress) + Send);

/// The rate is measured over this much of the past.
const WINDOW: Duration = Duration::from_secs(3);
/// Reports, and the samples the rate is measured from, come at most this often (the first and
/// the last always come): a bar redraws no faster, and a fast transfer is not slowed by them.
const EVERY: Duration = Duration::from_millis(50);

/// Turns byte counts into [`Progress`] reports that only move forward.
pub(crate) struct Meter {
    clock: SharedClock,
    total: Option<u64>,
    samples: VecDeque<(SystemTime, u64)>,
    reported: Option<(SystemTime, u64)>,
}

impl Meter {
    pub(crate) fn new(clock: SharedClock, total: Option<u64>) -> Meter {
        Meter {
            clock,
            total,
            samples: VecDeque::new(),
            reported: None,
        }
    }

    /// Reports `done`, unless it is not past the last report or one was made a moment ago.
    pub(crate) fn report(&mut self, done: u64, to: Report<'_>) {
        let now = self.clock.now();
        let since = |then: SystemTime| now.duration_since(then).unwrap_or_default();
        match self.reported {
            Some((_, last)) if done <= last => return,
            Some((at, _)) if since(at) < EVERY && Some(done) != self.total => return,
            _ => {}
        }
        self.reported = Some((now, done));
        self.samples.push_back((now, done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
        let bytes_per_second = self.samples.front().and_then(|(t, first)| {
            let seconds = since(*t).as_secs_f64();
            (seconds > 0.0).then(|| (done - first) as f64 / seconds)
        });
        to(Progress {
            done,
            total: self.total,
            bytes_per_second,
        });
    }

    /// The first report (nothing moved yet), made even though it moves nothing forward.
    pub(crate) fn start(&mut self, to: Report<'_>) {
        self.reported = None;
        self.samples.clear();
        self.report(0, to);
    }

    /// The last report: `done` is now also the total (a download of unstated length).
    pub(crate) fn finish(&mut self, done: u64, to: Report<'_>) {
        if self.total != Some(done) {
            self.total = Some(done);
            self.reported = None;
        }
        self.report(done, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_clock::ManualClock;

    #[test]
    fn reports_move_forward_and_measure_the_rate_on_the_clock() {
        let clock = ManualClock::new();
        let mut meter = Meter::new(clock.shared(), Some(1000));
        let mut seen = Vec::new();
        let mut record = |p: Progress| seen.push(p);
        meter.start(&mut record);
        clock.advance(Duration::from_secs(1));
        meter.report(400, &mut record);
        meter.report(300, &mut record);
        meter.report(400, &mut record);
        meter.report(500, &mut record);
        clock.advance(Duration::from_secs(1));
        meter.report(1000, &mut record);
        let done: Vec<u64> = seen.iter().map(|p| p.done).collect();
        assert_eq!(
            done,
            [0, 400, 1000],
            "backwards, repeated and too-soon reports dropped"
        );
        let rate = seen[1].bytes_per_second.unwrap_or_default();
        assert!((395.0..=405.0).contains(&rate), "{rate}");
        assert_eq!(seen[2].time_left(), Some(Duration::ZERO));
        let halfway = Progress {
            done: 500,
            total: Some(1000),
            bytes_per_second: Some(100.0),
        };
        assert_eq!(halfway.time_left(), Some(Duration::from_secs(5)));
    }
}
