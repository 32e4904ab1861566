//! `cargo xtask <task>`: the project's commands, so a fresh clone needs nothing but Rust.

mod bench;
mod bundle;
mod fuzz;
mod hostile;
mod icons;
mod session;
mod standalone;
mod system;
mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  setup    install what the app, the suite and the tools need (Debian/Ubuntu packages as root,
           or the apt-get line to run; tauri-driver and cargo-nextest; npm packages). dev, test,
           bench and bundle run it first
  dev      start the local stack (Kinde- and Convex-compatible) and the desktop app against it
  test     run the whole suite: lints, Rust tests and end-to-end tests in a real window
           (Xvfb + D-Bus + gnome-keyring). Extra arguments go to the test runner as filters;
           a filtered run skips the lints, the Convex functions' tests, the installer build
           and the benchmarks (the installer test reuses the last .deb built)
  bundle   build release installers (Linux: .deb and .rpm; macOS: .app and .dmg; Windows: NSIS
           and MSI) carrying the tenant settings (KINDE_*, CONVEX_URL) set in the environment
  bench    measure start-up, sign-in, refresh, files, live-update latency (against the npm
           ConvexClient), a change painted, idle CPU, memory and size against a bare Tauri
           window, and file transfers against curl, and write BENCHMARKS.md (--quick: one round
           in debug; --only startup|sign-in|refresh|files|live|paint|idle|transfer|size: one
           scenario; both report under target/bench)
  fuzz     run every fuzz target under AFL++ (afl.rs, stable toolchain) for N seconds each
           (--seconds N, default 60; --target callback|id_token|webhook|convex|config); the
           suite runs each over its seeds for a few seconds
  hostile  print the table of the last hostile-suite run (target/hostile/*.json); `test`
           prints it after a full run
  icons    draw the app's mark and regenerate every icon in icons/ and ui/mark.png
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("setup") => system::setup(system::Purpose::Test),
        Some("dev") => dev(),
        Some("test") => test(&rest),
        Some("bench") => bench::bench(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("hostile") => hostile::summary(),
        Some("bundle") => bundle::build(&bundle::tenant_from_env()).map(|_| ()),
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

/// The folders whose npm packages `purpose` needs: the pinned Tauri CLI at the root; the
/// official Convex client the wire test runs; Kinde's own packages the provider is held to;
/// convex-test for the project's functions.
fn npm_packages(purpose: system::Purpose) -> Vec<PathBuf> {
    let mut dirs = vec![root()];
    if purpose == system::Purpose::Test {
        dirs.extend([
            root().join("tests/wire"),
            root().join("tests/kinde"),
            root().join("convex"),
        ]);
    }
    dirs
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

/// `cargo build --locked` of `packages`, in the release profile or the dev one.
fn build(packages: &[&str], release: bool, what: &str) -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--locked"]);
    if release {
        build.arg("--release");
    }
    for package in packages {
        build.args(["--package", package]);
    }
    run(build, what)
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

/// Starts the local stack, then the app against it; stops the stack when the app exits.
fn dev() -> Result<(), String> {
    system::setup(system::Purpose::Develop)?;
    build(
        &["kinvex-devstack", "kinvex-desktop"],
        false,
        "building the local stack and the desktop app",
    )?;

    let data = root().join(".devstack");
    let env_file = data.join("app.env");
    let _ = std::fs::remove_file(&env_file);
    let mut stack = std::process::Command::new(target_dir().join("debug/devstack"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--env-file")
        .arg(&env_file)
        .spawn()
        .map_err(|e| format!("could not start the local stack: {e}"))?;
    let settings = wait_for_env_file(&mut stack, &env_file);
    let result = settings.and_then(|settings| {
        let mut app = std::process::Command::new(target_dir().join("debug/kinvex-desktop"));
        app.envs(settings);
        run(app, "launching the desktop app against the local stack")
    });
    stop(&mut stack);
    result
}

/// The stack writes its settings file only once it accepts connections: that is the signal.
fn wait_for_env_file(
    stack: &mut std::process::Child,
    path: &Path,
) -> Result<Vec<(String, String)>, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Ok(text
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect());
        }
        if let Ok(Some(status)) = stack.try_wait() {
            return Err(format!(
                "the local stack exited before it was ready ({status})"
            ));
        }
        if std::time::Instant::now() > deadline {
            stop(stack);
            return Err("the local stack did not become ready within a minute".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Asks the stack to shut down cleanly (SIGTERM), then waits for it.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    #[cfg(not(unix))]
    let _ = child.kill();
    let _ = child.wait();
}

/// `cargo fmt --check` and `cargo clippy -D warnings` over the whole workspace.
fn lint() -> Result<(), String> {
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
    run(clippy, "linting (cargo clippy -- -D warnings)")
}

fn test(filters: &[String]) -> Result<(), String> {
    system::setup(system::Purpose::Test)?;

    // A run narrowed with filters is a developer's inner loop: the lints, the Convex functions'
    // tests and the release installer are left to the full run (an existing .deb is reused).
    let full = filters.is_empty();
    if full {
        lint()?;
        // The project's Convex functions, under convex-test (the same contract cases as the stack).
        let mut convex = Command::new("npm");
        convex
            .args(["test", "--silent"])
            .current_dir(root().join("convex"))
            .env("NO_COLOR", "1");
        run(convex, "testing the Convex functions (convex-test)")?;
    }
    // Under a second: worth running on every loop.
    ui::test()?;

    // The end-to-end tests drive the binary a developer gets from a plain `cargo build`.
    build(
        &["kinvex-desktop", "kinvex-cli", "kinvex-devstack"],
        false,
        "building the desktop app, the CLI and the local stack",
    )?;
    // The installer test installs this .deb: a release build carrying a made-up tenant, so the
    // test can see that the settings were compiled in.
    let deb = if full {
        let installers = bundle::build(&bundle::installer_check_tenant())?;
        Some(
            installers
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == "deb"))
                .ok_or("the bundle step made no .deb")?
                .clone(),
        )
    } else {
        bundle::existing_deb()
    };

    let debug = target_dir().join("debug");
    let app = debug.join("kinvex-desktop");
    let artifacts = target_dir().join("e2e-artifacts");

    let mut tests = cargo();
    tests.args([
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-fail-fast",
    ]);
    tests.args(filters);
    tests
        .env("KINVEX_E2E_APP", &app)
        .env("KINVEX_E2E_CLI", debug.join("kinvex"))
        .env("KINVEX_E2E_DEVSTACK", debug.join("devstack"))
        .env("KINVEX_E2E_ARTIFACTS", &artifacts)
        .env("KINVEX_E2E_DEB_ISSUER", bundle::INSTALLER_CHECK_ISSUER);
    if let Some(deb) = &deb {
        tests.env("KINVEX_E2E_DEB", deb);
    }
    run(
        session::wrap(tests)?,
        "running the test suite in a desktop session",
    )?;
    eprintln!("xtask: screenshots are in {}", artifacts.display());
    if full {
        eprintln!("xtask: the hostile suite's counts (SECURITY.md shows the last full run)");
        hostile::summary()?;
    }
    // The benchmarks in one quick round: proof they still run, no thresholds (CI timings are
    // noise). Skipped when the run was narrowed with filters.
    if full {
        bench::bench(&["--quick".to_string()])?;
    }
    Ok(())
}
