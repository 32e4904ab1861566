//! A transfer's progress bar: on standard error, and only when that is a terminal and the output
//! is not `--json`, so scripts and logs never get redraws.

use crate::escape;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kinvex_convex::storage::Progress;
use std::io::IsTerminal;

/// Whether bars are drawn for this command.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// One transfer's bar, or nothing.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// `label` (a file's name, from the person or the backend) is escaped here.
    pub fn new(show: bool, label: &str, total: Option<u64>) -> Bar {
        if !show {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:30!} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta} left",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(escape::line(label).into_owned());
        Bar(Some(bar))
    }

    pub fn update(&self, progress: Progress) {
        if let Some(bar) = &self.0 {
            if let Some(total) = progress.total {
                bar.set_length(total);
            }
            bar.set_position(progress.done);
        }
    }

    /// Clears the bar, so the outcome printed next stands alone.
    pub fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.clear();
    }
}
