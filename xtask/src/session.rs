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
    // Orphans of the session (the daemonized keyring first) become this process's children, so
    // the keyring's end is seen as it happens and no orphan is left a zombie.
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("xtask: cannot adopt the session's orphans ({e}); the keyring is not watched");
    }
    let scratch = std::env::temp_dir().join(format!("kinvex-session-{}", std::process::id()));
    let code = match prepare(&scratch) {
        Ok(env) => {
            let mut command = Command::new(program);
            command
                .args(program_args)
                .envs(env.iter().map(|(k, v)| (*k, v)))
                .env_remove("WAYLAND_DISPLAY");
            match run(command, &env) {
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

/// Runs the command to its end while reaping every adopted orphan. When the keyring daemon is
/// among them, its end is reported at once and another is started on the same files: without
/// it every later keychain call would fail or meet a locked keyring that D-Bus starts on
/// demand, and one lost daemon would fail every test after it.
#[cfg(target_os = "linux")]
fn run(
    mut command: Command,
    env: &[(&'static str, OsString)],
) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::wait::{WaitStatus, waitpid};
    use std::os::unix::process::ExitStatusExt;
    let mut keyring = secret_service_pid();
    let started = std::time::Instant::now();
    let child = command.spawn()?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    loop {
        let (who, raw) = match waitpid(None, None) {
            Ok(WaitStatus::Exited(who, code)) => (who, code << 8),
            Ok(WaitStatus::Signaled(who, signal, core)) => {
                (who, signal as i32 | if core { 0x80 } else { 0 })
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(std::io::Error::from(e)),
        };
        let status = std::process::ExitStatus::from_raw(raw);
        if who == pid {
            return Ok(status);
        }
        if Some(who.as_raw()) == keyring {
            // Said at once, between the tests' own lines, so the test it happened under shows.
            eprintln!(
                "xtask: the session's Secret Service (gnome-keyring-daemon, pid {who}) ended \
                 {:.0} s into the run ({status}); starting another on the same keyring",
                started.elapsed().as_secs_f64()
            );
            keyring = match start_keyring(env, true) {
                Ok(()) => secret_service_pid(),
                Err(e) => {
                    eprintln!("xtask: {e}; keychain calls from now on fail");
                    None
                }
            };
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn run(
    mut command: Command,
    _env: &[(&'static str, OsString)],
) -> std::io::Result<std::process::ExitStatus> {
    command.status()
}

/// The process that owns the Secret Service name on the session bus, asked of the bus itself.
#[cfg(target_os = "linux")]
fn secret_service_pid() -> Option<i32> {
    let output = bus_call("GetConnectionUnixProcessID", "org.freedesktop.secrets")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    // The answer reads `(uint32 1234,)`.
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .strip_prefix("(uint32 ")?
        .trim_end_matches(",)")
        .parse()
        .ok()
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
    activate_with(&env)?;

    // With --daemonize the command returns once the daemon has forked, before its Secret Service
    // is on the bus (it initialises after waking its parent); `wait_for_secret_service` is the
    // readiness signal. The daemon exits with the bus at the session's end.
    start_keyring(&env, false)?;
    Ok(env)
}

/// Starts a keyring daemon that unlocks the session's login collection (creating it the first
/// time), replacing any other of this session's when `replace`.
fn start_keyring(env: &[(&'static str, OsString)], replace: bool) -> Result<(), String> {
    let mut command = Command::new("gnome-keyring-daemon");
    if replace {
        command.arg("--replace");
    }
    let mut keyring = command
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
    wait_for_secret_service(env)
}

/// Gives the services the bus starts on demand (a prompter, or a keyring should this one end)
/// the scratch directories too: the bus was started before they existed, and without them such
/// a service would use the developer's own keyrings and caches.
fn activate_with(env: &[(&'static str, OsString)]) -> Result<(), String> {
    let mut entries = Vec::new();
    for (key, value) in env {
        let value = value
            .to_str()
            .filter(|v| !v.contains(['\'', '\\']))
            .ok_or_else(|| format!("{key} cannot be handed to the session bus: {value:?}"))?;
        entries.push(format!("'{key}': '{value}'"));
    }
    let status = bus_call(
        "UpdateActivationEnvironment",
        &format!("{{{}}}", entries.join(", ")),
    )
    .stdout(Stdio::null())
    .status()
    .map_err(|e| format!("gdbus could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the session bus refused the scratch environment ({status})"
        ))
    }
}

/// `gdbus call` of one of the session bus's own methods, with its one argument.
fn bus_call(method: &str, argument: &str) -> Command {
    let mut command = Command::new("gdbus");
    command
        .args(["call", "--session", "--dest", "org.freedesktop.DBus"])
        .args(["--object-path", "/org/freedesktop/DBus"])
        .arg("--method")
        .arg(format!("org.freedesktop.DBus.{method}"))
        .arg(argument);
    command
}

/// Waits (bounded) until the Secret Service name has an owner on the session bus. A call made
/// before that would make D-Bus start a second keyring of its own, one that has no unlocked
/// collection and answers every call with a prompt nobody sees.
fn wait_for_secret_service(env: &[(&'static str, OsString)]) -> Result<(), String> {
    let status = Command::new("gdbus")
        .args([
            "wait",
            "--session",
            "--timeout",
            "20",
            "org.freedesktop.secrets",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("gdbus could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "gnome-keyring-daemon did not offer the Secret Service within 20 s ({status})"
        ))
    }
}
