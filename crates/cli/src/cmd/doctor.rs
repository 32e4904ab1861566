//! `kinvex doctor`: every hop from the settings to a Convex call, checked and timed, with what to
//! change for each finding. Ends with 1 when a check failed, so a script can gate on it; `--json`
//! prints the same report for a bug report or a script.

use super::{Io, write_json};
use crate::cli::DoctorArgs;
use crate::colour::Colours;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use kinvex_doctor::{Inputs, Report, Status};
use std::ffi::OsStr;
use std::io::Write;

/// How the status marks are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    pub colour: bool,
    /// ✓ ! ✗ – rather than `[ok]` `[!!]` `[XX]` `[--]`.
    pub unicode: bool,
}

impl Marks {
    /// For this process's standard output and locale.
    pub fn detect() -> Marks {
        let var = |name| std::env::var_os(name);
        Marks {
            colour: Colours::detect().stdout,
            unicode: unicode_locale(
                var("LC_ALL").as_deref(),
                var("LC_CTYPE").as_deref(),
                var("LANG").as_deref(),
            ),
        }
    }
}

/// Whether the terminal's character set is UTF-8, by the POSIX locale precedence (the first set
/// of `LC_ALL`, `LC_CTYPE`, `LANG`). Windows terminals take Unicode whatever these say.
pub fn unicode_locale(all: Option<&OsStr>, ctype: Option<&OsStr>, lang: Option<&OsStr>) -> bool {
    if cfg!(windows) {
        return true;
    }
    let Some(locale) = [all, ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    else {
        return false;
    };
    let locale = locale.to_string_lossy().to_ascii_lowercase();
    locale.contains("utf-8") || locale.contains("utf8")
}

pub async fn run(
    inputs: Inputs<'_>,
    args: &DoctorArgs,
    marks: Marks,
    io: &mut Io<'_>,
) -> Result<Exit, CliError> {
    let report = kinvex_doctor::run(inputs).await;
    if args.json {
        let value = serde_json::to_value(&report).map_err(std::io::Error::from)?;
        write_json(io.out, &value)?;
    } else {
        text(io.out, &report, marks)?;
    }
    Ok(exit(&report))
}

/// 0 when no check failed (warnings and skips included), 1 otherwise.
fn exit(report: &Report) -> Exit {
    if report.ok {
        Exit::Success
    } else {
        Exit::Failure
    }
}

fn mark(status: Status, marks: Marks) -> String {
    let (unicode, ascii, colour) = match status {
        Status::Ok => ("✓", "[ok]", "32"),
        Status::Warn => ("!", "[!!]", "33"),
        Status::Fail => ("✗", "[XX]", "31"),
        Status::Skip => ("–", "[--]", "2"),
    };
    let shown = if marks.unicode { unicode } else { ascii };
    if marks.colour {
        format!("\u{1b}[{colour}m{shown}\u{1b}[0m")
    } else {
        shown.to_string()
    }
}

/// One line per check, its details and fix indented beneath; every value is escaped, since
/// many come from the provider or the deployment.
pub fn text(out: &mut dyn Write, report: &Report, marks: Marks) -> std::io::Result<()> {
    for check in &report.checks {
        writeln!(
            out,
            "{} {}: {} ({} ms)",
            mark(check.status, marks),
            escape::line(&check.title),
            escape::line(&check.summary),
            check.millis
        )?;
        for (label, value) in &check.details {
            writeln!(out, "    {}: {}", escape::line(label), escape::line(value))?;
        }
        if let Some(fix) = &check.fix {
            writeln!(out, "    fix: {}", escape::line(fix))?;
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    match failed {
        0 => writeln!(out, "No check failed."),
        1 => writeln!(out, "1 check failed."),
        n => writeln!(out, "{n} checks failed."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_doctor::Check;

    fn report(status: Status, summary: &str) -> Report {
        Report::new(vec![Check {
            id: "convex",
            title: "Convex deployment".into(),
            status,
            summary: summary.into(),
            details: vec![("message".into(), "a\u{1b}[2Jb".into())],
            fix: Some("set X".into()),
            millis: 4,
        }])
    }

    fn shown(report: &Report, marks: Marks) -> String {
        let mut out = Vec::new();
        text(&mut out, report, marks).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_line_per_check_with_its_details_and_fix_indented_and_escaped() {
        let plain = Marks {
            colour: false,
            unicode: true,
        };
        assert_eq!(
            shown(&report(Status::Fail, "refused"), plain),
            "✗ Convex deployment: refused (4 ms)\n    message: a\\x1b[2Jb\n    fix: set X\n1 check failed.\n"
        );
    }

    #[test]
    fn a_failed_check_ends_with_1_and_a_warning_does_not() {
        assert_eq!(exit(&report(Status::Fail, "x")), Exit::Failure);
        for status in [Status::Ok, Status::Warn, Status::Skip] {
            assert_eq!(exit(&report(status, "x")), Exit::Success, "{status:?}");
        }
    }

    #[test]
    fn marks_fall_back_to_ascii_and_colour_only_when_allowed() {
        let ascii = Marks {
            colour: false,
            unicode: false,
        };
        let out = shown(&report(Status::Warn, "slow"), ascii);
        assert!(out.starts_with("[!!] Convex"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour: {out}");
        let coloured = Marks {
            colour: true,
            unicode: true,
        };
        assert!(shown(&report(Status::Ok, "fine"), coloured).starts_with("\u{1b}[32m✓\u{1b}[0m"));
    }

    #[test]
    fn the_locale_decides_unicode_marks() {
        let os = |s: &'static str| Some(OsStr::new(s));
        if cfg!(windows) {
            return;
        }
        assert!(unicode_locale(None, None, os("en_GB.UTF-8")));
        assert!(unicode_locale(None, os("C.utf8"), os("C")));
        assert!(!unicode_locale(os("C"), os("en_GB.UTF-8"), None));
        assert!(!unicode_locale(None, None, None));
        assert!(unicode_locale(os(""), None, os("de_DE.UTF-8")));
    }
}
