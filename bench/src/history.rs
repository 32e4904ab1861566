//! The recorded runs as data: one JSON line per run in an append-only file, so the chart can
//! show every ratio over time and a regression is visible at a glance.

use crate::report::{Goal, Row};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The machine a run was measured on: the report's Machine section, less the date and profile
/// (kept on the run itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub cpu: String,
    pub memory: String,
    pub webkitgtk: String,
    pub rust: String,
    pub display: String,
}

impl Machine {
    /// Picks the fields out of the report's Machine section, by its labels.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(String::new, |(_, v)| v.clone())
        };
        Machine {
            os: get("OS"),
            cpu: get("CPU"),
            memory: get("Memory"),
            webkitgtk: get("WebKitGTK"),
            rust: get("Rust"),
            display: get("Display"),
        }
    }
}

/// What a row's figure is held to: the kind of goal and its number.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "limit")]
pub enum GoalRecord {
    RatioAtMost(f64),
    RatioAtLeast(f64),
    AtMost(f64),
    MarginOverBaseline(f64),
}

impl GoalRecord {
    pub fn limit(self) -> f64 {
        match self {
            GoalRecord::RatioAtMost(l)
            | GoalRecord::RatioAtLeast(l)
            | GoalRecord::AtMost(l)
            | GoalRecord::MarginOverBaseline(l) => l,
        }
    }

    pub fn is_ratio(self) -> bool {
        matches!(
            self,
            GoalRecord::RatioAtMost(_) | GoalRecord::RatioAtLeast(_)
        )
    }
}

/// One row of a run's table, as numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowRecord {
    /// A stable name for the row across runs ("startup", "files-10k"), see [`key`].
    pub key: String,
    pub what: String,
    /// The subject's and the baseline's medians, in `unit`.
    pub subject: Option<f64>,
    pub baseline: Option<f64>,
    pub unit: Option<String>,
    pub ratio: Option<f64>,
    /// The number the goal is held to: the ratio, the subject itself, or the difference.
    pub figure: Option<f64>,
    pub goal: GoalRecord,
    pub met: Option<bool>,
}

/// One recorded run: one line of the history file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// UTC, as `2026-11-28T11:52Z`.
    pub date: String,
    /// `git rev-parse --short HEAD`, when git could say.
    pub commit: Option<String>,
    /// Whether tracked files differed from that commit; unknown for backfilled runs.
    pub dirty: Option<bool>,
    pub machine: Machine,
    pub profile: String,
    pub rounds: usize,
    /// The one scenario run (`--only`), if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    /// Where the line came from, when not measured by the run that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub rows: Vec<RowRecord>,
}

/// A history file that could not be read or written, with a stable code.
#[derive(Debug)]
pub struct HistoryError {
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

/// A stable name for a row, the same whatever its wording says about sizes or spans.
pub fn key(what: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("Cold start", "startup"),
        ("Memory rise of the uploading", "memory-rise-up"),
        ("Memory rise of the downloading", "memory-rise-down"),
        ("Memory", "memory"),
        ("Sign-in", "sign-in"),
        ("1,000 concurrent", "refresh"),
        ("10,000 files", "files-10k"),
        ("Update latency", "update-latency"),
        (
            "A write on the backend → the change painted",
            "change-painted",
        ),
        ("CPU time of the idle", "idle-cpu"),
        ("Upload of a", "transfer-up"),
        ("Download of a", "transfer-down"),
        ("Binary size", "binary"),
        (".deb size", "deb"),
    ];
    if let Some((_, key)) = KNOWN.iter().find(|(prefix, _)| what.starts_with(prefix)) {
        return (*key).into();
    }
    let words: Vec<String> = what
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(4)
        .map(str::to_lowercase)
        .collect();
    words.join("-")
}

/// The median and unit a [`crate::report::Samples::describe`] text starts with: "436 ms (…)".
pub fn leading_figure(text: &str) -> Option<(f64, String)> {
    let mut words = text.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    let unit = words.next()?.trim_end_matches([';', ',']);
    Some((value, unit.to_string()))
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

impl RowRecord {
    pub fn from_row(row: &Row) -> Self {
        let subject = leading_figure(&row.subject);
        let baseline = leading_figure(&row.baseline);
        let goal = match row.goal {
            Goal::RatioAtMost(l) => GoalRecord::RatioAtMost(l),
            Goal::RatioAtLeast(l) => GoalRecord::RatioAtLeast(l),
            Goal::AtMost(l) => GoalRecord::AtMost(l),
            Goal::MarginOverBaseline(l, _) => GoalRecord::MarginOverBaseline(l),
        };
        let figure = if goal.is_ratio() {
            row.ratio
        } else {
            Some(row.value)
        };
        RowRecord {
            key: key(&row.what),
            what: row.what.clone(),
            subject: subject.as_ref().and_then(|s| finite(s.0)),
            baseline: baseline.and_then(|b| finite(b.0)),
            unit: subject.map(|s| s.1),
            ratio: row.ratio.and_then(finite),
            figure: figure.and_then(finite),
            goal,
            met: row.met(),
        }
    }
}

/// Appends one run as one line. The file is never rewritten, so nothing recorded is lost.
pub fn append(path: &Path, run: &Run) -> Result<(), HistoryError> {
    let failed = |e: std::io::Error| HistoryError {
        code: "bench-history-write",
        message: format!(
            "{}: could not append this run: {e}; the report was written, the history was not",
            path.display()
        ),
    };
    let line = serde_json::to_string(run).map_err(|e| HistoryError {
        code: "bench-history-write",
        message: format!("this run could not be encoded: {e}"),
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    // A last line without its newline (an edit by hand) would otherwise swallow this one.
    let needs_newline = std::fs::read(path)
        .map(|bytes| bytes.last().is_some_and(|b| *b != b'\n'))
        .unwrap_or(false);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    let text = format!("{}{line}\n", if needs_newline { "\n" } else { "" });
    file.write_all(text.as_bytes()).map_err(failed)
}

/// Reads every run; a line that is not a run stops the read with its line number. A missing
/// file is an empty history.
pub fn read(path: &Path) -> Result<Vec<Run>, HistoryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(HistoryError {
                code: "bench-history-read",
                message: format!("{}: {e}", path.display()),
            });
        }
    };
    parse(&text).map_err(|(line, e)| HistoryError {
        code: "bench-history-malformed",
        message: format!(
            "{} line {line} is not a recorded run ({e}); fix or remove that line by hand (the file is only ever appended to, so nothing else in it was changed), then `kinvex-bench --chart-only` redraws the chart",
            path.display()
        ),
    })
}

