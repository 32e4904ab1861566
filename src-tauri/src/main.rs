// Release builds on Windows get no console window behind the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    match kinvex_desktop::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Kinvex could not start: {err}");
            ExitCode::FAILURE
        }
    }
}
