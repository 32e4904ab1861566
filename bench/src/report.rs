//! Samples, ratios and the Markdown report.

use std::fmt::Write;

/// Repeated measurements of one thing, in one unit.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    pub fn median(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    fn range(&self) -> (f64, f64) {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }

    /// "412 ms (398–455, n=7)".
    pub fn describe(&self, unit: &str, decimals: usize) -> String {
        let (min, max) = self.range();
        if self.0.len() < 2 {
            return format!("{:.decimals$} {unit}", self.median());
        }
        format!(
            "{:.decimals$} {unit} ({min:.decimals$}–{max:.decimals$}, n={})",
            self.median(),
            self.0.len()
        )
    }
}

/// What a figure is held to.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// The subject over the baseline must not exceed this.
    RatioAtMost(f64),
    /// The subject over the baseline must be at least this (higher is better: throughput).
    RatioAtLeast(f64),
    /// The subject itself must not exceed this, in its own unit.
    AtMost(f64),
    /// The subject may exceed the baseline by at most this, in their unit: `value` is the
    /// median of the per-round differences, shown where a ratio would be.
    MarginOverBaseline(f64, &'static str),
}

pub struct Row {
    pub what: String,
    pub subject: String,
    pub baseline: String,
    /// Subject over baseline, when there is a baseline.
    pub ratio: Option<f64>,
    /// The subject's median, for goals in absolute units.
    pub value: f64,
    pub goal: Goal,
    pub goal_text: String,
    /// Why a goal is missed, or anything else the reader needs; filled in by the caller.
    pub note: String,
    /// Measured facts that explain the figure (a breakdown), shown under the table.
    pub detail: String,
    /// A condition of the goal that failed outright (say, more than one refresh).
    pub failure: Option<String>,
}

impl Row {
    pub fn met(&self) -> Option<bool> {
        if self.failure.is_some() {
            return Some(false);
        }
        match self.goal {
            Goal::RatioAtMost(limit) => self.ratio.map(|r| r <= limit),
            Goal::RatioAtLeast(limit) => self.ratio.map(|r| r >= limit),
            Goal::AtMost(limit) | Goal::MarginOverBaseline(limit, _) => Some(self.value <= limit),
        }
    }

    /// What the ratio column shows: the ratio, or for a difference goal the difference.
    pub fn ratio_text(&self) -> String {
        match (self.goal, self.ratio) {
            (Goal::MarginOverBaseline(_, unit), _) => format!("{:+.1} {unit}", self.value),
            (_, Some(ratio)) => format!("{ratio:.2}×"),
            (_, None) => "—".into(),
        }
    }

    /// "missed by 18%" or "met".
    pub fn verdict(&self) -> String {
        if let Some(failure) = &self.failure {
            return format!("missed: {failure}");
        }
        match (self.met(), self.goal) {
            (Some(true), _) => "met".into(),
            (Some(false), Goal::RatioAtMost(limit)) => {
                let ratio = self.ratio.unwrap_or(f64::NAN);
                format!("missed by {:.0}%", (ratio / limit - 1.0) * 100.0)
            }
            (Some(false), Goal::RatioAtLeast(limit)) => {
                let ratio = self.ratio.unwrap_or(f64::NAN);
                format!("missed by {:.0}%", (1.0 - ratio / limit) * 100.0)
            }
            (Some(false), Goal::AtMost(limit) | Goal::MarginOverBaseline(limit, _)) => {
                format!("missed by {:.0}%", (self.value / limit - 1.0) * 100.0)
            }
            _ => "—".into(),
        }
    }
}

