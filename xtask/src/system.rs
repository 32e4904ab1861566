//! The system packages the app and its tests need, found or installed.
//!
//! On Debian and Ubuntu a missing package is installed when running as root; otherwise the exact
//! `apt-get install` line is printed and the task stops.

use std::path::Path;
use std::process::{Command, Stdio};

/// A Debian package and how to tell that it is present.
pub struct Need {
    package: &'static str,
    present: Probe,
}

enum Probe {
    Program(&'static str),
    PkgConfig(&'static str),
}

/// What building the Tauri app needs on Linux.
pub const BUILD: &[Need] = &[
    Need {
        package: "pkg-config",
        present: Probe::Program("pkg-config"),
    },
    Need {
        package: "build-essential",
        present: Probe::Program("cc"),
    },
    Need {
        package: "libwebkit2gtk-4.1-dev",
        present: Probe::PkgConfig("webkit2gtk-4.1"),
    },
    Need {
        package: "libgtk-3-dev",
        present: Probe::PkgConfig("gtk+-3.0"),
    },
    Need {
        package: "librsvg2-dev",
        present: Probe::PkgConfig("librsvg-2.0"),
    },
    // HTTPS through the system's OpenSSL.
    Need {
        package: "libssl-dev",
        present: Probe::PkgConfig("openssl"),
    },
    // The Secret Service client talks D-Bus through libdbus.
    Need {
        package: "libdbus-1-dev",
        present: Probe::PkgConfig("dbus-1"),
    },
];

/// What the end-to-end tests need: a virtual display, a session bus, the Secret Service and the
/// WebDriver for WebKitGTK.
pub const DESKTOP_SESSION: &[Need] = &[
    Need {
        package: "xvfb",
        present: Probe::Program("xvfb-run"),
    },
    Need {
        package: "xauth",
        present: Probe::Program("xauth"),
    },
    Need {
        package: "dbus",
        present: Probe::Program("dbus-run-session"),
    },
    Need {
        package: "dbus-x11",
        present: Probe::Program("dbus-launch"),
    },
    Need {
        package: "gnome-keyring",
        present: Probe::Program("gnome-keyring-daemon"),
    },
    Need {
        package: "webkit2gtk-driver",
        present: Probe::Program("WebKitWebDriver"),
    },
    // The custom-scheme redirect: the browser's opener, GIO behind it, the desktop database.
    Need {
        package: "xdg-utils",
        present: Probe::Program("xdg-open"),
    },
    Need {
        package: "libglib2.0-bin",
        present: Probe::Program("gio"),
    },
    Need {
        package: "desktop-file-utils",
        present: Probe::Program("update-desktop-database"),
    },
    Need {
        package: "chromium",
        present: Probe::Program("chromium"),
    },
    Need {
        package: "chromium-driver",
        present: Probe::Program("chromedriver"),
    },
];

/// The wire-compatibility test runs the official `convex` npm client.
pub const NODE: &[Need] = &[
    Need {
        package: "nodejs",
        present: Probe::Program("node"),
    },
    Need {
        package: "npm",
        present: Probe::Program("npm"),
    },
];

/// Makes sure every package in `needs` is present, installing them as root where possible.
pub fn ensure(needs: &[Need]) -> Result<(), String> {
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

/// Installs tauri-driver with cargo when it is not on the PATH.
pub fn ensure_tauri_driver() -> Result<(), String> {
    if on_path("tauri-driver") {
        return Ok(());
    }
    eprintln!("xtask: installing tauri-driver (once; a few minutes)");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "tauri-driver", "--locked", "--version", "^2"])
        .status()
        .map_err(|e| format!("cargo install tauri-driver: {e}"))?;
    if status.success() && on_path("tauri-driver") {
        Ok(())
    } else {
        Err("tauri-driver is not installed or not on the PATH; run:\n  cargo install tauri-driver --locked --version ^2\nand make sure ~/.cargo/bin is on the PATH".into())
    }
}

/// Installs the npm packages of `dir` from its lock file when they are not there yet.
pub fn ensure_npm_packages(dir: &Path) -> Result<(), String> {
    if dir.join("node_modules").is_dir() {
        return Ok(());
    }
    eprintln!("xtask: installing npm packages in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("npm ci failed in {}", dir.display()))
    }
}

pub fn has_nextest() -> bool {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn missing(needs: &[Need]) -> Vec<&'static str> {
    needs
        .iter()
        .filter(|need| !need.present.holds())
        .map(|need| need.package)
        .collect()
}

impl Probe {
    fn holds(&self) -> bool {
        match self {
            Probe::Program(name) => on_path(name),
            Probe::PkgConfig(module) => Command::new("pkg-config")
                .args(["--exists", module])
                .status()
                .is_ok_and(|s| s.success()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path_and_not_others() {
        assert!(on_path("sh"));
        assert!(!on_path("kinvex-no-such-program"));
    }

    #[test]
    fn reports_only_what_is_missing() {
        let needs = [
            Need {
                package: "present",
                present: Probe::Program("sh"),
            },
            Need {
                package: "absent",
                present: Probe::Program("kinvex-no-such-program"),
            },
        ];
        assert_eq!(missing(&needs), vec!["absent"]);
    }
}
