//! Update latency: from a write committed on the backend to the change received by a live
//! client, for the app's client (`kinvex_convex::live::Live`, in its own process as
//! `kinvex files --watch --json`) against the official npm `ConvexClient`'s `onUpdate`
//! (tests/wire/live-latency.mjs, in Node with the `ws` package), both subscribed to the same
//! first page of `files:list` as the same person on the same backend, in the same run.
//!
//! The write is a file inserted for the person on the stack's side, as an upload commits one:
//! neither client makes it, both observe the same commit the same way, and it always changes
//! the page. Each client prints a line when its client hands it the change; the benchmark
//! stamps each line when it reads it from the client's standard output, so both cross a pipe
//! alike.

use crate::Setup;
use crate::report::{Row, Samples};
use crate::scenarios::{cli_login, ratio_row, settings, stack};
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::config::Sources;
use kinvex_auth::http::HttpClient;
use kinvex_auth::{Auth, Config, default_store};
use kinvex_devstack::Running;
use kinvex_devstack::store::backend::NewFile;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

type Result<T> = std::result::Result<T, String>;

/// The page both subscribe to.
const PAGE: usize = 5;
/// How long one client may take to show one change before the run fails.
const BOUND: Duration = Duration::from_secs(10);

/// Which client a line came from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    App,
    Npm,
}

/// A client process whose change lines arrive, stamped, on `lines`.
struct Watcher {
    child: Child,
}

