//! The one list of what the app, its tests and its tools need from the system, and the
//! installer for it (`cargo xtask setup`, which `dev`, `test`, `bench` and `bundle` run too).
//!
//! On Debian and Ubuntu a missing package is installed when running as root; otherwise the exact
//! `apt-get install` line is printed and the task stops. Each package names the programs it
//! provides, and a test holds every program the suite runs to this list.

use std::path::Path;
use std::process::{Command, Stdio};

/// A Debian package and how to tell that it is present.
pub struct Need {
    package: &'static str,
    /// The programs of this package that something here runs.
    programs: &'static [&'static str],
    /// A pkg-config module, for libraries.
    pkg_config: Option<&'static str>,
}

const fn programs(package: &'static str, programs: &'static [&'static str]) -> Need {
    Need {
        package,
        programs,
        pkg_config: None,
    }
}

const fn library(package: &'static str, module: &'static str) -> Need {
    Need {
        package,
        programs: &[],
        pkg_config: Some(module),
    }
}

/// What building the Tauri app needs on Linux.
pub const BUILD: &[Need] = &[
    programs("pkg-config", &["pkg-config"]),
    programs("build-essential", &["cc"]),
    programs("file", &["file"]),
    // `kill` stops the local stack cleanly; minimal images leave procps out.
    programs("procps", &["kill"]),
    library("libwebkit2gtk-4.1-dev", "webkit2gtk-4.1"),
    library("libgtk-3-dev", "gtk+-3.0"),
    library("librsvg2-dev", "librsvg-2.0"),
    // HTTPS through the system's OpenSSL.
    library("libssl-dev", "openssl"),
    // The Secret Service client talks D-Bus through libdbus.
    library("libdbus-1-dev", "dbus-1"),
];

/// What the end-to-end tests need: a virtual display, a session bus, the Secret Service, the
/// WebDriver for WebKitGTK, the desktop's URL opener and Debian's Chromium.
pub const DESKTOP_SESSION: &[Need] = &[
    programs("xvfb", &["xvfb-run", "Xvfb"]),
    programs("xauth", &["xauth"]),
    programs("dbus", &["dbus-run-session", "dbus-daemon"]),
    programs("dbus-x11", &["dbus-launch"]),
    programs("gnome-keyring", &["gnome-keyring-daemon"]),
    // The tests read the keychain from outside the app, as another program would.
    programs("libsecret-tools", &["secret-tool"]),
    programs("webkit2gtk-driver", &["WebKitWebDriver"]),
    // The custom-scheme redirect: the browser's opener, GIO behind it, the desktop database.
    programs("xdg-utils", &["xdg-open", "xdg-mime"]),
    programs("libglib2.0-bin", &["gio", "gdbus"]),
    programs("desktop-file-utils", &["update-desktop-database"]),
    programs("chromium", &["chromium"]),
    programs("chromium-driver", &["chromedriver"]),
    // The file-transfer benchmark's baseline: the same POST and GET as the app's client.
    programs("curl", &["curl"]),
    // A full disk, for real: the storage tests mount a 1 MiB tmpfs to download into.
    programs("mount", &["mount", "umount"]),
    // A child that does nothing for a while, for the CPU and process-tree tests of the bench.
    programs("coreutils", &["sleep"]),
];

/// The official npm clients (Convex's, the Tauri CLI) and the UI's unit tests run on Node.js.
pub const NODE: &[Need] = &[
    programs("nodejs", &["node"]),
    programs("npm", &["npm", "npx"]),
];

/// Programs installed with cargo rather than apt.
pub struct CargoTool {
    pub program: &'static str,
    install: &'static [&'static str],
    why: &'static str,
}

/// tauri-driver puts the app behind WebDriver; nextest runs the suite (one window at a time).
pub const CARGO_TOOLS: &[CargoTool] = &[
    CargoTool {
        program: "tauri-driver",
        install: &["tauri-driver", "--locked", "--version", "^2"],
        why: "drives the app's window in the end-to-end tests",
    },
    CargoTool {
        program: "cargo-nextest",
        install: &["cargo-nextest", "--locked"],
        why: "runs the test suite",
    },
];

