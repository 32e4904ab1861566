//! File transfer: one large file uploaded and downloaded through the app's storage client
//! (`kinvex_convex::storage::Storage`, as the `kinvex upload` / `kinvex download` processes)
//! against `curl` making the same POST to a fresh upload URL and the same GET of the file's URL,
//! interleaved on one stack that keeps its blobs on disk.
//!
//! Both are timed alike, from process start to exit, so the CLI's start-up, its session read from
//! the keychain and its function calls (`files:generateUploadUrl` and `files:save`, or the file's
//! lookup and `files:url`) are inside its time, while curl is handed a URL made beforehand. The
//! memory figure is the rise of each process's resident set over the transfer, read from
//! `/proc/<pid>/status` and `/proc/<pid>/io` while it runs.
//!
//! curl's download is timed up to the end of an fsync of the file it wrote, as
//! `curl -o F && sync F` would be: the app's download is done only once its file is on disk
//! (it fsyncs the partial file before renaming it into place, so a crash never leaves a truncated
//! file under the destination's name), while curl exits with the bytes still in the page cache.
//! Without that sync the baseline would be curl's writes into memory against the app's writes to
//! disk, an fsync of 256 MiB being a fifth of a second here.

use crate::Setup;
use crate::report::{Goal, Row, Samples};
use crate::scenarios::{cli_login, settings};
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::config::Sources;
use kinvex_auth::http::HttpClient;
use kinvex_auth::{Auth, Config, default_store};
use kinvex_convex::{Client, Kind};
use kinvex_devstack::start;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, String>;

const MIB: f64 = 1024.0 * 1024.0;
/// The file's type: what the CLI guesses for `.bin`, and what curl is told.
const CONTENT_TYPE: &str = "application/octet-stream";
/// How often a running transfer's memory and I/O are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// A process has started its transfer once it has read and written this much (function calls
/// and the session are a few kilobytes).
const STARTED_AT_IO: u64 = 1024 * 1024;
/// How long one transfer may take before the run fails.
const BOUND: Duration = Duration::from_secs(300);
/// The small file each round also moves: what a transfer costs besides its bytes.
const SMALL: u64 = 4 * 1024;

/// One process run to its end, with what it cost.
struct Run {
    took: Duration,
    /// Resident set at the last sample before the transfer started, KiB.
    before_kib: u64,
    /// The highest resident set seen (`VmHWM`), KiB.
    peak_kib: u64,
    stdout: Vec<u8>,
}

impl Run {
    fn rise_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.before_kib) as f64 / 1024.0
    }

    fn mib_per_s(&self, bytes: u64) -> f64 {
        bytes as f64 / MIB / self.took.as_secs_f64()
    }
}

/// Starts `command` and samples it until it exits; a failure exit is an error.
fn measured(mut command: Command, what: &str) -> Result<Run> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting {what}: {e}"))?;
    let pid = child.id();
    let (mut before_kib, mut peak_kib) = (0, 0);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            break status;
        }
        // A process that exits between the two reads leaves the figures of its last sample.
        if let Some((rss, hwm)) = memory_kib(pid) {
            peak_kib = peak_kib.max(hwm);
            if io_bytes(pid).is_some_and(|io| io < STARTED_AT_IO) {
                before_kib = rss;
            }
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} did not finish within {BOUND:?}"));
        }
        // The peak RSS is read from /proc while the child runs: sampling is the only way to
        // see it from outside, bounded by `BOUND`.
        std::thread::sleep(SAMPLE_EVERY);
    };
    let took = started.elapsed();
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{what} failed ({status}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(Run {
        took,
        before_kib,
        peak_kib,
        stdout: output.stdout,
    })
}

/// `VmRSS` and `VmHWM` from `/proc/<pid>/status`, KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Bytes the process has read and written through system calls (`rchar` + `wchar`), sockets
/// and files alike.
fn io_bytes(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        io.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(field("rchar:")? + field("wchar:")?)
}

/// `bytes` of xorshift output: nothing in it compresses.
fn write_payload(path: &Path, bytes: u64) -> Result<()> {
    let failed = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1024 * 1024];
    let mut left = bytes;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).map_err(failed)?;
        left -= n as u64;
    }
    file.flush().map_err(failed)
}

