//! What a diagnosis found: one [`Check`] per hop, in the order a request travels, and the plain
//! text a person copies into a bug report. Nothing here holds a secret: the checks put only
//! redacted claims into their details.

use serde::Serialize;
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// No check failed (warnings and skips allowed).
    pub ok: bool,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Stable, for scripts and tests: `settings`, `discovery`, `client`, `jwks`, `clock`,
    /// `keychain`, `token`, `refresh`, `convex`.
    pub id: &'static str,
    pub title: String,
    pub status: Status,
    /// One sentence: what was found.
    pub summary: String,
    /// What was looked at, as label and value (values may come from a server: escape before
    /// printing them to a terminal).
    pub details: Vec<(String, String)>,
    /// What to change, naming the setting, whenever the status is not `ok`.
    pub fix: Option<String>,
    /// How long the check took.
    pub millis: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Could not be checked (not signed in, nothing configured, an earlier hop failed).
    Skip,
}

impl Status {
    /// The word the plain text uses.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    /// The check `id`, if it ran.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The copyable plain-text form: no colour, no secrets, one check per paragraph, control
    /// characters from servers shown escaped.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for check in &self.checks {
            let _ = writeln!(
                text,
                "[{}] {}: {} ({} ms)",
                check.status.label(),
                check.title,
                inert(&check.summary),
                check.millis
            );
            for (label, value) in &check.details {
                let _ = writeln!(text, "    {}: {}", inert(label), inert(value));
            }
            if let Some(fix) = &check.fix {
                let _ = writeln!(text, "    fix: {}", inert(fix));
            }
        }
        let verdict = if self.ok {
            "No check failed."
        } else {
            "Some checks failed; each says what to change."
        };
        text.push_str(verdict);
        text.push('\n');
        text
    }
}

/// `text` with control and bidirectional-override characters written as `\u{..}`, so a value a
/// server sent cannot break the text's lines or reorder what is read.
pub fn inert(text: &str) -> String {
    let hazardous = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{061c}')
    };
    text.chars()
        .map(|c| {
            if hazardous(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(id: &'static str, status: Status) -> Check {
        Check {
            id,
            title: id.to_string(),
            status,
            summary: "s".into(),
            details: vec![("k".into(), "v".into())],
            fix: (status != Status::Ok).then(|| "do x".into()),
            millis: 3,
        }
    }

    #[test]
    fn only_a_failure_makes_the_report_not_ok() {
        assert!(
            Report::new(vec![
                check("a", Status::Ok),
                check("b", Status::Warn),
                check("c", Status::Skip)
            ])
            .ok
        );
        assert!(!Report::new(vec![check("a", Status::Ok), check("b", Status::Fail)]).ok);
    }

    #[test]
    fn the_text_has_a_line_per_check_detail_and_fix() {
        let text = Report::new(vec![check("a", Status::Ok), check("b", Status::Fail)]).to_text();
        assert_eq!(
            text,
            "[ok] a: s (3 ms)\n    k: v\n[FAIL] b: s (3 ms)\n    k: v\n    fix: do x\nSome checks failed; each says what to change.\n"
        );
    }

    #[test]
    fn json_has_lowercase_statuses_and_details_as_pairs() {
        let value = serde_json::to_value(Report::new(vec![check("b", Status::Fail)])).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "ok": false,
                "checks": [{
                    "id": "b", "title": "b", "status": "fail", "summary": "s",
                    "details": [["k", "v"]], "fix": "do x", "millis": 3,
                }],
            })
        );
    }

    #[test]
    fn server_text_cannot_break_lines_or_reorder_them() {
        assert_eq!(
            inert("a\nb\u{1b}[2J\u{202e}c"),
            "a\\u{a}b\\u{1b}[2J\\u{202e}c"
        );
    }
}
