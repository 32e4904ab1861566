//! When output is coloured: only on a terminal, and never while `NO_COLOR` is set to anything
//! (no-color.org). One decision per stream, used for clap's help and usage errors, the `error:`
//! prefix, and tracing's log lines alike.

use clap::builder::styling::{AnsiColor, Style};
use std::ffi::OsStr;
use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colours {
    pub stdout: bool,
    pub stderr: bool,
}

impl Colours {
    /// For this process's standard streams and environment.
    pub fn detect() -> Colours {
        Colours::decide(
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    pub fn decide(stdout_is_tty: bool, stderr_is_tty: bool, no_color: Option<&OsStr>) -> Colours {
        let allowed = no_color.is_none_or(OsStr::is_empty);
        Colours {
            stdout: allowed && stdout_is_tty,
            stderr: allowed && stderr_is_tty,
        }
    }
}

/// `error:` as clap writes it (bold red), so our errors and its usage errors look alike.
pub fn error_prefix(colour: bool) -> String {
    if colour {
        let style = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
        format!("{style}error:{style:#}")
    } else {
        "error:".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal() {
        let both = Colours::decide(true, true, None);
        assert_eq!((both.stdout, both.stderr), (true, true));
        let piped = Colours::decide(false, true, None);
        assert_eq!((piped.stdout, piped.stderr), (false, true));
        let neither = Colours::decide(false, false, None);
        assert_eq!((neither.stdout, neither.stderr), (false, false));
    }

    #[test]
    fn never_with_no_color_set_to_anything() {
        for value in ["1", "0", "false", "yes"] {
            let colours = Colours::decide(true, true, Some(OsStr::new(value)));
            assert_eq!((colours.stdout, colours.stderr), (false, false), "{value}");
        }
        // An empty value counts as unset (no-color.org).
        let empty = Colours::decide(true, true, Some(OsStr::new("")));
        assert_eq!((empty.stdout, empty.stderr), (true, true));
    }

    #[test]
    fn the_error_prefix_is_plain_without_colour() {
        assert_eq!(error_prefix(false), "error:");
        let coloured = error_prefix(true);
        assert!(
            coloured.starts_with('\u{1b}') && coloured.contains("error:"),
            "{coloured:?}"
        );
        assert!(coloured.ends_with("\u{1b}[0m"), "{coloured:?}");
    }
}
