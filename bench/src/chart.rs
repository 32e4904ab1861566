//! The history as a picture: one small panel per row, its figure over the recorded runs against
//! a dashed goal line. Small multiples because the rows' figures differ in kind and scale
//! (ratios near 1, a sign-in ratio near 10, milliseconds): each panel gets its own linear axis,
//! so a step in any row is visible. Plain SVG text, written here; no plotting dependency.

use crate::history::{GoalRecord, Run};
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const COLUMNS: usize = 2;
const PANEL_W: f64 = WIDTH / COLUMNS as f64;
const PANEL_H: f64 = 190.0;
const HEADER_H: f64 = 64.0;
/// The plot area inside a panel.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 124.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 36.0;
const MET: &str = "#1b7a34";
const MISSED: &str = "#c0262d";
const INK: &str = "#1f2328";
const FAINT: &str = "#6e7781";
const BORDER: &str = "#d0d7de";

/// One point of a panel, in SVG coordinates.
#[derive(Debug)]
pub struct Point {
    pub run: usize,
    pub x: f64,
    pub y: f64,
    pub figure: f64,
    pub met: Option<bool>,
}

/// One row's figure over the runs.
#[derive(Debug)]
pub struct Panel {
    pub key: String,
    pub what: String,
    pub goal: GoalRecord,
    pub unit: String,
    /// The goal line's height, in SVG coordinates (smaller is higher).
    pub goal_y: f64,
    pub points: Vec<Point>,
    /// The panel's top-left corner.
    pub origin: (f64, f64),
    /// The axis' ends, as figures: bottom and top.
    pub range: (f64, f64),
}

/// What a row's figure is counted in: "×" for ratios, else the row's unit.
fn unit_of(goal: GoalRecord, unit: Option<&str>) -> String {
    if goal.is_ratio() {
        "×".into()
    } else {
        unit.unwrap_or("").into()
    }
}

fn format(figure: f64, goal: GoalRecord, unit: &str) -> String {
    match goal {
        GoalRecord::RatioAtMost(_) | GoalRecord::RatioAtLeast(_) => format!("{figure:.2}×"),
        GoalRecord::MarginOverBaseline(_) => format!("{figure:+.1} {unit}"),
        GoalRecord::AtMost(_) => format!("{figure:.1} {unit}"),
    }
}

fn goal_text(goal: GoalRecord, unit: &str) -> String {
    match goal {
        GoalRecord::RatioAtMost(l) => format!("goal ≤ {l:.2}×"),
        GoalRecord::RatioAtLeast(l) => format!("goal ≥ {l:.2}×"),
        GoalRecord::AtMost(l) => format!("goal ≤ {l} {unit}"),
        GoalRecord::MarginOverBaseline(l) => format!("goal ≤ +{l} {unit}"),
    }
}

/// Lays the panels out: one per row key and unit (a row whose goal changes kind, say from
/// milliseconds to a ratio, starts a panel of its own), in the latest run's row order.
pub fn layout(runs: &[Run]) -> Vec<Panel> {
    let mut order: Vec<(String, String)> = Vec::new();
    for run in runs.iter().rev() {
        for row in &run.rows {
            let id = (row.key.clone(), unit_of(row.goal, row.unit.as_deref()));
            if row.figure.is_some() && !order.contains(&id) {
                order.push(id);
            }
        }
    }
    let plot_w = PANEL_W - LEFT - RIGHT;
    let plot_h = PANEL_H - TOP - BOTTOM;
    let x_of = |run: usize| {
        if runs.len() < 2 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * run as f64 / (runs.len() - 1) as f64
        }
    };
    order
        .into_iter()
        .enumerate()
        .map(|(n, (key, unit))| {
            let origin = (
                (n % COLUMNS) as f64 * PANEL_W,
                HEADER_H + (n / COLUMNS) as f64 * PANEL_H,
            );
            let mut found = Vec::new();
            let mut last = None;
            for (i, run) in runs.iter().enumerate() {
                let row = run.rows.iter().find(|r| {
                    r.key == key && unit_of(r.goal, r.unit.as_deref()) == unit && r.figure.is_some()
                });
                if let Some((row, figure)) = row.and_then(|r| r.figure.map(|f| (r, f))) {
                    found.push((i, figure, row.met));
                    last = Some(row);
                }
            }
            let (what, goal) = last.map_or((String::new(), GoalRecord::AtMost(0.0)), |r| {
                (r.what.clone(), r.goal)
            });
            let limit = goal.limit();
            let (mut lo, mut hi) = found.iter().fold((limit, limit), |(lo, hi), (_, f, _)| {
                (lo.min(*f), hi.max(*f))
            });
            let pad = if hi > lo {
                (hi - lo) * 0.12
            } else {
                lo.abs().max(1.0) * 0.1
            };
            lo -= pad;
            hi += pad;
            let y_of = |figure: f64| origin.1 + TOP + plot_h * (hi - figure) / (hi - lo);
            Panel {
                goal_y: y_of(limit),
                points: found
                    .into_iter()
                    .map(|(run, figure, met)| Point {
                        run,
                        x: origin.0 + x_of(run),
                        y: y_of(figure),
                        figure,
                        met,
                    })
                    .collect(),
                key,
                what,
                goal,
                unit,
                origin,
                range: (lo, hi),
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.into();
    }
    let cut: String = text.chars().take(chars - 1).collect();
    format!("{}…", cut.trim_end())
}

/// "11-28 10:10" from "2026-11-28T10:10Z".
fn short_date(date: &str) -> String {
    date.get(5..16).unwrap_or(date).replace('T', " ")
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no verdict",
    }
}

