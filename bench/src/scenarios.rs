//! The measurements. Each runs its subject and its baseline alternately, discards a first
//! warm-up round, and returns rows for the report.
//!
//! One file so that every scenario's method (warm-up, interleaving, what counts as done) can be
//! compared side by side; each is a single function.

use crate::Setup;
use crate::memory::tree_pss_by_process;
use crate::report::{Goal, Row, Samples};
use kinvex_auth::browser::SystemBrowser;
use kinvex_auth::config::Sources;
use kinvex_auth::http::HttpClient;
use kinvex_auth::{Auth, Config, default_store};
use kinvex_convex::{Client, Kind};
use kinvex_devstack::{Running, start};
use kinvex_e2e::Session;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Result<T> = std::result::Result<T, String>;

/// A local stack with the demo accounts, and `extra_files` more files for the demo person.
pub(crate) async fn stack(extra_files: usize) -> Result<Running> {
    start(kinvex_devstack::Config {
        any_loopback_port: true,
        extra_demo_files: extra_files,
        ..kinvex_devstack::Config::default()
    })
    .await
    .map_err(|e| format!("the local stack did not start: {e}"))
}

/// The app's settings for `stack`; a browser that opens nothing (the session is restored).
pub(crate) fn settings(stack: &Running) -> Vec<(String, String)> {
    [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        ("BROWSER", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `kinvex login` with the headless user agent as the browser: stores the demo person's session
/// in the keychain, where the app and the library find it. Returns command start to exit.
pub(crate) async fn cli_login(setup: &Setup, stack: &Running) -> Result<Duration> {
    let demo = &stack.accounts[0];
    let browser = format!(
        "{} browse --email {} --password {}",
        setup.devstack, demo.email, demo.password
    );
    let mut command = tokio::process::Command::new(&setup.cli);
    command
        .arg("login")
        .envs(settings(stack))
        .env("BROWSER", browser)
        .env_remove("KINVEX_PLAINTEXT_TOKENS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let output = command.output().await.map_err(|e| format!("kinvex: {e}"))?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "kinvex login failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(took)
}

/// A page-side time (epoch milliseconds) from `script`, once it is no longer null.
pub(crate) async fn page_time(session: &Session, script: &str) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = session
            .client()
            .execute(script, Vec::new())
            .await
            .map_err(|e| format!("reading the page's timing: {e}"))?;
        if let Some(ms) = value.as_f64() {
            return Ok(ms);
        }
        if Instant::now() > deadline {
            return Err(format!("the page never reported `{script}`"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) const DOM_CONTENT_LOADED: &str = "const n = performance.getEntriesByType('navigation')[0]; \
     const end = n ? n.domContentLoadedEventEnd : performance.timing.domContentLoadedEventEnd - performance.timeOrigin; \
     return end > 0 ? performance.timeOrigin + end : null;";

/// The first User Timing mark called `name`, as epoch milliseconds.
pub(crate) fn mark(name: &str) -> String {
    format!(
        "const e = performance.getEntriesByName('{name}'); return e.length ? performance.timeOrigin + e[0].startTime : null;"
    )
}

pub(crate) fn epoch_ms(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Cold start to the signed-in profile painted, against the bare window's DOMContentLoaded;
/// then each one's memory once idle (the app with its files shown).
pub async fn startup_and_memory(setup: &Setup) -> Result<Vec<Row>> {
    let stack = stack(0).await?;
    cli_login(setup, &stack).await?;
    let env = settings(&stack);
    let profile = mark("kinvex:profile-rendered");
    let files = mark("kinvex:files-visible");
    let (mut app_ms, mut bare_ms) = (Samples::default(), Samples::default());
    let (mut app_mib, mut bare_mib) = (Samples::default(), Samples::default());
    let (mut app_split, mut bare_split) = (Vec::new(), Vec::new());
    for round in 0..=setup.rounds {
        let bare = launch(
            setup,
            &setup.bare,
            &[],
            DOM_CONTENT_LOADED,
            DOM_CONTENT_LOADED,
        )
        .await?;
        let app = launch(setup, &setup.app, &env, &profile, &files).await?;
        if round > 0 {
            bare_ms.push(bare.0);
            app_ms.push(app.0);
            bare_mib.push(bare.1.iter().map(|(_, mib)| mib).sum());
            app_mib.push(app.1.iter().map(|(_, mib)| mib).sum());
        }
        (bare_split, app_split) = (bare.1, app.1);
    }
    let split = |processes: &[(String, f64)]| {
        processes
            .iter()
            .map(|(name, mib)| format!("{name} {mib:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut memory = ratio_row(
        "Memory (PSS of the app and its WebKit processes), idle",
        &app_mib,
        &bare_mib,
        "MiB",
        1,
        1.15,
        "bare window",
    );
    let mut startup = ratio_row(
        "Cold start to the signed-in profile painted",
        &app_ms,
        &bare_ms,
        "ms",
        0,
        1.25,
        "bare window to DOMContentLoaded",
    );
    startup.detail = format!(
        "last round, after the launch request: {}",
        lock(&LAST_TIMELINE)
    );
    memory.detail = format!(
        "last round, MiB per process: Kinvex {}; bare window {}. Against the figure before live data, from an earlier run on this machine and not this run (BENCHMARKS.md of {BEFORE_LIVE_DATE}, median of the same measure): {BEFORE_LIVE_MIB:.1} MiB, so today's median is {:.2}× that ({:+.1} MiB)",
        split(&app_split),
        split(&bare_split),
        app_mib.median() / BEFORE_LIVE_MIB,
        app_mib.median() - BEFORE_LIVE_MIB,
    );
    Ok(vec![startup, memory])
}

/// The app's idle memory (median PSS, MiB) in the last full run before the app had live data,
/// and that run's date: a figure from an earlier run, to tell what live data costs.
const BEFORE_LIVE_MIB: f64 = 311.7;
const BEFORE_LIVE_DATE: &str = "2026-11-28";

/// The app's start-up steps from its last launch, for the report's breakdown.
static LAST_TIMELINE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Launches `binary` through WebDriver and returns the milliseconds from the launch request to
/// the page reporting `started`, and the PSS of each of its processes once the page reports
/// `idle` and has idled for `setup.settle`.
async fn launch(
    setup: &Setup,
    binary: &str,
    env: &[(String, String)],
    started: &str,
    idle: &str,
) -> Result<(f64, Vec<(String, f64)>)> {
    let session = Session::desktop_at(binary, env).await;
    let requested = epoch_ms(session.requested_at());
    let startup = page_time(&session, started).await? - requested;
    page_time(&session, idle).await?;
    if binary == setup.app {
        let mut steps = Vec::new();
        for (label, script) in [
            ("DOMContentLoaded", DOM_CONTENT_LOADED.to_string()),
            ("script start", mark("kinvex:boot")),
            ("session known", mark("kinvex:session-known")),
            ("profile data in the page", mark("kinvex:profile-data")),
            ("profile painted", mark("kinvex:profile-rendered")),
        ] {
            let at = page_time(&session, &script).await? - requested;
            steps.push(format!("{label} {at:.0} ms"));
        }
        *lock(&LAST_TIMELINE) = steps.join(", ");
    }
    tokio::time::sleep(setup.settle).await;
    let memory = tree_pss_by_process(session.driver_pid())?;
    session.close().await;
    Ok((startup, memory))
}

/// A person with 10,000 files: from the first page's data reaching the page to its rows painted,
/// against the bare window's rows page (`bench/bare-window/dist/rows.html`) putting the same
/// rows in the same layout as static markup in one go, launched alternately. Both must paint
/// the same number of rows, or the comparison is not of like with like.
pub async fn ten_thousand_files(setup: &Setup) -> Result<Row> {
    let stack = stack(10_000).await?;
    cli_login(setup, &stack).await?;
    let env = settings(&stack);
    let (mut app, mut bare) = (Samples::default(), Samples::default());
    let mut painted = (0, 0);
    for round in 0..=setup.rounds {
        let session = Session::desktop_at(&setup.bare, &[]).await;
        let shown = bare_rows(&session).await;
        session.close().await;
        let (bare_ms, bare_rows) = shown?;
        let session = Session::desktop_at(&setup.app, &env).await;
        let shown = painted_between(&session, "kinvex:files-arrived", "kinvex:files-visible").await;
        session.close().await;
        let (app_ms, app_rows) = shown?;
        if app_rows != bare_rows {
            return Err(format!(
                "the app painted {app_rows} rows and the bare window's rows page {bare_rows}: make bench/bare-window/make-rows.mjs match ui/file-list.js and run it again"
            ));
        }
        painted = (app_rows, bare_rows);
        if round > 0 {
            app.push(app_ms);
            bare.push(bare_ms);
        }
    }
    let mut row = ratio_row(
        "10,000 files: first page's data arrived → first rows painted",
        &app,
        &bare,
        "ms",
        1,
        1.5,
        "bare window, the same rows as static HTML",
    );
    row.detail = format!(
        "rows painted: {} in the app, {} in the bare window's rows page",
        painted.0, painted.1
    );
    Ok(row)
}

/// The bare window's rows page, reached from its start page through WebDriver.
const BARE_ROWS_URL: &str = "tauri://localhost/rows.html";

/// Opens the bare window's rows page and returns its rows' insertion to their paint, and the
/// number of rows painted.
async fn bare_rows(session: &Session) -> Result<(f64, u64)> {
    page_time(session, DOM_CONTENT_LOADED).await?;
    session
        .client()
        .goto(BARE_ROWS_URL)
        .await
        .map_err(|e| format!("opening {BARE_ROWS_URL} in the bare window: {e}"))?;
    painted_between(session, "bare:rows-arrived", "bare:rows-visible").await
}

/// Milliseconds between the page's `from` and `to` marks, and the rows in its list then.
async fn painted_between(session: &Session, from: &str, to: &str) -> Result<(f64, u64)> {
    let arrived = page_time(session, &mark(from)).await?;
    let visible = page_time(session, &mark(to)).await?;
    let rows = session
        .client()
        .execute(
            "return document.getElementById('files-rows').childElementCount;",
            Vec::new(),
        )
        .await
        .map_err(|e| format!("counting the rows painted: {e}"))?
        .as_u64()
        .ok_or("the page has no list of rows")?;
    Ok((visible - arrived, rows))
}

/// `kinvex login` from command start to tokens stored, against a minimal PKCE sign-in client
/// (`bench/signin-floor`) making the same requests with the same browser and one keychain write.
pub async fn sign_in(setup: &Setup) -> Result<Row> {
    let floor = std::env::var("KINVEX_BENCH_FLOOR")
        .map_err(|_| "KINVEX_BENCH_FLOOR is not set: run this through `cargo xtask bench`")?;
    let stack = stack(0).await?;
    let (mut cli, mut minimal) = (Samples::default(), Samples::default());
    let measured = async {
        for round in 0..=setup.rounds {
            let cli_took = cli_login(setup, &stack).await?;
            let floor_took = floor_login(setup, &stack, &floor).await?;
            if round > 0 {
                cli.push(cli_took.as_secs_f64() * 1000.0);
                minimal.push(floor_took.as_secs_f64() * 1000.0);
            }
        }
        Ok::<(), String>(())
    }
    .await;
    // Leaves nothing of the floor's in the keychain, whether or not the rounds succeeded.
    let forgotten = tokio::process::Command::new(&floor)
        .arg("forget")
        .status()
        .await
        .map_err(|e| format!("{floor}: {e}"))
        .and_then(|s| {
            s.success()
                .then_some(())
                .ok_or_else(|| format!("`{floor} forget` failed: {s}"))
        });
    measured.and(forgotten)?;
    Ok(ratio_row(
        "Sign-in through the CLI, command start to tokens stored",
        &cli,
        &minimal,
        "ms",
        0,
        1.2,
        "minimal PKCE client",
    ))
}

/// The floor binary signing in as `cli_login` does (same settings, browser and timing):
/// command start to exit, which it does once its one keychain write returned.
async fn floor_login(setup: &Setup, stack: &Running, floor: &str) -> Result<Duration> {
    let demo = &stack.accounts[0];
    let browser = format!(
        "{} browse --email {} --password {}",
        setup.devstack, demo.email, demo.password
    );
    let mut command = tokio::process::Command::new(floor);
    command
        .envs(settings(stack))
        .env("BROWSER", browser)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let output = command
        .output()
        .await
        .map_err(|e| format!("{floor}: {e}"))?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "the minimal sign-in client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(took)
}

/// 1,000 concurrent Convex calls through one long-lived library session (as in the app) whose
/// token has just expired, against the same calls with a fresh token; the expired burst must
/// refresh exactly once. The stack issues 64-second tokens, so a token needs renewing 4 seconds
/// after it was issued (the library renews 60 seconds early).
pub async fn refresh_burst(setup: &Setup) -> Result<Row> {
    let stack = start(kinvex_devstack::Config {
        any_loopback_port: true,
        lifetimes: kinvex_devstack::Lifetimes {
            access: LIFETIME,
            id: LIFETIME,
            ..kinvex_devstack::Lifetimes::default()
        },
        ..kinvex_devstack::Config::default()
    })
    .await
    .map_err(|e| format!("the local stack did not start: {e}"))?;
    cli_login(setup, &stack).await?;
    let pairs = settings(&stack);
    let config = Config::from_sources(&Sources::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
    .map_err(|e| e.to_string())?;
    let http = HttpClient::new().map_err(|e| e.to_string())?;
    let auth = Arc::new(Auth::new(
        config.clone(),
        http,
        default_store(&config),
        Arc::new(SystemBrowser),
    ));
    let client = Arc::new(Client::for_auth(&auth).map_err(|e| e.to_string())?);

    let (mut fresh, mut expired) = (Samples::default(), Samples::default());
    let mut refresh_counts = Vec::new();
    for round in 0..=setup.rounds {
        // Wait for the token to enter the renewal margin: time is the only signal there is.
        let tokens = auth.fresh_tokens().await.map_err(|e| e.to_string())?;
        let renew_at = tokens.id_expires_at - kinvex_auth::session::REFRESH_MARGIN + 1;
        let wait = renew_at as f64 - epoch_ms(SystemTime::now()) / 1000.0;
        tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;

        let (expired_took, expired_refreshes) = burst(&auth, &client, &stack).await?;
        let (fresh_took, fresh_refreshes) = burst(&auth, &client, &stack).await?;
        if fresh_refreshes != 0 {
            return Err(format!(
                "a fresh token was refreshed {fresh_refreshes} times"
            ));
        }
        refresh_counts.push(expired_refreshes);
        if round > 0 {
            fresh.push(fresh_took.as_secs_f64() * 1000.0);
            expired.push(expired_took.as_secs_f64() * 1000.0);
        }
    }
    let mut row = ratio_row(
        "1,000 concurrent Convex calls on an expired token",
        &expired,
        &fresh,
        "ms",
        0,
        1.1,
        "the same calls, fresh token",
    );
    let once = refresh_counts.iter().all(|n| *n == 1);
    row.goal_text = "≤ 1.10×, one refresh".into();
    row.subject = format!(
        "{}; refreshes per burst: {}",
        row.subject,
        if once {
            "1".to_string()
        } else {
            format!("{refresh_counts:?}")
        }
    );
    if !once {
        row.failure = Some(format!(
            "refreshes per burst were {refresh_counts:?}, not exactly one"
        ));
    }
    Ok(row)
}

const BURST: usize = 1000;
const LIFETIME: Duration = Duration::from_secs(64);

/// `BURST` calls started at once; returns the time for all of them and the refreshes made.
async fn burst(auth: &Arc<Auth>, client: &Arc<Client>, stack: &Running) -> Result<(Duration, u64)> {
    let before = stack.state.stats.refreshes.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..BURST {
        let (auth, client) = (auth.clone(), client.clone());
        calls.spawn(async move {
            client
                .call_as(&auth, Kind::Query, "users:current", &serde_json::json!({}))
                .await
        });
    }
    while let Some(joined) = calls.join_next().await {
        joined
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("a Convex call failed: {e}"))?;
    }
    let took = started.elapsed();
    Ok((
        took,
        stack.state.stats.refreshes.load(Ordering::SeqCst) - before,
    ))
}

/// Release binary and `.deb` sizes against the bare window's.
pub fn sizes(setup: &Setup) -> Vec<Row> {
    let mib = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.len() as f64 / 1048576.0)
            .ok()
    };
    let mut rows = Vec::new();
    let pair = |what: &str, app: Option<f64>, bare: Option<f64>| -> Option<Row> {
        let (app, bare) = (app?, bare?);
        let mut a = Samples::default();
        a.push(app);
        let mut b = Samples::default();
        b.push(bare);
        Some(ratio_row(what, &a, &b, "MiB", 2, 1.5, "bare window"))
    };
    if let Some(row) = pair(
        &format!("Binary size ({} profile)", setup.profile),
        mib(setup.app.as_ref()),
        mib(setup.bare.as_ref()),
    ) {
        rows.push(row);
    }
    let debs = (
        setup.app_deb.as_deref().and_then(mib),
        setup.bare_deb.as_deref().and_then(mib),
    );
    if let Some(mut row) = pair(".deb size", debs.0, debs.1) {
        let deb_ok = debs.0.is_some_and(|m| m <= 6.0 * 1_000_000.0 / 1048576.0);
        row.goal_text = "≤ 1.50×, and ≤ 6 MB".into();
        if !deb_ok {
            row.failure = Some("the .deb is over 6 MB".into());
        }
        rows.push(row);
    }
    rows
}

pub(crate) fn ratio_row(
    what: &str,
    subject: &Samples,
    baseline: &Samples,
    unit: &str,
    decimals: usize,
    limit: f64,
    baseline_name: &str,
) -> Row {
    let ratio = subject.median() / baseline.median();
    Row {
        what: what.into(),
        subject: subject.describe(unit, decimals),
        baseline: format!("{} ({baseline_name})", baseline.describe(unit, decimals)),
        ratio: Some(ratio),
        value: subject.median(),
        goal: Goal::RatioAtMost(limit),
        goal_text: format!("≤ {limit:.2}×"),
        note: String::new(),
        detail: String::new(),
        failure: None,
    }
}
