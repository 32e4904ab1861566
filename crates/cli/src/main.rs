//! `kinvex`: the sign-in core from a terminal, in the spirit of `gh`. This file only wires the
//! process to the commands: arguments, colour, logging, the clock, stdout and stderr, and how an
//! error is printed and ends the process.

mod cli;
mod cmd;
mod colour;
mod error;
mod escape;
mod exit;
mod human;
mod log;
mod setup;

use crate::cmd::Io;
use crate::colour::Colours;
use crate::exit::Exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let colours = Colours::detect();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let cli = match cli::parse(std::env::args_os(), colours, &mut out, &mut err) {
        Ok(cli) => cli,
        Err(exit) => return exit.into(),
    };
    log::init(colours.stderr);
    let clock = kinvex_clock::system();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
    };
    match cmd::run(cli.command, clock.as_ref(), &mut io) {
        Ok(exit) => exit.into(),
        Err(e) if e.is_closed_output() => Exit::Success.into(),
        Err(e) => {
            let _ = e.report(io.err, colours.stderr);
            e.exit().into()
        }
    }
}