/// A file to move and its size.
struct Payload {
    path: PathBuf,
    size: u64,
}

impl Payload {
    fn new(path: PathBuf, size: u64) -> Result<Payload> {
        write_payload(&path, size)?;
        Ok(Payload { path, size })
    }
}

/// A folder that is removed, with everything in it, when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One round's four transfers, and the fsync of curl's download (counted in `curl_down`).
struct Round {
    app_up: Run,
    curl_up: Run,
    app_down: Run,
    curl_down: Run,
    fsync: Duration,
}

/// What each round measured.
#[derive(Default)]
struct Figures {
    app_up: Samples,
    curl_up: Samples,
    app_down: Samples,
    curl_down: Samples,
    app_up_rise: Samples,
    curl_up_rise: Samples,
    app_down_rise: Samples,
    curl_down_rise: Samples,
    /// The same four transfers of the small file: their fixed cost, ms.
    app_up_fixed: Samples,
    curl_up_fixed: Samples,
    app_down_fixed: Samples,
    curl_down_fixed: Samples,
    /// Throughput over the time less the small file's (the bytes alone), MiB/s.
    app_up_net: Samples,
    curl_up_net: Samples,
    app_down_net: Samples,
    curl_down_net: Samples,
    /// How long the fsync of curl's downloaded file took, part of curl's download time (curl
    /// does not sync; the app's client does before it renames the file into place).
    curl_fsync_ms: Samples,
}

