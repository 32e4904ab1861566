//! CPU time of the idle signed-in app (files shown, live socket connected) against the bare
//! window's, over the same span, launched alternately: what staying live costs while nothing
//! happens (the heartbeats, token renewals, anything the page or WebKit does on its own).

use crate::Setup;
use crate::cpu::snapshot;
use crate::report::{Row, Samples};
use crate::scenarios::{DOM_CONTENT_LOADED, cli_login, page_time, ratio_row, settings, stack};
use kinvex_e2e::Session;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, String>;

/// The app is idle once its files are painted and its socket is live.
const APP_READY: &str = "return document.getElementById('connection').dataset.state === 'live' \
     && performance.getEntriesByName('kinvex:files-visible').length > 0 ? Date.now() : null;";

/// What the window shows, for a launch that never became ready.
const STATE: &str = "const c = document.getElementById('connection'); \
     return JSON.stringify({ connection: c && c.dataset.state, text: c && c.textContent.trim(), \
       screens: [...document.querySelectorAll('.screen')].filter((s) => !s.hidden).map((s) => s.id), \
       marks: performance.getEntriesByType('mark').map((m) => m.name), \
       banner: document.getElementById('banner-text') && document.getElementById('banner-text').textContent });";

pub async fn idle_cpu(setup: &Setup) -> Result<Row> {
    let (span, rounds) = if setup.quick {
        (Duration::from_secs(10), 1)
    } else {
        (Duration::from_secs(60), 3)
    };
    let stack = stack(0).await?;
    cli_login(setup, &stack).await?;
    let env = settings(&stack);
    let (mut app_ms, mut bare_ms) = (Samples::default(), Samples::default());
    let (mut app_split, mut bare_split) = (Vec::new(), Vec::new());
    let (mut app_quiet, mut bare_quiet) = (Samples::default(), Samples::default());
    for _ in 0..rounds {
        let bare = idle(setup, &setup.bare, &[], DOM_CONTENT_LOADED, span).await?;
        let app = idle(setup, &setup.app, &env, APP_READY, span).await?;
        bare_ms.push(bare.used.iter().map(|(_, ms)| ms).sum());
        app_ms.push(app.used.iter().map(|(_, ms)| ms).sum());
        bare_quiet.push(bare.quiet_after.as_secs_f64());
        app_quiet.push(app.quiet_after.as_secs_f64());
        (bare_split, app_split) = (bare.used, app.used);
    }
    let split = |processes: &[(String, f64)]| {
        processes
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut row = ratio_row(
        &format!(
            "CPU time of the idle signed-in app over {} s (files shown, live)",
            span.as_secs()
        ),
        &app_ms,
        &bare_ms,
        "ms",
        0,
        1.1,
        "bare window, same span",
    );
    // Under one clock tick the bare window's time reads as zero: hold the app to one tick.
    let tick = crate::cpu::ms_per_tick();
    if bare_ms.median() < tick {
        row.ratio = Some(app_ms.median() / tick);
        row.baseline = format!(
            "{} (bare window, same span; under one clock tick, so the ratio is to one tick, {tick:.0} ms)",
            bare_ms.describe("ms", 0)
        );
    }
    row.detail = format!(
        "last round, CPU ms per process: Kinvex {}; bare window {}. Quiet (a second with at most {QUIET_MS:.0} ms of CPU over the tree) after ready: Kinvex {}, bare window {}",
        split(&app_split),
        split(&bare_split),
        app_quiet.describe("s", 1),
        bare_quiet.describe("s", 1),
    );
    Ok(row)
}

/// What one launch used over the idle span, and how long it took to become quiet.
struct Idle {
    used: Vec<(String, f64)>,
    quiet_after: Duration,
}

/// A second in which the whole tree uses at most this much CPU (two clock ticks) is quiet.
const QUIET_MS: f64 = 20.0;
/// How long a window may take to become quiet before it is measured anyway.
const QUIET_BOUND: Duration = Duration::from_secs(60);

/// Launches `binary`, waits for `ready`, `setup.settle` and then a quiet second (the start-up's
/// last work, such as the overlay scrollbar fading out, is done), and returns the CPU
/// milliseconds each of its processes used over the next `span`.
async fn idle(
    setup: &Setup,
    binary: &str,
    env: &[(String, String)],
    ready: &str,
    span: Duration,
) -> Result<Idle> {
    let session = Session::desktop_at(binary, env).await;
    let measured = async {
        if let Err(e) = page_time(&session, ready).await {
            let state = session
                .client()
                .execute(STATE, Vec::new())
                .await
                .map_err(|e| e.to_string());
            return Err(format!("{e}; the window shows {state:?}"));
        }
        let ready_at = Instant::now();
        // Fixed waits on purpose: what is measured is CPU spent while only time passes, so the
        // settle, the one-second quiet samples and the span are the measurement itself.
        tokio::time::sleep(setup.settle).await;
        let root = session.driver_pid();
        loop {
            let second = snapshot(root)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let used: f64 = snapshot(root)?
                .since(&second)
                .iter()
                .map(|(_, ms)| ms)
                .sum();
            if used <= QUIET_MS || ready_at.elapsed() > QUIET_BOUND {
                break;
            }
        }
        let quiet_after = ready_at.elapsed();
        let before = snapshot(root)?;
        // Nothing may touch the window meanwhile, WebDriver included: only time passes.
        tokio::time::sleep(span).await;
        Ok(Idle {
            used: snapshot(root)?.since(&before),
            quiet_after,
        })
    }
    .await;
    session.close().await;
    measured
}
