//! A Secret Service of the test's own: a private D-Bus session bus with its own gnome-keyring
//! and XDG directories, so its login collection can be locked without touching the keyring the
//! rest of the suite shares. Ended (bus first, the keyring with it) when dropped.

use super::Scratch;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The throwaway keyring's password; it guards nothing but test data in a deleted folder.
const PASSWORD: &[u8] = b"kinvex-locked-keyring";

pub struct PrivateKeyring {
    bus: Child,
    env: Vec<(&'static str, OsString)>,
    collection: String,
    _scratch: Scratch,
}

impl PrivateKeyring {
    /// Starts the bus and an unlocked keyring on it. `display` is the X display an unlock
    /// prompt would open on (the bus hands it to the prompter it starts), or none.
    pub fn start(tag: &str, display: Option<OsString>) -> PrivateKeyring {
        let scratch = Scratch::new(tag);
        let mut env: Vec<(&'static str, OsString)> = [
            ("HOME", "home"),
            ("XDG_RUNTIME_DIR", "run"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_CACHE_HOME", "cache"),
        ]
        .into_iter()
        .map(|(key, dir)| (key, scratch.dir(dir).into_os_string()))
        .collect();
        let mut command = Command::new("dbus-daemon");
        command
            .args(["--session", "--nofork", "--print-address=1"])
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(display) = display {
            command.env("DISPLAY", display);
        }
        let mut bus = command.spawn().expect("dbus-daemon starts");
        // The address is printed once the bus listens: the readiness signal.
        let mut address = String::new();
        std::io::BufReader::new(bus.stdout.take().expect("the bus's stdout"))
            .read_line(&mut address)
            .expect("the bus's address");
        assert!(!address.trim().is_empty(), "dbus-daemon printed no address");
        env.push(("DBUS_SESSION_BUS_ADDRESS", address.trim().into()));
        let mut keyring = PrivateKeyring {
            bus,
            env,
            collection: String::new(),
            _scratch: scratch,
        };
        keyring.start_keyring(false);
        let alias = keyring.gdbus(
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.ReadAlias",
            &["default"],
        );
        keyring.collection = alias
            .split('\'')
            .nth(1)
            .filter(|path| path.starts_with("/org/freedesktop/secrets/collection/"))
            .unwrap_or_else(|| panic!("no default collection: {alias}"))
            .to_string();
        keyring
    }

    /// What a process needs to use this keychain (and this scratch's XDG directories).
    pub fn env(&self) -> impl Iterator<Item = (&'static str, &OsString)> {
        self.env.iter().map(|(k, v)| (*k, v))
    }

    /// Locks the default collection, as a screen lock or `seahorse` does.
    pub fn lock(&self) {
        let paths = format!("['{}']", self.collection);
        self.gdbus(
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &[&paths],
        );
        assert!(self.is_locked(), "the collection is locked");
    }

    /// Unlocks it the way a login does: a keyring daemon given the password replaces the
    /// running one and unlocks the collection from its file.
    pub fn unlock(&self) {
        self.start_keyring(true);
        assert!(!self.is_locked(), "the collection is unlocked again");
    }

    pub fn is_locked(&self) -> bool {
        let answer = self.gdbus(
            &self.collection,
            "org.freedesktop.DBus.Properties.Get",
            &["org.freedesktop.Secret.Collection", "Locked"],
        );
        answer.contains("true")
    }

    /// With `--daemonize` the command returns once the daemon has forked, before its Secret
    /// Service is on the bus; a call made then would have D-Bus start a stray keyring. So this
    /// waits until the name is owned (when replacing: owned by a process other than the old one).
    fn start_keyring(&self, replace: bool) {
        let before = replace.then(|| self.owner_pid()).flatten();
        let mut command = Command::new("gnome-keyring-daemon");
        if replace {
            command.arg("--replace");
        }
        let mut daemon = command
            .args(["--daemonize", "--unlock", "--components=secrets"])
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        daemon
            .stdin
            .take()
            .expect("the keyring's stdin")
            .write_all(PASSWORD)
            .expect("the keyring takes its password");
        let status = daemon.wait().expect("gnome-keyring-daemon ends");
        assert!(status.success(), "gnome-keyring-daemon failed ({status})");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let owner = self.owner_pid();
            if owner.is_some() && owner != before {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring offered no Secret Service within 20 s"
            );
            // The bus signals owner changes only to a connection that watches; one short poll
            // of the owner's pid is simpler than holding one open.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the Secret Service's owner on this bus; `None` while nobody owns the name. Asked
    /// of the bus itself, which starts nothing.
    fn owner_pid(&self) -> Option<u32> {
        let output = Command::new("gdbus")
            .args(["call", "--session", "--dest", "org.freedesktop.DBus"])
            .args(["--object-path", "/org/freedesktop/DBus"])
            .args([
                "--method",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
            ])
            .arg("org.freedesktop.secrets")
            .envs(self.env())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("gdbus runs");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .strip_prefix("(uint32 ")?
            .trim_end_matches(",)")
            .parse()
            .ok()
    }

    fn gdbus(&self, object: &str, method: &str, args: &[&str]) -> String {
        let output = Command::new("gdbus")
            .args(["call", "--session", "--dest", "org.freedesktop.secrets"])
            .args(["--object-path", object, "--method", method])
            .args(args)
            .envs(self.env())
            .stdin(Stdio::null())
            .output()
            .expect("gdbus runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "gdbus {method}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }
}

impl Drop for PrivateKeyring {
    /// The keyring daemon and any prompter leave with the bus they were started on.
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