pub async fn transfer(setup: &Setup) -> Result<Vec<Row>> {
    let size: u64 = if setup.quick { 16 } else { 256 } * 1024 * 1024;
    let rounds = if setup.quick { 1 } else { 3 };
    let scratch =
        Scratch(std::env::temp_dir().join(format!("kinvex-bench-transfer-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| format!("{}: {e}", scratch.0.display()))?;
    let large = Payload::new(scratch.0.join("payload.bin"), size)?;
    let small = Payload::new(scratch.0.join("small.bin"), SMALL)?;

    // Blobs are streamed to the stack's data folder, as on a deployment.
    let stack = start(kinvex_devstack::Config {
        any_loopback_port: true,
        data_dir: Some(scratch.0.join("stack")),
        ..kinvex_devstack::Config::default()
    })
    .await
    .map_err(|e| format!("the local stack did not start: {e}"))?;
    cli_login(setup, &stack).await?;
    let env = settings(&stack);
    let config = Config::from_sources(&Sources::from_pairs(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
    .map_err(|e| e.to_string())?;
    let auth = Auth::new(
        config.clone(),
        HttpClient::new().map_err(|e| e.to_string())?,
        default_store(&config),
        Arc::new(SystemBrowser),
    );
    let client = Client::for_auth(&auth).map_err(|e| e.to_string())?;
    let session = Session {
        setup,
        auth: &auth,
        client: &client,
        env: &env,
        scratch: &scratch.0,
    };

    let mut figures = Figures::default();
    let warm_up = usize::from(!setup.quick);
    for round in 0..rounds + warm_up {
        let full = session.round(&large, round % 2 == 0).await?;
        let fixed = session.round(&small, round % 2 == 0).await?;
        if round >= warm_up {
            // The bytes alone: the whole transfer's time less the small file's.
            let net = |whole: &Run, base: &Run| {
                size as f64 / MIB / whole.took.saturating_sub(base.took).as_secs_f64()
            };
            figures.app_up_net.push(net(&full.app_up, &fixed.app_up));
            figures.curl_up_net.push(net(&full.curl_up, &fixed.curl_up));
            figures
                .app_down_net
                .push(net(&full.app_down, &fixed.app_down));
            figures
                .curl_down_net
                .push(net(&full.curl_down, &fixed.curl_down));
            figures.app_up_fixed.push(ms(fixed.app_up.took));
            figures.curl_up_fixed.push(ms(fixed.curl_up.took));
            figures.app_down_fixed.push(ms(fixed.app_down.took));
            figures.curl_down_fixed.push(ms(fixed.curl_down.took));
            figures.app_up.push(full.app_up.mib_per_s(size));
            figures.curl_up.push(full.curl_up.mib_per_s(size));
            figures.app_down.push(full.app_down.mib_per_s(size));
            figures.curl_down.push(full.curl_down.mib_per_s(size));
            figures.app_up_rise.push(full.app_up.rise_mib());
            figures.curl_up_rise.push(full.curl_up.rise_mib());
            figures.app_down_rise.push(full.app_down.rise_mib());
            figures.curl_down_rise.push(full.curl_down.rise_mib());
            figures.curl_fsync_ms.push(ms(full.fsync));
        }
    }
    drop(stack);
    Ok(rows(&figures, size))
}

/// Everything a round needs.
struct Session<'a> {
    setup: &'a Setup,
    auth: &'a Auth,
    client: &'a Client,
    env: &'a [(String, String)],
    scratch: &'a Path,
}

fn ms(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

impl Session<'_> {
    /// Upload by each, then download of the app's file by each (`app_first`: who goes first),
    /// then both removed.
    async fn round(&self, payload: &Payload, app_first: bool) -> Result<Round> {
        let ((app_up, file_id), (curl_up, blob)) = if app_first {
            let app = self.app_upload(payload).await?;
            (app, self.curl_upload(payload).await?)
        } else {
            let curl = self.curl_upload(payload).await?;
            (self.app_upload(payload).await?, curl)
        };
        let (app_down, (curl_down, fsync)) = if app_first {
            let app = self.app_download(&file_id, payload.size).await?;
            (app, self.curl_download(&file_id, payload.size).await?)
        } else {
            let curl = self.curl_download(&file_id, payload.size).await?;
            (self.app_download(&file_id, payload.size).await?, curl)
        };
        self.clean_up(&file_id, &blob).await?;
        Ok(Round {
            app_up,
            curl_up,
            app_down,
            curl_down,
            fsync,
        })
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.setup.cli);
        command
            .args(args)
            .envs(self.env.iter().cloned())
            .env_remove("KINVEX_PLAINTEXT_TOKENS");
        command
    }

    async fn call(&self, kind: Kind, name: &str, args: Value) -> Result<Value> {
        self.client
            .call_as(self.auth, kind, name, &args)
            .await
            .map_err(|e| format!("{name}: {e}"))
    }

    /// `kinvex upload --json`; the new file's id.
    async fn app_upload(&self, payload: &Payload) -> Result<(Run, String)> {
        let path = payload.path.to_string_lossy().into_owned();
        let command = self.cli(&["upload", "--json", &path]);
        let run = blocking(move || measured(command, "kinvex upload")).await?;
        let answer: Value = serde_json::from_slice(&run.stdout)
            .map_err(|e| format!("kinvex upload --json printed no JSON: {e}"))?;
        let id = answer["uploaded"][0]["id"]
            .as_str()
            .ok_or("kinvex upload --json gave no id")?
            .to_string();
        Ok((run, id))
    }

    /// curl POSTing the file to a fresh upload URL; the blob's storage id.
    async fn curl_upload(&self, payload: &Payload) -> Result<(Run, String)> {
        let url = self
            .call(Kind::Mutation, "files:generateUploadUrl", json!({}))
            .await?;
        let url = url
            .as_str()
            .ok_or("files:generateUploadUrl did not return a URL")?
            .to_string();
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--fail", "--data-binary"])
            .arg(format!("@{}", payload.path.display()))
            .args(["-H", &format!("Content-Type: {CONTENT_TYPE}"), &url]);
        let run = blocking(move || measured(command, "curl (upload)")).await?;
        let answer: Value = serde_json::from_slice(&run.stdout)
            .map_err(|e| format!("the upload answered no JSON: {e}"))?;
        let blob = answer["storageId"]
            .as_str()
            .ok_or("the upload answered no storageId")?
            .to_string();
        Ok((run, blob))
    }

    /// `kinvex download ID -o PATH --force --json` into a fresh path.
    async fn app_download(&self, id: &str, size: u64) -> Result<Run> {
        let destination = self.scratch.join("app-download.bin");
        let _ = std::fs::remove_file(&destination);
        let path = destination.to_string_lossy().into_owned();
        let command = self.cli(&["download", id, "-o", &path, "--force", "--json"]);
        let run = blocking(move || measured(command, "kinvex download")).await?;
        check_download(&destination, size)?;
        Ok(run)
    }

    /// curl GETting the file's URL, then an fsync of what it wrote: its time is up to the end of
    /// the fsync, which is also returned on its own.
    async fn curl_download(&self, id: &str, size: u64) -> Result<(Run, Duration)> {
        let url = self
            .call(Kind::Query, "files:url", json!({ "id": id }))
            .await?;
        let url = url
            .as_str()
            .ok_or("files:url did not return a URL")?
            .to_string();
        let destination = self.scratch.join("curl-download.bin");
        let _ = std::fs::remove_file(&destination);
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--fail", "-o"])
            .arg(&destination)
            .arg(&url);
        let mut run = blocking(move || measured(command, "curl (download)")).await?;
        let synced = Instant::now();
        std::fs::File::open(&destination)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("syncing {}: {e}", destination.display()))?;
        let synced = synced.elapsed();
        run.took += synced;
        check_download(&destination, size)?;
        Ok((run, synced))
    }

    /// Removes the round's file and curl's blob (saved first, as only a file's owner may
    /// delete), so the data folder holds one round at a time.
    async fn clean_up(&self, file_id: &str, blob: &str) -> Result<()> {
        self.call(Kind::Mutation, "files:remove", json!({ "id": file_id }))
            .await?;
        let saved = self
            .call(
                Kind::Mutation,
                "files:save",
                json!({ "storageId": blob, "name": "curl upload.bin" }),
            )
            .await?;
        let saved = saved.as_str().ok_or("files:save did not return an id")?;
        self.call(Kind::Mutation, "files:remove", json!({ "id": saved }))
            .await?;
        Ok(())
    }
}

/// The download is whole; then it is removed.
fn check_download(path: &Path, size: u64) -> Result<()> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let _ = std::fs::remove_file(path);
    if len != size {
        return Err(format!("{} has {len} bytes, not {}", path.display(), size));
    }
    Ok(())
}

/// Runs `work` off the runtime's threads, so the in-process stack keeps serving.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("a measuring thread failed: {e}"))?
}

