//! Values as a person reads them: who someone is, how long a session lasts, dates and sizes.
//! Names and emails come from the provider or the backend, so they are escaped here.

use crate::escape;

/// `Name <email>`, or as much of it as is known, falling back to the subject.
pub fn who(name: Option<&str>, email: Option<&str>, subject: &str) -> String {
    let (name, email, subject) = (
        name.map(escape::line),
        email.map(escape::line),
        escape::line(subject),
    );
    match (name, email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (None, Some(email)) => email.into_owned(),
        (Some(name), None) => format!("{name} ({subject})"),
        (None, None) => subject.into_owned(),
    }
}

/// How much longer a session expiring at `expires_at` lasts, from `now` (both Unix seconds).
pub fn until(expires_at: i64, now: i64) -> String {
    match expires_at - now {
        left if left <= 0 => "expired; it will be refreshed when next used".into(),
        left if left < 120 => "valid for about a minute more".into(),
        left if left < 7200 => format!("valid for {} more minutes", left / 60),
        left => format!("valid for {} more hours", left / 3600),
    }
}

/// `YYYY-MM-DD` (UTC) for milliseconds since the epoch.
pub fn date(ms: f64) -> String {
    let days = (ms / 86_400_000.0).floor() as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Bytes in binary units with one decimal: `470.8 KB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_sizes() {
        assert_eq!(date(0.0), "1970-01-01");
        assert_eq!(date(1_709_251_200_000.0), "2024-03-01");
        assert_eq!(date(951_782_400_000.0), "2000-02-29");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(482_113), "470.8 KB");
        assert_eq!(size(48_221_991), "46.0 MB");
    }

    #[test]
    fn who_says_as_much_as_is_known() {
        let subject = "kp_1";
        assert_eq!(
            who(Some("Dana Demo"), Some("demo@kinvex.dev"), subject),
            "Dana Demo <demo@kinvex.dev>"
        );
        assert_eq!(
            who(None, Some("demo@kinvex.dev"), subject),
            "demo@kinvex.dev"
        );
        assert_eq!(who(Some("Dana"), None, subject), "Dana (kp_1)");
        assert_eq!(who(None, None, subject), "kp_1");
        assert_eq!(
            who(Some("Dana\u{1b}[2K\rroot"), Some("a\n@b"), subject),
            "Dana\\x1b[2K\\rroot <a\\n@b>"
        );
    }

    #[test]
    fn how_long_a_session_lasts() {
        let now = 1_000_000;
        assert_eq!(
            until(now - 1, now),
            "expired; it will be refreshed when next used"
        );
        assert_eq!(
            until(now, now),
            "expired; it will be refreshed when next used"
        );
        assert_eq!(until(now + 90, now), "valid for about a minute more");
        assert_eq!(until(now + 45 * 60, now), "valid for 45 more minutes");
        assert_eq!(until(now + 5 * 3600, now), "valid for 5 more hours");
    }
}
