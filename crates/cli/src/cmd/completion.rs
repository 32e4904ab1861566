//! `kinvex completion SHELL`: the shell's completion script, generated from the same clap
//! definition the parser uses.

use super::Io;
use crate::cli::{Cli, CompletionArgs};
use crate::error::CliError;
use crate::exit::Exit;
use clap::CommandFactory;

pub fn run(args: &CompletionArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    // clap_complete panics on a failed write; into memory first, so a closed pipe is an error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "kinvex", &mut script);
    io.out.write_all(&script)?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap_complete::Shell;

    fn script(shell: Shell) -> String {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        let exit = run(&CompletionArgs { shell }, &mut io).expect("generated");
        assert_eq!(exit, Exit::Success);
        assert!(err.is_empty());
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_commands_and_their_flags() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let script = script(shell);
            for word in ["kinvex", "login", "files", "login-hint", "limit", "json"] {
                assert!(script.contains(word), "{shell}: {word} missing");
            }
        }
    }
}