fn rows(f: &Figures, size: u64) -> Vec<Row> {
    let mib = size / (1024 * 1024);
    let throughput =
        |what: String, app: &Samples, curl: &Samples, baseline: &str, detail: String| Row {
            what,
            subject: app.describe("MiB/s", 0),
            baseline: format!("{} ({baseline})", curl.describe("MiB/s", 0)),
            ratio: Some(app.median() / curl.median()),
            value: app.median(),
            goal: Goal::RatioAtLeast(0.8),
            goal_text: "≥ 0.80×".into(),
            note: String::new(),
            detail,
            failure: None,
        };
    let rise = |what: String, app: &Samples, curl: &Samples, detail: &str| Row {
        what,
        subject: app.describe("MiB", 1),
        baseline: format!("{} (curl, for context)", curl.describe("MiB", 1)),
        ratio: None,
        value: app.median(),
        goal: Goal::AtMost(32.0),
        goal_text: "≤ 32 MiB".into(),
        note: String::new(),
        detail: detail.into(),
        failure: None,
    };
    let fixed = |app: &Samples, curl: &Samples, app_net: &Samples, curl_net: &Samples| {
        format!(
            "the same commands moving a {} KiB file (their fixed cost) took {} against curl's {}; the big file's time less that gives {} against {}",
            SMALL / 1024,
            app.describe("ms", 0),
            curl.describe("ms", 0),
            app_net.describe("MiB/s", 0),
            curl_net.describe("MiB/s", 0),
        )
    };
    vec![
        throughput(
            format!("Upload of a {mib} MiB file: throughput of the app's client"),
            &f.app_up,
            &f.curl_up,
            "curl, same request",
            format!(
                "`kinvex upload` (process start to exit, including its `files:generateUploadUrl` and `files:save` calls) against `curl --data-binary @file` to an upload URL made beforehand; plain HTTP on loopback, no TLS; the stack streams the body to its data folder on disk; {}",
                fixed(
                    &f.app_up_fixed,
                    &f.curl_up_fixed,
                    &f.app_up_net,
                    &f.curl_up_net
                )
            ),
        ),
        throughput(
            format!("Download of a {mib} MiB file: throughput of the app's client"),
            &f.app_down,
            &f.curl_down,
            "curl, same request, then an fsync of its file",
            format!(
                "`kinvex download ID` (process start to exit, including the file's lookup and `files:url`; it writes a partial file, fsyncs it and renames it into place) against `curl -o file` of the file's URL made beforehand followed by an fsync of curl's file, as `curl -o file && sync file`: a download is done once it is on disk; that fsync took {} of curl's time; {}",
                f.curl_fsync_ms.describe("ms", 0),
                fixed(
                    &f.app_down_fixed,
                    &f.curl_down_fixed,
                    &f.app_down_net,
                    &f.curl_down_net
                )
            ),
        ),
        rise(
            format!("Memory rise of the uploading process ({mib} MiB file)"),
            &f.app_up_rise,
            &f.curl_up_rise,
            "the CLI streams the file in 256 KiB reads; `curl --data-binary @file` reads the whole file into memory before sending it, so its figure is about the file's size",
        ),
        rise(
            format!("Memory rise of the downloading process ({mib} MiB file)"),
            &f.app_down_rise,
            &f.curl_down_rise,
            "the CLI hands each piece it receives to a thread writing the partial file, with at most 8 MiB waiting; curl writes each piece as it arrives",
        ),
    ]
}