/// A point's mark: a hollow circle where the goal is met, a filled cross where it is missed,
/// so the two differ in shape and not only in colour.
fn mark(out: &mut String, p: &Point) {
    if p.met == Some(false) {
        let (x, y, r) = (p.x, p.y, 5.0);
        let _ = write!(
            out,
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{MISSED}" stroke-width="2.5" class="missed"/>"#,
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        );
    } else {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="white" stroke="{MET}" stroke-width="2" class="met"/>"#,
            p.x, p.y
        );
    }
}

/// The chart as an SVG document.
pub fn svg(runs: &[Run]) -> String {
    let panels = layout(runs);
    let rows = panels.len().div_ceil(COLUMNS).max(1);
    let height = HEADER_H + rows as f64 * PANEL_H;
    let mut out = String::new();
    let span = match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => format!(
            "{} recorded run{}, {} to {}",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            short_date(&first.date),
            short_date(&last.date)
        ),
        _ => "no recorded runs yet".into(),
    };
    let mut desc = format!(
        "Each panel is one row of BENCHMARKS.md: its figure in each recorded run (left to right, oldest first) against its goal, a dashed line. {span}. Latest:"
    );
    for panel in &panels {
        if let Some(p) = panel.points.last() {
            let _ = write!(
                desc,
                " {} {} ({}, {});",
                panel.key,
                format(p.figure, panel.goal, &panel.unit),
                goal_text(panel.goal, &panel.unit),
                verdict(p.met)
            );
        }
    }
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title desc" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12" fill="{INK}">
<title id="title">Kinvex benchmarks: each figure against its goal over the recorded runs</title>
<desc id="desc">{}</desc>
<rect width="100%" height="100%" fill="white"/>
<text x="16" y="26" font-size="16" font-weight="600">Kinvex benchmarks over the recorded runs ({})</text>
"#,
        escape(desc.trim_end_matches(';')),
        escape(&span)
    );
    let legend_y = 48.0;
    let _ = write!(
        out,
        r#"<circle cx="22" cy="{:.1}" r="4.5" fill="white" stroke="{MET}" stroke-width="2"/><text x="32" y="{legend_y}">goal met</text>"#,
        legend_y - 4.0
    );
    mark(
        &mut out,
        &Point {
            run: 0,
            x: 112.0,
            y: legend_y - 4.0,
            figure: 0.0,
            met: Some(false),
        },
    );
    let _ = writeln!(
        out,
        r#"<text x="122" y="{legend_y}">goal missed</text><line x1="214" x2="244" y1="{:.1}" y2="{:.1}" stroke="{FAINT}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="250" y="{legend_y}">goal; each panel has its own linear scale</text>"#,
        legend_y - 4.0,
        legend_y - 4.0
    );
    if panels.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="16" y="{:.1}">No runs recorded yet: a full `cargo xtask bench` adds the first.</text>"#,
            HEADER_H + 40.0
        );
    }
    for panel in &panels {
        panel_svg(&mut out, panel, runs);
    }
    out.push_str("</svg>\n");
    out
}