/// `cargo xtask fuzz` only: afl.rs's cargo subcommand, which builds AFL++ from the sources in
/// its crate when it is installed.
pub const FUZZ_TOOLS: &[CargoTool] = &[CargoTool {
    program: "cargo-afl",
    install: &["cargo-afl", "--locked", "--version", "^0.18"],
    why: "runs the fuzz targets under AFL++",
}];

/// What a task needs installed.
#[derive(Clone, Copy, PartialEq)]
pub enum Purpose {
    /// Building and running the app (`dev`, `bundle`).
    Develop,
    /// Everything: the suite and the benchmarks (`setup`, `test`, `bench`).
    Test,
}

/// Installs what `purpose` needs that is missing: system packages, cargo tools, npm packages.
pub fn setup(purpose: Purpose) -> Result<(), String> {
    ensure(BUILD)?;
    ensure(NODE)?;
    super::npm_packages(purpose)
        .iter()
        .try_for_each(|dir| ensure_npm_packages(dir))?;
    if purpose == Purpose::Test {
        ensure(DESKTOP_SESSION)?;
        CARGO_TOOLS.iter().try_for_each(ensure_cargo_tool)?;
    }
    Ok(())
}

/// Makes sure every package in `needs` is present, installing them as root where possible.
fn ensure(needs: &[Need]) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return if std::ptr::eq(needs, DESKTOP_SESSION) {
            Err("the end-to-end suite runs on Linux (Xvfb, WebKitWebDriver); use a Linux machine or CI".into())
        } else {
            Ok(())
        };
    }
    let missing = missing(needs);
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !(is_root() && on_path("apt-get")) {
        return Err(format!(
            "missing system packages: {}\ninstall them with:\n  sudo {line}",
            missing.join(", ")
        ));
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("apt-get: {e}"))
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    let status = apt(&install)?;
    let still = self::missing(needs);
    if status.success() && still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "could not install {}; try:\n  {line}",
            still.join(" ")
        ))
    }
}

/// Installs a cargo tool when it is not on the PATH.
pub fn ensure_cargo_tool(tool: &CargoTool) -> Result<(), String> {
    if on_path(tool.program) {
        return Ok(());
    }
    let line = format!("cargo install {}", tool.install.join(" "));
    eprintln!(
        "xtask: installing {} ({}; once, a few minutes)",
        tool.program, tool.why
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("install")
        .args(tool.install)
        .status()
        .map_err(|e| format!("{line}: {e}"))?;
    if status.success() && on_path(tool.program) {
        Ok(())
    } else {
        Err(format!(
            "{} is not installed or not on the PATH; run:\n  {line}\nand make sure ~/.cargo/bin is on the PATH",
            tool.program
        ))
    }
}

/// Where a successful install leaves a copy of the lock file it installed from, so a lock file
/// that changed since (a pulled dependency) installs again instead of testing stale packages.
const INSTALLED_LOCK: &str = "node_modules/.kinvex-installed-lock.json";

/// Installs the npm packages of `dir` from its lock file unless that very lock file was
/// installed already.
fn ensure_npm_packages(dir: &Path) -> Result<(), String> {
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("{}: no package-lock.json: {e}", dir.display()))?;
    if std::fs::read(dir.join(INSTALLED_LOCK)).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    eprintln!("xtask: installing npm packages in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed in {}", dir.display()));
    }
    std::fs::write(dir.join(INSTALLED_LOCK), lock)
        .map_err(|e| format!("{}: {e}", dir.join(INSTALLED_LOCK).display()))
}

fn missing(needs: &[Need]) -> Vec<&'static str> {
    needs
        .iter()
        .filter(|need| !need.holds())
        .map(|need| need.package)
        .collect()
}

