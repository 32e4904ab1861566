//! The hostile suite's bookkeeping: a tally per class of attack (attempts, and how many were
//! accepted, crashed a process, leaked a token fragment or hung past their bound), processes run
//! under a bound, and a scan for token fragments. Each class writes its row as one JSON line
//! under `target/hostile/`, so `cargo xtask hostile` (and SECURITY.md) can show the last run.

pub mod private_keyring;
pub mod provider;

use crate::required_env;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One class's counts. Every count but `attempts` must end at 0; [`Tally::finish`] says which
/// attempt broke which rule.
pub struct Tally {
    class: &'static str,
    attempts: u64,
    accepted: u64,
    crashed: u64,
    leaked: u64,
    hung: u64,
    failures: Vec<String>,
    started: Instant,
}

/// What one attempt came to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Verdict {
    pub accepted: bool,
    pub crashed: bool,
    pub leaked: bool,
    pub hung: bool,
}

impl Verdict {
    pub fn accepted(accepted: bool) -> Verdict {
        Verdict {
            accepted,
            ..Verdict::default()
        }
    }
}

impl Tally {
    pub fn new(class: &'static str) -> Tally {
        Tally {
            class,
            attempts: 0,
            accepted: 0,
            crashed: 0,
            leaked: 0,
            hung: 0,
            failures: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Counts one attempt named `what`.
    pub fn count(&mut self, what: &str, verdict: Verdict) {
        self.attempts += 1;
        let marks = [
            (verdict.accepted, &mut self.accepted, "accepted"),
            (verdict.crashed, &mut self.crashed, "crashed"),
            (verdict.leaked, &mut self.leaked, "leaked"),
            (verdict.hung, &mut self.hung, "hung"),
        ];
        for (hit, counter, name) in marks {
            if hit {
                *counter += 1;
                self.failures.push(format!("{what}: {name}"));
            }
        }
    }

    /// Counts an attempt that ran a process: its crash, hang and leak come from the run.
    pub fn count_run(&mut self, what: &str, ran: &Ran, accepted: bool, secrets: &Fragments) {
        self.count(
            what,
            Verdict {
                accepted,
                crashed: ran.crashed(),
                leaked: secrets.found_in(&ran.text()),
                hung: ran.hung,
            },
        );
    }

    /// Writes the row to `target/hostile/<class>.json` and fails the test unless every count but
    /// the attempts is 0.
    pub fn finish(self) {
        let row = serde_json::json!({
            "class": self.class,
            "attempts": self.attempts,
            "accepted": self.accepted,
            "crashed": self.crashed,
            "leaked": self.leaked,
            "hung": self.hung,
            "seconds": self.started.elapsed().as_secs_f64(),
        });
        let dir = report_dir();
        std::fs::create_dir_all(&dir).expect("create target/hostile");
        std::fs::write(dir.join(format!("{}.json", self.class)), format!("{row}\n"))
            .expect("write the class's row");
        assert!(self.attempts > 0, "{}: nothing was attempted", self.class);
        assert!(
            self.failures.is_empty(),
            "{}: {row}\n{}",
            self.class,
            self.failures.join("\n")
        );
    }
}

/// `target/hostile`: beside the end-to-end artifacts `cargo xtask test` names.
pub fn report_dir() -> PathBuf {
    let artifacts = PathBuf::from(required_env("KINVEX_E2E_ARTIFACTS"));
    artifacts.parent().map_or_else(
        || artifacts.join("hostile"),
        |target| target.join("hostile"),
    )
}

/// A process's end: its output, and whether it had to be killed at its bound.
pub struct Ran {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub hung: bool,
    pub took: Duration,
}

impl Ran {
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Died of a signal it was not sent, or of a Rust panic (exit 101).
    pub fn crashed(&self) -> bool {
        !self.hung
            && self
                .status
                .is_some_and(|s| s.code().is_none_or(|c| c == 101))
    }
}

/// Starts `command` with no input and its output piped, killed if dropped.
fn spawn_piped(command: std::process::Command) -> (tokio::process::Child, Instant) {
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    (
        command.spawn().expect("the binary under test runs"),
        started,
    )
}

/// Runs `command` with no input, killing it if it is still running after `limit`.
pub async fn run_within(command: std::process::Command, limit: Duration) -> Ran {
    let (child, started) = spawn_piped(command);
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.expect("the process's output");
            Ran {
                status: Some(output.status),
                stdout: String::from_utf8_lossy(&output.stdout).into(),
                stderr: String::from_utf8_lossy(&output.stderr).into(),
                hung: false,
                took: started.elapsed(),
            }
        }
        Err(_) => Ran {
            status: None,
            stdout: String::new(),
            stderr: String::new(),
            hung: true,
            took: started.elapsed(),
        },
    }
}

