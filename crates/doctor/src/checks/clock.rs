//! This computer's clock against the provider's, from the `Date` of its discovery answer
//! (RFC 9110 §6.6.1: the origin's clock when it made the answer, to the second).
//!
//! Up to [`WARN`] is noise and normal drift: `Date` has whole seconds, and an unsynchronised
//! clock drifts seconds a day. From [`WARN`] the clock is not being synchronised, and half the
//! app's margin is gone. From [`FAIL`] (the app's leeway for ID tokens, and how early it renews a
//! token before `exp`) things break: a clock that far behind rejects freshly issued ID tokens as
//! issued in the future, and sends Convex (which allows no leeway on `exp`) tokens that have
//! already expired there; one that far ahead renews tokens before it needs to.

use super::discovery::Observed;
use super::finding;
use crate::{Check, Status};
use kinvex_auth::id_token::LEEWAY;
use std::time::{Duration, SystemTime};

const TITLE: &str = "Clock";
pub const WARN: Duration = Duration::from_secs(30);
pub const FAIL: Duration = LEEWAY;

pub fn check(observed: Option<&Observed>) -> Check {
    let Some(observed) = observed else {
        return finding(
            "clock",
            TITLE,
            Status::Skip,
            "Not checked: the provider's answer had no Date header (or there was no answer).",
        )
        .fix("Make sure this computer sets its clock automatically (NTP).");
    };
    let skew = skew_seconds(observed);
    let magnitude = Duration::from_secs(skew.unsigned_abs());
    let direction = if skew >= 0 { "ahead of" } else { "behind" };
    let status = if magnitude >= FAIL {
        Status::Fail
    } else if magnitude >= WARN {
        Status::Warn
    } else {
        Status::Ok
    };
    let summary = if status == Status::Ok {
        format!(
            "This computer's clock agrees with the provider's (within {} s).",
            WARN.as_secs()
        )
    } else {
        format!(
            "This computer's clock is {} s {direction} the provider's.",
            skew.unsigned_abs()
        )
    };
    let mut check = finding("clock", TITLE, status, summary)
        .detail("provider's Date", httpdate::fmt_http_date(observed.date))
        .detail("this computer", httpdate::fmt_http_date(observed.received))
        .detail("difference", format!("{skew:+} s"));
    if status != Status::Ok {
        check = check.fix(format!(
            "Set this computer's clock automatically (NTP: timedatectl set-ntp true on Linux; Date & Time settings on macOS and Windows). Beyond {} s sign-ins and tokens fail.",
            FAIL.as_secs()
        ));
    }
    check
}

/// How far this computer is ahead of the provider (negative: behind), in whole seconds. The
/// provider wrote `Date` between sending and receiving, truncated to the second: its clock then
/// read `date` plus half a second, on average, at the request's midpoint.
fn skew_seconds(observed: &Observed) -> i64 {
    let signed = |t: SystemTime| -> f64 {
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    };
    let midpoint = (signed(observed.sent) + signed(observed.received)) / 2.0;
    let provider = signed(observed.date) + 0.5;
    (midpoint - provider).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: u64, app: u64) -> Observed {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        Observed {
            date: t(date),
            sent: t(app),
            received: t(app) + Duration::from_secs(1),
        }
    }

    #[test]
    fn small_differences_are_fine_and_large_ones_fail_in_either_direction() {
        assert_eq!(check(Some(&at(1_000, 1_000))).status, Status::Ok);
        assert_eq!(check(Some(&at(1_000, 1_040))).status, Status::Warn);
        let ahead = check(Some(&at(1_000, 1_600)));
        assert_eq!(ahead.status, Status::Fail);
        assert!(
            ahead.summary.contains("600 s ahead of"),
            "{}",
            ahead.summary
        );
        let behind = check(Some(&at(1_600, 1_000)));
        assert_eq!(behind.status, Status::Fail);
        assert!(behind.summary.contains("behind"), "{}", behind.summary);
        assert!(behind.fix.unwrap_or_default().contains("NTP"));
    }
}
