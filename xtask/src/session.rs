//! A throwaway desktop session for tests: an Xvfb display, a private D-Bus session bus and an
//! unlocked gnome-keyring (the real Secret Service), all ended when the wrapped command ends.
//!
//! `xvfb-run` and `dbus-run-session` own the display and the bus; inside them this binary runs
//! again as [`INSIDE`], starts the keyring and then the command. The keyring and every XDG
//! directory live in a scratch folder, so a developer's own keyring and app data are never touched.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// The hidden task that runs inside the session.
pub const INSIDE: &str = "__inside-desktop-session";

/// Returns a command that runs `command` inside a fresh desktop session.
pub fn wrap(command: Command) -> Result<Command, String> {
    let this = std::env::current_exe().map_err(|e| format!("cannot find xtask itself: {e}"))?;
    let mut outer = Command::new("xvfb-run");
    outer
        .arg("--auto-servernum")
        .arg("--server-args=-screen 0 1280x900x24 -nolisten tcp")
        .args(["dbus-run-session", "--"])
        .arg(this)
        .arg(INSIDE)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        outer.current_dir(dir);
    }
    Ok(outer)
}

/// Runs inside `xvfb-run dbus-run-session`: starts the keyring, then the command.
pub fn inside(args: &[String]) -> ExitCode {
    let Some((program, program_args)) = args.split_first() else {
        eprintln!("xtask: {INSIDE} needs a command");
        return ExitCode::FAILURE;
    };
    let scratch = std::env::temp_dir().join(format!("kinvex-session-{}", std::process::id()));
    let code = match prepare(&scratch) {
        Ok(env) => {
            let mut command = Command::new(program);
            command
                .args(program_args)
                .envs(env)
                .env_remove("WAYLAND_DISPLAY");
            match command.status() {
                Ok(status) if status.success() => ExitCode::SUCCESS,
                Ok(status) => {
                    eprintln!("xtask: `{program}` failed in the desktop session ({status})");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("xtask: could not start `{program}`: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    };
    let _ = std::fs::remove_dir_all(&scratch);
    code
}

/// Creates the scratch XDG directories and unlocks a new login keyring in them.
fn prepare(scratch: &Path) -> Result<Vec<(&'static str, OsString)>, String> {
    let dirs = [
        ("XDG_RUNTIME_DIR", scratch.join("run")),
        ("XDG_DATA_HOME", scratch.join("data")),
        ("XDG_CONFIG_HOME", scratch.join("config")),
        ("XDG_CACHE_HOME", scratch.join("cache")),
    ];
    for (_, dir) in &dirs {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }

    let mut env: Vec<(&'static str, OsString)> = dirs
        .into_iter()
        .map(|(k, v)| (k, v.into_os_string()))
        .collect();
    // GTK must open its windows on Xvfb even when the developer's desktop is Wayland, and need
    // not wait for an accessibility bus. (WEBKIT_DISABLE_DMABUF_RENDERER is deliberately unset:
    // with it, WebKitWebDriver's screenshots never complete under Xvfb.)
    env.push(("GDK_BACKEND", "x11".into()));
    env.push(("NO_AT_BRIDGE", "1".into()));

    // With --daemonize the command returns once the daemon owns the Secret Service name on the
    // bus, which is the readiness signal; the daemon exits with the bus at the session's end.
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--daemonize", "--unlock", "--components=secrets"])
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("gnome-keyring-daemon could not start: {e}"))?;
    // The throwaway keyring's password; it guards nothing but test data in a deleted folder.
    keyring
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(b"kinvex-test-session"))
        .transpose()
        .map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
    let status = keyring
        .wait()
        .map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
    if !status.success() {
        return Err(format!("gnome-keyring-daemon failed to unlock ({status})"));
    }
    Ok(env)
}