/// Runs a command that keeps running (`--watch`) until its first line of output, then
/// interrupts it as Ctrl+C would and waits for it to end; all bounded by `limit`.
#[cfg(unix)]
pub async fn run_until_output(command: std::process::Command, limit: Duration) -> Ran {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let (mut child, started) = spawn_piped(command);
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut out = String::new();
    let ran = tokio::time::timeout(limit, async {
        let _ = stdout.read_line(&mut out).await;
        if let Some(pid) = child.id() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        }
        let _ = stdout.read_to_string(&mut out).await;
        child.wait().await
    })
    .await;
    let hung = ran.is_err();
    if hung {
        let _ = child.kill().await;
    }
    let stderr = tokio::time::timeout(Duration::from_secs(5), errors)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Ran {
        status: ran.ok().and_then(Result::ok),
        stdout: out,
        stderr,
        hung,
        took: started.elapsed(),
    }
}

/// Pieces of secrets to look for: any 16 characters of a token's secret parts (a JWT's payload
/// and signature, an opaque token whole). Pieces overlap, so a fragment of 24 characters or more
/// anywhere in the secret is found.
#[derive(Default)]
pub struct Fragments(Vec<String>);

const PIECE: usize = 16;

impl Fragments {
    pub fn of(secrets: &[&str]) -> Fragments {
        let mut fragments = Fragments::default();
        for secret in secrets {
            fragments.add(secret);
        }
        fragments
    }

    pub fn add(&mut self, secret: &str) {
        let parts: Vec<&str> = secret.split('.').collect();
        // A JWT's header names only the algorithm and key: public, and shared by every token.
        let secret_parts = if parts.len() == 3 {
            &parts[1..]
        } else {
            &parts[..]
        };
        for part in secret_parts {
            let bytes = part.as_bytes();
            if bytes.len() < PIECE {
                continue;
            }
            for start in (0..=bytes.len() - PIECE).step_by(PIECE / 2) {
                self.0
                    .push(String::from_utf8_lossy(&bytes[start..start + PIECE]).into());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn found_in(&self, text: &str) -> bool {
        self.0.iter().any(|piece| text.contains(piece.as_str()))
    }

    /// Files under `dir` (recursively, not following links) that contain a fragment.
    pub fn files_under(&self, dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file()
                    && let Ok(bytes) = std::fs::read(entry.path())
                    && self.found_in(&String::from_utf8_lossy(&bytes))
                {
                    found.push(entry.path());
                }
            }
        }
        found
    }
}

/// A directory of the test's own, 0700 like a home or runtime directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("kinvex-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).expect("scratch directory");
        Scratch(path)
    }

    /// A 0700 directory inside this one.
    pub fn dir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).expect("scratch subdirectory");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leak detector's own control: a planted piece of a token is found in text and in a
    /// file, the public JWT header alone is not, and a clean tree reports nothing.
    #[test]
    fn the_leak_detector_finds_a_planted_fragment_and_nothing_else() {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        // Minted here, so no token-shaped text is kept in the repository.
        let header = b64(br#"{"alg":"RS256","kid":"k1"}"#);
        let jwt = format!(
            "{header}.{}.{}",
            b64(br#"{"sub":"kp_dana","exp":1900000000,"iss":"https://tenant.example"}"#),
            b64(&[0x5a; 64])
        );
        let jwt = jwt.as_str();
        let refresh = "rt_0123456789abcdefghijklmnopqrstuv";
        let fragments = Fragments::of(&[jwt, refresh]);
        assert!(!fragments.is_empty());
        let payload = jwt.split('.').nth(1).expect("payload");
        assert!(fragments.found_in(&format!("log: token={}", &payload[4..28])));
        assert!(fragments.found_in(&format!("saved {}", &refresh[3..27])));
        assert!(!fragments.found_in(&header), "the header is public");
        assert!(!fragments.found_in("nothing secret here at all, just words"));

        let scratch = Scratch::new("leak-control");
        let clean = scratch.dir("clean");
        std::fs::write(clean.join("a.txt"), "no tokens").expect("write");
        assert!(fragments.files_under(&clean).is_empty());
        let nested = scratch.dir("dirty").join("deep");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::write(nested.join("cache.json"), &jwt[40..90]).expect("write");
        assert_eq!(
            fragments.files_under(&scratch.dir("dirty")),
            vec![nested.join("cache.json")]
        );
    }
}