impl Watcher {
    /// Starts `command` and forwards the newest file name of each change it prints.
    fn start(
        mut command: Command,
        peer: Peer,
        parse: fn(&str) -> Option<String>,
        lines: mpsc::UnboundedSender<(Peer, String, Instant)>,
    ) -> Result<Watcher> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting the {peer:?} client: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the client's standard output is not piped")?;
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let at = Instant::now();
                if let Some(name) = parse(&line) {
                    let _ = lines.send((peer, name, at));
                }
            }
        });
        Ok(Watcher { child })
    }

    async fn stop(mut self) {
        // Closing standard input ends the Node script; the CLI runs until killed (Ctrl+C).
        drop(self.child.stdin.take());
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// `kinvex files --watch --json`: `{"files": [{"name": …}, …], "isDone": …}` a line.
fn app_line(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(
        value["files"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// tests/wire/live-latency.mjs: `UPDATE <name>` (the npm client logs to stdout too).
fn npm_line(line: &str) -> Option<String> {
    line.strip_prefix("UPDATE ").map(str::to_string)
}

/// A file for the demo person, committed on the stack's side as an upload commits one.
pub(crate) fn insert(stack: &Running, name: &str) -> Result<()> {
    stack
        .state
        .store
        .backend()
        .insert_file(
            &NewFile {
                owner: stack.accounts[0].user_id.clone(),
                name: name.into(),
                content_type: "text/plain".into(),
                size: 1_024,
            },
            stack.state.clock.unix_ms(),
        )
        .map(|_| ())
        .map_err(|e| format!("writing to the stack: {e}"))
}

/// Waits until both clients have shown `name`; returns when each did.
async fn both_show(
    lines: &mut mpsc::UnboundedReceiver<(Peer, String, Instant)>,
    name: &str,
) -> Result<(Instant, Instant)> {
    let (mut app, mut npm) = (None, None);
    let deadline = tokio::time::Instant::now() + BOUND;
    while app.is_none() || npm.is_none() {
        let (peer, shown, at) = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .map_err(|_| {
                format!(
                    "no change `{name}` within {BOUND:?} (app: {}, npm: {})",
                    app.is_some(),
                    npm.is_some()
                )
            })?
            .ok_or("both clients ended")?;
        if shown == name {
            match peer {
                Peer::App => app = app.or(Some(at)),
                Peer::Npm => npm = npm.or(Some(at)),
            }
        }
    }
    Ok((
        app.unwrap_or_else(Instant::now),
        npm.unwrap_or_else(Instant::now),
    ))
}

pub async fn update_latency(setup: &Setup) -> Result<Row> {
    let wire = Path::new("tests/wire");
    if !wire.join("node_modules/convex").is_dir() || !wire.join("node_modules/ws").is_dir() {
        return Err(
            "tests/wire/node_modules is missing: run `npm ci` in tests/wire (cargo xtask setup does)"
                .into(),
        );
    }
    let stack = stack(0).await?;
    cli_login(setup, &stack).await?;
    let env = settings(&stack);
    let config = Config::from_sources(&Sources::from_pairs(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
    .map_err(|e| e.to_string())?;
    let http = HttpClient::new().map_err(|e| e.to_string())?;
    let auth = Auth::new(
        config.clone(),
        http,
        default_store(&config),
        std::sync::Arc::new(SystemBrowser),
    );
    let token = auth
        .live_bearer()
        .await
        .map_err(|e| format!("the benchmark's session: {e}"))?
        .token;

    let (tx, mut lines) = mpsc::unbounded_channel();
    let mut app = Command::new(&setup.cli);
    app.args(["files", "--watch", "--json", "--limit", &PAGE.to_string()])
        .envs(env.iter().cloned())
        .env_remove("KINVEX_PLAINTEXT_TOKENS");
    let app = Watcher::start(app, Peer::App, app_line, tx.clone())?;
    let mut npm = Command::new("node");
    npm.arg(wire.join("live-latency.mjs"))
        .env("CONVEX_URL", stack.api_url())
        .env("TOKEN", token.expose())
        .env("NUM_ITEMS", PAGE.to_string());
    let npm = Watcher::start(npm, Peer::Npm, npm_line, tx)?;

    let measured = rounds(setup, &stack, &mut lines).await;
    app.stop().await;
    npm.stop().await;
    let (app_ms, npm_ms) = measured?;
    let mut row = ratio_row(
        "Update latency: a write on the backend → the change received by the app's live client",
        &app_ms,
        &npm_ms,
        "ms",
        2,
        1.0,
        "npm ConvexClient onUpdate, same backend",
    );
    row.detail = format!(
        "the write is a file inserted for the person on the stack's side; both clients receive the first page of `files:list` ({PAGE} files) with the new file first; the app's client is `kinvex files --watch --json` (kinvex_convex::live on the `convex` crate) and the baseline tests/wire/live-latency.mjs (convex {} in Node {}), each in its own process, stamped when its line is read",
        npm_version(wire),
        node_version(),
    );
    Ok(row)
}

/// A warm-up round (discarded), then `setup.rounds` measured ones, each one write both see.
async fn rounds(
    setup: &Setup,
    stack: &Running,
    lines: &mut mpsc::UnboundedReceiver<(Peer, String, Instant)>,
) -> Result<(Samples, Samples)> {
    // Both have shown the person's first page: they are subscribed and live.
    let first = initial(lines).await?;
    let (mut app_ms, mut npm_ms) = (Samples::default(), Samples::default());
    for round in 0..=setup.rounds {
        let name = format!("Live latency {round:02} after {first}.txt");
        let written = Instant::now();
        insert(stack, &name)?;
        let (app, npm) = both_show(lines, &name).await?;
        if round > 0 {
            app_ms.push(app.duration_since(written).as_secs_f64() * 1000.0);
            npm_ms.push(npm.duration_since(written).as_secs_f64() * 1000.0);
        }
    }
    Ok((app_ms, npm_ms))
}

/// Waits for each client's first page; returns its newest file's name.
async fn initial(lines: &mut mpsc::UnboundedReceiver<(Peer, String, Instant)>) -> Result<String> {
    let (mut app, mut npm) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.is_none() || npm.is_none() {
        let (peer, name, _) = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .map_err(|_| "a client never showed the first page".to_string())?
            .ok_or("both clients ended")?;
        match peer {
            Peer::App => app = Some(name),
            Peer::Npm => npm = Some(name),
        }
    }
    let (app, npm) = (app.unwrap_or_default(), npm.unwrap_or_default());
    if app != npm {
        return Err(format!(
            "the clients show different pages: app `{app}`, npm `{npm}`"
        ));
    }
    Ok(app)
}

fn npm_version(wire: &Path) -> String {
    std::fs::read_to_string(wire.join("node_modules/convex/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
