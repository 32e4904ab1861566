//! How `kinvex` ends, for scripts: the three exit codes it uses, as `gh` does.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked.
    Success,
    /// 1: it ran and failed, or the answer is "no" (`status` when signed out).
    Failure,
    /// 2: it could not start as invoked: a usage error, or a setting that is missing or wrong.
    /// Nothing was attempted; the fix is in the command line or the environment.
    Usage,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}