impl Need {
    fn holds(&self) -> bool {
        self.programs.iter().all(|program| on_path(program))
            && self.pkg_config.is_none_or(|module| {
                Command::new("pkg-config")
                    .args(["--exists", module])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    }
}

fn on_path(program: &str) -> bool {
    let file = format!("{program}{}", std::env::consts::EXE_SUFFIX);
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(&file))))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Every program the installer provides.
#[cfg(test)]
fn provided() -> Vec<&'static str> {
    [BUILD, DESKTOP_SESSION, NODE]
        .into_iter()
        .flatten()
        .flat_map(|need| need.programs.iter().copied())
        .chain(
            CARGO_TOOLS
                .iter()
                .chain(FUZZ_TOOLS)
                .map(|tool| tool.program),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Programs every Debian system has (its essential packages), the toolchain, and git (the
    /// repository was cloned with it).
    const BASE_SYSTEM: &[&str] = &[
        "apt-get",
        "dpkg",
        "dpkg-deb",
        "dpkg-query",
        "id",
        "sh",
        "cargo",
        "git",
    ];
    /// Programs run only elsewhere or only in a case the suite does not take here.
    const NOT_RUN_HERE: &[(&str, &str)] = &[
        ("open", "the macOS URL opener"),
        ("cmd", "the Windows URL opener"),
        (
            "sudo",
            "used only when the suite runs as a user with sudo, never as root",
        ),
    ];
    /// Run by the programs the tests start, so they never appear in our own sources.
    const RUN_BY_TOOLS: &[(&str, &str)] = &[
        ("WebKitWebDriver", "tauri-driver"),
        ("chromium", "chromedriver"),
        ("Xvfb", "xvfb-run"),
        ("dbus-daemon", "dbus-run-session"),
        ("gio", "xdg-open"),
        ("xdg-mime", "the deep-link plugin's registration"),
    ];

    #[test]
    fn finds_programs_on_the_path_and_not_others() {
        assert!(on_path("sh"));
        assert!(!on_path("kinvex-no-such-program"));
    }

    #[test]
    fn reports_only_what_is_missing() {
        let needs = [
            programs("present", &["sh"]),
            programs("absent", &["sh", "kinvex-no-such-program"]),
            library("no-module", "kinvex-no-such-module"),
        ];
        assert_eq!(missing(&needs), vec!["absent", "no-module"]);
    }

    /// The string-literal programs the project's code starts: `Command::new("x")`, and the
    /// harness's `spawn("x", …)`, `spawn_with("x", …)` and `as_root("x", …)`.
    fn programs_started_in(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for call in ["Command::new(", "spawn(", "spawn_with(", "as_root("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                if let Some(literal) = rest.strip_prefix('"')
                    && let Some(end) = literal.find('"')
                {
                    found.push(literal[..end].to_string());
                }
            }
        }
        found
    }

    fn rust_sources(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "target" && name != "node_modules" {
                rust_sources(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }

    #[test]
    fn the_scan_sees_multi_line_calls() {
        let source = "Driver::spawn_with(\n    \"tauri-driver\",\n &args)\nCommand::new(program)";
        assert_eq!(programs_started_in(source), vec!["tauri-driver"]);
    }

    #[test]
    fn every_program_the_project_runs_comes_from_the_installer() {
        let root = crate::root();
        let mut files = Vec::new();
        for dir in ["crates", "tests", "bench", "xtask", "src-tauri"] {
            rust_sources(&root.join(dir), &mut files);
        }
        assert!(files.len() > 20, "found only {} sources", files.len());
        let provided: BTreeSet<&str> = provided().into_iter().collect();
        let mut started = BTreeSet::new();
        // This file's own test names the patterns it looks for; its other calls are apt-get,
        // pkg-config and id.
        files.retain(|f| !f.ends_with("xtask/src/system.rs"));
        for file in &files {
            let text = std::fs::read_to_string(file).expect("readable source");
            for program in programs_started_in(&text) {
                started.insert((
                    program,
                    file.strip_prefix(&root).unwrap_or(file).to_path_buf(),
                ));
            }
        }
        assert!(
            started.iter().any(|(p, _)| p == "secret-tool"),
            "the scan found no secret-tool call: it is broken"
        );
        let unprovided: Vec<String> = started
            .iter()
            .filter(|(program, _)| {
                !provided.contains(program.as_str())
                    && !BASE_SYSTEM.contains(&program.as_str())
                    && !NOT_RUN_HERE.iter().any(|(p, _)| p == program)
            })
            .map(|(program, file)| format!("{program} (started in {})", file.display()))
            .collect();
        assert!(
            unprovided.is_empty(),
            "programs no package in xtask/src/system.rs provides: {unprovided:?}"
        );
        for (program, by) in RUN_BY_TOOLS {
            assert!(
                provided.contains(program),
                "{program} (run by {by}) is not provided by the installer"
            );
        }
    }
}