pub struct Report {
    pub title: String,
    pub machine: Vec<(String, String)>,
    pub method: Vec<String>,
    pub rows: Vec<Row>,
    pub context: String,
    /// The chart of every figure over the recorded runs, relative to the report.
    pub chart: Option<String>,
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n", self.title);
        let _ = writeln!(
            out,
            "Written by `cargo xtask bench`; do not edit by hand. Each figure is measured in the same run as its baseline, interleaved, and given as a ratio: this machine is shared and noisy, so absolute times mean little across runs.\n"
        );
        let _ = writeln!(out, "## Machine\n");
        for (key, value) in &self.machine {
            let _ = writeln!(out, "- **{key}**: {value}");
        }
        let _ = writeln!(out, "\n## Results\n");
        if let Some(chart) = &self.chart {
            let _ = writeln!(
                out,
                "![Each figure below against its goal over the recorded runs, one panel per row; the data is in {}]({chart})\n",
                chart.replace("ratios.svg", "runs.jsonl")
            );
        }
        let _ = writeln!(out, "| what | Kinvex | baseline | ratio | goal | |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for row in &self.rows {
            let ratio = row.ratio_text();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.what,
                row.subject,
                row.baseline,
                ratio,
                row.goal_text,
                row.verdict()
            );
        }
        let notes: Vec<&Row> = self.rows.iter().filter(|r| !r.note.is_empty()).collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\n## Where a goal is missed, and why\n");
            for row in notes {
                let _ = writeln!(out, "- **{}**: {}", row.what, row.note);
            }
        }
        let details: Vec<&Row> = self.rows.iter().filter(|r| !r.detail.is_empty()).collect();
        if !details.is_empty() {
            let _ = writeln!(out, "\n## Breakdowns\n");
            for row in details {
                let _ = writeln!(out, "- **{}**: {}", row.what, row.detail);
            }
        }
        let _ = writeln!(out, "\n## Method\n");
        for line in &self.method {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n## For context\n\n{}", self.context);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ratio: f64, goal: Goal) -> Row {
        Row {
            what: "x".into(),
            subject: String::new(),
            baseline: String::new(),
            ratio: Some(ratio),
            value: ratio,
            goal,
            goal_text: String::new(),
            note: String::new(),
            detail: String::new(),
            failure: None,
        }
    }

    #[test]
    fn the_report_shows_the_chart_under_results() {
        let report = Report {
            title: "t".into(),
            machine: vec![],
            method: vec![],
            rows: vec![row(1.1, Goal::RatioAtMost(1.25))],
            context: String::new(),
            chart: Some("bench/ratios.svg".into()),
        };
        let text = report.markdown();
        let results = text.find("## Results").unwrap();
        let image = text.find("](bench/ratios.svg)\n").unwrap();
        assert!(results < image && image < text.find("| what |").unwrap());
        assert!(text.contains("the data is in bench/runs.jsonl"));
    }

    #[test]
    fn medians_and_verdicts() {
        let mut s = Samples::default();
        for v in [5.0, 1.0, 3.0, 2.0] {
            s.push(v);
        }
        assert_eq!(s.median(), 2.5);
        assert_eq!(s.describe("ms", 1), "2.5 ms (1.0–5.0, n=4)");
        assert_eq!(row(1.1, Goal::RatioAtMost(1.25)).verdict(), "met");
        assert_eq!(row(1.5, Goal::RatioAtMost(1.25)).verdict(), "missed by 20%");
        assert_eq!(row(150.0, Goal::AtMost(100.0)).verdict(), "missed by 50%");
    }

    #[test]
    fn a_higher_is_better_ratio_is_met_at_or_above_its_limit() {
        assert_eq!(row(0.8, Goal::RatioAtLeast(0.8)).verdict(), "met");
        assert_eq!(row(1.3, Goal::RatioAtLeast(0.8)).verdict(), "met");
        assert_eq!(row(0.6, Goal::RatioAtLeast(0.8)).verdict(), "missed by 25%");
        assert_eq!(row(0.6, Goal::RatioAtLeast(0.8)).ratio_text(), "0.60×");
    }

    #[test]
    fn a_difference_goal_is_held_to_the_difference_and_shows_it_for_the_ratio() {
        let mut within = row(3.0, Goal::MarginOverBaseline(50.0, "ms"));
        within.value = 42.0;
        assert_eq!(within.verdict(), "met");
        assert_eq!(within.ratio_text(), "+42.0 ms");
        let mut over = row(1.0, Goal::MarginOverBaseline(50.0, "ms"));
        over.value = 75.0;
        assert_eq!(over.verdict(), "missed by 50%");
        assert_eq!(row(1.5, Goal::RatioAtMost(1.0)).ratio_text(), "1.50×");
    }
}