fn panel_svg(out: &mut String, panel: &Panel, runs: &[Run]) {
    let (ox, oy) = panel.origin;
    let (left, right) = (ox + LEFT, ox + PANEL_W - RIGHT);
    let (top, bottom) = (oy + TOP, oy + PANEL_H - BOTTOM);
    let goal = goal_text(panel.goal, &panel.unit);
    let _ = write!(
        out,
        r#"<g><title>{}: {}</title><text x="{:.1}" y="{:.1}" font-weight="600">{}</text><text x="{:.1}" y="{:.1}" fill="{FAINT}" font-size="11">{}</text>"#,
        escape(&panel.what),
        escape(&goal),
        ox + 16.0,
        oy + 16.0,
        escape(&shorten(&panel.what, 66)),
        ox + 16.0,
        oy + 30.0,
        escape(&panel.key)
    );
    let _ = write!(
        out,
        r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="{BORDER}"/>"#,
        right - left,
        bottom - top
    );
    for (figure, y) in [(panel.range.1, top), (panel.range.0, bottom)] {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{FAINT}" font-size="11">{}</text>"#,
            left - 6.0,
            y + 4.0,
            escape(&format(figure, panel.goal, &panel.unit))
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{left:.1}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{FAINT}" stroke-width="1.5" stroke-dasharray="6 4" class="goal"/><text x="{:.1}" y="{:.1}" fill="{FAINT}" font-size="11">{}</text>"#,
        right + 6.0,
        panel.goal_y + 4.0,
        escape(&goal),
        y = panel.goal_y
    );
    if panel.points.len() > 1 {
        let path: Vec<String> = panel
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", p.x, p.y))
            .collect();
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{INK}" stroke-width="1.5"/>"#,
            path.join(" ")
        );
    }
    for p in &panel.points {
        let _ = write!(
            out,
            "<g><title>{}: {} ({})</title>",
            escape(&runs[p.run].date),
            escape(&format(p.figure, panel.goal, &panel.unit)),
            verdict(p.met)
        );
        mark(out, p);
        out.push_str("</g>");
    }
    if let Some(p) = panel.points.last() {
        // Beside the goal's label, the latest figure goes above or below it, never over it.
        let y = if (p.y - panel.goal_y).abs() < 14.0 {
            panel.goal_y + if p.y <= panel.goal_y { -12.0 } else { 18.0 }
        } else {
            p.y + 4.0
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{y:.1}" font-weight="600">{} {}</text>"#,
            right + 10.0,
            escape(&format(p.figure, panel.goal, &panel.unit)),
            verdict(p.met)
        );
    }
    for run in date_labels(runs.len()) {
        let x = left
            + if runs.len() < 2 {
                (right - left) / 2.0
            } else {
                (right - left) * run as f64 / (runs.len() - 1) as f64
            };
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{FAINT}" font-size="11">{}</text>"#,
            bottom + 20.0,
            escape(&short_date(&runs[run].date))
        );
    }
    out.push_str("</g>\n");
}

/// The runs whose dates label the x axis: the first, the last and a few between, so the labels
/// never overlap.
fn date_labels(runs: usize) -> Vec<usize> {
    const MOST: usize = 5;
    if runs <= MOST {
        return (0..runs).collect();
    }
    let mut picked: Vec<usize> = (0..MOST).map(|i| i * (runs - 1) / (MOST - 1)).collect();
    picked.dedup();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::{ratio_row, run};

    #[test]
    fn a_missed_goal_draws_above_its_line_and_a_met_one_below() {
        let runs = vec![
            run("2026-11-28T10:10Z", vec![ratio_row("startup", 1.10, 1.25)]),
            run("2026-11-28T11:52Z", vec![ratio_row("startup", 1.71, 1.25)]),
        ];
        let panels = layout(&runs);
        assert_eq!(panels.len(), 1);
        let [met, missed] = &panels[0].points[..] else {
            panic!("two points expected");
        };
        assert!(
            met.y > panels[0].goal_y,
            "met {} goal {}",
            met.y,
            panels[0].goal_y
        );
        assert!(
            missed.y < panels[0].goal_y,
            "missed {} goal {}",
            missed.y,
            panels[0].goal_y
        );
        assert!(met.x < missed.x);
        let svg = svg(&runs);
        assert!(svg.contains(r#"class="missed""#) && svg.contains(r#"class="met""#));
        assert!(svg.contains(r#"stroke-dasharray="6 4" class="goal""#));
        assert!(
            svg.contains("1.71× missed"),
            "the latest figure is labelled in text"
        );
    }

    #[test]
    fn a_throughput_that_misses_draws_below_its_line() {
        let mut row = ratio_row("transfer-up", 0.6, 0.8);
        row.goal = GoalRecord::RatioAtLeast(0.8);
        row.met = Some(false);
        let panels = layout(&[run("2026-12-01T10:00Z", vec![row])]);
        assert!(panels[0].points[0].y > panels[0].goal_y);
    }

    #[test]
    fn an_empty_or_one_run_history_still_draws() {
        let empty = svg(&[]);
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>\n"));
        assert!(empty.contains("<title") && empty.contains("<desc") && empty.contains("No runs"));
        let one = svg(&[run(
            "2026-11-28T10:10Z",
            vec![ratio_row("memory", 1.26, 1.15)],
        )]);
        assert!(one.contains(r#"class="missed""#));
        assert!(one.contains("11-28 10:10"));
        assert!(!one.contains("NaN") && !one.contains("inf"));
    }

    #[test]
    fn a_row_whose_goal_changes_kind_gets_a_panel_per_kind() {
        let mut ms = ratio_row("files-10k", 99.0, 100.0);
        ms.goal = GoalRecord::AtMost(100.0);
        let runs = vec![
            run("2026-11-28T10:10Z", vec![ms]),
            run("2026-12-02T10:10Z", vec![ratio_row("files-10k", 1.2, 1.5)]),
        ];
        let units: Vec<String> = layout(&runs).into_iter().map(|p| p.unit).collect();
        assert_eq!(units, ["×", "ms"]);
    }
}