/// The method line for the report.
pub fn method(quick: bool) -> String {
    format!(
        "Transfer: a {} file of pseudo-random bytes (nothing compresses), uploaded and downloaded by the app's storage client as the `kinvex upload` and `kinvex download` processes and by `curl` making the same POST (a fresh `files:generateUploadUrl` URL each round, `Content-Type: {CONTENT_TYPE}`) and the same GET (the `files:url` URL), alternating which goes first, on one local stack keeping its blobs on disk; {}. Both are timed from process start to exit, so the CLI's start-up, keychain read and function calls count against it and curl's URL is made beforehand; curl's download also includes an fsync of its file after it exits, as the CLI fsyncs its own before it is done. Memory: each process's `VmHWM` from `/proc/<pid>/status`, sampled every {} ms while it runs, minus its `VmRSS` at the last sample before it had read and written {} MiB (`rchar` + `wchar` of `/proc/<pid>/io`), i.e. before the transfer began. Each round also moves a {} KiB file the same four ways, for the fixed cost of each command.",
        if quick { "16 MiB" } else { "256 MiB" },
        if quick {
            "one round"
        } else {
            "one warm-up round (discarded) and 3 measured rounds"
        },
        SAMPLE_EVERY.as_millis(),
        STARTED_AT_IO / (1024 * 1024),
        SMALL / 1024,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_memory_rise_is_its_peak_over_its_size_before_the_transfer() {
        // `sh` reads 4 MiB into a string after start (the pauses let the samples see it):
        // the rise counts it, and the size before is the shell's own.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "sleep 0.1; x=$(head -c 4194304 /dev/zero | tr '\\0' a); sleep 0.2; echo ${#x}",
        ]);
        let run = measured(command, "sh").unwrap();
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "4194304");
        assert!(run.before_kib > 0, "{}", run.before_kib);
        assert!(run.rise_mib() >= 3.0, "{} MiB", run.rise_mib());
    }

    #[test]
    fn a_failing_process_is_an_error_with_what_it_said() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo nope >&2; exit 3"]);
        let error = measured(command, "sh").err().unwrap();
        assert!(error.contains("nope"), "{error}");
    }

    #[test]
    fn the_payload_has_the_size_asked_and_does_not_repeat() {
        let path = std::env::temp_dir().join(format!("kinvex-payload-{}", std::process::id()));
        write_payload(&path, 3 * 1024 * 1024 + 5).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(bytes.len(), 3 * 1024 * 1024 + 5);
        assert_ne!(bytes[..1024 * 1024], bytes[1024 * 1024..2 * 1024 * 1024]);
    }
}