/// The runs in a history's text, or the first bad line's number (from 1) and why.
fn parse(text: &str) -> Result<Vec<Run>, (usize, serde_json::Error)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| (i + 1, e)))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn run(date: &str, rows: Vec<RowRecord>) -> Run {
        Run {
            date: date.into(),
            commit: Some("abc1234".into()),
            dirty: Some(false),
            machine: Machine::default(),
            profile: "release".into(),
            rounds: 7,
            only: None,
            source: None,
            rows,
        }
    }

    pub(crate) fn ratio_row(key: &str, ratio: f64, limit: f64) -> RowRecord {
        RowRecord {
            key: key.into(),
            what: key.into(),
            subject: Some(ratio * 100.0),
            baseline: Some(100.0),
            unit: Some("ms".into()),
            ratio: Some(ratio),
            figure: Some(ratio),
            goal: GoalRecord::RatioAtMost(limit),
            met: Some(ratio <= limit),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kinvex-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("runs.jsonl")
    }

    #[test]
    fn a_run_round_trips_through_its_line() {
        let path = scratch("round-trip");
        let mut first = run("2026-11-28T10:10Z", vec![ratio_row("startup", 1.71, 1.25)]);
        first.source = Some("backfilled from BENCHMARKS.md at e4d86a5".into());
        first.rows[0].goal = GoalRecord::RatioAtLeast(0.8);
        let second = run("2026-11-28T11:52Z", vec![ratio_row("memory", 1.26, 1.15)]);
        append(&path, &first).unwrap();
        append(&path, &second).unwrap();
        assert_eq!(read(&path).unwrap(), vec![first, second]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains(r#""goal":{"kind":"ratio-at-least","limit":0.8}"#));
    }

    #[test]
    fn a_row_keeps_its_medians_unit_goal_and_verdict() {
        let row = Row {
            what: "Cold start to the signed-in profile painted".into(),
            subject: "436 ms (396–496, n=7)".into(),
            baseline: "255 ms (248–314, n=7) (bare window to DOMContentLoaded)".into(),
            ratio: Some(1.71),
            value: 436.0,
            goal: Goal::RatioAtMost(1.25),
            goal_text: "≤ 1.25×".into(),
            note: String::new(),
            detail: String::new(),
            failure: None,
        };
        let record = RowRecord::from_row(&row);
        assert_eq!(record.key, "startup");
        assert_eq!(record.subject, Some(436.0));
        assert_eq!(record.baseline, Some(255.0));
        assert_eq!(record.unit.as_deref(), Some("ms"));
        assert_eq!(record.figure, Some(1.71));
        assert_eq!(record.goal, GoalRecord::RatioAtMost(1.25));
        assert_eq!(record.met, Some(false));
        assert_eq!(
            leading_figure("155 ms (137–211, n=7); refreshes per burst: 1"),
            Some((155.0, "ms".into()))
        );
        assert_eq!(leading_figure("—"), None);
        assert_eq!(
            key("Memory rise of the uploading process (256 MiB file)"),
            "memory-rise-up"
        );
        assert_eq!(
            key("Memory (PSS of the app and its WebKit processes), idle"),
            "memory"
        );
    }

    #[test]
    fn a_malformed_line_is_named_by_number_and_nothing_is_rewritten() {
        let path = scratch("malformed");
        append(&path, &run("2026-11-28T10:10Z", vec![])).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"date\": \"half a line\"");
        std::fs::write(&path, &text).unwrap();
        let error = read(&path).unwrap_err();
        assert_eq!(error.code, "bench-history-malformed");
        assert!(error.to_string().contains("line 2 "), "{error}");
        // A later run is appended on a line of its own, after the bad one, which stays as it was.
        append(&path, &run("2026-11-29T10:10Z", vec![])).unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.starts_with(&text));
        assert_eq!(after.lines().count(), 3);
        assert!(read(&path).unwrap_err().to_string().contains("line 2 "));
    }

    #[test]
    fn a_missing_file_is_an_empty_history() {
        assert_eq!(read(&scratch("missing")).unwrap(), vec![]);
    }
}
