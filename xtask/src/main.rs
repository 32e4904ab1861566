//! `cargo xtask <task>`: the project's commands, so a fresh clone needs nothing but Rust.

mod icons;
mod session;
mod system;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  dev      build and launch the desktop app
  test     run the whole suite: lints, Rust tests and end-to-end tests in a real window
           (Xvfb + D-Bus + gnome-keyring). Extra arguments go to the test runner as filters.
  icons    draw the app's mark and regenerate every icon in icons/ and ui/mark.png
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("dev") => dev(),
        Some("test") => test(&rest),
        Some("icons") => icons::generate(&root().join("icons"), &root().join("ui")),
        Some(session::INSIDE) => return session::inside(&rest),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask's manifest sits one level below it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, failing with its description when it does not succeed.
fn run(mut command: Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

fn dev() -> Result<(), String> {
    system::ensure(system::BUILD)?;
    let mut app = cargo();
    app.args(["run", "--package", "kinvex-desktop"]);
    run(app, "launching the desktop app")
}

fn test(filters: &[String]) -> Result<(), String> {
    system::ensure(system::BUILD)?;
    system::ensure(system::DESKTOP_SESSION)?;
    system::ensure_tauri_driver()?;

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(fmt, "checking formatting (cargo fmt --all --check)")?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy, "linting (cargo clippy -- -D warnings)")?;

    // The end-to-end tests drive the binary a developer gets from a plain `cargo build`.
    let mut build = cargo();
    build.args(["build", "--locked", "--package", "kinvex-desktop"]);
    run(build, "building the desktop app")?;
    let app = target_dir().join("debug").join("kinvex-desktop");
    let artifacts = target_dir().join("e2e-artifacts");

    let mut tests = cargo();
    if system::has_nextest() {
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]);
        tests.args(filters);
    } else {
        eprintln!(
            "xtask: cargo-nextest not found, using cargo test (install: cargo install cargo-nextest --locked)"
        );
        tests.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
        tests.args(filters);
        tests.args(["--", "--test-threads=1"]);
    }
    tests
        .env("KINVEX_E2E_APP", &app)
        .env("KINVEX_E2E_ARTIFACTS", &artifacts);
    run(
        session::wrap(tests)?,
        "running the test suite in a desktop session",
    )?;
    eprintln!("xtask: screenshots are in {}", artifacts.display());
    Ok(())
}
